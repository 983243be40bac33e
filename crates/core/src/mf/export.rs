//! `canary import metricflow`: a MetricFlow manifest written out as a native Canary project
//! (canary.yaml, one contract per semantic model, one KPI file per metric).

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use super::convert::Imported;
use super::manifest::{Manifest, SemanticModel};
use crate::error::{CanaryError, Result};
use crate::spec::{KpiFile, KpiSpec, ProductSpec};

/// What an import wrote.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub products: usize,
    /// Metrics written as KPIs (hidden inputs not counted).
    pub metrics: usize,
    /// Metrics set aside, with why.
    pub skipped: Vec<(String, String)>,
}

/// Import the manifest at `manifest` over the tables in `data` into a new project folder
/// `out` (which must not exist or be empty). The project is written next to `out` first and
/// moved into place at the end, so a failure leaves nothing behind.
pub async fn write_project(manifest: &Path, data: &Path, out: &Path) -> Result<ImportReport> {
    if out.exists() && std::fs::read_dir(out).map_err(|e| io(out, e))?.next().is_some() {
        return Err(CanaryError::query_hint(
            format!("`{}` is not empty", out.display()),
            "choose a new folder for the project",
        ));
    }
    let opened = super::project::MfProject::open(manifest, data).await?;
    // The day time spine's range is the project's calendar, as for `canary mf query`.
    let calendar = opened.calendar;
    let (parsed, mut imported) = (opened.manifest, opened.imported);
    // Offsets in custom granularities need the manifest's time spine: not in a native project.
    set_aside_custom_offsets(&mut imported);
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| io(&parent, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".canary-import-")
        .tempdir_in(&parent)
        .map_err(|e| io(&parent, e))?;
    let report = write_into(&parsed, &imported, calendar, out, staging.path())?;
    if out.exists() {
        std::fs::remove_dir(out).map_err(|e| io(out, e))?;
    }
    let staged = staging.keep();
    std::fs::rename(&staged, out).map_err(|e| io(out, e))?;
    Ok(report)
}

type Calendar = Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>;

fn write_into(
    manifest: &Manifest,
    imported: &Imported,
    calendar: Calendar,
    out: &Path,
    dir: &Path,
) -> Result<ImportReport> {
    let write = |rel: &str, text: String| -> Result<()> {
        let path = dir.join(rel);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).map_err(|e| io(p, e))?;
        }
        std::fs::write(&path, text).map_err(|e| io(&path, e))
    };
    write(
        "canary.yaml",
        format!(
            "# Imported from a MetricFlow manifest by `canary import metricflow`.\n{}",
            to_yaml(&serde_json::json!({
                "project": "metricflow",
                "version": "1.0.0",
                "products": ["products/*.yaml"],
                "kpis": ["kpis/*.yaml"],
                "settings": {
                    "calendar": calendar.map(|(from, to)| serde_json::json!({
                        "from": from.format("%Y-%m-%d").to_string(),
                        "to": to.format("%Y-%m-%d").to_string(),
                    })),
                },
            }))
        ),
    )?;
    for product in &imported.products {
        let model = manifest.semantic_models.iter().find(|m| m.name == product.product);
        let mut p = product.clone();
        if let Some(model) = model {
            let used = used_names(model);
            p.columns.retain(|c| used.contains(&c.name));
        }
        p.location = relative_location(Path::new(&p.location), out);
        write(&format!("products/{}.yaml", p.product), product_yaml(&p)?)?;
    }
    // One file per metric, holding its hidden inputs (`metric__input_N`) too.
    let mut metrics = 0;
    for k in imported.kpis.iter().filter(|k| !k.id.contains("__input_")) {
        let prefix = format!("{}__input_", k.id);
        let mut kpis: Vec<KpiSpec> = imported
            .kpis
            .iter()
            .filter(|x| x.id.starts_with(&prefix))
            .cloned()
            .collect();
        kpis.push(k.clone());
        write(&format!("kpis/{}.yaml", k.id), kpi_yaml(&KpiFile { kpis })?)?;
        metrics += 1;
    }
    Ok(ImportReport {
        products: imported.products.len(),
        metrics,
        skipped: imported
            .unsupported
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    })
}

fn set_aside_custom_offsets(imported: &mut Imported) {
    let custom: Vec<String> = imported
        .kpis
        .iter()
        .filter(|k| {
            k.inputs.iter().any(|i| {
                i.offset
                    .as_deref()
                    .and_then(|o| o.parse::<crate::model::Offset>().ok())
                    .is_some_and(|o| matches!(o, crate::model::Offset::Custom(..)))
            })
        })
        .map(|k| k.id.clone())
        .collect();
    for id in custom {
        let metric = id.split("__input_").next().unwrap_or(&id).to_owned();
        imported
            .kpis
            .retain(|k| k.id != metric && !k.id.starts_with(&format!("{metric}__input_")));
        imported.unsupported.insert(
            metric,
            "an offset in a custom granularity, which only the manifest's time spine defines".into(),
        );
    }
    super::convert::drop_dependents(imported);
}

