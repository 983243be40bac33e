//! Validated model + query → one DataFusion `LogicalPlan`.

mod aggregate;
mod conversion;
mod cumulative;
mod dimensions;
mod every_period;
mod exact_sum;
mod frames;
mod planner;
mod rows;
mod sql;
pub(crate) mod time;
mod udaf;

use chrono::{DateTime, Utc};

use crate::model::Grain;

pub use crate::model::{
    DimensionError, ENTITY_METRIC_PREFIX, ResolvedDimension, ScopeSchema, declared_schema, entity_metric_columns,
};
pub use exact_sum::{ExactSum, Partials};
pub use planner::{MAX_KPI_EXPANSIONS, MAX_KPI_EXPR_NODES, OutputColumn, OutputRole, PlannedQuery, Planner};
pub use sql::portable;
pub use time::MAX_SPINE_PERIODS;
pub(crate) use time::SPINE_TABLE;
pub use udaf::{Percentile, percentile_cont, percentile_disc};

/// Name of the output column holding the start of each period.
pub const PERIOD_COLUMN: &str = "period";

/// With full joins, the column that is true on rows the root product has (false on a joined
/// product's rows that match none of it).
pub(crate) const ROOT_ROW: &str = "__canary_root_row";

/// What to compute.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    /// KPI ids, in output order.
    pub kpis: Vec<String>,
    /// Time grain of the `period` column; `None` aggregates over the whole range.
    pub grain: Option<Grain>,
    /// Dimensions to drill down by: `name` or `product.name`.
    pub by: Vec<String>,
    /// SQL boolean expression over dimensions and columns, applied to every KPI's rows.
    pub filter: Option<String>,
    /// Start of the range (inclusive), widened to the start of its period.
    pub from: Option<DateTime<Utc>>,
    /// End of the range (exclusive), widened to the end of its period.
    pub to: Option<DateTime<Utc>>,
    /// Restrict every tenant-scoped product to this tenant.
    pub tenant: Option<String>,
    /// The first and last instants of the time spine of cumulative KPIs when the query has
    /// no range (default: the data's bounds).
    pub calendar: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Custom granularities usable as `NAME:GRAIN` in `by` (e.g. fiscal quarters).
    pub custom_grains: std::collections::BTreeMap<String, CustomGrain>,
    /// Whether a time-shifted cumulative KPI (an offset, or `start of GRAIN`) reports only
    /// values whose own period lies in the range too (MetricFlow's semantics: a derived
    /// metric offsetting a cumulative one has no value where the offset reaches before
    /// `from`). By default the shifted value is computed from whatever data it needs.
    pub shifted_cumulatives_within_range: bool,
    /// Products reached by a named join path rather than the shortest one, from every KPI's
    /// product the path starts from (MetricFlow's `listing__user__x`).
    pub join_paths: Vec<crate::model::JoinPath>,
}

/// A query as a front door receives it: KPI ids and `@tag`s, grain and times as text.
/// Evidence records keep it as asked (with tags expanded).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    /// KPI ids and `@tag`s.
    pub kpis: Vec<String>,
    /// `hour` … `year`; `None` for one row over the whole range.
    pub grain: Option<String>,
    pub by: Vec<String>,
    pub filter: Option<String>,
    /// As [`crate::model::parse_instant`] reads them.
    pub from: Option<String>,
    pub to: Option<String>,
    pub tenant: Option<String>,
}

impl QueryRequest {
    /// The [`Query`] this asks for over `project`: tags expanded, grain and times parsed.
    pub fn resolve(&self, project: &crate::model::Project) -> crate::error::Result<Query> {
        use crate::error::CanaryError;
        let instant = |s: &Option<String>| {
            s.as_deref()
                .map(|s| crate::model::parse_instant(s).map_err(CanaryError::query))
                .transpose()
        };
        Ok(Query {
            kpis: project.select_kpis(&self.kpis).map_err(CanaryError::query)?,
            grain: self
                .grain
                .as_deref()
                .map(|g| g.parse::<Grain>().map_err(CanaryError::query))
                .transpose()?,
            // A dimension named twice is grouped by once, as a KPI named twice is computed once.
            by: {
                let mut seen = std::collections::HashSet::new();
                self.by.iter().filter(|b| seen.insert(b.as_str())).cloned().collect()
            },
            filter: self.filter.clone(),
            from: instant(&self.from)?,
            to: instant(&self.to)?,
            tenant: self.tenant.clone(),
            ..Query::default()
        })
    }
}

