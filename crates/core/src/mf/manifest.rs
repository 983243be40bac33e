//! MetricFlow semantic manifests as users write them: MetricFlow's own multi-document YAML
//! and dbt's compiled `semantic_manifest.json`. Field names follow the dbt semantic-layer
//! spec. Keys not read here are ignored: dbt's JSON carries many (`label`, `config`,
//! `metadata`, `unique_id`, …) that do not change what a metric computes; a key that
//! would is read and, where not supported yet, refused by the import (see `convert.rs`).

use serde::Deserialize;
use serde_json::Value;

/// A whole manifest, merged from its files.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Manifest {
    #[serde(default)]
    pub semantic_models: Vec<SemanticModel>,
    #[serde(default)]
    pub metrics: Vec<Metric>,
    #[serde(default)]
    pub saved_queries: Vec<Value>,
    #[serde(default)]
    pub project_configuration: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SemanticModel {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub node_relation: NodeRelation,
    #[serde(default)]
    pub defaults: Option<Defaults>,
    #[serde(default)]
    pub primary_entity: Option<String>,
    #[serde(default)]
    pub entities: Vec<Entity>,
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
    #[serde(default)]
    pub measures: Vec<Measure>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NodeRelation {
    pub alias: String,
    #[serde(default)]
    pub schema_name: Option<String>,
    #[serde(default)]
    pub database: Option<String>,
    #[serde(default)]
    pub relation_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Defaults {
    #[serde(default)]
    pub agg_time_dimension: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Entity {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub expr: Option<Scalar>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Dimension {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub expr: Option<Scalar>,
    #[serde(default)]
    pub is_partition: bool,
    #[serde(default)]
    pub type_params: Option<DimensionTypeParams>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DimensionTypeParams {
    #[serde(default)]
    pub time_granularity: Option<String>,
    #[serde(default)]
    pub validity_params: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Measure {
    pub name: String,
    pub agg: String,
    #[serde(default)]
    pub expr: Option<Scalar>,
    #[serde(default)]
    pub agg_params: Option<AggParams>,
    #[serde(default)]
    pub agg_time_dimension: Option<String>,
    #[serde(default)]
    pub non_additive_dimension: Option<NonAdditiveDimension>,
    #[serde(default)]
    pub create_metric: Option<bool>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AggParams {
    #[serde(default)]
    pub percentile: Option<f64>,
    #[serde(default)]
    pub use_discrete_percentile: bool,
    #[serde(default)]
    pub use_approximate_percentile: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NonAdditiveDimension {
    pub name: String,
    #[serde(default)]
    pub window_choice: Option<String>,
    #[serde(default)]
    pub window_groupings: Vec<String>,
}

/// A YAML scalar that may be written as a string, a number or a boolean (`expr: 1`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    pub fn as_sql(&self) -> String {
        match self {
            Scalar::Text(s) => s.clone(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Metric {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub type_params: MetricTypeParams,
    #[serde(default)]
    pub filter: Option<Filter>,
    #[serde(default)]
    pub time_granularity: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// A filter: MetricFlow YAML writes a string (or a list of strings); dbt's JSON writes
/// `{where_filters: [{where_sql_template}]}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Filter {
    One(String),
    Many(Vec<String>),
    Compiled { where_filters: Vec<WhereFilter> },
}

#[derive(Debug, Clone, Deserialize)]
pub struct WhereFilter {
    pub where_sql_template: String,
}

impl Filter {
    /// The filter templates, to be combined with AND.
    pub fn templates(&self) -> Vec<String> {
        match self {
            Filter::One(s) => vec![s.clone()],
            Filter::Many(v) => v.clone(),
            Filter::Compiled { where_filters } => where_filters.iter().map(|w| w.where_sql_template.clone()).collect(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct MetricTypeParams {
    #[serde(default)]
    pub measure: Option<MeasureInput>,
    #[serde(default)]
    pub numerator: Option<MetricInput>,
    #[serde(default)]
    pub denominator: Option<MetricInput>,
    #[serde(default)]
    pub expr: Option<Scalar>,
    #[serde(default)]
    pub metrics: Option<Vec<MetricInput>>,
    #[serde(default)]
    pub window: Option<Window>,
    #[serde(default)]
    pub grain_to_date: Option<String>,
    #[serde(default)]
    pub cumulative_type_params: Option<Value>,
    #[serde(default)]
    pub conversion_type_params: Option<Value>,
    #[serde(default)]
    pub input_measures: Option<Value>,
    #[serde(default)]
    pub join_to_timespine: Option<bool>,
    #[serde(default)]
    pub fill_nulls_with: Option<Value>,
    #[serde(default)]
    pub metric_aggregation_params: Option<Value>,
}

/// A measure used by a metric: a name, or an object with options.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum MeasureInput {
    Name(String),
    Object {
        name: String,
        #[serde(default)]
        filter: Option<Filter>,
        #[serde(default)]
        alias: Option<String>,
        #[serde(default)]
        join_to_timespine: Option<bool>,
        #[serde(default)]
        fill_nulls_with: Option<Value>,
    },
}

impl MeasureInput {
    pub fn name(&self) -> &str {
        match self {
            MeasureInput::Name(n) | MeasureInput::Object { name: n, .. } => n,
        }
    }
}

/// A metric used by a ratio or derived metric.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum MetricInput {
    Name(String),
    Object {
        name: String,
        #[serde(default)]
        filter: Option<Filter>,
        #[serde(default)]
        alias: Option<String>,
        #[serde(default)]
        offset_window: Option<Window>,
        #[serde(default)]
        offset_to_grain: Option<String>,
    },
}

impl MetricInput {
    pub fn name(&self) -> &str {
        match self {
            MetricInput::Name(n) | MetricInput::Object { name: n, .. } => n,
        }
    }
}

/// A window: `7 days` in YAML, `{count, granularity}` in dbt's JSON.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Window {
    Text(String),
    Compiled { count: i64, granularity: String },
}

impl Window {
    pub fn as_text(&self) -> String {
        match self {
            Window::Text(s) => s.clone(),
            Window::Compiled { count, granularity } => format!("{count} {granularity}"),
        }
    }
}

/// A time spine table: one row per period of `grain`, in column `column`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeSpine {
    /// The table (`DATA/<alias>.parquet`).
    pub alias: String,
    pub column: String,
    /// MetricFlow's granularity name (`day`, `hour`, `nanosecond`, …).
    pub grain: String,
    /// Custom granularities: name → column.
    pub custom: Vec<(String, String)>,
}

impl Manifest {
    /// The time spines of `project_configuration`: `time_spines`, and the legacy
    /// `time_spine_table_configurations` (whose `location` is `schema.table`).
    pub fn time_spines(&self) -> Vec<TimeSpine> {
        let Some(config) = &self.project_configuration else {
            return Vec::new();
        };
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
        let mut out: Vec<TimeSpine> = Vec::new();
        for s in config
            .get("time_spines")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(alias), Some(primary)) = (
                s.get("node_relation").and_then(|n| text(n, "alias")),
                s.get("primary_column"),
            ) else {
                continue;
            };
            let custom = s
                .get("custom_granularities")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| {
                    let name = text(c, "name")?;
                    let column = text(c, "column_name").unwrap_or_else(|| name.clone());
                    Some((name, column))
                })
                .collect();
            out.push(TimeSpine {
                alias,
                column: text(primary, "name").unwrap_or_else(|| "ds".into()),
                grain: text(primary, "time_granularity")
                    .unwrap_or_else(|| "day".into())
                    .to_ascii_lowercase(),
                custom,
            });
        }
        let legacy = config
            .get("time_spine_table_configurations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for s in legacy {
            let (Some(location), Some(column)) = (text(s, "location"), text(s, "column_name")) else {
                continue;
            };
            let alias = location.rsplit('.').next().unwrap_or(&location).to_owned();
            if !out.iter().any(|t| t.alias == alias) {
                out.push(TimeSpine {
                    alias,
                    column,
                    grain: text(s, "grain").unwrap_or_else(|| "day".into()).to_ascii_lowercase(),
                    custom: Vec::new(),
                });
            }
        }
        out
    }
}
