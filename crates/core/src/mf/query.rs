//! MetricFlow-style queries (`metrics`, `group_by` names such as `metric_time__month` or
//! `listing__country_latest`, filters in MetricFlow's filter language) over an imported
//! manifest, answered by Canary's planner, with MetricFlow's output column names.

use std::path::Path;
use std::sync::Arc;

use datafusion::logical_expr::{Expr, LogicalPlanBuilder, ident};

use super::dimensions::push_unique;
use super::filter;
use super::manifest::MetricInput;
use super::names::{MfName, resolve};
use super::project::MfProject;
use super::request::MfQuery;
use crate::error::{CanaryError, Result};
use crate::exec::QueryResult;
use crate::model::{Grain, parse_instant};
use crate::plan::{PERIOD_COLUMN, Query};

/// The largest `limit` applied; any larger one keeps every row.
const MAX_LIMIT: usize = i64::MAX as usize;

impl MfProject {
    /// The coarsest default grain of the metrics: the metric's `time_granularity`, else
    /// its time dimension's grain (finer than a day counts as a day).
    pub(super) fn default_grain(&self, metrics: &[String]) -> Grain {
        let mut grain: Option<Grain> = None;
        for m in metrics {
            let declared = self
                .manifest
                .metrics
                .iter()
                .find(|x| x.name == *m)
                .and_then(|x| x.time_granularity.as_deref())
                .and_then(|g| g.parse::<Grain>().ok());
            let from_dimension = self.root_model(m).and_then(|model| {
                let product = self.engine.project().product(&model)?;
                let dim = product.time_dimension.as_ref()?;
                product.dimensions.get(dim)?.granularity
            });
            // A declared default may be sub-daily; a dimension finer than a day gives a day.
            let g = declared.unwrap_or_else(|| from_dimension.unwrap_or(Grain::Day).max(Grain::Day));
            grain = Some(grain.map_or(g, |x| x.max(g)));
        }
        grain.unwrap_or(Grain::Day)
    }

    /// Answer `q` with MetricFlow's column names.
    pub async fn query(&self, q: &MfQuery) -> Result<QueryResult> {
        let q = &super::saved::expand(&self.manifest, q)?;
        if !q.apply_group_by && !q.metrics.is_empty() {
            return Err(CanaryError::query(
                "`--no-dedupe` applies to queries without metrics (MetricFlow's `apply_group_by: false`)",
            ));
        }
        let (plan, outputs) = if q.metrics.is_empty() {
            self.dimension_plan(q).await?
        } else {
            self.metric_plan(q).await?
        };
        let mut b = LogicalPlanBuilder::from(plan);
        if !q.order_by.is_empty() {
            // Order-by names are the group-bys as asked (`metric_time`) or as output.
            let output_of = |name: &str| -> String {
                q.group_by
                    .iter()
                    .position(|g| g == name)
                    .and_then(|i| outputs.get(i).cloned())
                    .unwrap_or_else(|| name.to_owned())
            };
            // Metrics, group-bys as asked and as output: anything else is the user's typo.
            let valid: Vec<&str> = q
                .metrics
                .iter()
                .chain(&q.group_by)
                .chain(&outputs)
                .map(String::as_str)
                .collect();
            let mut order = Vec::with_capacity(q.order_by.len());
            for o in &q.order_by {
                let (name, ascending) = o.strip_prefix('-').map_or((o.as_str(), true), |n| (n, false));
                if !valid.contains(&name) {
                    return Err(CanaryError::query_hint(
                        format!("cannot order by `{name}`: it is neither a metric nor a group-by of the query"),
                        crate::diagnostic::did_you_mean(name, valid.iter().copied()),
                    ));
                }
                order.push(ident(output_of(name)).sort(ascending, false));
            }
            b = b.sort(order).map_err(CanaryError::plan)?;
        }
        if let Some(n) = q.limit {
            // A limit past any number of rows is no limit; DataFusion takes it as an i64.
            if n <= MAX_LIMIT {
                b = b.limit(0, Some(n)).map_err(CanaryError::plan)?;
            }
        }
        let mut names: Vec<String> = outputs.iter().chain(q.metrics.iter()).cloned().collect();
        if q.min_max_only {
            // The range of each column: `<name>__min`, `<name>__max`.
            let mut aggs = Vec::new();
            for n in &names {
                aggs.push(datafusion::functions_aggregate::expr_fn::min(ident(n)).alias(format!("{n}__min")));
                aggs.push(datafusion::functions_aggregate::expr_fn::max(ident(n)).alias(format!("{n}__max")));
            }
            b = b.aggregate(Vec::<Expr>::new(), aggs).map_err(CanaryError::plan)?;
            names = names
                .iter()
                .flat_map(|n| [format!("{n}__min"), format!("{n}__max")])
                .collect();
        }
        let plan = b.build().map_err(CanaryError::plan)?;
        let schema = Arc::new(plan.schema().as_arrow().clone());
        let batches = self.engine.run(plan).await?;
        let columns = names
            .into_iter()
            .map(|name| {
                let role = if q.metrics.contains(&name) {
                    crate::plan::OutputRole::Kpi
                } else if name.starts_with("metric_time__") && !q.min_max_only {
                    crate::plan::OutputRole::Period
                } else {
                    crate::plan::OutputRole::Dimension
                };
                crate::plan::OutputColumn { name, role }
            })
            .collect();
        Ok(QueryResult {
            schema,
            batches,
            columns,
        })
    }

