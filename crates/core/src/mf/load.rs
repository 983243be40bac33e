//! Reading a manifest: a folder of YAML files (MetricFlow's documents, or dbt property files
//! with `semantic_models:`, `metrics:`, `saved_queries:` lists and time-spine models), or
//! dbt's `semantic_manifest.json`.

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
    crate::atomic::read_text(path)
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
                // dbt property files: lists, and models that are time spines.
                "semantic_models" => {
                    for m in list(path, key.as_str(), value)? {
                        manifest
                            .semantic_models
                            .push(typed_value(path, dbt_semantic_model(to_json(m)))?);
                    }
                }
                "metrics" => {
                    for m in list(path, key.as_str(), value)? {
                        manifest.metrics.push(typed(path, m)?);
                    }
                }
                "saved_queries" => {
                    for q in list(path, key.as_str(), value)? {
                        manifest.saved_queries.push(typed(path, q)?);
                    }
                }
                "models" => {
                    for m in list(path, key.as_str(), value)? {
                        if let Some(spine) = dbt_time_spine(&to_json(m)) {
                            add_time_spine(manifest, spine);
                        }
                    }
                }
                // Other dbt properties say nothing about metrics.
                "version" | "sources" | "seeds" | "snapshots" | "macros" | "exposures" | "analyses" | "groups"
                | "unit_tests" | "data_tests" | "semantic_layer" => {}
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
    typed_value(path, to_json(node))
}

fn typed_value<T: DeserializeOwned>(path: &Path, value: serde_json::Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| spec_error(path, &e.to_string()))
}

fn list<'n>(path: &Path, key: &str, node: &'n Node) -> Result<Vec<&'n Node>> {
    match node {
        Node::Sequence(items) => Ok(items.iter().collect()),
        Node::Scalar(s) if s.as_str().is_empty() => Ok(Vec::new()),
        _ => Err(spec_error(path, &format!("`{key}` must be a list"))),
    }
}

/// A dbt semantic model: `model: ref('x')` names the table, as `node_relation.alias` does.
fn dbt_semantic_model(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(obj) = v.as_object_mut()
        && !obj.contains_key("node_relation")
        && let Some(model) = obj.get("model").and_then(|m| m.as_str())
    {
        let alias = model
            .trim()
            .strip_prefix("ref(")
            .and_then(|r| r.strip_suffix(')'))
            .map(|r| r.trim().trim_matches(|c| c == '\'' || c == '"').to_owned())
            .unwrap_or_else(|| model.trim().to_owned());
        obj.insert("node_relation".into(), serde_json::json!({ "alias": alias }));
    }
    v
}

/// A dbt model with `time_spine:` as a project time spine (MetricFlow's
/// `project_configuration.time_spines` entry).
fn dbt_time_spine(model: &serde_json::Value) -> Option<serde_json::Value> {
    let name = model.get("name")?.as_str()?;
    let spine = model.get("time_spine")?;
    let column = spine.get("standard_granularity_column")?.as_str()?;
    let grain = model
        .get("columns")
        .and_then(|c| c.as_array())
        .into_iter()
        .flatten()
        .find(|c| c.get("name").and_then(|n| n.as_str()) == Some(column))
        .and_then(|c| c.get("granularity"))
        .and_then(|g| g.as_str())
        .unwrap_or("day");
    Some(serde_json::json!({
        "node_relation": { "alias": name },
        "primary_column": { "name": column, "time_granularity": grain },
        "custom_granularities": spine.get("custom_granularities").cloned().unwrap_or(serde_json::json!([])),
    }))
}

fn add_time_spine(manifest: &mut Manifest, spine: serde_json::Value) {
    let config = manifest
        .project_configuration
        .get_or_insert_with(|| serde_json::json!({}));
    if let Some(obj) = config.as_object_mut() {
        let spines = obj.entry("time_spines").or_insert_with(|| serde_json::json!([]));
        if let Some(list) = spines.as_array_mut() {
            list.push(spine);
        }
    }
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
