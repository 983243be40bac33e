//! A MetricFlow manifest as Canary specs: semantic models become data-product contracts,
//! metrics become KPIs. The specs then go through Canary's own validation, so an imported
//! project is checked exactly like a native one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::filter;
use super::manifest::{Manifest, MeasureInput, Metric, MetricInput, SemanticModel};
use crate::error::{CanaryError, Result};
use crate::model::type_name;
use crate::spec::{
    AggKind, ColumnSpec, CumulativeSpec, DerivedInput, DimensionKind, DimensionSpec, EntityKind, EntitySpec, KpiSpec,
    KpiType, MeasureSpec, NonAdditiveSpec, NonAdditiveWindow, PeriodAgg, ProductSpec,
};

/// The specs of an imported manifest, and the metrics it could not express (with why).
#[derive(Debug, Clone, Default)]
pub struct Imported {
    pub products: Vec<ProductSpec>,
    pub kpis: Vec<KpiSpec>,
    /// Metric name → why Canary cannot compute it (yet).
    pub unsupported: BTreeMap<String, String>,
    /// Semantic model that holds each measure.
    pub measure_models: BTreeMap<String, String>,
    /// Measures of semantic models whose table cannot be read, with why: the metrics on
    /// them are unsupported, the rest of the manifest still answers (as MetricFlow does).
    pub unreadable: BTreeMap<String, String>,
}

/// Where each measure lives, for the conversion of metrics.
struct Measures<'a> {
    models: &'a BTreeMap<String, String>,
    unreadable: &'a BTreeMap<String, String>,
}

impl Measures<'_> {
    fn model(&self, measure: &str) -> std::result::Result<&String, String> {
        self.models.get(measure).ok_or_else(|| {
            self.unreadable
                .get(measure)
                .cloned()
                .unwrap_or_else(|| format!("unknown measure `{measure}`"))
        })
    }
}

/// Whether the table of a semantic model is there at all (a file or a folder).
fn location_exists(data: &Path, model: &SemanticModel) -> bool {
    table_location(data, model).exists()
}

/// Where the table a semantic model reads lives: `DATA/alias.parquet` (a file or a folder),
/// as an absolute path (specs resolve relative locations against their project folder).
pub fn table_location(data: &Path, model: &SemanticModel) -> PathBuf {
    let data = std::path::absolute(data).unwrap_or_else(|_| data.to_path_buf());
    data.join(format!("{}.parquet", model.node_relation.alias))
}

/// The schema of a Parquet file, or of the first Parquet file in a folder.
fn table_schema(location: &Path) -> std::result::Result<Schema, String> {
    let file = if location.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(location)
            .map_err(|e| e.to_string())?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
            .collect();
        files.sort();
        files.into_iter().next().ok_or("no Parquet files in the folder")?
    } else {
        location.to_path_buf()
    };
    crate::catalog::check_local_footer(&file)?;
    let f = std::fs::File::open(&file).map_err(|e| e.to_string())?;
    // The embedded Arrow schema's decoder panics on some corrupt ones (see `contain`).
    let builder = crate::contain::contain(|| ParquetRecordBatchReaderBuilder::try_new(f))
        .map_err(|panic| format!("`{}` is corrupt: {panic}", file.display()))?
        .map_err(|e| e.to_string())?;
    Ok(builder.schema().as_ref().clone())
}

