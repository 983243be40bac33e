//! The time spines of a manifest: their custom granularities (`alien_day`, fiscal periods)
//! read as runs of days, their bounds, and spines generated at a grain.

use std::collections::BTreeMap;

use datafusion::logical_expr::{Expr, LogicalPlanBuilder, ident};

use super::project::MfProject;
use crate::error::{CanaryError, Result};
use crate::model::Grain;

impl MfProject {
    /// Each custom granularity of a time spine whose table is there, as runs of days.
    pub(super) async fn read_custom_grains(&self) -> Result<BTreeMap<String, crate::plan::CustomGrain>> {
        use crate::plan::time::ts;
        use datafusion::arrow::array::{Array, AsArray};
        use datafusion::arrow::datatypes::TimestampMicrosecondType;
        let mut out = BTreeMap::new();
        for spine in self.manifest.time_spines() {
            let path = self.data.join(format!("{}.parquet", spine.alias));
            if spine.custom.is_empty() || !path.exists() {
                continue;
            }
            let table = self.read_table(&path).await?;
            for (name, column) in &spine.custom {
                let quoted = |c: &str| datafusion::logical_expr::col(format!("\"{c}\""));
                let plan = LogicalPlanBuilder::from(table.clone())
                    .project(vec![
                        ts(quoted(&spine.column)).alias("d"),
                        ts(quoted(column)).alias("v"),
                    ])
                    .and_then(|b| b.sort(vec![ident("d").sort(true, false)]))
                    .and_then(LogicalPlanBuilder::build)
                    .map_err(|e| CanaryError::query(format!("custom granularity `{name}`: {e}")))?;
                let mut runs: Vec<(
                    chrono::DateTime<chrono::Utc>,
                    chrono::DateTime<chrono::Utc>,
                    chrono::DateTime<chrono::Utc>,
                )> = Vec::new();
                for batch in self.engine.run(plan).await? {
                    let (Some(d), Some(v)) = (
                        batch.column(0).as_primitive_opt::<TimestampMicrosecondType>(),
                        batch.column(1).as_primitive_opt::<TimestampMicrosecondType>(),
                    ) else {
                        continue;
                    };
                    for i in 0..batch.num_rows() {
                        if d.is_null(i) || v.is_null(i) {
                            continue;
                        }
                        let (Some(day), Some(value)) = (
                            chrono::DateTime::from_timestamp_micros(d.value(i)),
                            chrono::DateTime::from_timestamp_micros(v.value(i)),
                        ) else {
                            continue;
                        };
                        let next = day + chrono::Duration::days(1);
                        match runs.last_mut() {
                            Some((_, to, val)) if *to == day && *val == value => *to = next,
                            _ => runs.push((day, next, value)),
                        }
                    }
                }
                out.insert(name.clone(), std::sync::Arc::new(runs));
            }
        }
        Ok(out)
    }

    pub(super) fn custom_names(&self) -> Vec<&str> {
        self.custom_grains.keys().map(String::as_str).collect()
    }

    /// Whether the manifest has a day (or finer) time spine with its table in the data folder.
    pub(super) fn has_day_spine(&self) -> bool {
        self.manifest.time_spines().iter().any(|s| {
            s.grain.parse::<Grain>().is_ok_and(|g| g <= Grain::Day)
                && self.data.join(format!("{}.parquet", s.alias)).exists()
        })
    }

    /// The first and last day of the day time spine.
    pub(super) async fn spine_bounds(
        &self,
    ) -> Result<Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>> {
        use datafusion::arrow::array::{Array, AsArray};
        use datafusion::arrow::datatypes::TimestampMicrosecondType;
        let (spine, column) = self.spine(Grain::Day).await?;
        let t = crate::plan::time::ts(column);
        let plan = LogicalPlanBuilder::from(spine)
            .aggregate(
                Vec::<Expr>::new(),
                vec![
                    datafusion::functions_aggregate::expr_fn::min(t.clone()),
                    datafusion::functions_aggregate::expr_fn::max(t),
                ],
            )
            .and_then(LogicalPlanBuilder::build)
            .map_err(CanaryError::plan)?;
        let batches = self.engine.run(plan).await?;
        let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else {
            return Ok(None);
        };
        let at = |i: usize| {
            let a = batch.column(i).as_primitive_opt::<TimestampMicrosecondType>()?;
            (!a.is_null(0))
                .then(|| chrono::DateTime::from_timestamp_micros(a.value(0)))
                .flatten()
        };
        Ok(at(0).zip(at(1)))
    }

    /// The time spine table to read at `grain`: the coarsest spine at least as fine. Returns
    /// the scan and the spine's time column.
    pub(super) async fn spine(&self, grain: Grain) -> Result<(datafusion::logical_expr::LogicalPlan, Expr)> {
        let spines = self.manifest.time_spines();
        let usable = spines
            .iter()
            .filter_map(|s| {
                let g: Grain = match s.grain.as_str() {
                    "nanosecond" | "microsecond" => return None,
                    other => other.parse().ok()?,
                };
                let path = self.data.join(format!("{}.parquet", s.alias));
                (g <= grain && path.exists()).then_some((g, s, path))
            })
            .max_by_key(|(g, ..)| *g);
        let Some((_, spine, path)) = usable else {
            return Err(CanaryError::query(format!(
                "no time spine at `{grain}` or finer: declare one in `project_configuration.time_spines` and put its table in the data folder"
            )));
        };
        Ok((
            self.read_table(&path).await?,
            datafusion::logical_expr::col(format!("\"{}\"", spine.column)),
        ))
    }

    /// Whether any of `metrics` is, or uses, a cumulative metric or one joined to the time
    /// spine: those run over the whole spine when the query has no range.
    pub(super) fn uses_time_spine(&self, metrics: &[String]) -> bool {
        let project = self.engine.project();
        let mut stack: Vec<String> = metrics.to_vec();
        while let Some(id) = stack.pop() {
            let Some(kpi) = project.kpi(&id) else { continue };
            if kpi.every_period {
                return true;
            }
            match &kpi.body {
                crate::model::KpiBody::Cumulative { .. } => return true,
                crate::model::KpiBody::Derived { inputs, .. } => {
                    stack.extend(inputs.iter().map(|i| i.kpi.clone()));
                }
                _ => {}
            }
        }
        false
    }
}
