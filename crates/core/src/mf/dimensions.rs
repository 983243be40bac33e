//! Queries without metrics: the distinct values of group-bys, with the time constraint and
//! filters applied.

use std::collections::BTreeMap;

use datafusion::logical_expr::{Expr, LogicalPlanBuilder, ident, when};

use super::names::{MfName, resolve};
use super::project::MfProject;
use super::request::MfQuery;
use crate::error::{CanaryError, Result};
use crate::model::Grain;
use crate::plan::{Query, ROOT_ROW};

impl MfProject {
    /// A query without metrics: the distinct values of the group-bys, over the semantic
    /// model that reaches them all (MetricFlow's dimension-only queries); `metric_time`
    /// comes from the time spine.
    pub(super) async fn dimension_plan(
        &self,
        q: &MfQuery,
    ) -> Result<(datafusion::logical_expr::LogicalPlan, Vec<String>)> {
        if q.group_by.is_empty() {
            return Err(CanaryError::query("name at least one metric or group-by"));
        }
        let mut times: Vec<(String, MfName)> = Vec::new();
        let mut others: Vec<(String, MfName)> = Vec::new();
        for g in &q.group_by {
            let name = MfName::parse_with(g, &self.custom_names());
            if name.is_metric_time() {
                times.push((g.clone(), name));
            } else {
                others.push((g.clone(), name));
            }
        }
        let mut outputs: BTreeMap<String, String> = BTreeMap::new(); // group-by as asked → output
        let dims = if others.is_empty() && q.where_filters.is_empty() {
            None
        } else {
            let (plan, names) = self.dimension_values(&others, &q.where_filters, q.apply_group_by)?;
            for ((g, _), n) in others.iter().zip(names) {
                outputs.insert(g.clone(), n);
            }
            Some(plan)
        };
        if !q.apply_group_by && !times.is_empty() {
            return Err(CanaryError::query(
                "`--no-dedupe` with `metric_time` is not supported yet (without it, the rows of one semantic model)",
            ));
        }
        let spine = if times.is_empty() {
            None
        } else {
            let finest = times.iter().filter_map(|(_, n)| n.grain).min().unwrap_or(Grain::Day);
            let (spine, column) = self.spine(finest).await?;
            let mut group = Vec::new();
            for (g, n) in &times {
                let modifier = match (&n.custom_grain, &n.date_part, n.grain) {
                    (Some(c), _, _) => c.clone(),
                    (None, Some(part), _) => format!("extract_{part}"),
                    (None, None, gr) => gr.unwrap_or(Grain::Day).to_string(),
                };
                let e = self.metric_time_expr(&modifier, column.clone())?;
                let out = format!("metric_time__{modifier}");
                if !group.iter().any(|x: &Expr| x.schema_name().to_string() == out) {
                    group.push(e.alias(&out));
                }
                outputs.insert(g.clone(), out);
            }
            Some(
                LogicalPlanBuilder::from(spine)
                    .aggregate(group, Vec::<Expr>::new())
                    .and_then(LogicalPlanBuilder::build)
                    .map_err(CanaryError::plan)?,
            )
        };
        let b = match (spine, dims) {
            (Some(s), Some(d)) => LogicalPlanBuilder::from(s).cross_join(d),
            (Some(p), None) | (None, Some(p)) => Ok(LogicalPlanBuilder::from(p)),
            (None, None) => return Err(CanaryError::internal("a query with no group-bys")),
        }
        .map_err(CanaryError::plan)?;
        let names: Vec<String> = q.group_by.iter().map(|g| outputs[g].clone()).collect();
        let mut unique: Vec<String> = Vec::new();
        for n in &names {
            push_unique(&mut unique, n);
        }
        // A joined model's row that matches no row of the model the values are read from has
        // no metric_time: MetricFlow joins the time spine to that model only.
        // Present only when a model was joined to the first one.
        let root_rows = b.schema().has_column_with_unqualified_name(ROOT_ROW);
        let is_time = |n: &String| times.iter().any(|(g, _)| &outputs[g] == n);
        let projection: Vec<Expr> = unique
            .iter()
            .map(|n| match root_rows && is_time(n) {
                true => when(ident(ROOT_ROW), ident(n)).end().map(|e| e.alias(n)),
                false => Ok(ident(n)),
            })
            .collect::<datafusion::common::Result<_>>()
            .map_err(CanaryError::plan)?;
        let b = b.project(projection).map_err(CanaryError::plan)?;
        let b = if root_rows && q.apply_group_by {
            b.aggregate(unique.iter().map(ident).collect::<Vec<_>>(), Vec::<Expr>::new())
                .map_err(CanaryError::plan)?
        } else {
            b
        };
        let plan = b
            .sort(unique.iter().map(|n| ident(n).sort(true, false)).collect::<Vec<_>>())
            .and_then(LogicalPlanBuilder::build)
            .map_err(CanaryError::plan)?;
        Ok((plan, unique))
    }