fn product_yaml(p: &ProductSpec) -> Result<String> {
    let v = serde_json::to_value(p).map_err(|e| CanaryError::internal(e.to_string()))?;
    Ok(to_yaml(&v))
}

fn kpi_yaml(f: &KpiFile) -> Result<String> {
    let v = serde_json::to_value(f).map_err(|e| CanaryError::internal(e.to_string()))?;
    Ok(to_yaml(&v))
}

/// Every word a semantic model's names and expressions use: the columns it reads are among
/// them.
fn used_names(model: &SemanticModel) -> BTreeSet<String> {
    let mut text = String::new();
    let mut add = |s: &str| {
        text.push_str(s);
        text.push(' ');
    };
    for e in &model.entities {
        add(&e.name);
        if let Some(x) = &e.expr {
            add(&x.as_sql());
        }
    }
    for d in &model.dimensions {
        add(&d.name);
        if let Some(x) = &d.expr {
            add(&x.as_sql());
        }
    }
    for m in &model.measures {
        add(&m.name);
        if let Some(x) = &m.expr {
            add(&x.as_sql());
        }
    }
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `location` as seen from the project folder `out` when both are under the same folder
/// (so the project can move with its data), else as it is.
fn relative_location(location: &Path, out: &Path) -> String {
    let absolute = |p: &Path| std::path::absolute(p).ok().map(|p| normalize(&p));
    let (Some(loc), Some(base)) = (absolute(location), absolute(out)) else {
        return location.to_string_lossy().into_owned();
    };
    let common = loc
        .components()
        .zip(base.components())
        .take_while(|(a, b)| a == b)
        .count();
    if common <= 1 {
        return loc.to_string_lossy().into_owned();
    }
    let mut rel = PathBuf::new();
    for _ in base.components().skip(common) {
        rel.push("..");
    }
    for c in loc.components().skip(common) {
        rel.push(c);
    }
    rel.to_string_lossy().replace('\\', "/")
}

fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn io(path: &Path, e: std::io::Error) -> CanaryError {
    CanaryError::query(format!("cannot write `{}`: {e}", path.display()))
}

/// A JSON value as block YAML. Nulls and empty lists are left out (every such field of the
/// specs has a default); strings are quoted unless plainly a word.
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    emit(v, 0, &mut out);
    out
}

fn skipped(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(skipped),
        _ => false,
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => {
            let plain = s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-' | '*'))
                && !matches!(
                    s.to_ascii_lowercase().as_str(),
                    "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "nan" | "inf"
                );
            if plain {
                s.clone()
            } else {
                serde_json::to_string(s).unwrap_or_default()
            }
        }
        other => other.to_string(),
    }
}

fn emit(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter().filter(|(_, val)| !skipped(val)) {
                match val {
                    Value::Object(_) | Value::Array(_) => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        emit(val, indent + 2, out);
                    }
                    _ => out.push_str(&format!("{pad}{k}: {}\n", scalar(val))),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(_) | Value::Array(_) => {
                        let mut inner = String::new();
                        emit(item, indent + 2, &mut inner);
                        // The item's first line goes after the dash.
                        let inner = inner.strip_prefix(&" ".repeat(indent + 2)).unwrap_or(&inner);
                        out.push_str(&format!("{pad}- {inner}"));
                    }
                    _ => out.push_str(&format!("{pad}- {}\n", scalar(item))),
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kpi_files_round_trip_through_the_reader() {
        let file: KpiFile = serde_json::from_value(serde_json::json!({"kpis": [
            {
                "id": "growth", "version": "1.0.0", "type": "derived",
                "expr": "coalesce(value, 0) - b: c # not a comment",
                "inputs": [{"kpi": "true", "alias": "no", "offset": "14 days"}],
                "tags": [], "every_period": true,
            },
            {
                "id": "b", "version": "1.0.0", "type": "cumulative", "measure": "m.x",
                "filter": "status = 'done' AND \"weird\" > 1",
                "cumulative": {"window": "2 months", "period_agg": "first"},
            },
        ]}))
        .unwrap();
        let text = kpi_yaml(&file).unwrap();
        let back: KpiFile = marked_yaml::from_yaml(0, &text).unwrap();
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(&file).unwrap(),
            "{text}"
        );
    }
}
