//! Reading a manifest: a folder of MetricFlow YAML files, or dbt's `semantic_manifest.json`.

use std::path::{Path, PathBuf};

use marked_yaml::{LoaderOptions, Node};
use serde::de::DeserializeOwned;

use super::manifest::Manifest;
use crate::error::{CanaryError, Result};

/// Read the manifest at `path`: a `.json` file (dbt's compiled manifest), or a folder of
/// `.yaml`/`.yml` files whose documents have one top-level key each: `semantic_model`,
/// `metric`, `saved_query` or `project_configuration`.
pub fn load_manifest(path: &Path) -> Result<Manifest> {
    if path.is_file() {
        let text = read(path)?;
        return serde_json::from_str(&text).map_err(|e| spec_error(path, &format!("not a semantic manifest: {e}")));
    }
    if !path.is_dir() {
        return Err(CanaryError::query(format!(
            "`{}` is neither a manifest file nor a folder",
            path.display()
        )));
    }
    let mut files = Vec::new();
    collect(path, &mut files)?;
    files.sort();
    let mut manifest = Manifest::default();
    for file in files {
        let text = read(&file)?;
        // A git symlink checked out as text holds just a path: follow it.
        let trimmed = text.trim();
        if !trimmed.contains(':') && !trimmed.contains('\n') && !trimmed.is_empty() {
            let target = file.parent().unwrap_or(path).join(trimmed);
            if target.is_file() {
                add_documents(&target, &read(&target)?, &mut manifest)?;
            }
            continue;
        }
        add_documents(&file, &text, &mut manifest)?;
    }
    Ok(manifest)
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| CanaryError::Io {
        path: path.display().to_string(),
        source: e,
    })
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| CanaryError::Io {
        path: dir.display().to_string(),
        source: e,
    })?;
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            collect(&p, out)?;
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(p);
        }
    }
    Ok(())
}

fn spec_error(path: &Path, message: &str) -> CanaryError {
    CanaryError::Spec(vec![crate::diagnostic::Diagnostic::new(
        crate::diagnostic::Code::InvalidValue,
        crate::diagnostic::Location {
            file: path.display().to_string(),
            line: 1,
            column: 1,
        },
        message,
    )])
}

/// Split a multi-document YAML file on `---` lines and add each document.
fn add_documents(path: &Path, text: &str, manifest: &mut Manifest) -> Result<()> {
    let mut docs = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            docs.push(String::new());
        } else if let Some(d) = docs.last_mut() {
            d.push_str(line);
            d.push('\n');
        }
    }
    for doc in docs {
        if doc
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            continue;
        }
        let node = marked_yaml::parse_yaml_with_options(0, &doc, LoaderOptions::default())
            .map_err(|e| spec_error(path, &format!("invalid YAML: {e:?}")))?;
        let Some(map) = node.as_mapping() else {
            return Err(spec_error(path, "a manifest document must be a mapping"));
        };
        for (key, value) in map.iter() {
            match key.as_str() {
                "semantic_model" => manifest.semantic_models.push(typed(path, value)?),
                "metric" => manifest.metrics.push(typed(path, value)?),
                "saved_query" => manifest.saved_queries.push(typed(path, value)?),
                "project_configuration" => manifest.project_configuration = Some(typed(path, value)?),
                other => {
                    return Err(spec_error(
                        path,
                        &format!(
                            "unknown document kind `{other}`; expected semantic_model, metric, saved_query or project_configuration"
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn typed<T: DeserializeOwned>(path: &Path, node: &Node) -> Result<T> {
    serde_json::from_value(to_json(node)).map_err(|e| spec_error(path, &e.to_string()))
}

/// YAML as JSON, scalars typed by the YAML core schema (unquoted `true`, `12`, `0.5`,
/// `null`); quoted scalars stay strings. The YAML and JSON manifests then read alike.
fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value;
    match node {
        Node::Scalar(s) => {
            let text = s.as_str();
            if !s.may_coerce() {
                return Value::String(text.to_owned());
            }
            match text {
                "true" | "True" | "TRUE" => Value::Bool(true),
                "false" | "False" | "FALSE" => Value::Bool(false),
                "null" | "Null" | "NULL" | "~" | "" => Value::Null,
                _ => {
                    if let Ok(i) = text.parse::<i64>() {
                        Value::from(i)
                    } else if let Some(f) = text.parse::<f64>().ok().filter(|f| f.is_finite()) {
                        Value::from(f)
                    } else {
                        Value::String(text.to_owned())
                    }
                }
            }
        }
        Node::Sequence(seq) => Value::Array(seq.iter().map(to_json).collect()),
        Node::Mapping(map) => Value::Object(map.iter().map(|(k, v)| (k.as_str().to_owned(), to_json(v))).collect()),
    }
}