/// A custom granularity: runs of days `[from, to)`, each mapped to the start of its period.
/// Days in no run have no period (NULL).
pub type CustomGrain = std::sync::Arc<Vec<(DateTime<Utc>, DateTime<Utc>, DateTime<Utc>)>>;

/// The period of a custom granularity containing the time `t`, as an expression.
pub fn custom_grain_expr(grain: &CustomGrain, t: datafusion::logical_expr::Expr) -> datafusion::logical_expr::Expr {
    use datafusion::logical_expr::{Expr, lit};
    let day = time::truncate(Grain::Day, time::ts(t));
    let mut runs = grain.iter();
    let Some((from, to, value)) = runs.next() else {
        return lit(datafusion::common::ScalarValue::TimestampMicrosecond(
            None,
            Some("UTC".into()),
        ));
    };
    let within = |from: &DateTime<Utc>, to: &DateTime<Utc>| {
        day.clone()
            .gt_eq(time::ts_lit(*from))
            .and(day.clone().lt(time::ts_lit(*to)))
    };
    let mut case = datafusion::logical_expr::when(within(from, to), time::ts_lit(*value));
    for (from, to, value) in runs {
        case = case.when(within(from, to), time::ts_lit(*value));
    }
    case.end()
        .unwrap_or_else(|_| Expr::Literal(datafusion::common::ScalarValue::Null, None))
}

/// The day `n` periods of a custom granularity after the day of `t`, at the same position in
/// its period (the period's last day when it is shorter); NULL past the calendar.
pub fn custom_shift_expr(
    grain: &CustomGrain,
    n: i64,
    t: datafusion::logical_expr::Expr,
) -> datafusion::logical_expr::Expr {
    use datafusion::logical_expr::{Expr, cast, lit};
    // Periods: first day and end (exclusive) of each value, in order.
    let mut periods: std::collections::BTreeMap<DateTime<Utc>, (DateTime<Utc>, DateTime<Utc>)> = Default::default();
    for (from, to, value) in grain.iter() {
        let e = periods.entry(*value).or_insert((*from, *to));
        e.0 = e.0.min(*from);
        e.1 = e.1.max(*to);
    }
    let periods: Vec<(DateTime<Utc>, DateTime<Utc>)> = periods.into_values().collect();
    let day = time::truncate(Grain::Day, time::ts(t));
    let micros = |d: chrono::Duration| {
        cast(
            lit(d.num_microseconds().unwrap_or(0)),
            datafusion::arrow::datatypes::DataType::Duration(datafusion::arrow::datatypes::TimeUnit::Microsecond),
        )
    };
    let mut case: Option<datafusion::logical_expr::conditional_expressions::CaseBuilder> = None;
    for (i, (first, end)) in periods.iter().enumerate() {
        let Some((to_first, to_end)) = usize::try_from(i as i64 + n).ok().and_then(|j| periods.get(j)) else {
            continue;
        };
        let moved = day.clone() + micros(*to_first - *first);
        let last = time::ts_lit(*to_end - chrono::Duration::days(1));
        let target = datafusion::logical_expr::when(moved.clone().lt(time::ts_lit(*to_end)), moved)
            .otherwise(last)
            .unwrap_or_else(|_| Expr::Literal(datafusion::common::ScalarValue::Null, None));
        let within = day
            .clone()
            .gt_eq(time::ts_lit(*first))
            .and(day.clone().lt(time::ts_lit(*end)));
        case = Some(match case {
            None => datafusion::logical_expr::when(within, target),
            Some(mut c) => {
                c.when(within, target);
                c
            }
        });
    }
    match case {
        Some(c) => c
            .end()
            .unwrap_or_else(|_| Expr::Literal(datafusion::common::ScalarValue::Null, None)),
        None => lit(datafusion::common::ScalarValue::TimestampMicrosecond(
            None,
            Some("UTC".into()),
        )),
    }
}

/// The same, as SQL text over the SQL time expression `t`.
pub fn custom_grain_sql(grain: &CustomGrain, t: &str) -> String {
    if grain.is_empty() {
        return "CAST(NULL AS TIMESTAMP)".into();
    }
    let lit = |d: &DateTime<Utc>| format!("CAST('{}' AS TIMESTAMP)", d.format("%Y-%m-%d %H:%M:%S"));
    let day = format!("date_trunc('day', CAST({t} AS TIMESTAMP))");
    let arms: Vec<String> = grain
        .iter()
        .map(|(from, to, value)| {
            format!(
                "WHEN {day} >= {} AND {day} < {} THEN {}",
                lit(from),
                lit(to),
                lit(value)
            )
        })
        .collect();
    format!("CASE {} END", arms.join(" "))
}
