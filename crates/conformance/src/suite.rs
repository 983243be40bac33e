//! The suite's files: multi-document YAML, the cases in `test_cases/itest_*.yaml`, and which
//! manifest folder a case's `model` means.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{HarnessError, Result};

/// One case document (its single top-level key is `integration_test`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    #[serde(default)]
    #[expect(dead_code, reason = "part of the format; not needed to run a case")]
    pub description: Option<String>,
    pub model: String,
    #[serde(default)]
    pub metrics: Option<Vec<String>>,
    #[serde(default)]
    pub group_bys: Option<Vec<String>>,
    #[serde(default)]
    pub group_by_objs: Option<Vec<GroupByObj>>,
    #[serde(default)]
    pub saved_query_name: Option<String>,
    #[serde(default)]
    pub order_bys: Option<Vec<String>>,
    #[serde(default)]
    pub limit: Option<usize>,
    /// `[start, end]`, either as a date or a timestamp.
    #[serde(default)]
    pub time_constraint: Option<Vec<String>>,
    #[serde(default)]
    pub where_filter: Option<String>,
    pub check_query: String,
    #[serde(default)]
    pub check_order: bool,
    #[serde(default)]
    pub allow_empty: bool,
    #[serde(default)]
    pub required_features: Option<Vec<String>>,
    #[serde(default)]
    pub min_max_only: bool,
    #[serde(default)]
    pub apply_group_by: Option<bool>,
}

/// A `group_by_objs` entry: `{name}`, `{name, grain}` or `{name, date_part}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupByObj {
    pub name: String,
    #[serde(default)]
    pub grain: Option<String>,
    #[serde(default)]
    pub date_part: Option<String>,
}

impl GroupByObj {
    /// The same group-by as a name: `name__grain` or `name__extract_<part>`.
    pub fn to_name(&self) -> String {
        match (&self.grain, &self.date_part) {
            (Some(grain), _) => format!("{}__{}", self.name, grain.to_lowercase()),
            (None, Some(part)) => format!("{}__extract_{}", self.name, part.to_lowercase()),
            (None, None) => self.name.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(rename = "integration_test")]
    case: Case,
}

/// A case and the file it came from.
#[derive(Debug, Clone)]
pub struct LoadedCase {
    /// File name, e.g. `itest_simple.yaml`.
    pub file: String,
    pub case: Case,
}

impl LoadedCase {
    /// `file::name`, as reported.
    pub fn id(&self) -> String {
        format!("{}::{}", self.file, self.case.name)
    }
}

/// The manifest folder (under `semantic_manifest_yamls/`) for a case's `model`.
pub fn manifest_folder(model: &str) -> Option<&'static str> {
    Some(match model {
        "SIMPLE_MODEL" => "simple_manifest",
        "SIMPLE_MODEL_NON_DS" => "non_sm_manifest",
        "UNPARTITIONED_MULTI_HOP_JOIN_MODEL" => "multi_hop_join_manifest",
        "PARTITIONED_MULTI_HOP_JOIN_MODEL" => "partitioned_multi_hop_join_manifest",
        "EXTENDED_DATE_MODEL" => "extended_date_manifest",
        "SCD_MODEL" => "scd_manifest",
        _ => return None,
    })
}

/// Every case of `suite/test_cases/itest_*.yaml`, by file name then document order.
pub fn load_cases(suite: &Path) -> Result<Vec<LoadedCase>> {
    let dir = suite.join("test_cases");
    let mut files: Vec<PathBuf> = read_dir_sorted(&dir)?
        .into_iter()
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.starts_with("itest_") && (name.ends_with(".yaml") || name.ends_with(".yml"))
        })
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let text = fs::read_to_string(&path).map_err(|e| HarnessError::io(&path, e))?;
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for (line, document) in split_documents(&text) {
            let node = marked_yaml::parse_yaml(0, &document)
                .map_err(|e| HarnessError::suite(&path, format!("document at line {line}: {e}")))?;
            let parsed: Document = marked_yaml::from_node(&node)
                .map_err(|e| HarnessError::suite(&path, format!("document at line {line}: {e}")))?;
            cases.push(LoadedCase {
                file: file.clone(),
                case: parsed.case,
            });
        }
    }
    if cases.is_empty() {
        return Err(HarnessError::suite(&dir, "no cases found in itest_*.yaml"));
    }
    Ok(cases)
}