    /// The Canary reference and MetricFlow output name of a group-by seen from `root`.
    pub(super) fn group_by_reference(
        &self,
        root: &str,
        g: &str,
        name: &MfName,
        full_path: bool,
    ) -> Result<(String, String)> {
        let mut resolved = resolve(&self.manifest, root, name)?;
        // An entity named on its own (`listing`) is each metric's own: unqualified, it is
        // read from every measure's product (MetricFlow groups each metric by its model's key).
        let own_entity = name.entity_path.is_empty()
            && self
                .manifest
                .semantic_models
                .iter()
                .any(|m| m.name == root && m.entities.iter().any(|e| e.name == name.element))
            && resolved.reference == format!("{root}.{}", name.element);
        if own_entity {
            resolved.reference = name.element.clone();
        }
        // In a metric query, a dimension reached through more entities than named is output
        // with the whole path (`user__x` from bookings is `listing__user__x`).
        let path = if full_path {
            self.entity_path(root, &resolved.reference)
        } else {
            Vec::new()
        };
        let mut output = g.to_owned();
        if path.len() > name.entity_path.len() {
            let mut parts = path;
            parts.push(name.element.clone());
            output = parts.join("__");
            if let Some(gr) = name.grain {
                output = format!("{output}__{gr}");
            }
            if let Some(part) = &name.date_part {
                output = format!("{output}__extract_{part}");
            }
            if let Some(c) = &name.custom_grain {
                output = format!("{output}__{c}");
            }
        }
        Ok(match (&name.date_part, name.grain, resolved.is_time) {
            (_, _, _) if name.custom_grain.is_some() => (
                format!(
                    "{}:{}",
                    resolved.reference,
                    name.custom_grain.as_deref().unwrap_or_default()
                ),
                output,
            ),
            (Some(part), _, _) => (format!("{}:extract_{part}", resolved.reference), output),
            (None, Some(gr), _) => (format!("{}:{gr}", resolved.reference), output),
            (None, None, true) => {
                let declared = self
                    .dimension_grain(&resolved.reference)
                    .unwrap_or(Grain::Day)
                    .max(Grain::Day);
                (
                    format!("{}:{declared}", resolved.reference),
                    format!("{output}__{declared}"),
                )
            }
            (None, None, false) => (resolved.reference.clone(), output),
        })
    }

