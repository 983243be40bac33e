//! The validated model: references resolved, names checked, types known.
//!
//! Only [`crate::validate`] builds these; the planner accepts nothing else.

mod describe;
mod graph;
mod scope;
mod time;
mod types;

use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use indexmap::IndexMap;
use serde::Serialize;

use crate::spec::SourceFile;
pub use crate::spec::{
    AggKind, ConversionCalculation, DimensionKind, Direction, EntityKind, NonAdditiveWindow, PeriodAgg,
};
pub use describe::GroupableDimension;
pub use graph::{JoinPath, JoinStep, MAX_HOPS, Member, Scope};
pub use scope::{
    DimensionError, ENTITY_METRIC_PREFIX, ResolvedDimension, ScopeSchema, declared_schema, entity_metric_columns,
};
pub use time::{CalendarDuration, Grain, Offset, parse_instant};
pub use types::{parse_type, type_name, types_compatible};

/// A validated project.
#[derive(Debug, Clone)]
pub struct Project {
    /// Folder holding `canary.yaml`.
    pub root: PathBuf,
    pub name: String,
    pub version: Option<semver::Version>,
    pub owner: Option<String>,
    pub description: Option<String>,
    pub require_tenant: bool,
    pub settings: Settings,
    pub products: IndexMap<String, Arc<Product>>,
    pub kpis: IndexMap<String, Arc<Kpi>>,
    /// Every spec file read, in load order.
    pub files: Vec<SourceFile>,
}

/// Execution settings.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub memory_limit: Option<usize>,
    pub spill_dir: Option<PathBuf>,
    pub target_partitions: Option<usize>,
    /// Start of the first and of the last day of the calendar.
    pub calendar: Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>,
    /// Custom granularities offsets may use (given by a MetricFlow time spine).
    pub custom_grains: Vec<String>,
    /// Bounds of every object-store request.
    pub object_store: ObjectStoreSettings,
}

/// How long an object store may take (`settings.object_store`): an endpoint that accepts a
/// connection and never answers fails the command after `(retries + 1) × timeout` at most.
///
/// ```
/// use canary_core::model::ObjectStoreSettings;
/// let s = ObjectStoreSettings::default();
/// assert_eq!((s.timeout.as_secs(), s.connect_timeout.as_secs(), s.retries), (30, 5, 2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectStoreSettings {
    /// The most one request may take, its body included.
    pub timeout: std::time::Duration,
    /// The most connecting may take.
    pub connect_timeout: std::time::Duration,
    /// How many times a failed request is tried again.
    pub retries: usize,
}

impl ObjectStoreSettings {
    /// The largest `timeout` or `connect_timeout` accepted.
    pub const MAX_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);
    /// The most `retries` accepted.
    pub const MAX_RETRIES: usize = 10;
}

impl Default for ObjectStoreSettings {
    fn default() -> Self {
        ObjectStoreSettings {
            timeout: std::time::Duration::from_secs(30),
            connect_timeout: std::time::Duration::from_secs(5),
            retries: 2,
        }
    }
}

