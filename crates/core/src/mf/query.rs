//! MetricFlow-style queries (`metrics`, `group_by` names such as `metric_time__month` or
//! `listing__country_latest`, filters in MetricFlow's filter language) over an imported
//! manifest, answered by Canary's planner, with MetricFlow's output column names.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use datafusion::logical_expr::{Expr, LogicalPlanBuilder, ident};

use super::convert::{Imported, import};
use super::filter;
use super::load::load_manifest;
use super::manifest::Manifest;
use super::names::{MfName, resolve};
use crate::catalog::StorageOptions;
use crate::diagnostic::Diagnostic;
use crate::error::{CanaryError, Result};
use crate::exec::{Engine, QueryResult};
use crate::model::{Grain, parse_instant};
use crate::plan::{PERIOD_COLUMN, Query};
use crate::spec::{KpiSpec, Located, ProductSpec, ProjectSpec, SettingsSpec};
use crate::validate::validate_specs;

/// A MetricFlow query, as `canary mf query` takes it.
#[derive(Debug, Clone)]
pub struct MfQuery {
    pub metrics: Vec<String>,
    /// Group-by names: `metric_time`, `metric_time__month`, `listing__country_latest`,
    /// `booking__ds__week`, `metric_time__extract_dow`.
    pub group_by: Vec<String>,
    /// Filters in MetricFlow's filter language, combined with AND.
    pub where_filters: Vec<String>,
    /// Output names, `-name` for descending.
    pub order_by: Vec<String>,
    pub limit: Option<usize>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub saved_query: Option<String>,
    pub min_max_only: bool,
    /// `false` is MetricFlow's `apply_group_by: false` (no de-duplication).
    pub apply_group_by: bool,
}

impl Default for MfQuery {
    fn default() -> Self {
        MfQuery {
            metrics: Vec::new(),
            group_by: Vec::new(),
            where_filters: Vec::new(),
            order_by: Vec::new(),
            limit: None,
            start_time: None,
            end_time: None,
            saved_query: None,
            min_max_only: false,
            apply_group_by: true,
        }
    }
}

/// An imported manifest with its engine, ready for queries.
pub struct MfProject {
    pub manifest: Manifest,
    pub imported: Imported,
    pub engine: Engine,
    /// Where the tables are (`DATA/<alias>.parquet`).
    pub data: std::path::PathBuf,
    /// Custom granularities of the time spines (`alien_day`, fiscal periods), read from
    /// their tables.
    pub custom_grains: BTreeMap<String, crate::plan::CustomGrain>,
    /// First and last day of the day time spine, read once: the range of cumulative and
    /// spine-joined metrics when a query has none.
    pub calendar: Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>,
}

impl MfProject {
    /// Read the manifest at `manifest` over the tables in `data` (`data/<alias>.parquet`).
    pub async fn open(manifest: &Path, data: &Path) -> Result<MfProject> {
        let parsed = load_manifest(manifest)?;
        let mut imported = import(&parsed, data)?;
        let custom_grains: Vec<String> = parsed
            .time_spines()
            .iter()
            .flat_map(|s| s.custom.iter().map(|(name, _)| name.clone()))
            .collect();
        let (project, origins) = validate_imported(&mut imported, data, custom_grains)?;
        let engine = Engine::from_project(project, origins, &StorageOptions::default()).await?;
        let mut project = MfProject {
            manifest: parsed,
            imported,
            engine,
            data: data.to_path_buf(),
            custom_grains: BTreeMap::new(),
            calendar: None,
        };
        project.custom_grains = project.read_custom_grains().await?;
        if project.has_day_spine() {
            project.calendar = project.spine_bounds().await?;
        }
        Ok(project)
    }