    /// The entities joined from `root` to the product of `reference` (`product.name`).
    pub(super) fn entity_path(&self, root: &str, reference: &str) -> Vec<String> {
        let Some((product, _)) = reference.split_once('.') else {
            return Vec::new();
        };
        if product == root {
            return Vec::new();
        }
        let scope = crate::model::Scope::build(self.engine.project(), root);
        let Some(mut i) = scope.members.iter().position(|m| m.product == product) else {
            return Vec::new();
        };
        let mut path = Vec::new();
        while let Some(step) = &scope.members[i].join {
            path.push(step.entity.clone());
            i = step.parent;
        }
        path.reverse();
        path
    }

    /// The query's filters as one SQL condition over Canary names, seen from `root`; the
    /// join paths their names follow are added to `paths`.
    pub(super) fn render_filters(
        &self,
        root: &str,
        filters: &[String],
        paths: &mut Vec<crate::model::JoinPath>,
    ) -> Result<Option<String>> {
        let rendered = filters
            .iter()
            .map(|f| filter::render_collecting(&self.manifest, root, f, &self.custom_grains, paths))
            .collect::<Result<Vec<_>>>()?;
        Ok(match rendered.len() {
            0 => None,
            1 => rendered.into_iter().next(),
            _ => Some(
                rendered
                    .into_iter()
                    .map(|f| format!("({f})"))
                    .collect::<Vec<_>>()
                    .join(" AND "),
            ),
        })
    }

