use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A data-product contract: one governed dataset stored as Parquet.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductSpec {
    /// Identifier of the product, unique in the project (`[a-z][a-z0-9_]*`).
    pub product: String,
    /// Semantic version of the contract (`MAJOR.MINOR.PATCH`).
    pub version: String,
    /// Team or person accountable for the data.
    pub owner: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Where the Parquet data lives: a file, a folder, a glob, or an object-store URL
    /// (`file://`, `s3://`). Relative paths are relative to the project folder.
    pub location: String,
    /// Hive-style partition columns encoded in folder names (`month=2024-01/`).
    #[serde(default)]
    pub partitions: Vec<PartitionSpec>,
    /// Column holding the tenant id; when set, every scan is restricted to one tenant.
    #[serde(default)]
    pub tenant_column: Option<String>,
    /// The columns the contract guarantees, with their types.
    pub columns: Vec<ColumnSpec>,
    /// Keys that join this product to others.
    #[serde(default)]
    pub entities: Vec<EntitySpec>,
    /// Attributes to group and filter by.
    #[serde(default)]
    pub dimensions: Vec<DimensionSpec>,
    /// Aggregations KPIs are built from.
    #[serde(default)]
    pub measures: Vec<MeasureSpec>,
    /// The time dimension measures are aggregated over unless a measure names another.
    #[serde(default)]
    pub time_dimension: Option<String>,
    /// History (slowly changing dimension, type 2): each row is valid from `start` until
    /// `end` (empty: still valid); joins to it through a `natural` entity pick the row
    /// valid at the joining row's time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity: Option<ValiditySpec>,
    /// Raw sources this product is built from (for lineage).
    #[serde(default)]
    pub sources: Vec<SourceSpec>,
}

/// A hive partition column.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartitionSpec {
    pub name: String,
    /// Type of the partition value (default `string`).
    #[serde(default = "default_partition_type", rename = "type")]
    pub data_type: String,
}

fn default_partition_type() -> String {
    "string".to_owned()
}

/// A column the contract guarantees.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    pub name: String,
    /// One of `bool`, `int8`..`int64`, `uint8`..`uint64`, `float32`, `float64`,
    /// `decimal(P,S)`, `string`, `date`, `timestamp`.
    #[serde(rename = "type")]
    pub data_type: String,
    /// Whether nulls are allowed (default true).
    #[serde(default = "default_true")]
    pub nullable: bool,
    #[serde(default)]
    pub description: Option<String>,
}

fn default_true() -> bool {
    true
}

/// Role of an entity key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// Unique in this product: other products join to it.
    Primary,
    /// Unique in this product but not its grain.
    Unique,
    /// Refers to another product's primary or unique key.
    Foreign,
    /// Unique at any one time in a product that keeps history (a slowly changing dimension
    /// with `validity`): a join matches the row valid at the time of the joining row.
    Natural,
}

/// The time dimensions that bound each row's validity.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValiditySpec {
    /// Time dimension: the row is valid from this time (inclusive).
    pub start: String,
    /// Time dimension: the row is valid until this time (exclusive); NULL when current.
    pub end: String,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Primary => "primary",
            EntityKind::Unique => "unique",
            EntityKind::Foreign => "foreign",
            EntityKind::Natural => "natural",
        }
    }
}

/// A join key.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntitySpec {
    /// Entity name; products sharing an entity name can be joined.
    pub name: String,
    #[serde(rename = "type")]
    pub kind: EntityKind,
    /// Column holding the key (default: the entity name).
    #[serde(default)]
    pub column: Option<String>,
    /// A key computed from the product's columns instead of read from one (a restricted SQL
    /// expression, like a dimension's: `CAST(id AS VARCHAR)`, `region || '-' || store`).
    /// Not with `column`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
}

/// Kind of dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DimensionKind {
    Categorical,
    Time,
}

impl DimensionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DimensionKind::Categorical => "categorical",
            DimensionKind::Time => "time",
        }
    }
}

/// An attribute to group or filter by.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DimensionSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: DimensionKind,
    /// SQL expression over the product's columns (default: the column of the same name).
    #[serde(default)]
    pub expr: Option<String>,
    /// Finest granularity of a time dimension: `millisecond` … `year`.
    #[serde(default)]
    pub granularity: Option<String>,
    /// A partition key (e.g. the load date): a join to a product with a partition dimension
    /// of the same name also matches on it (MetricFlow's `is_partition`). Its `expr` must be
    /// a column.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partition: bool,
    #[serde(default)]
    pub description: Option<String>,
}

/// Aggregation of a measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AggKind {
    Sum,
    Count,
    CountDistinct,
    Avg,
    Min,
    Max,
    /// Sum of a boolean expression (true counts 1).
    SumBoolean,
    /// Continuous percentile (interpolates); needs `percentile`.
    Percentile,
    /// Discrete percentile (an actual value of the set); needs `percentile`.
    PercentileDisc,
    Median,
}

impl AggKind {
    /// The name specs use.
    pub fn as_str(self) -> &'static str {
        match self {
            AggKind::Sum => "sum",
            AggKind::Count => "count",
            AggKind::CountDistinct => "count_distinct",
            AggKind::Avg => "avg",
            AggKind::Min => "min",
            AggKind::Max => "max",
            AggKind::SumBoolean => "sum_boolean",
            AggKind::Percentile => "percentile",
            AggKind::PercentileDisc => "percentile_disc",
            AggKind::Median => "median",
        }
    }
}

/// An aggregation KPIs are built from.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasureSpec {
    pub name: String,
    pub agg: AggKind,
    /// SQL expression over the product's columns (default: the column of the same name;
    /// `count` without `expr` counts rows).
    #[serde(default)]
    pub expr: Option<String>,
    /// For `percentile` and `percentile_disc`: a fraction in [0, 1].
    #[serde(default)]
    pub percentile: Option<f64>,
    /// Time dimension to aggregate over (default: the product's `time_dimension`).
    #[serde(default)]
    pub time_dimension: Option<String>,
    /// Semi-additive measures (balances, inventory): not summed across time.
    #[serde(default)]
    pub non_additive: Option<NonAdditiveSpec>,
    #[serde(default)]
    pub description: Option<String>,
}

/// Which snapshot of a semi-additive measure counts within a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NonAdditiveWindow {
    /// The latest snapshot in the period (e.g. closing balance).
    Last,
    /// The earliest snapshot in the period (e.g. opening balance).
    First,
}

/// Semi-additive settings: aggregate only the rows at the first or last value of a time
/// dimension within each period (optionally per entity), e.g. balances at period end.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NonAdditiveSpec {
    /// Time dimension whose first or last value is kept.
    pub dimension: String,
    pub window: NonAdditiveWindow,
    /// Entities within which the snapshot is chosen separately (e.g. `[account]`).
    #[serde(default)]
    pub per: Vec<String>,
}

/// An upstream raw source of the product, for lineage.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Name of the raw source, e.g. `pos.transactions`.
    pub name: String,
    /// Columns of this product derived from the source, as `product_column: source_column`.
    #[serde(default)]
    pub columns: indexmap::IndexMap<String, String>,
    #[serde(default)]
    pub description: Option<String>,
}