/// A validated data-product contract.
#[derive(Debug, Clone, Serialize)]
pub struct Product {
    pub id: String,
    #[serde(serialize_with = "serialize_display")]
    pub version: semver::Version,
    pub owner: String,
    pub description: Option<String>,
    /// A URL DataFusion can list: `file:///…`, `s3://…`, possibly with a glob.
    #[serde(skip)]
    pub location: String,
    /// The location as the contract writes it (for messages; never an absolute path the
    /// contract did not write).
    #[serde(rename = "location")]
    pub location_written: String,
    #[serde(skip)]
    pub partitions: Vec<(String, DataType)>,
    pub tenant_column: Option<String>,
    pub columns: IndexMap<String, Column>,
    pub entities: IndexMap<String, Entity>,
    pub dimensions: IndexMap<String, Dimension>,
    pub measures: IndexMap<String, Measure>,
    pub time_dimension: Option<String>,
    /// History: (start, end) time dimensions of each row's validity.
    pub validity: Option<(String, String)>,
    pub sources: Vec<Source>,
    /// Contract file, relative to the project.
    pub file: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Column {
    #[serde(serialize_with = "types::serialize_type")]
    pub data_type: DataType,
    pub nullable: bool,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Entity {
    pub kind: EntityKind,
    /// The key column, or for a computed key the entity's name.
    pub column: String,
    /// A computed key: SQL over the product's columns.
    pub expr: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dimension {
    pub kind: DimensionKind,
    /// SQL over the product's columns.
    pub expr: String,
    pub granularity: Option<Grain>,
    /// A partition key: joins also match on partition dimensions of the same name.
    pub partition: bool,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Measure {
    pub agg: AggKind,
    /// SQL over the product's columns; `None` for `count` of rows.
    pub expr: Option<String>,
    pub percentile: Option<f64>,
    /// Name of the time dimension the measure aggregates over, if any.
    pub time_dimension: Option<String>,
    pub non_additive: Option<NonAdditive>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NonAdditive {
    /// A time dimension of the same product.
    pub dimension: String,
    pub window: NonAdditiveWindow,
    /// Entity names of the same product.
    pub per: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Source {
    pub name: String,
    pub columns: IndexMap<String, String>,
    pub description: Option<String>,
}

/// A validated KPI.
#[derive(Debug, Clone, Serialize)]
pub struct Kpi {
    pub id: String,
    #[serde(serialize_with = "serialize_display")]
    pub version: semver::Version,
    pub name: Option<String>,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub unit: Option<String>,
    pub direction: Direction,
    pub target: Option<f64>,
    pub warn: Option<f64>,
    pub critical: Option<f64>,
    pub tags: Vec<String>,
    /// Report every period of the range, also those without data.
    pub every_period: bool,
    pub body: KpiBody,
    /// Spec file, relative to the project.
    pub file: String,
}

/// What a KPI computes.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KpiBody {
    Simple {
        measure: MeasureInput,
    },
    Ratio {
        numerator: MeasureInput,
        denominator: MeasureInput,
    },
    Derived {
        expr: String,
        inputs: Vec<DerivedInput>,
    },
    Cumulative {
        measure: MeasureInput,
        window: CumulativeWindow,
        /// `None`: the window ends with each period; else daily values, one per period.
        period_agg: Option<PeriodAgg>,
    },
    Conversion {
        base: MeasureInput,
        conversion: MeasureInput,
        entity: String,
        /// `None`: any time after the base event.
        window: Option<CalendarDuration>,
        calculation: ConversionCalculation,
        /// (base dimension, conversion dimension) pairs that must be equal.
        constant_properties: Vec<(String, String)>,
    },
}

impl KpiBody {
    pub fn type_name(&self) -> &'static str {
        match self {
            KpiBody::Simple { .. } => "simple",
            KpiBody::Ratio { .. } => "ratio",
            KpiBody::Derived { .. } => "derived",
            KpiBody::Cumulative { .. } => "cumulative",
            KpiBody::Conversion { .. } => "conversion",
        }
    }
}

/// A measure of a product with an optional row filter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeasureInput {
    pub product: String,
    pub measure: String,
    pub filter: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DerivedInput {
    /// Name used in the expression.
    pub name: String,
    pub kpi: String,
    pub offset: Option<Offset>,
}

/// Window of a cumulative KPI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CumulativeWindow {
    AllTime,
    Trailing(CalendarDuration),
    GrainToDate(Grain),
}

impl Project {
    pub fn product(&self, id: &str) -> Option<&Arc<Product>> {
        self.products.get(id)
    }

    pub fn kpi(&self, id: &str) -> Option<&Arc<Kpi>> {
        self.kpis.get(id)
    }

    /// KPI ids for a selection of ids and `@tag`s, each once, in the order first named.
    /// Unknown ids pass through (the planner names them with a hint); a tag no KPI has is
    /// an error.
    pub fn select_kpis(&self, selection: &[String]) -> std::result::Result<Vec<String>, String> {
        let mut kpis = Vec::new();
        for k in selection {
            match k.strip_prefix('@') {
                Some(tag) => {
                    let before = kpis.len();
                    kpis.extend(
                        self.kpis
                            .values()
                            .filter(|kpi| kpi.tags.iter().any(|t| t == tag))
                            .map(|kpi| kpi.id.clone()),
                    );
                    if kpis.len() == before {
                        return Err(format!("no KPI has the tag `{tag}`"));
                    }
                }
                None => kpis.push(k.clone()),
            }
        }
        let mut seen = std::collections::HashSet::new();
        kpis.retain(|k| seen.insert(k.clone()));
        Ok(kpis)
    }

    /// The products whose rows a KPI aggregates, through derived KPIs' inputs (a conversion
    /// KPI's base product: its rows are the ones grouped).
    pub fn kpi_products(&self, id: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for k in self.kpi_closure(id) {
            let Some(kpi) = self.kpi(&k) else { continue };
            let products: Vec<&str> = match &kpi.body {
                KpiBody::Simple { measure } | KpiBody::Cumulative { measure, .. } => vec![&measure.product],
                KpiBody::Ratio { numerator, denominator } => vec![&numerator.product, &denominator.product],
                KpiBody::Conversion { base, .. } => vec![&base.product],
                KpiBody::Derived { .. } => Vec::new(),
            };
            for p in products {
                if !out.iter().any(|x| x == p) {
                    out.push(p.to_owned());
                }
            }
        }
        out
    }

    /// A KPI and every KPI it is derived from, transitively: depth first, each once.
    pub fn kpi_closure(&self, id: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut stack = vec![id.to_owned()];
        while let Some(k) = stack.pop() {
            if out.contains(&k) {
                continue;
            }
            if let Some(KpiBody::Derived { inputs, .. }) = self.kpi(&k).map(|kpi| &kpi.body) {
                stack.extend(inputs.iter().rev().map(|i| i.kpi.clone()));
            }
            out.push(k);
        }
        out
    }

    /// The dimensions a KPI can be grouped by: those of the products reachable, without
    /// fan-out or two join paths, from every product the KPI aggregates. `(product,
    /// dimension)` pairs in join order from the first product.
    pub fn kpi_dimensions(&self, id: &str) -> Vec<(String, String)> {
        let reachable = |root: &str| -> Vec<(String, String)> {
            let scope = Scope::build(self, root);
            scope
                .members
                .iter()
                .filter(|m| !scope.ambiguous.contains(&m.product))
                .filter_map(|m| self.product(&m.product))
                .flat_map(|p| p.dimensions.keys().map(|d| (p.id.clone(), d.clone())))
                .collect()
        };
        let mut products = self.kpi_products(id).into_iter();
        let Some(first) = products.next() else {
            return Vec::new();
        };
        let mut dims = reachable(&first);
        for p in products {
            let other = reachable(&p);
            dims.retain(|d| other.contains(d));
        }
        dims
    }

    /// Every dimension name of every product, as `product.dimension`.
    pub fn qualified_dimensions(&self) -> Vec<String> {
        self.products
            .values()
            .flat_map(|p| p.dimensions.keys().map(move |d| format!("{}.{d}", p.id)))
            .collect()
    }
}

impl Product {
    /// The time dimension a measure aggregates over.
    pub fn measure_time_dimension<'a>(&'a self, measure: &'a Measure) -> Option<&'a str> {
        measure.time_dimension.as_deref().or(self.time_dimension.as_deref())
    }
}

fn serialize_display<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}