    /// A query with metrics: Canary's planner, renamed to MetricFlow's names.
    pub(super) async fn metric_plan(
        &self,
        q: &MfQuery,
    ) -> Result<(datafusion::logical_expr::LogicalPlan, Vec<String>)> {
        for m in &q.metrics {
            if let Some(why) = self.imported.unsupported.get(m) {
                return Err(CanaryError::query(format!("metric `{m}` is not supported: {why}")));
            }
            if self.engine.project().kpi(m).is_none() {
                return Err(CanaryError::query_hint(
                    format!("unknown metric `{m}`"),
                    crate::diagnostic::did_you_mean(m, self.manifest.metrics.iter().map(|x| x.name.as_str())),
                ));
            }
        }
        self.check_time_bound_metrics(q)?;
        let root = self
            .root_model(&q.metrics[0])
            .ok_or_else(|| CanaryError::internal("a metric without a semantic model"))?;

        // The time all metrics aggregate over, when they share it: grouping by it at a grain
        // is grouping by `metric_time` (MetricFlow shifts, accumulates and fills it alike).
        let shared_time = self.shared_time_dimension(&q.metrics);

        // Group-bys: Canary `by` references, and the output names MetricFlow gives them.
        // The finest time grain is the period; coarser ones are `by` names.
        enum Item {
            Time(Grain, String),
            By(String, String),
        }
        let mut items = Vec::new();
        let mut join_paths = Vec::new();
        for g in &q.group_by {
            let name = MfName::parse_with(g, &self.custom_names());
            if name.is_metric_time() {
                match (&name.date_part, name.grain) {
                    _ if name.custom_grain.is_some() => {
                        let c = name.custom_grain.clone().unwrap_or_default();
                        items.push(Item::By(format!("metric_time__{c}"), format!("metric_time:{c}")));
                    }
                    (Some(part), _) => {
                        items.push(Item::By(
                            format!("metric_time__extract_{part}"),
                            format!("metric_time:extract_{part}"),
                        ));
                    }
                    (None, gr) => {
                        let gr = gr.unwrap_or_else(|| self.default_grain(&q.metrics));
                        items.push(Item::Time(gr, format!("metric_time__{gr}")));
                    }
                }
                continue;
            }
            let (reference, output) = self.group_by_reference(&root, g, &name, true)?;
            super::names::push_join_path(&mut join_paths, &name, &reference);
            match (reference.split_once(':'), &shared_time) {
                (Some((base, modifier)), Some(t)) if base == t && modifier.parse::<Grain>().is_ok() => {
                    let gr: Grain = modifier.parse().map_err(CanaryError::query)?;
                    items.push(Item::Time(gr, output));
                }
                _ => items.push(Item::By(output, reference)),
            }
        }
        let grain = items
            .iter()
            .filter_map(|i| match i {
                Item::Time(g, _) => Some(*g),
                Item::By(..) => None,
            })
            .min();
        let mut by: Vec<String> = Vec::new();
        let mut outputs: Vec<(String, String)> = Vec::new(); // (MetricFlow name, Canary column)
        for item in items {
            let (output, reference) = match item {
                Item::Time(g, output) if Some(g) == grain => (output, PERIOD_COLUMN.to_owned()),
                Item::Time(g, output) => (output, format!("metric_time:{g}")),
                Item::By(output, reference) => (output, reference),
            };
            if reference != PERIOD_COLUMN {
                push_unique(&mut by, &reference);
            }
            outputs.push((output, reference));
        }
        // Filters written as SQL over output columns (no `{{ … }}`) apply to the output.
        let (on_output, on_rows): (Vec<String>, Vec<String>) =
            q.where_filters.iter().cloned().partition(|f| !f.contains("{{"));
        let filter = self.render_filters(&root, &on_rows, &mut join_paths)?;
        let from = q
            .start_time
            .as_deref()
            .map(parse_instant)
            .transpose()
            .map_err(CanaryError::query)?;
        let to = match q.end_time.as_deref() {
            Some(end) => {
                let t = parse_instant(end).map_err(CanaryError::query)?;
                // A date-only end includes that whole day; a time, that second.
                Some(if end.len() <= 10 {
                    t + chrono::Duration::days(1)
                } else {
                    t + chrono::Duration::seconds(1)
                })
            }
            None => None,
        };
        // Without metric_time the constraint still covers whole periods of the metrics'
        // default grain (a monthly metric reads whole months).
        let (from, to) = match grain {
            Some(_) => (from, to),
            None => {
                let g = self.default_grain(&q.metrics);
                (from.map(|t| g.truncate(t)), to.map(|t| g.ceil(t)))
            }
        };
        let query = Query {
            kpis: q.metrics.clone(),
            grain,
            by,
            filter,
            from,
            to,
            tenant: None,
            calendar: None,
            custom_grains: self.custom_grains.clone(),
            shifted_cumulatives_within_range: true,
            join_paths,
        };
        // Any form of metric_time (a custom granularity, a date part) is read off the spine.
        let time_by = query.by.iter().any(|b| b.starts_with("metric_time:"));
        let query =
            if (grain.is_some() || time_by) && (from.is_none() || to.is_none()) && self.uses_time_spine(&q.metrics) {
                Query {
                    calendar: self.calendar,
                    ..query
                }
            } else {
                query
            };
        let planned = self.engine.plan(&query).await?;
        // Coarser grains, custom grains and date parts of metric_time are read from the rows;
        // a period the time spine adds has no rows, so there they come from the period.
        let mut projection: Vec<Expr> = Vec::new();
        for (mf, canary) in &outputs {
            let from_period = match canary.strip_prefix("metric_time:") {
                Some(modifier) if grain.is_some() => Some(self.metric_time_expr(modifier, ident(PERIOD_COLUMN))?),
                _ => None,
            };
            projection.push(match from_period {
                Some(p) => datafusion::functions::core::expr_fn::coalesce(vec![ident(canary), p]).alias(mf),
                None => ident(canary).alias(mf),
            });
        }
        projection.extend(q.metrics.iter().map(|m| ident(m).alias(m)));
        let mut b = LogicalPlanBuilder::from(planned.plan)
            .project(projection)
            .map_err(CanaryError::plan)?;
        for f in on_output {
            // The same allow-list as every other user expression.
            let e = crate::expr::parse_expr(&f, b.schema())
                .map_err(|e| CanaryError::query(format!("cannot apply the filter `{f}`: {e}")))?;
            b = b.filter(e).map_err(CanaryError::plan)?;
        }
        let plan = b.build().map_err(CanaryError::plan)?;
        Ok((plan, outputs.into_iter().map(|(mf, _)| mf).collect()))
    }