    /// `metric_time` at a grain (`month`), a custom grain (`alien_day`) or a date part
    /// (`extract_dow`, ISO: Monday = 1), computed from an instant.
    pub(super) fn metric_time_expr(&self, modifier: &str, instant: Expr) -> Result<Expr> {
        use crate::plan::time::{truncate, ts};
        if let Some(grain) = self.custom_grains.get(modifier) {
            return Ok(crate::plan::custom_grain_expr(grain, instant));
        }
        if let Some(part) = modifier.strip_prefix("extract_") {
            let p = if part == "dow" { "isodow" } else { part };
            return Ok(datafusion::logical_expr::cast(
                datafusion::functions::datetime::expr_fn::date_part(datafusion::logical_expr::lit(p), ts(instant)),
                datafusion::arrow::datatypes::DataType::Int64,
            ));
        }
        let grain: Grain = modifier.parse().map_err(CanaryError::query)?;
        Ok(truncate(grain, ts(instant)))
    }

    /// Distinct values of dimensions over the semantic model that reaches them all (group-bys
    /// and filters) with the fewest joins; on a tie, a model holding the first group-by, then
    /// a model without measures (a dimension table holds every value, a fact table only those
    /// with facts).
    pub(super) fn dimension_values(
        &self,
        names: &[(String, MfName)],
        filters: &[String],
        distinct: bool,
    ) -> Result<(datafusion::logical_expr::LogicalPlan, Vec<String>)> {
        let metric_time = MfName::parse("metric_time");
        let first = names.first().map_or(&metric_time, |(_, n)| n);
        let mut roots: Vec<&str> = self.manifest.semantic_models.iter().map(|m| m.name.as_str()).collect();
        let owns_first = |root: &str| {
            resolve(&self.manifest, root, first)
                .ok()
                .is_some_and(|r| r.reference.split_once('.').is_some_and(|(p, _)| p == root))
        };
        let has_measures = |root: &str| {
            self.manifest
                .semantic_models
                .iter()
                .any(|m| m.name == root && !m.measures.is_empty())
        };
        roots.sort_by_key(|r| (!owns_first(r), has_measures(r)));
        let mut first_error = None;
        let mut best: Option<(usize, (datafusion::logical_expr::LogicalPlan, Vec<String>))> = None;
        for root in roots {
            let attempt = (|| {
                let mut by = Vec::new();
                let mut outputs = Vec::new();
                let mut join_paths = Vec::new();
                for (g, name) in names {
                    let (reference, output) = self.group_by_reference(root, g, name, false)?;
                    super::names::push_join_path(&mut join_paths, name, &reference);
                    push_unique(&mut by, &reference);
                    outputs.push((output, reference));
                }
                let query = Query {
                    by,
                    filter: self.render_filters(root, filters, &mut join_paths)?,
                    custom_grains: self.custom_grains.clone(),
                    join_paths,
                    ..Query::default()
                };
                let (project, catalog) = (self.engine.project(), self.engine.catalog());
                let planned = crate::plan::Planner::dimension_rows(project, catalog, &query, root, distinct, true)?;
                let mut projection: Vec<Expr> = outputs.iter().map(|(mf, canary)| ident(canary).alias(mf)).collect();
                if projection.is_empty() {
                    return Ok((planned.plan, Vec::new()));
                }
                if planned.plan.schema().has_column_with_unqualified_name(ROOT_ROW) {
                    projection.push(ident(ROOT_ROW));
                }
                let plan = LogicalPlanBuilder::from(planned.plan)
                    .project(projection)
                    .and_then(LogicalPlanBuilder::build)
                    .map_err(CanaryError::plan)?;
                Ok::<_, CanaryError>((plan, outputs.into_iter().map(|(mf, _)| mf).collect()))
            })();
            match attempt {
                Ok(found) => {
                    // The fewest joins wins; ties go to the earlier model in that order.
                    let joins = count_joins(&found.0);
                    if best.as_ref().is_none_or(|(j, _)| joins < *j) {
                        best = Some((joins, found));
                    }
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some((_, found)) = best {
            return Ok(found);
        }
        Err(first_error.unwrap_or_else(|| CanaryError::query("no semantic model has these dimensions")))
    }

    pub(super) fn dimension_grain(&self, reference: &str) -> Option<Grain> {
        let (product, dim) = reference.split_once('.')?;
        self.engine.project().product(product)?.dimensions.get(dim)?.granularity
    }
}

fn count_joins(plan: &datafusion::logical_expr::LogicalPlan) -> usize {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    let mut n = 0;
    let _ = plan.apply(|p| {
        if matches!(p, datafusion::logical_expr::LogicalPlan::Join(_)) {
            n += 1;
        }
        Ok(TreeNodeRecursion::Continue)
    });
    n
}

pub(super) fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_owned());
    }
}
