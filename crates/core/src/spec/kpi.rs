use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A KPI spec file: a list of KPIs.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KpiFile {
    pub kpis: Vec<KpiSpec>,
}

/// Kind of KPI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KpiType {
    /// One measure, optionally filtered.
    Simple,
    /// `numerator / denominator`, each a measure with its own filter.
    Ratio,
    /// An expression over other KPIs, optionally offset in time.
    Derived,
    /// A running total: all-time, over a trailing window, or grain-to-date.
    Cumulative,
    /// Share of base events followed by a conversion event of the same entity within a window.
    Conversion,
}

/// Which way is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
    #[default]
    Neutral,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::HigherIsBetter => "higher_is_better",
            Direction::LowerIsBetter => "lower_is_better",
            Direction::Neutral => "neutral",
        }
    }
}

/// Status bands; with `higher_is_better`, a value below `warn` warns and below `critical`
/// is critical (`critical <= warn`); with `lower_is_better` the other way round.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    #[serde(default)]
    pub warn: Option<f64>,
    #[serde(default)]
    pub critical: Option<f64>,
}

/// A measure of a data product, optionally filtered.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasureRef {
    /// `product.measure`.
    pub measure: String,
    /// SQL boolean expression over the columns and dimensions in the product's scope.
    #[serde(default)]
    pub filter: Option<String>,
}

/// An input of a derived KPI.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DerivedInput {
    /// Id of the KPI used as input.
    pub kpi: String,
    /// Name the expression uses for it (default: the KPI id).
    #[serde(default)]
    pub alias: Option<String>,
    /// Shift in time: `1 period` (the previous period at the query grain) or `N unit`
    /// with unit `hour`, `day`, `week`, `month`, `quarter`, `year`, e.g. `1 year`.
    #[serde(default)]
    pub offset: Option<String>,
}

/// Window of a cumulative KPI; at most one of `window` and `grain_to_date`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CumulativeSpec {
    /// Trailing window ending with each period, e.g. `7 days`, `3 months`.
    #[serde(default)]
    pub window: Option<String>,
    /// Restart at the start of each such period, e.g. `month` for month-to-date.
    #[serde(default)]
    pub grain_to_date: Option<String>,
    /// Compute the running total per day (day `d` covers data in `(d - window, d]`), or
    /// per hour when the measure's time dimension is recorded by the hour, and report one
    /// of those values for each period. Omitted: the window ends with each period.
    #[serde(default)]
    pub period_agg: Option<PeriodAgg>,
}

/// Which daily value of a cumulative KPI a period reports (MetricFlow's `period_agg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PeriodAgg {
    /// The value on the period's first day with data in its window.
    First,
    /// The value on the period's last day with data in its window.
    Last,
    /// The mean of the period's daily values.
    Average,
}

/// How a conversion KPI is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversionCalculation {
    /// conversions / base events.
    #[default]
    ConversionRate,
    /// The number of conversions.
    Conversions,
}

/// Conversion settings.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversionSpec {
    /// The opportunities, e.g. `events.visits`.
    pub base: MeasureRef,
    /// The successes, e.g. `events.purchases`.
    pub conversion: MeasureRef,
    /// Entity that links a conversion to its base event (e.g. `customer`).
    pub entity: String,
    /// How long after a base event a conversion counts, e.g. `7 days` (a conversion less
    /// than that after it). Omitted: any time after it.
    #[serde(default)]
    pub window: Option<String>,
    #[serde(default)]
    pub calculation: ConversionCalculation,
    /// Properties a conversion must share with its base event (e.g. the same session).
    #[serde(default)]
    pub constant_properties: Vec<ConstantProperty>,
}

/// A dimension of the base product that must equal one of the conversion product.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConstantProperty {
    /// Dimension (or column) in the base measure's product scope.
    pub base: String,
    /// Dimension (or column) in the conversion measure's product scope.
    pub conversion: String,
}

/// A KPI.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KpiSpec {
    /// Identifier, unique in the project (`[a-z][a-z0-9_]*`).
    pub id: String,
    /// Semantic version of this KPI's definition.
    pub version: String,
    #[serde(rename = "type")]
    pub kind: KpiType,
    /// Human name.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    /// Unit of the value, e.g. `EUR`, `%`, `orders`.
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub direction: Direction,
    /// Target value per period.
    #[serde(default)]
    pub target: Option<f64>,
    #[serde(default)]
    pub thresholds: Option<Thresholds>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Report every period of the range, also those without data (no value there), like
    /// MetricFlow's `join_to_timespine`. Drill-down dimensions are empty on such periods.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub every_period: bool,
    /// `simple` and `cumulative`: the measure, `product.measure`.
    #[serde(default)]
    pub measure: Option<String>,
    /// `simple` and `cumulative`: SQL boolean expression restricting the measure's rows.
    #[serde(default)]
    pub filter: Option<String>,
    /// `ratio`: the numerator.
    #[serde(default)]
    pub numerator: Option<MeasureRef>,
    /// `ratio`: the denominator.
    #[serde(default)]
    pub denominator: Option<MeasureRef>,
    /// `derived`: SQL arithmetic over input names.
    #[serde(default)]
    pub expr: Option<String>,
    /// `derived`: inputs; KPI ids used in `expr` without an entry here are inputs as they are.
    #[serde(default)]
    pub inputs: Vec<DerivedInput>,
    /// `cumulative`: the window (omit for an all-time running total).
    #[serde(default)]
    pub cumulative: Option<CumulativeSpec>,
    /// `conversion`: the conversion settings.
    #[serde(default)]
    pub conversion: Option<ConversionSpec>,
}
