//! Validated model + query → one DataFusion `LogicalPlan`.

mod aggregate;
mod exact_sum;
mod frames;
mod planner;
mod scope;
mod sql;
pub(crate) mod time;
mod udaf;

use chrono::{DateTime, Utc};

use crate::model::Grain;

pub use exact_sum::{ExactSum, Partials};
pub use planner::{OutputColumn, OutputRole, PlannedQuery, Planner};
pub use scope::{DimensionError, ResolvedDimension, ScopeSchema, declared_schema};
pub use sql::portable;
pub use udaf::{Percentile, percentile_cont, percentile_disc};

/// Name of the output column holding the start of each period.
pub const PERIOD_COLUMN: &str = "period";

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
}