/// Split a multi-document YAML text on lines that are exactly `---`. Each document comes with
/// the (1-based) line it starts on and is padded with blank lines, so the YAML parser's line
/// numbers are the file's. Documents with nothing but blanks and comments are left out.
pub fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut documents = Vec::new();
    let mut start = 1;
    let mut current: Vec<&str> = Vec::new();
    let mut flush = |start: usize, lines: &mut Vec<&str>| {
        let has_content = lines.iter().any(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        });
        if has_content {
            let padding = "\n".repeat(start - 1);
            documents.push((start, format!("{padding}{}\n", lines.join("\n"))));
        }
        lines.clear();
    };
    for (index, line) in text.lines().enumerate() {
        if line.trim_end() == "---" {
            flush(start, &mut current);
            start = index + 2;
        } else {
            current.push(line);
        }
    }
    flush(start, &mut current);
    documents
}

/// The first document of a YAML text (see [`split_documents`]).
pub fn first_document(text: &str) -> Option<(usize, String)> {
    split_documents(text).into_iter().next()
}

/// Every `*.yaml`/`*.yml` file under `root`, recursively, sorted.
pub fn yaml_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        for path in read_dir_sorted(&dir)? {
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = fs::read_dir(dir).map_err(|e| HarnessError::io(dir, e))?;
    let mut paths = Vec::new();
    for entry in entries {
        paths.push(entry.map_err(|e| HarnessError::io(dir, e))?.path());
    }
    paths.sort();
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_documents_keeps_file_line_numbers_and_drops_empty_documents() {
        let text = "---\na: 1\n---\n# only a comment\n---\nb: 2\nc: 3\n";
        let documents = split_documents(text);
        assert_eq!(
            documents,
            vec![(2, "\na: 1\n".to_owned()), (6, "\n\n\n\n\nb: 2\nc: 3\n".to_owned())]
        );
    }

    #[test]
    fn group_by_objs_become_names() {
        let obj = |name: &str, grain: Option<&str>, part: Option<&str>| GroupByObj {
            name: name.to_owned(),
            grain: grain.map(str::to_owned),
            date_part: part.map(str::to_owned),
        };
        assert_eq!(obj("metric_time", None, None).to_name(), "metric_time");
        assert_eq!(obj("booking__ds", Some("week"), None).to_name(), "booking__ds__week");
        assert_eq!(
            obj("metric_time", None, Some("dow")).to_name(),
            "metric_time__extract_dow"
        );
    }

    #[test]
    fn a_case_document_parses_with_flow_lists_and_trailing_commas() {
        // A made-up case (not one of the suite's), keyed like the suite's documents.
        let text = r#"
KEY:
  name: c
  model: SIMPLE_MODEL
  metrics: ["bookings"]
  group_by_objs:
    [
      { "name": "metric_time", "date_part": "quarter" },
      { "name": "booking__ds", "grain": "week" },
    ]
  time_constraint: ["2020-01-01", "2020-01-02 00:00:00"]
  limit: 2
  check_order: true
  check_query: |
    SELECT 1
"#
        .replace("KEY", "integration_test");
        let node = marked_yaml::parse_yaml(0, &text).unwrap();
        let case = marked_yaml::from_node::<Document>(&node).unwrap().case;
        assert_eq!(case.metrics, Some(vec!["bookings".to_owned()]));
        let names: Vec<String> = case.group_by_objs.unwrap().iter().map(GroupByObj::to_name).collect();
        assert_eq!(names, ["metric_time__extract_quarter", "booking__ds__week"]);
        assert_eq!(case.limit, Some(2));
        assert!(case.check_order);
        assert!(!case.min_max_only);
        assert_eq!(case.check_query, "SELECT 1\n");
    }
}
