//! `canary import metricflow` checked end to end: the project written for a manifest
//! validates as a native project, and `compute` on it gives what `mf query` gives, for
//! every imported metric, by day and in total.

use std::path::Path;

use canary_core::mf::{MfProject, MfQuery, write_project};
use canary_core::{Engine, Grain, Query};
use tokio::runtime::Runtime;

use crate::compare::{Table, compare};

/// The outcome: metrics compared, and a line per difference.
pub struct Report {
    pub metrics: usize,
    pub failures: Vec<String>,
}

pub fn check(runtime: &Runtime, manifest: &Path, data: &Path) -> Result<Report, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let out = dir.path().join("project");
    runtime
        .block_on(write_project(manifest, data, &out))
        .map_err(|e| format!("import: {e}"))?;
    let engine = runtime
        .block_on(Engine::open(&out))
        .map_err(|e| format!("the imported project does not open: {e}"))?;
    let mf = runtime
        .block_on(MfProject::open(manifest, data))
        .map_err(|e| format!("mf: {e}"))?;
    let metrics: Vec<String> = engine
        .project()
        .kpis
        .keys()
        .filter(|k| !k.contains("__input_"))
        .cloned()
        .collect();
    let mut failures = Vec::new();
    for metric in &metrics {
        for by_day in [true, false] {
            let native = Query {
                kpis: vec![metric.clone()],
                grain: by_day.then_some(Grain::Day),
                ..Query::default()
            };
            let query = MfQuery {
                metrics: vec![metric.clone()],
                group_by: if by_day {
                    vec!["metric_time__day".into()]
                } else {
                    Vec::new()
                },
                ..MfQuery::default()
            };
            let got = runtime.block_on(engine.compute(&native)).map(|r| {
                Table::from_batches(&r.schema, &r.batches).map(|mut t| {
                    for c in &mut t.columns {
                        if c == canary_core::plan::PERIOD_COLUMN {
                            *c = "metric_time__day".into();
                        }
                    }
                    t
                })
            });
            let want = runtime
                .block_on(mf.query(&query))
                .map(|r| Table::from_batches(&r.schema, &r.batches));
            let what = format!("{metric}{}", if by_day { " by metric_time__day" } else { "" });
            match (got, want) {
                (Ok(Ok(a)), Ok(Ok(b))) => {
                    if let Err(e) = compare(&b, &a, false, true) {
                        failures.push(format!("{what}: compute differs from mf query: {e}"));
                    }
                }
                (Err(_), Err(_)) => {}
                (Ok(Err(e)), _) | (_, Ok(Err(e))) => failures.push(format!("{what}: {e}")),
                (Err(e), Ok(_)) => failures.push(format!("{what}: compute fails where mf query does not: {e}")),
                // A windowed cumulative or time-shifted metric has no total in MetricFlow's
                // semantics: `mf query` refuses it without a time group-by, as MetricFlow does.
                (Ok(_), Err(e)) if !by_day && e.to_string().contains("has a value per period only") => {}
                (Ok(_), Err(e)) => failures.push(format!("{what}: mf query fails where compute does not: {e}")),
            }
        }
    }
    Ok(Report {
        metrics: metrics.len(),
        failures,
    })
}
