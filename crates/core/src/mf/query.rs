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
}

impl MfProject {
    /// Read the manifest at `manifest` over the tables in `data` (`data/<alias>.parquet`).
    pub async fn open(manifest: &Path, data: &Path) -> Result<MfProject> {
        let parsed = load_manifest(manifest)?;
        let mut imported = import(&parsed, data)?;
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
                Default::default(),
                Vec::new(),
                products,
                kpis,
                Vec::new(),
            );
            match result {
                Ok(ok) => break ok,
                Err(diags) => set_aside(&mut imported, diags)?,
            }
        };
        let engine = Engine::from_project(project, origins, &StorageOptions::default()).await?;
        Ok(MfProject {
            manifest: parsed,
            imported,
            engine,
        })
    }

    /// The semantic model a metric's values come from (its first measure's).
    fn root_model(&self, metric: &str) -> Option<String> {
        let kpi = self.imported.kpis.iter().find(|k| k.id == metric)?;
        match (&kpi.measure, kpi.inputs.first()) {
            (Some(m), _) => m.split_once('.').map(|(p, _)| p.to_owned()),
            (None, Some(i)) => self.root_model(&i.kpi),
            (None, None) => None,
        }
    }

    /// The coarsest default grain of the metrics: the metric's `time_granularity`, else
    /// its time dimension's grain (finer than a day counts as a day).
    fn default_grain(&self, metrics: &[String]) -> Grain {
        let mut grain = Grain::Day;
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
            let g = declared.or(from_dimension).unwrap_or(Grain::Day);
            grain = grain.max(g);
        }
        grain
    }

    /// Answer `q` with MetricFlow's column names.
    pub async fn query(&self, q: &MfQuery) -> Result<QueryResult> {
        if q.saved_query.is_some() {
            return Err(CanaryError::query("saved queries are not supported yet"));
        }
        if q.min_max_only {
            return Err(CanaryError::query("`--min-max-only` is not supported yet"));
        }
        if !q.apply_group_by {
            return Err(CanaryError::query("`--no-dedupe` is not supported yet"));
        }
        if q.metrics.is_empty() {
            return Err(CanaryError::query("queries without metrics are not supported yet"));
        }
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

        // Group-bys: Canary `by` references, and the output names MetricFlow gives them.
        let mut grain: Option<Grain> = None;
        let mut by: Vec<String> = Vec::new();
        let mut outputs: Vec<(String, String)> = Vec::new(); // (MetricFlow name, Canary column)
        for g in &q.group_by {
            let name = MfName::parse(g);
            if name.is_metric_time() {
                match (&name.date_part, name.grain) {
                    (Some(part), _) => {
                        let r = format!("metric_time:extract_{part}");
                        push_unique(&mut by, &r);
                        outputs.push((format!("metric_time__extract_{part}"), r));
                    }
                    (None, g) => {
                        let g = g.unwrap_or_else(|| self.default_grain(&q.metrics));
                        if grain.is_some_and(|x| x != g) {
                            return Err(CanaryError::query("`metric_time` at two grains is not supported yet"));
                        }
                        grain = Some(g);
                        outputs.push((format!("metric_time__{g}"), PERIOD_COLUMN.to_owned()));
                    }
                }
                continue;
            }
            let resolved = resolve(&self.manifest, &root, &name)?;
            let (reference, output) = match (&name.date_part, name.grain, resolved.is_time) {
                (Some(part), _, _) => (format!("{}:extract_{part}", resolved.reference), g.clone()),
                (None, Some(gr), _) => (format!("{}:{gr}", resolved.reference), g.clone()),
                (None, None, true) => {
                    let declared = self
                        .dimension_grain(&resolved.reference)
                        .unwrap_or(Grain::Day)
                        .max(Grain::Day);
                    (format!("{}:{declared}", resolved.reference), format!("{g}__{declared}"))
                }
                (None, None, false) => (resolved.reference.clone(), g.clone()),
            };
            push_unique(&mut by, &reference);
            outputs.push((output, reference));
        }

        let filters = q
            .where_filters
            .iter()
            .map(|f| filter::render(&self.manifest, &root, f))
            .collect::<Result<Vec<_>>>()?;
        let filter = match filters.len() {
            0 => None,
            1 => filters.into_iter().next(),
            _ => Some(
                filters
                    .into_iter()
                    .map(|f| format!("({f})"))
                    .collect::<Vec<_>>()
                    .join(" AND "),
            ),
        };
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
        let query = Query {
            kpis: q.metrics.clone(),
            grain,
            by,
            filter,
            from,
            to,
            tenant: None,
        };
        let planned = self.engine.plan(&query).await?;
        let mut projection: Vec<Expr> = outputs.iter().map(|(mf, canary)| ident(canary).alias(mf)).collect();
        projection.extend(q.metrics.iter().map(|m| ident(m).alias(m)));
        let mut b = LogicalPlanBuilder::from(planned.plan)
            .project(projection)
            .map_err(CanaryError::plan)?;
        if !q.order_by.is_empty() {
            // Order-by names are the group-bys as asked (`metric_time`) or as output.
            let output_of = |name: &str| -> String {
                q.group_by
                    .iter()
                    .position(|g| g == name)
                    .map(|i| outputs[i].0.clone())
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
        let plan = b.build().map_err(CanaryError::plan)?;
        let schema = Arc::new(plan.schema().as_arrow().clone());
        let batches = self.engine.run(plan).await?;
        let columns = outputs
            .iter()
            .map(|(mf, canary)| crate::plan::OutputColumn {
                name: mf.clone(),
                role: if canary == PERIOD_COLUMN {
                    crate::plan::OutputRole::Period
                } else {
                    crate::plan::OutputRole::Dimension
                },
            })
            .chain(q.metrics.iter().map(|m| crate::plan::OutputColumn {
                name: m.clone(),
                role: crate::plan::OutputRole::Kpi,
            }))
            .collect();
        Ok(QueryResult {
            schema,
            batches,
            columns,
        })
    }

    fn dimension_grain(&self, reference: &str) -> Option<Grain> {
        let (product, dim) = reference.split_once('.')?;
        self.engine.project().product(product)?.dimensions.get(dim)?.granularity
    }
}

fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_owned());
    }
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