    /// The semantic model a metric's values come from (its first measure's).
    fn root_model(&self, metric: &str) -> Option<String> {
        let kpi = self.imported.kpis.iter().find(|k| k.id == metric)?;
        let measure = kpi
            .measure
            .as_ref()
            .or(kpi.conversion.as_ref().map(|c| &c.base.measure))
            .or(kpi.numerator.as_ref().map(|n| &n.measure));
        match (measure, kpi.inputs.first()) {
            (Some(m), _) => m.split_once('.').map(|(p, _)| p.to_owned()),
            (None, Some(i)) => self.root_model(&i.kpi),
            (None, None) => None,
        }
    }

    /// The scan of a Parquet file or folder of the data folder.
    async fn read_table(&self, path: &Path) -> Result<datafusion::logical_expr::LogicalPlan> {
        let df = self
            .engine
            .session()
            .read_parquet(
                path.to_string_lossy().as_ref(),
                datafusion::prelude::ParquetReadOptions::default(),
            )
            .await
            .map_err(CanaryError::plan)?;
        Ok(df.logical_plan().clone())
    }

    /// Each custom granularity of a time spine whose table is there, as runs of days.
    async fn read_custom_grains(&self) -> Result<BTreeMap<String, crate::plan::CustomGrain>> {
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

    fn custom_names(&self) -> Vec<&str> {
        self.custom_grains.keys().map(String::as_str).collect()
    }

    /// The coarsest default grain of the metrics: the metric's `time_granularity`, else
    /// its time dimension's grain (finer than a day counts as a day).
    fn default_grain(&self, metrics: &[String]) -> Grain {
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
        if !q.apply_group_by {
            return Err(CanaryError::query("`--no-dedupe` is not supported yet"));
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
            let order = q
                .order_by
                .iter()
                .map(|o| match o.strip_prefix('-') {
                    Some(name) => ident(output_of(name)).sort(false, false),
                    None => ident(output_of(o)).sort(true, false),
                })
                .collect::<Vec<_>>();
            b = b.sort(order).map_err(CanaryError::plan)?;
        }
        if let Some(n) = q.limit {
            b = b.limit(0, Some(n)).map_err(CanaryError::plan)?;
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
    fn group_by_reference(&self, root: &str, g: &str, name: &MfName, full_path: bool) -> Result<(String, String)> {
        let resolved = resolve(&self.manifest, root, name)?;
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
    fn entity_path(&self, root: &str, reference: &str) -> Vec<String> {
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

    fn render_filters(&self, root: &str, filters: &[String]) -> Result<Option<String>> {
        let rendered = filters
            .iter()
            .map(|f| filter::render_with(&self.manifest, root, f, &self.custom_grains))
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
    async fn metric_plan(&self, q: &MfQuery) -> Result<(datafusion::logical_expr::LogicalPlan, Vec<String>)> {
        for m in &q.metrics {
            if let Some(why) = self.imported.unsupported.get(m) {
                return Err(CanaryError::query(format!("metric `{m}` is not supported: {why}")));
            }
            if self.engine.project().kpi(m).is_none() {
                return Err(CanaryError::query(format!("unknown metric `{m}`")));
            }
        }
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
        let filter = self.render_filters(&root, &on_rows)?;
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
        };
        let query = if grain.is_some() && (from.is_none() || to.is_none()) && self.uses_time_spine(&q.metrics) {
            Query {
                calendar: self.calendar,
                ..query
            }
        } else {
            query
        };
        let planned = self.engine.plan(&query).await?;
        let mut projection: Vec<Expr> = outputs.iter().map(|(mf, canary)| ident(canary).alias(mf)).collect();
        projection.extend(q.metrics.iter().map(|m| ident(m).alias(m)));
        let mut b = LogicalPlanBuilder::from(planned.plan)
            .project(projection)
            .map_err(CanaryError::plan)?;
        for f in on_output {
            let e = self
                .engine
                .session()
                .parse_sql_expr(&f, b.schema())
                .map_err(|e| CanaryError::query(format!("cannot apply the filter `{f}`: {e}")))?;
            b = b.filter(e).map_err(CanaryError::plan)?;
        }
        let plan = b.build().map_err(CanaryError::plan)?;
        Ok((plan, outputs.into_iter().map(|(mf, _)| mf).collect()))
    }

    /// The time dimension (`model.dimension`) all `metrics` aggregate over, if one.
    fn shared_time_dimension(&self, metrics: &[String]) -> Option<String> {
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

    /// Whether any of `metrics` is, or uses, a cumulative metric or one joined to the time
    /// spine: those run over the whole spine when the query has no range.
    fn uses_time_spine(&self, metrics: &[String]) -> bool {
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

    /// Whether the manifest has a day (or finer) time spine with its table in the data folder.
    fn has_day_spine(&self) -> bool {
        self.manifest.time_spines().iter().any(|s| {
            s.grain.parse::<Grain>().is_ok_and(|g| g <= Grain::Day)
                && self.data.join(format!("{}.parquet", s.alias)).exists()
        })
    }

    /// The first and last day of the day time spine.
    async fn spine_bounds(&self) -> Result<Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>> {
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

    /// A query without metrics: the distinct values of the group-bys, over the semantic
    /// model that reaches them all (MetricFlow's dimension-only queries); `metric_time`
    /// comes from the time spine.
    async fn dimension_plan(&self, q: &MfQuery) -> Result<(datafusion::logical_expr::LogicalPlan, Vec<String>)> {
        use crate::plan::time::{truncate, ts};
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
            let (plan, names) = self.dimension_values(&others, &q.where_filters)?;
            for ((g, _), n) in others.iter().zip(names) {
                outputs.insert(g.clone(), n);
            }
            Some(plan)
        };
        let spine = if times.is_empty() {
            None
        } else {
            let finest = times.iter().filter_map(|(_, n)| n.grain).min().unwrap_or(Grain::Day);
            let (spine, column) = self.spine(finest).await?;
            let mut group = Vec::new();
            for (g, n) in &times {
                let (e, out) = match (&n.date_part, n.grain) {
                    _ if n.custom_grain.is_some() => {
                        let c = n.custom_grain.clone().unwrap_or_default();
                        let grain = self.custom_grains.get(&c).cloned().unwrap_or_default();
                        (
                            crate::plan::custom_grain_expr(&grain, column.clone()),
                            format!("metric_time__{c}"),
                        )
                    }
                    (Some(part), _) => {
                        let p = if part == "dow" { "isodow" } else { part.as_str() };
                        (
                            datafusion::logical_expr::cast(
                                datafusion::functions::datetime::expr_fn::date_part(
                                    datafusion::logical_expr::lit(p),
                                    ts(column.clone()),
                                ),
                                datafusion::arrow::datatypes::DataType::Int64,
                            ),
                            format!("metric_time__extract_{part}"),
                        )
                    }
                    (None, gr) => {
                        let gr = gr.unwrap_or(Grain::Day);
                        (truncate(gr, ts(column.clone())), format!("metric_time__{gr}"))
                    }
                };
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
        let plan = b
            .project(unique.iter().map(ident).collect::<Vec<_>>())
            .and_then(|b| b.sort(unique.iter().map(|n| ident(n).sort(true, false)).collect::<Vec<_>>()))
            .and_then(LogicalPlanBuilder::build)
            .map_err(CanaryError::plan)?;
        Ok((plan, unique))
    }

    /// Distinct values of dimensions over the semantic model that reaches them all (group-bys
    /// and filters) with the fewest joins; on a tie, a model holding the first group-by, then
    /// a model without measures (a dimension table holds every value, a fact table only those
    /// with facts).
    fn dimension_values(
        &self,
        names: &[(String, MfName)],
        filters: &[String],
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
                for (g, name) in names {
                    let (reference, output) = self.group_by_reference(root, g, name, false)?;
                    push_unique(&mut by, &reference);
                    outputs.push((output, reference));
                }
                let query = Query {
                    by,
                    filter: self.render_filters(root, filters)?,
                    custom_grains: self.custom_grains.clone(),
                    ..Query::default()
                };
                let planned =
                    crate::plan::Planner::plan_dimensions(self.engine.project(), self.engine.catalog(), &query, root)?;
                let projection: Vec<Expr> = outputs.iter().map(|(mf, canary)| ident(canary).alias(mf)).collect();
                if projection.is_empty() {
                    return Ok((planned.plan, Vec::new()));
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

    /// The time spine table to read at `grain`: the coarsest spine at least as fine. Returns
    /// the scan and the spine's time column.
    async fn spine(&self, grain: Grain) -> Result<(datafusion::logical_expr::LogicalPlan, Expr)> {
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

    fn dimension_grain(&self, reference: &str) -> Option<Grain> {
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

fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_owned());
    }
}

/// Validate imported specs as Canary's own; a metric Canary refuses is set aside (into
/// `imported.unsupported`, with the reason) so the others stay usable.
pub fn validate_imported(
    imported: &mut Imported,
    data: &Path,
    custom_grains: Vec<String>,
) -> Result<(crate::model::Project, crate::validate::Origins)> {
    // Validate as Canary specs; a metric Canary refuses is set aside with the reason,
    // so the others stay usable.
    let (project, origins) = loop {
        let spec = Located::detached(
            ProjectSpec {
                project: "metricflow".into(),
                version: None,
                owner: None,
                description: None,
                products: Vec::new(),
                kpis: Vec::new(),
                require_tenant: false,
                settings: SettingsSpec::default(),
            },
            "semantic_manifest",
        );
        let products: Vec<Located<ProductSpec>> = imported
            .products
            .iter()
            .map(|p| Located::detached(p.clone(), &format!("semantic_models/{}", p.product)))
            .collect();
        let kpis: Vec<Located<KpiSpec>> = imported
            .kpis
            .iter()
            .map(|k| Located::detached(k.clone(), &format!("metrics/{}", k.id)))
            .collect();
        let result = validate_specs(
            data,
            &spec,
            None,
            crate::model::Settings {
                custom_grains: custom_grains.clone(),
                ..Default::default()
            },
            Vec::new(),
            products,
            kpis,
            Vec::new(),
        );
        match result {
            Ok(ok) => break ok,
            Err(diags) => set_aside(imported, diags)?,
        }
    };
    Ok((project, origins))
}

/// Set aside the metrics that Canary's validation refused; refuse the whole manifest if a
/// semantic model itself is invalid.
fn set_aside(imported: &mut Imported, diags: Vec<Diagnostic>) -> Result<()> {
    let mut by_metric: BTreeMap<String, String> = BTreeMap::new();
    let mut fatal = Vec::new();
    for d in diags {
        match d.location.file.strip_prefix("metrics/") {
            Some(id) => {
                by_metric.entry(id.to_owned()).or_insert(d.message.clone());
            }
            None => fatal.push(d),
        }
    }
    if !fatal.is_empty() || by_metric.is_empty() {
        return Err(CanaryError::Spec(fatal));
    }
    for (id, why) in by_metric {
        // A hidden input's problem belongs to the metric it was made for.
        let metric = id.split("__input_").next().unwrap_or(&id).to_owned();
        imported.unsupported.insert(metric.clone(), why);
        imported
            .kpis
            .retain(|k| k.id != metric && !k.id.starts_with(&format!("{metric}__input_")));
    }
    // Metrics using a set-aside one go too.
    super::convert::drop_dependents(imported);
    Ok(())
}

/// Open the manifest and answer one query.
pub async fn run_query(manifest: &Path, data: &Path, query: &MfQuery) -> Result<QueryResult> {
    MfProject::open(manifest, data).await?.query(query).await
}