    /// The time dimension (`model.dimension`) all `metrics` aggregate over, if one.
    /// Why `metric` only has a value per period of its time (a cumulative metric over a
    /// window or to the start of a grain, or one reading an input shifted in time), itself or
    /// through its inputs; `None` when it has a value without a time group-by.
    fn time_bound(&self, metric: &str, depth: usize) -> Option<String> {
        let m = self.manifest.metrics.iter().find(|m| m.name == metric)?;
        let p = &m.type_params;
        let cumulative = p.cumulative_type_params.as_ref();
        let windowed = p.window.is_some()
            || p.grain_to_date.is_some()
            || cumulative.is_some_and(|c| {
                !c.get("window").unwrap_or(&serde_json::Value::Null).is_null()
                    || !c.get("grain_to_date").unwrap_or(&serde_json::Value::Null).is_null()
            });
        if m.kind.eq_ignore_ascii_case("cumulative") && windowed {
            return Some(format!(
                "`{metric}` accumulates over a window or to the start of a period"
            ));
        }
        let inputs = p
            .metrics
            .iter()
            .flatten()
            .chain(p.numerator.iter())
            .chain(p.denominator.iter());
        for input in inputs {
            if let MetricInput::Object {
                offset_window,
                offset_to_grain,
                ..
            } = input
                && (offset_window.is_some() || offset_to_grain.is_some())
            {
                return Some(format!("`{metric}` reads `{}` shifted in time", input.name()));
            }
            // Manifests are acyclic once loaded; the depth only guards a malformed one.
            if depth < 64
                && let Some(why) = self.time_bound(input.name(), depth + 1)
            {
                return Some(why);
            }
        }
        None
    }

    /// MetricFlow refuses a metric that only has a value per period when the query does not
    /// group by `metric_time` or by the metric's own time dimension: there is no single
    /// number to give. So does Canary, rather than answer one.
    fn check_time_bound_metrics(&self, q: &MfQuery) -> Result<()> {
        let names: Vec<MfName> = q
            .group_by
            .iter()
            .map(|g| MfName::parse_with(g, &self.custom_names()))
            .collect();
        if names.iter().any(MfName::is_metric_time) {
            return Ok(());
        }
        for m in &q.metrics {
            let Some(why) = self.time_bound(m, 0) else { continue };
            let Some(model) = self.root_model(m) else { continue };
            let own_time = self
                .engine
                .project()
                .product(&model)
                .and_then(|p| p.time_dimension.clone());
            // The metric's own time dimension: through an entity that keys its model
            // (`booking__ds`), not another model's `ds` (`listing__ds`).
            let keys: Vec<&str> = self
                .manifest
                .semantic_models
                .iter()
                .filter(|sm| sm.name == model)
                .flat_map(|sm| {
                    sm.primary_entity.iter().map(String::as_str).chain(
                        sm.entities
                            .iter()
                            .filter(|e| {
                                matches!(e.kind.to_ascii_lowercase().as_str(), "primary" | "unique" | "natural")
                            })
                            .map(|e| e.name.as_str()),
                    )
                })
                .collect();
            let own = |n: &MfName| n.entity_path.len() == 1 && keys.contains(&n.entity_path[0].as_str());
            if own_time.is_some_and(|t| names.iter().any(|n| n.element == t && own(n))) {
                continue;
            }
            return Err(CanaryError::query_hint(
                format!("metric `{m}` has a value per period only ({why}), and the query has no time to group by"),
                "add `metric_time` at a grain (`--group-by metric_time__month`), as MetricFlow requires",
            ));
        }
        Ok(())
    }

    pub(super) fn shared_time_dimension(&self, metrics: &[String]) -> Option<String> {
        let mut shared: Option<String> = None;
        for m in metrics {
            let model = self.root_model(m)?;
            let product = self.engine.project().product(&model)?;
            let t = format!("{model}.{}", product.time_dimension.as_ref()?);
            match &shared {
                Some(s) if *s != t => return None,
                _ => shared = Some(t),
            }
        }
        shared
    }
}

/// Open the manifest and answer one query.
pub async fn run_query(manifest: &Path, data: &Path, query: &MfQuery) -> Result<QueryResult> {
    MfProject::open(manifest, data).await?.query(query).await
}