fn is_identifier(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn granularity(g: Option<&str>) -> Option<String> {
    g.map(|g| match g.to_ascii_lowercase().as_str() {
        // Canary's finest grain is the millisecond (times are kept in microseconds).
        "nanosecond" | "microsecond" => "millisecond".to_owned(),
        other => other.to_owned(),
    })
}

/// Convert `manifest`, reading table schemas under `data`.
pub fn import(manifest: &Manifest, data: &Path) -> Result<Imported> {
    let mut out = Imported::default();
    let mut problems = Vec::new();
    for model in &manifest.semantic_models {
        match product(model, data) {
            Ok(p) => {
                for m in &model.measures {
                    out.measure_models.insert(m.name.clone(), model.name.clone());
                }
                out.products.push(p);
            }
            // A table that is not there leaves its model out; any other problem is the
            // manifest's and stops the import.
            Err(e) if !location_exists(data, model) => {
                for m in &model.measures {
                    let why = format!("semantic model `{}`: {e}", model.name);
                    out.unreadable.insert(m.name.clone(), why);
                }
            }
            Err(e) => problems.push(format!("semantic model `{}`: {e}", model.name)),
        }
    }
    if !problems.is_empty() {
        return Err(CanaryError::query(problems.join("; ")));
    }
    // Measures with `create_metric: true` stand for a simple metric of the same name.
    let mut all_metrics: Vec<Metric> = manifest.metrics.clone();
    for model in &manifest.semantic_models {
        for m in model.measures.iter().filter(|m| m.create_metric == Some(true)) {
            if !all_metrics.iter().any(|x| x.name == m.name) {
                all_metrics.push(Metric {
                    name: m.name.clone(),
                    kind: "simple".into(),
                    type_params: super::manifest::MetricTypeParams {
                        measure: Some(MeasureInput::Name(m.name.clone())),
                        ..Default::default()
                    },
                    filter: None,
                    time_granularity: None,
                    description: m.description.clone(),
                });
            }
        }
    }
    let metrics: BTreeMap<&str, &Metric> = all_metrics.iter().map(|m| (m.name.as_str(), m)).collect();
    for metric in &all_metrics {
        let measures = Measures {
            models: &out.measure_models,
            unreadable: &out.unreadable,
        };
        match kpis(manifest, &metrics, &measures, metric) {
            Ok(k) => out.kpis.extend(k),
            Err(reason) => {
                out.unsupported.insert(metric.name.clone(), reason);
            }
        }
    }
    drop_dependents(&mut out);
    Ok(out)
}

/// Set aside every KPI that uses a set-aside one, transitively, with the reason.
pub(super) fn drop_dependents(imported: &mut Imported) {
    loop {
        let blocked: Vec<(String, String)> = imported
            .kpis
            .iter()
            .filter_map(|k| {
                let i = k.inputs.iter().find(|i| imported.unsupported.contains_key(&i.kpi))?;
                let why = format!(
                    "it uses `{}`, which is not supported: {}",
                    i.kpi, imported.unsupported[&i.kpi]
                );
                Some((k.id.clone(), why))
            })
            .collect();
        if blocked.is_empty() {
            return;
        }
        for (id, why) in blocked {
            imported.kpis.retain(|k| k.id != id);
            imported.unsupported.insert(id, why);
        }
    }
}

fn product(model: &SemanticModel, data: &Path) -> std::result::Result<ProductSpec, String> {
    let location = table_location(data, model);
    let schema = table_schema(&location).map_err(|e| format!("cannot read `{}`: {e}", location.display()))?;
    let columns = schema
        .fields()
        .iter()
        .map(|f| ColumnSpec {
            name: f.name().clone(),
            data_type: type_name(f.data_type()),
            nullable: true,
            description: None,
        })
        .collect();
    let mut entities = Vec::new();
    let mut dimensions = Vec::new();
    // SCD type 2: the dimensions flagged `is_start` / `is_end` bound each row's validity.
    let validity_flag = |flag: &str| {
        model.dimensions.iter().find_map(|d| {
            let v = d.type_params.as_ref()?.validity_params.as_ref()?;
            let on = v.get(flag).is_some_and(|x| {
                x.as_bool() == Some(true) || x.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true"))
            });
            on.then(|| d.name.clone())
        })
    };
    let validity = match (validity_flag("is_start"), validity_flag("is_end")) {
        (Some(start), Some(end)) => Some(crate::spec::ValiditySpec { start, end }),
        (None, None) => None,
        _ => return Err("SCD validity needs both an `is_start` and an `is_end` dimension".into()),
    };
    for d in &model.dimensions {
        let time = d.kind.eq_ignore_ascii_case("time");
        let mut expr = d.expr.as_ref().map(|e| e.as_sql());
        // A time dimension stored as text is read as a timestamp.
        let column = expr.clone().unwrap_or_else(|| d.name.clone());
        if time
            && let Ok(f) = schema.field_with_name(&column)
            && matches!(f.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
        {
            expr = Some(format!("CAST({column} AS TIMESTAMP)"));
        }
        dimensions.push(DimensionSpec {
            name: d.name.clone(),
            kind: if time {
                DimensionKind::Time
            } else {
                DimensionKind::Categorical
            },
            expr,
            granularity: if time {
                granularity(d.type_params.as_ref().and_then(|t| t.time_granularity.as_deref())).or(Some("day".into()))
            } else {
                None
            },
            partition: d.is_partition,
            description: d.description.clone(),
        });
    }
    for e in &model.entities {
        let kind = match e.kind.to_ascii_lowercase().as_str() {
            "primary" => EntityKind::Primary,
            "unique" => EntityKind::Unique,
            "foreign" => EntityKind::Foreign,
            "natural" => EntityKind::Natural,
            other => return Err(format!("entity `{}` of type `{other}` is not supported yet", e.name)),
        };
        let expr = e.expr.as_ref().map(|x| x.as_sql()).unwrap_or_else(|| e.name.clone());
        // A key that is not a plain column is computed (`expr: a || b`, `expr: 1`).
        let computed = !is_identifier(&expr);
        entities.push(EntitySpec {
            name: e.name.clone(),
            kind,
            column: (!computed).then(|| expr.clone()),
            expr: computed.then(|| expr.clone()),
        });
        // Entities can be grouped and filtered by, as `entity` or `model__entity`.
        if !dimensions.iter().any(|d| d.name == e.name) {
            dimensions.push(DimensionSpec {
                name: e.name.clone(),
                kind: DimensionKind::Categorical,
                expr: Some(expr),
                granularity: None,
                partition: false,
                description: None,
            });
        }
    }
    let mut measures = Vec::new();
    for m in &model.measures {
        let params = m.agg_params.as_ref();
        let agg = match m.agg.to_ascii_lowercase().as_str() {
            "sum" => AggKind::Sum,
            "count" => AggKind::Count,
            "count_distinct" => AggKind::CountDistinct,
            "sum_boolean" => AggKind::SumBoolean,
            "average" | "avg" => AggKind::Avg,
            "min" => AggKind::Min,
            "max" => AggKind::Max,
            "median" => AggKind::Median,
            // Approximate percentiles are computed exactly.
            "percentile" if params.is_some_and(|p| p.use_discrete_percentile) => AggKind::PercentileDisc,
            "percentile" => AggKind::Percentile,
            other => return Err(format!("measure `{}`: aggregation `{other}` is not supported", m.name)),
        };
        measures.push(MeasureSpec {
            name: m.name.clone(),
            agg,
            expr: Some(m.expr.as_ref().map(|e| e.as_sql()).unwrap_or_else(|| m.name.clone())),
            percentile: params.and_then(|p| p.percentile),
            time_dimension: m.agg_time_dimension.clone(),
            non_additive: m.non_additive_dimension.as_ref().map(|n| NonAdditiveSpec {
                dimension: n.name.clone(),
                window: if n
                    .window_choice
                    .as_deref()
                    .is_some_and(|w| w.eq_ignore_ascii_case("min"))
                {
                    NonAdditiveWindow::First
                } else {
                    NonAdditiveWindow::Last
                },
                per: n.window_groupings.clone(),
            }),
            description: m.description.clone(),
        });
    }
    Ok(ProductSpec {
        product: model.name.clone(),
        version: "1.0.0".into(),
        owner: "metricflow".into(),
        description: model.description.clone(),
        location: location.to_string_lossy().into_owned(),
        partitions: Vec::new(),
        tenant_column: None,
        columns,
        entities,
        dimensions,
        measures,
        time_dimension: model.defaults.as_ref().and_then(|d| d.agg_time_dimension.clone()),
        validity,
        sources: Vec::new(),
    })
}

fn kpi(id: &str, kind: KpiType) -> KpiSpec {
    KpiSpec {
        id: id.to_owned(),
        version: "1.0.0".into(),
        kind,
        name: None,
        description: None,
        owner: None,
        unit: None,
        direction: Default::default(),
        target: None,
        thresholds: None,
        tags: Vec::new(),
        every_period: false,
        measure: None,
        filter: None,
        numerator: None,
        denominator: None,
        expr: None,
        inputs: Vec::new(),
        cumulative: None,
        conversion: None,
    }
}

fn and_all(parts: Vec<String>) -> Option<String> {
    match parts.len() {
        0 => None,
        1 => parts.into_iter().next(),
        _ => Some(
            parts
                .into_iter()
                .map(|p| format!("({p})"))
                .collect::<Vec<_>>()
                .join(" AND "),
        ),
    }
}

/// The measure and rendered filters of a simple metric, with `extra` filter templates.
fn simple_parts(
    manifest: &Manifest,
    measures: &Measures<'_>,
    metric: &Metric,
    extra: &[String],
) -> std::result::Result<(String, Option<String>), String> {
    let input = metric
        .type_params
        .measure
        .as_ref()
        .ok_or("a simple metric needs a measure")?;
    let model = measures.model(input.name())?;
    let mut templates: Vec<String> = metric.filter.iter().flat_map(|f| f.templates()).collect();
    if let MeasureInput::Object { filter: Some(f), .. } = input {
        templates.extend(f.templates());
    }
    templates.extend(extra.iter().cloned());
    let rendered = templates
        .iter()
        .map(|t| filter::render(manifest, model, t).map_err(|e| e.to_string()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((format!("{model}.{}", input.name()), and_all(rendered)))
}

/// Whether a metric's measure is joined to the time spine (every period is reported).
fn joins_time_spine(metric: &Metric) -> bool {
    let on_measure = matches!(
        &metric.type_params.measure,
        Some(MeasureInput::Object {
            join_to_timespine: Some(true),
            ..
        })
    );
    on_measure || metric.type_params.join_to_timespine == Some(true)
}

/// A conversion metric's parameters as Canary's conversion spec.
fn conversion_spec(
    manifest: &Manifest,
    measures: &Measures<'_>,
    metric: &Metric,
    params: &serde_json::Value,
) -> std::result::Result<crate::spec::ConversionSpec, String> {
    let measure = |key: &str, extra: &[String]| -> std::result::Result<crate::spec::MeasureRef, String> {
        let v = params
            .get(key)
            .ok_or_else(|| format!("a conversion metric needs `{key}`"))?;
        let input: MeasureInput = serde_json::from_value(v.clone()).map_err(|e| format!("cannot read `{key}`: {e}"))?;
        let model = measures.model(input.name())?;
        let mut templates: Vec<String> = extra.to_vec();
        if let MeasureInput::Object { filter: Some(f), .. } = &input {
            templates.extend(f.templates());
        }
        let rendered = templates
            .iter()
            .map(|t| filter::render(manifest, model, t).map_err(|e| e.to_string()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(crate::spec::MeasureRef {
            measure: format!("{model}.{}", input.name()),
            filter: and_all(rendered),
        })
    };
    // The metric's own filter selects base events.
    let outer: Vec<String> = metric.filter.iter().flat_map(|f| f.templates()).collect();
    let base = measure("base_measure", &outer)?;
    let conversion = measure("conversion_measure", &[])?;
    let text = |key: &str| params.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let entity = text("entity").ok_or("a conversion metric needs `entity`")?;
    let window = match params.get("window").filter(|v| !v.is_null()) {
        Some(v) => Some(
            serde_json::from_value::<super::manifest::Window>(v.clone())
                .map_err(|e| format!("cannot read the window `{v}`: {e}"))?
                .as_text(),
        ),
        None => None,
    };
    let calculation = match text("calculation").as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("conversion_rate") => crate::spec::ConversionCalculation::ConversionRate,
        Some("conversions") => crate::spec::ConversionCalculation::Conversions,
        Some(other) => return Err(format!("conversion calculation `{other}` is not supported")),
    };
    let constant_properties = params
        .get("constant_properties")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .map(|p| {
            let get = |k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_owned);
            match (get("base_property"), get("conversion_property")) {
                (Some(base), Some(conversion)) => Ok(crate::spec::ConstantProperty { base, conversion }),
                _ => Err(format!("cannot read the constant property `{p}`")),
            }
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(crate::spec::ConversionSpec {
        base,
        conversion,
        entity,
        window,
        calculation,
        constant_properties,
    })
}

/// `fill_nulls_with`: the value where the metric has none, as a derived KPI
/// `coalesce(value, fill)` over the metric's KPI, which becomes the hidden `METRIC__input_0`.
fn filled(mut k: KpiSpec, fill: Option<String>, out: &mut Vec<KpiSpec>) -> KpiSpec {
    let Some(fill) = fill else {
        return k;
    };
    let name = std::mem::take(&mut k.id);
    k.id = format!("{name}__input_0");
    let mut outer = kpi(&name, KpiType::Derived);
    outer.expr = Some(format!("coalesce(value, {fill})"));
    outer.inputs = vec![DerivedInput {
        kpi: k.id.clone(),
        alias: Some("value".into()),
        offset: None,
    }];
    out.push(k);
    outer
}

/// A JSON number or numeric string as SQL.
fn number(v: &serde_json::Value) -> std::result::Result<String, String> {
    if v.is_number() {
        return Ok(v.to_string());
    }
    match v.as_str().map(str::trim) {
        Some(t) if t.parse::<f64>().is_ok() => Ok(t.to_owned()),
        _ => Err(format!("`fill_nulls_with: {v}` is not a number")),
    }
}

/// A simple metric's `fill_nulls_with`, as a SQL number.
fn fill_nulls_with(metric: &Metric) -> std::result::Result<Option<String>, String> {
    let value = match &metric.type_params.measure {
        Some(MeasureInput::Object {
            fill_nulls_with: Some(v),
            ..
        }) => Some(v),
        _ => metric.type_params.fill_nulls_with.as_ref(),
    };
    value.map(number).transpose()
}

/// The KPIs for one metric: itself, plus hidden inputs for filtered metric inputs.
fn kpis(
    manifest: &Manifest,
    metrics: &BTreeMap<&str, &Metric>,
    measures: &Measures<'_>,
    metric: &Metric,
) -> std::result::Result<Vec<KpiSpec>, String> {
    let c = MetricKpis {
        manifest,
        metrics,
        measures,
        metric,
    };
    let mut out = Vec::new();
    let mut k = match metric.kind.to_ascii_lowercase().as_str() {
        "simple" => c.simple(&mut out)?,
        "ratio" => c.ratio(&mut out)?,
        "derived" => c.derived(&mut out)?,
        "cumulative" => c.cumulative(&mut out)?,
        "conversion" => c.conversion(&mut out)?,
        other => return Err(format!("metric type `{other}` is not supported")),
    };
    k.description = metric.description.clone();
    out.push(k);
    Ok(out)
}

/// One metric turned into KPIs: each kind's KPI, with the hidden KPIs it needs pushed to
/// `out` before it.
struct MetricKpis<'a> {
    manifest: &'a Manifest,
    metrics: &'a BTreeMap<&'a str, &'a Metric>,
    measures: &'a Measures<'a>,
    metric: &'a Metric,
}

type Converted = std::result::Result<KpiSpec, String>;

/// How deep a filter on a derived input is pushed through derived metrics under it.
const MAX_FILTERED_DEPTH: usize = 6;
/// How many hidden KPIs one metric may need: the copies multiply with each level's inputs.
const MAX_HIDDEN_KPIS: usize = 1_000;

impl MetricKpis<'_> {
    /// An input metric as a KPI id: the metric itself, or a hidden simple KPI with the
    /// input's (and the outer metric's) filters added.
    fn input_kpi(
        &self,
        input: &MetricInput,
        n: usize,
        extra: &[String],
        out: &mut Vec<KpiSpec>,
    ) -> std::result::Result<String, String> {
        let filters: Vec<String> = match input {
            MetricInput::Object { filter: Some(f), .. } => f.templates(),
            _ => Vec::new(),
        };
        let all: Vec<String> = filters.into_iter().chain(extra.iter().cloned()).collect();
        if all.is_empty() {
            return Ok(input.name().to_owned());
        }
        let inner = self
            .metrics
            .get(input.name())
            .ok_or_else(|| format!("unknown metric `{}`", input.name()))?;
        let id = format!("{}__input_{n}", self.metric.name);
        let kind = inner.kind.to_ascii_lowercase();
        if kind == "derived" || kind == "ratio" {
            if id.matches("__input_").count() > MAX_FILTERED_DEPTH {
                return Err(format!(
                    "filters pushed through more than {MAX_FILTERED_DEPTH} levels of derived metrics (a cycle?)"
                ));
            }
            if out.len() >= MAX_HIDDEN_KPIS {
                return Err(format!(
                    "filters pushed down to the inputs of derived metrics need more than {MAX_HIDDEN_KPIS} hidden copies"
                ));
            }
            // The filter holds for every metric under the input: a hidden copy of it whose
            // own inputs carry the filter down to the simple metrics.
            let mut copy = (*inner).clone();
            copy.name = id.clone();
            copy.filter = Some(super::manifest::Filter::Many(
                inner.filter.iter().flat_map(|f| f.templates()).chain(all).collect(),
            ));
            let c = MetricKpis { metric: &copy, ..*self };
            let k = if kind == "derived" {
                c.derived(out)?
            } else {
                c.ratio(out)?
            };
            out.push(k);
            return Ok(id);
        }
        if kind != "simple" {
            return Err(format!(
                "a filter on the input `{}`, a {kind} metric, is not supported yet",
                input.name()
            ));
        }
        let (measure, filter) = simple_parts(self.manifest, self.measures, inner, &all)?;
        let mut k = kpi(&id, KpiType::Simple);
        k.measure = Some(measure);
        k.filter = filter;
        out.push(k);
        Ok(id)
    }

    fn outer_filters(&self) -> Vec<String> {
        self.metric.filter.iter().flat_map(|f| f.templates()).collect()
    }

    fn simple(&self, out: &mut Vec<KpiSpec>) -> Converted {
        let metric = self.metric;
        let (measure, filter) = simple_parts(self.manifest, self.measures, metric, &[])?;
        let mut k = kpi(&metric.name, KpiType::Simple);
        k.measure = Some(measure);
        k.filter = filter;
        k.every_period = joins_time_spine(metric);
        Ok(filled(k, fill_nulls_with(metric)?, out))
    }

    fn ratio(&self, out: &mut Vec<KpiSpec>) -> Converted {
        let p = &self.metric.type_params;
        let (Some(num), Some(den)) = (&p.numerator, &p.denominator) else {
            return Err("a ratio metric needs a numerator and a denominator".into());
        };
        let outer = self.outer_filters();
        let a = self.input_kpi(num, 0, &outer, out)?;
        let b = self.input_kpi(den, 1, &outer, out)?;
        let mut k = kpi(&self.metric.name, KpiType::Derived);
        k.expr = Some("numerator / nullif(denominator, 0)".into());
        k.inputs = vec![
            DerivedInput {
                kpi: a,
                alias: Some("numerator".into()),
                offset: None,
            },
            DerivedInput {
                kpi: b,
                alias: Some("denominator".into()),
                offset: None,
            },
        ];
        Ok(k)
    }

    fn derived(&self, out: &mut Vec<KpiSpec>) -> Converted {
        let p = &self.metric.type_params;
        let expr = p.expr.as_ref().ok_or("a derived metric needs `expr`")?.as_sql();
        let outer = self.outer_filters();
        let mut inputs = Vec::new();
        for (n, input) in p.metrics.iter().flatten().enumerate() {
            let (alias, offset) = match input {
                MetricInput::Object {
                    alias,
                    offset_window,
                    offset_to_grain,
                    ..
                } => (
                    alias.clone(),
                    input_offset(offset_window.as_ref(), offset_to_grain.as_deref())?,
                ),
                MetricInput::Name(_) => (None, None),
            };
            let id = self.input_kpi(input, n, &outer, out)?;
            let alias = alias.or_else(|| (id != input.name()).then(|| input.name().to_owned()));
            inputs.push(DerivedInput { kpi: id, alias, offset });
        }
        let expr = self.only_where_inputs_are(expr, &mut inputs)?;
        let mut k = kpi(&self.metric.name, KpiType::Derived);
        k.expr = Some(expr);
        k.inputs = inputs;
        Ok(k)
    }

    /// MetricFlow fills an input's `fill_nulls_with` inside the derived metric, on the rows
    /// its inputs have: beside other metrics, a row none of its inputs has stays NULL. With
    /// a filled input (not joined to the time spine), `expr` becomes NULL where every input
    /// is missing; a filled input is missing where its unfilled KPI is.
    fn only_where_inputs_are(
        &self,
        expr: String,
        inputs: &mut Vec<DerivedInput>,
    ) -> std::result::Result<String, String> {
        let metric = |name: &str| self.manifest.metrics.iter().find(|m| m.name == name);
        let mut filled_any = false;
        let mut missing = Vec::new();
        let mut extra = Vec::new();
        for (n, input) in inputs.iter().enumerate() {
            let Some(m) = metric(&input.kpi) else {
                // A hidden KPI (a filtered input): its presence is its value.
                missing.push(format!("{} IS NULL", input.alias.as_deref().unwrap_or(&input.kpi)));
                continue;
            };
            if joins_time_spine(m) {
                return Ok(expr);
            }
            if fill_nulls_with(m)?.is_some() {
                filled_any = true;
                let alias = format!("present_{n}");
                missing.push(format!("{alias} IS NULL"));
                extra.push(DerivedInput {
                    kpi: format!("{}__input_0", m.name),
                    alias: Some(alias),
                    offset: input.offset.clone(),
                });
            } else {
                missing.push(format!("{} IS NULL", input.alias.as_deref().unwrap_or(&input.kpi)));
            }
        }
        if !filled_any {
            return Ok(expr);
        }
        inputs.extend(extra);
        Ok(format!(
            "CASE WHEN {} THEN NULL ELSE ({expr}) END",
            missing.join(" AND ")
        ))
    }

    /// MetricFlow aggregates cumulative values per day, then picks one per period
    /// (`period_agg`, first by default): Canary's daily cumulative KPIs.
    fn cumulative(&self, out: &mut Vec<KpiSpec>) -> Converted {
        let metric = self.metric;
        let (measure, filter) = simple_parts(self.manifest, self.measures, metric, &[])?;
        let p = &metric.type_params;
        let params = p.cumulative_type_params.as_ref();
        let text = |key: &str| params.and_then(|c| c.get(key)).filter(|v| !v.is_null());
        let window = match (&p.window, text("window")) {
            (Some(w), _) => Some(w.as_text()),
            (None, Some(v)) => Some(
                serde_json::from_value::<super::manifest::Window>(v.clone())
                    .map_err(|e| format!("cannot read the window `{v}`: {e}"))?
                    .as_text(),
            ),
            (None, None) => None,
        };
        let grain_to_date = p
            .grain_to_date
            .clone()
            .or_else(|| text("grain_to_date").and_then(|v| v.as_str().map(str::to_owned)));
        let period_agg = match text("period_agg").and_then(|v| v.as_str()).map(str::to_ascii_lowercase) {
            None => PeriodAgg::First,
            Some(a) => match a.as_str() {
                "first" => PeriodAgg::First,
                "last" => PeriodAgg::Last,
                "average" => PeriodAgg::Average,
                other => return Err(format!("`period_agg: {other}` is not supported")),
            },
        };
        let cumulative = CumulativeSpec {
            window,
            grain_to_date,
            period_agg: Some(period_agg),
        };
        let mut k = kpi(&metric.name, KpiType::Cumulative);
        k.measure = Some(measure);
        k.filter = filter;
        k.cumulative = Some(cumulative);
        k.every_period = joins_time_spine(metric);
        Ok(filled(k, fill_nulls_with(metric)?, out))
    }

    fn conversion(&self, out: &mut Vec<KpiSpec>) -> Converted {
        let metric = self.metric;
        let params = metric
            .type_params
            .conversion_type_params
            .as_ref()
            .ok_or("a conversion metric needs `conversion_type_params`")?;
        let conversion = conversion_spec(self.manifest, self.measures, metric, params)?;
        let calculation = conversion.calculation;
        let measure_param = |key: &str, param: &str| {
            params
                .get(key)
                .and_then(|m| m.get(param))
                .filter(|v| !v.is_null())
                .cloned()
        };
        // `join_to_timespine` on either measure: every period of the spine is reported.
        let spine = ["base_measure", "conversion_measure"]
            .iter()
            .any(|m| measure_param(m, "join_to_timespine").and_then(|v| v.as_bool()) == Some(true));
        let base_spine = measure_param("base_measure", "join_to_timespine").and_then(|v| v.as_bool()) == Some(true);
        // `fill_nulls_with` on the base measure: a rate over no base events stays NULL (a
        // division by zero), so only 0 changes nothing; a count never reads it.
        if let Some(v) = measure_param("base_measure", "fill_nulls_with") {
            let zero = number(&v)?.parse::<f64>().is_ok_and(|n| n == 0.0);
            if !zero && calculation == crate::spec::ConversionCalculation::ConversionRate {
                return Err(
                    "a non-zero `fill_nulls_with` on the base measure of a conversion rate is not supported yet".into(),
                );
            }
        }
        let fill = measure_param("conversion_measure", "fill_nulls_with")
            .map(|v| number(&v))
            .transpose()?;
        let base_measure = conversion.base.clone();
        let mut k = kpi(&metric.name, KpiType::Conversion);
        k.conversion = Some(conversion);
        k.every_period = spine;
        let Some(fill) = fill else {
            return Ok(k);
        };
        // `fill_nulls_with` on the conversion measure: the conversions of a group that has
        // base events and none converted. MetricFlow fills inside the metric's own rows, so
        // beside other metrics a group without base events stays NULL (with the base measure
        // joined to the time spine, a count is filled on every period).
        let rate = calculation == crate::spec::ConversionCalculation::ConversionRate;
        if rate && fill.parse::<f64>() != Ok(0.0) {
            return Err(
                "a non-zero `fill_nulls_with` on the conversion measure of a conversion rate is not supported yet"
                    .into(),
            );
        }
        let name = std::mem::take(&mut k.id);
        k.id = format!("{name}__input_0");
        let mut base = kpi(&format!("{name}__input_1"), KpiType::Simple);
        base.measure = Some(base_measure.measure);
        base.filter = base_measure.filter;
        let mut outer = kpi(&name, KpiType::Derived);
        outer.every_period = spine;
        outer.expr = Some(if base_spine && !rate {
            format!("coalesce(value, {fill})")
        } else {
            format!("CASE WHEN base IS NULL OR base = 0 THEN NULL ELSE coalesce(value, {fill}) END")
        });
        outer.inputs = [("value", &k.id), ("base", &base.id)]
            .into_iter()
            .map(|(alias, id)| DerivedInput {
                kpi: id.clone(),
                alias: Some(alias.into()),
                offset: None,
            })
            .collect();
        out.push(k);
        out.push(base);
        Ok(outer)
    }
}

/// A derived metric input's offset as Canary writes it (`1 month`, `start of quarter`).
fn input_offset(
    offset_window: Option<&super::manifest::Window>,
    offset_to_grain: Option<&str>,
) -> std::result::Result<Option<String>, String> {
    let offset = match (offset_window, offset_to_grain) {
        (Some(_), Some(_)) => {
            return Err("`offset_window` with `offset_to_grain` is not supported".into());
        }
        (Some(w), None) => Some(w.as_text()),
        (None, Some(g)) => Some(format!("start of {g}")),
        (None, None) => None,
    };
    if let Some(o) = &offset
        && o.parse::<crate::model::Offset>().is_err()
    {
        return Err(format!("the offset `{o}` is not supported"));
    }
    Ok(offset)
}
