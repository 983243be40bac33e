//! The planner: KPIs → value columns ("leaves") grouped into frames → one plan.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, ScalarValue};
use datafusion::functions_aggregate::expr_fn as f;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, cast, ident, lit};
use datafusion::prelude::nullif;
use serde::Serialize;

use super::time::offset_duration;
use super::{PERIOD_COLUMN, Query};
use crate::catalog::Catalog;
use crate::diagnostic::did_you_mean;
use crate::error::{CanaryError, Result};
use crate::expr::{ExprError, parse_expr};
use crate::model::{
    CalendarDuration, ConversionCalculation, CumulativeWindow, Kpi, KpiBody, MeasureInput, PeriodAgg, Project,
};
use crate::model::{DimensionError, ENTITY_METRIC_PREFIX, ScopeSchema};

/// What one value column computes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct LeafKey {
    pub input: LeafInput,
    /// Shifts applied to the period (the data comes from earlier).
    pub shifts: Vec<CalendarDuration>,
    /// Each period takes the data of the start of its period of this grain.
    pub to_start: Option<crate::model::Grain>,
    /// Each day takes the data of the day at its position N periods of this custom
    /// granularity before.
    pub custom_shift: Option<(i64, String)>,
    pub kind: LeafKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct LeafInput {
    pub product: String,
    pub measure: String,
    pub filter: Option<String>,
}

impl From<&MeasureInput> for LeafInput {
    fn from(m: &MeasureInput) -> Self {
        LeafInput {
            product: m.product.clone(),
            measure: m.measure.clone(),
            filter: m.filter.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum LeafKind {
    Plain,
    /// With a period pick, whether every day of the spine is a candidate (the KPI reports
    /// every period), not only the days with data.
    Cumulative(CumulativeWindow, Option<PeriodAgg>, bool),
    /// Base events of a conversion KPI (its id).
    ConversionBase(String),
    /// Converted events of a conversion KPI (its id).
    ConversionHits(String),
}

#[derive(Debug, Clone)]
pub(super) struct Leaf {
    pub key: LeafKey,
    /// Internal column name, `_v{n}`.
    pub column: String,
}

/// A subplan with key columns (`period`, then the `by` dimensions) and value columns.
pub(super) struct Frame {
    pub plan: LogicalPlan,
    pub values: Vec<String>,
    /// Whether its keys define the output rows (frames of shifted data do not).
    pub anchor: bool,
}

/// Role of an output column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputRole {
    Period,
    Dimension,
    Kpi,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutputColumn {
    pub name: String,
    pub role: OutputRole,
}

/// The most KPI references one query may expand to: a derived KPI's inputs are written
/// into its expression, so a chain where each KPI uses the previous one twice doubles at
/// every level. Past this the query is refused rather than planned in exponential time.
pub const MAX_KPI_EXPANSIONS: usize = 4096;

/// The largest expression a KPI may expand to, in nodes: a derived KPI whose expression
/// names an input twice (`d + d`) copies it twice without expanding it again.
pub const MAX_KPI_EXPR_NODES: usize = 65_536;

/// A plan ready to run, with the meaning of each output column.
#[derive(Debug, Clone)]
pub struct PlannedQuery {
    pub plan: LogicalPlan,
    pub columns: Vec<OutputColumn>,
}

/// Plans one query over one project.
pub struct Planner<'a> {
    pub(super) project: &'a Project,
    pub(super) catalog: &'a Catalog,
    pub(super) query: &'a Query,
    /// The query range, widened to whole periods.
    pub(super) from: Option<DateTime<Utc>>,
    pub(super) to: Option<DateTime<Utc>>,
    /// The range of the time spine: the query range, completed by the data's bounds.
    pub(super) spine_range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub(super) leaves: Vec<Leaf>,
    leaf_index: HashMap<LeafKey, usize>,
    kpi_exprs: Vec<(String, Expr)>,
    scopes: HashMap<String, ScopeSchema>,
    /// Whether a KPI of the query (or an input of one) reports every period.
    pub(super) every_period: bool,
    /// For each KPI that reports every period, its filter (product, SQL): the parts on
    /// `metric_time` alone also select the periods it reports (MetricFlow filters the
    /// time spine too).
    pub(super) every_period_filters: Vec<Option<(String, String)>>,
    /// KPI references expanded so far (see [`MAX_KPI_EXPANSIONS`]).
    expansions: usize,
    /// While planning an input with a `start of GRAIN` offset: that grain.
    to_start: Option<crate::model::Grain>,
    /// While planning an input with a custom-granularity offset: (N, granularity).
    custom_shift: Option<(i64, String)>,
    /// How joined products meet the rows they extend: `Left` for KPIs (every row of the
    /// measure's product counts once); `Full` for MetricFlow's distinct values, where a
    /// joined product's rows without a match appear too.
    pub(super) joins: datafusion::common::JoinType,
}

impl<'a> Planner<'a> {
    /// Check the query against the project and work out every value it needs.
    pub fn new(project: &'a Project, catalog: &'a Catalog, query: &'a Query) -> Result<Self> {
        if query.kpis.is_empty() {
            return Err(CanaryError::query("name at least one KPI"));
        }
        if project.require_tenant && query.tenant.is_none() {
            return Err(CanaryError::query_hint(
                "this project requires a tenant for every query",
                "pass --tenant (or `tenant=` in Python)",
            ));
        }
        if let Some(t) = &query.tenant
            && project.products.values().all(|p| p.tenant_column.is_none())
        {
            // It would restrict nothing: every tenant's rows would be read.
            return Err(CanaryError::query_hint(
                format!("tenant `{t}` asked for, but no product of this project is tenant-scoped"),
                "declare `tenant_column` on the contracts that hold several tenants' rows, or drop --tenant",
            ));
        }
        if let (Some(a), Some(b)) = (query.from, query.to)
            && a >= b
        {
            return Err(CanaryError::query(format!(
                "the range is empty: from {a} is not before to {b}"
            )));
        }
        let (from, to) = match query.grain {
            Some(g) => (query.from.map(|t| g.truncate(t)), query.to.map(|t| g.ceil(t))),
            None => (query.from, query.to),
        };
        let mut by_seen = BTreeSet::new();
        if let Some(name) = query.by.iter().find(|b| !by_seen.insert(b.as_str())) {
            return Err(CanaryError::query_hint(
                format!("`{name}` is named twice in `by`"),
                "name each dimension once",
            ));
        }
        let mut planner = Planner::empty(project, catalog, query, from, to);
        let mut seen = BTreeSet::new();
        for id in &query.kpis {
            if !seen.insert(id.as_str()) {
                return Err(CanaryError::query(format!("KPI `{id}` is requested twice")));
            }
            let kpi = project.kpi(id).ok_or_else(|| {
                CanaryError::query_hint(
                    format!("unknown KPI `{id}`"),
                    did_you_mean(id, project.kpis.keys().map(String::as_str)),
                )
            })?;
            let e = planner.kpi_expr(kpi, &[])?;
            planner.kpi_exprs.push((id.clone(), e));
        }
        for by in &query.by {
            if by == PERIOD_COLUMN || query.kpis.contains(by) {
                return Err(CanaryError::query(format!(
                    "`{by}` cannot be a dimension: the name is taken"
                )));
            }
        }
        Ok(planner)
    }

    /// A planner with nothing registered yet, over the range `[from, to)`.
    pub(super) fn empty(
        project: &'a Project,
        catalog: &'a Catalog,
        query: &'a Query,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Self {
        Planner {
            project,
            catalog,
            query,
            from,
            to,
            spine_range: None,
            leaves: Vec::new(),
            leaf_index: HashMap::new(),
            kpi_exprs: Vec::new(),
            scopes: HashMap::new(),
            every_period: false,
            every_period_filters: Vec::new(),
            to_start: None,
            custom_shift: None,
            expansions: 0,
            joins: datafusion::common::JoinType::Left,
        }
    }

    /// The calendar of the query, else of the project.
    pub(super) fn calendar(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        self.query.calendar.or(self.project.settings.calendar)
    }

    /// Without a grain, grouped by a custom granularity of `metric_time` (`metric_time:fiscal`):
    /// the day, at which cumulative values are computed before each custom period picks one.
    pub(super) fn custom_period_day(&self) -> Option<crate::model::Grain> {
        let custom = self.query.by.iter().any(|b| {
            b.split_once(':')
                .is_some_and(|(base, m)| base == METRIC_TIME && self.query.custom_grains.contains_key(m))
        });
        (self.query.grain.is_none() && custom).then_some(crate::model::Grain::Day)
    }

    /// Whether a time spine over a concrete range is needed and the query does not give one.
    pub fn needs_bounds(&self) -> bool {
        self.spine_grain().is_some()
            && (self.from.is_none() || self.to.is_none())
            && self.calendar().is_none()
            && (self.every_period
                || self
                    .leaves
                    .iter()
                    .any(|l| matches!(l.key.kind, LeafKind::Cumulative(..))))
    }

    /// A plan returning one row `(lo, hi)`: the earliest and latest time of the data the
    /// cumulative KPIs read, so a spine can cover it.
    pub fn bounds_plan(&mut self) -> Result<LogicalPlan> {
        let products: BTreeSet<(String, String)> = self
            .leaves
            .iter()
            .filter(|l| self.every_period || matches!(l.key.kind, LeafKind::Cumulative(..)))
            .map(|l| (l.key.input.product.clone(), l.key.input.measure.clone()))
            .collect();
        let mut union: Option<LogicalPlanBuilder> = None;
        for (product, measure) in products {
            let time = self.time_expr(&product, &measure)?;
            let scan = self.scan(&product, &BTreeSet::new())?;
            let b = scan
                .aggregate(
                    Vec::<Expr>::new(),
                    vec![f::min(time.clone()).alias("lo"), f::max(time).alias("hi")],
                )
                .map_err(CanaryError::plan)?;
            union = Some(match union {
                None => b,
                Some(u) => u
                    .union(b.build().map_err(CanaryError::plan)?)
                    .map_err(CanaryError::plan)?,
            });
        }
        let union = union.ok_or_else(|| CanaryError::internal("bounds requested without cumulative KPIs"))?;
        union
            .aggregate(
                Vec::<Expr>::new(),
                vec![f::min(ident("lo")).alias("lo"), f::max(ident("hi")).alias("hi")],
            )
            .and_then(LogicalPlanBuilder::build)
            .map_err(CanaryError::plan)
    }

    /// Build the plan. `bounds` is the data's time range, needed when [`Self::needs_bounds`].
    pub fn plan(mut self, bounds: Option<(DateTime<Utc>, DateTime<Utc>)>) -> Result<PlannedQuery> {
        if let Some(g) = self.spine_grain() {
            // `hi` is the last instant with data: the spine runs through its period.
            let calendar = self.calendar().or(bounds);
            let lo = self.from.or(calendar.map(|(lo, _)| g.truncate(lo)));
            let hi = self.to.or(calendar.map(|(_, hi)| g.add(g.truncate(hi), 1)));
            self.spine_range = lo.zip(hi);
        }
        let frames = self.frames()?;
        let mut combined = self.combine(frames)?;
        if let (true, Some(_), Some(range)) = (self.every_period, self.spine_grain(), self.spine_range) {
            let clip = self.calendar().or(bounds);
            combined = self.add_missing_periods(combined, self.query.grain, range, clip)?;
        }
        if self.query.grain.is_some() {
            // Shifted inputs can bring periods from outside the range; keep it exact.
            if let Some(from) = self.from {
                combined = combined
                    .filter(ident(PERIOD_COLUMN).gt_eq(super::time::ts_lit(from)))
                    .map_err(CanaryError::plan)?;
            }
            if let Some(to) = self.to {
                combined = combined
                    .filter(ident(PERIOD_COLUMN).lt(super::time::ts_lit(to)))
                    .map_err(CanaryError::plan)?;
            }
        }
        let mut keys = Vec::new();
        let mut columns = Vec::new();
        if self.query.grain.is_some() {
            keys.push(ident(PERIOD_COLUMN));
            columns.push(OutputColumn {
                name: PERIOD_COLUMN.into(),
                role: OutputRole::Period,
            });
        }
        for by in &self.query.by {
            keys.push(ident(by));
            columns.push(OutputColumn {
                name: by.clone(),
                role: OutputRole::Dimension,
            });
        }
        let mut projection = keys.clone();
        for (id, e) in &self.kpi_exprs {
            projection.push(e.clone().alias(id));
            columns.push(OutputColumn {
                name: id.clone(),
                role: OutputRole::Kpi,
            });
        }
        let mut b = combined.project(projection).map_err(CanaryError::plan)?;
        if !keys.is_empty() {
            b = b
                .sort(keys.into_iter().map(|k| k.sort(true, false)).collect::<Vec<_>>())
                .map_err(CanaryError::plan)?;
        }
        let plan = b.build().map_err(CanaryError::plan)?;
        Ok(PlannedQuery { plan, columns })
    }

    /// The expression of a KPI over the value columns, registering the leaves it needs.
    fn kpi_expr(&mut self, kpi: &Kpi, shifts: &[CalendarDuration]) -> Result<Expr> {
        Ok(self.kpi_expr_sized(kpi, shifts)?.0)
    }

    /// [`Self::kpi_expr`], with the expression's size in nodes (worked out from its parts,
    /// not by walking it: a derived KPI that uses an input twice doubles it).
    fn kpi_expr_sized(&mut self, kpi: &Kpi, shifts: &[CalendarDuration]) -> Result<(Expr, usize)> {
        self.expansions += 1;
        if self.expansions > MAX_KPI_EXPANSIONS {
            return Err(CanaryError::query_hint(
                format!(
                    "the query expands to more than {MAX_KPI_EXPANSIONS} KPI references (derived KPIs using their inputs several times, over several levels; `{}` is one)",
                    kpi.id
                ),
                "use each input once per derived KPI, or compute fewer derived levels in one query",
            ));
        }
        let float = |e: Expr| cast(e, DataType::Float64);
        self.every_period |= kpi.every_period;
        if kpi.every_period {
            let filter = match &kpi.body {
                KpiBody::Simple { measure } | KpiBody::Cumulative { measure, .. } => {
                    measure.filter.clone().map(|f| (measure.product.clone(), f))
                }
                _ => None,
            };
            self.every_period_filters.push(filter);
        }
        // Leaves, ratios and conversions are a handful of nodes.
        const SMALL: usize = 8;
        Ok(match &kpi.body {
            KpiBody::Simple { measure } => (self.leaf(measure.into(), shifts, LeafKind::Plain), SMALL),
            KpiBody::Ratio { numerator, denominator } => {
                let n = self.leaf(numerator.into(), shifts, LeafKind::Plain);
                let d = self.leaf(denominator.into(), shifts, LeafKind::Plain);
                (float(n) / nullif(float(d), lit(0.0)), SMALL)
            }
            KpiBody::Cumulative {
                measure,
                window,
                period_agg,
            } => (
                self.leaf(
                    measure.into(),
                    shifts,
                    LeafKind::Cumulative(*window, *period_agg, kpi.every_period),
                ),
                SMALL,
            ),
            KpiBody::Conversion {
                base,
                conversion,
                calculation,
                ..
            } => {
                let b = self.leaf(base.into(), shifts, LeafKind::ConversionBase(kpi.id.clone()));
                let h = self.leaf(conversion.into(), shifts, LeafKind::ConversionHits(kpi.id.clone()));
                // A group without conversions has none (NULL), as in MetricFlow; a derived
                // KPI `coalesce(k, 0)` reports 0 instead.
                let e = match calculation {
                    ConversionCalculation::ConversionRate => float(h) / nullif(float(b), lit(0.0)),
                    ConversionCalculation::Conversions => h,
                };
                (e, SMALL)
            }
            KpiBody::Derived { expr, inputs } => {
                let fields: Vec<Field> = inputs
                    .iter()
                    .map(|i| Field::new(&i.name, DataType::Float64, true))
                    .collect();
                let schema = DFSchema::try_from(Schema::new(fields)).map_err(CanaryError::plan)?;
                let parsed = parse_expr(expr, &schema).map_err(|e: ExprError| {
                    CanaryError::internal(format!("validated expression of `{}` failed: {e}", kpi.id))
                })?;
                let mut resolved = HashMap::new();
                let mut sizes: HashMap<&str, usize> = HashMap::new();
                for input in inputs {
                    let mut s = shifts.to_vec();
                    let outer_to_start = self.to_start;
                    let outer_custom = self.custom_shift.clone();
                    let nested = !s.is_empty() || self.to_start.is_some() || self.custom_shift.is_some();
                    match &input.offset {
                        Some(crate::model::Offset::Custom(n, g)) => {
                            if nested {
                                return Err(CanaryError::query(format!(
                                    "KPI `{}`: `{n} {g}` combined with another offset is not supported yet",
                                    kpi.id
                                )));
                            }
                            if !self.query.custom_grains.contains_key(g) {
                                return Err(CanaryError::query(format!(
                                    "KPI `{}`: the custom granularity `{g}` has no calendar in this query",
                                    kpi.id
                                )));
                            }
                            self.custom_shift = Some((*n, g.clone()));
                        }
                        Some(crate::model::Offset::ToStart(g)) => {
                            let g = *g;
                            if nested {
                                return Err(CanaryError::query(format!(
                                    "KPI `{}`: `start of {g}` combined with another offset is not supported yet",
                                    kpi.id
                                )));
                            }
                            self.to_start = Some(g);
                        }
                        Some(o) => {
                            let o = o.clone();
                            if self.to_start.is_some() || self.custom_shift.is_some() {
                                return Err(CanaryError::query(format!(
                                    "KPI `{}`: an offset inside a `start of` offset is not supported yet",
                                    kpi.id
                                )));
                            }
                            // A calendar offset moves the data; `N periods` needs a grain.
                            let d = offset_duration(o.clone(), self.query.grain).ok_or_else(|| {
                                CanaryError::query_hint(
                                    format!("KPI `{}` compares periods (`{}`), which needs a grain", kpi.id, o),
                                    "pass --grain",
                                )
                            })?;
                            s.push(d);
                        }
                        None => {}
                    }
                    let input_kpi = Arc::clone(&self.project.kpis[&input.kpi]);
                    let e = self.kpi_expr_sized(&input_kpi, &s);
                    self.to_start = outer_to_start;
                    self.custom_shift = outer_custom;
                    let (e, size) = e?;
                    resolved.insert(input.name.clone(), float(e));
                    sizes.insert(input.name.as_str(), size + 1);
                }
                // Each use of an input is a copy of its expression.
                let mut size = 0usize;
                parsed
                    .apply(|e| {
                        size = size.saturating_add(match e {
                            Expr::Column(c) => sizes.get(c.name.as_str()).copied().unwrap_or(1),
                            _ => 1,
                        });
                        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
                    })
                    .map_err(CanaryError::plan)?;
                if size > MAX_KPI_EXPR_NODES {
                    return Err(CanaryError::query_hint(
                        format!(
                            "KPI `{}` expands to an expression of more than {MAX_KPI_EXPR_NODES} nodes (derived KPIs using their inputs several times, over several levels)",
                            kpi.id
                        ),
                        "use each input once per derived KPI, or compute fewer derived levels in one query",
                    ));
                }
                let e = parsed
                    .transform(|e| match &e {
                        Expr::Column(c) => match resolved.get(&c.name) {
                            Some(r) => Ok(Transformed::yes(r.clone())),
                            None => Ok(Transformed::no(e)),
                        },
                        _ => Ok(Transformed::no(e)),
                    })
                    .map(|t| t.data)
                    .map_err(CanaryError::plan)?;
                (e, size)
            }
        })
    }

    fn leaf(&mut self, input: LeafInput, shifts: &[CalendarDuration], kind: LeafKind) -> Expr {
        let mut shifts = shifts.to_vec();
        shifts.sort_by_key(|d| (d.unit, d.count));
        let key = LeafKey {
            input,
            shifts,
            to_start: self.to_start,
            custom_shift: self.custom_shift.clone(),
            kind,
        };
        let n = match self.leaf_index.get(&key) {
            Some(n) => *n,
            None => {
                let n = self.leaves.len();
                self.leaves.push(Leaf {
                    key: key.clone(),
                    column: format!("_v{n}"),
                });
                self.leaf_index.insert(key, n);
                n
            }
        };
        ident(&self.leaves[n].column)
    }

    /// The scope of a product, over the columns of its actual data.
    pub(super) fn scope(&mut self, product: &str) -> Result<&ScopeSchema> {
        if !self.scopes.contains_key(product) {
            let catalog = self.catalog;
            // The contract's columns (nothing the contract does not promise), typed as the
            // data has them.
            let columns = |p: &crate::model::Product| {
                let declared = super::declared_schema(p);
                match catalog.table(&p.id) {
                    Ok(t) => datafusion::arrow::datatypes::Schema::new(
                        declared
                            .fields()
                            .iter()
                            .map(|f| {
                                t.schema
                                    .field_with_name(f.name())
                                    .cloned()
                                    .unwrap_or_else(|_| f.as_ref().clone())
                            })
                            .collect::<Vec<_>>(),
                    ),
                    Err(_) => declared,
                }
            };
            let joins = crate::model::Scope::build_with(self.project, product, &self.query.join_paths)
                .map_err(CanaryError::query)?;
            let scope = ScopeSchema::of(self.project, joins, &columns).map_err(|(p, d, e)| {
                CanaryError::Spec(vec![crate::diagnostic::Diagnostic::new(
                    crate::diagnostic::Code::InvalidExpression,
                    crate::diagnostic::Location {
                        file: self
                            .project
                            .products
                            .get(&p)
                            .map(|x| x.file.clone())
                            .unwrap_or_default(),
                        line: 1,
                        column: 1,
                    },
                    format!("dimension `{d}` of `{p}` does not fit the data: {e}"),
                )])
            })?;
            self.scopes.insert(product.to_owned(), scope);
        }
        Ok(&self.scopes[product])
    }

    /// Parse a user expression in a product's scope.
    pub(super) fn parse_in(&mut self, product: &str, sql: &str, what: &str) -> Result<Expr> {
        self.parse_with_time(product, sql, what, None)
    }

    /// Like [`Self::parse_in`]; with `time`, the name `metric_time` means that expression
    /// (the time the measure is aggregated over).
    pub(super) fn parse_with_time(
        &mut self,
        product: &str,
        sql: &str,
        what: &str,
        time: Option<&Expr>,
    ) -> Result<Expr> {
        let scope = self.scope(product)?;
        // `__kpi__K__per__E`: the value of KPI K for the row's entity E (joined in by the scan).
        let mut extras = super::entity_metric_columns(sql);
        if time.is_some() {
            extras.push((METRIC_TIME.to_owned(), super::time::ts_type()));
        }
        let parsed = scope.parse_with_extras(sql, &extras);
        let e = parsed.map_err(|e| match e {
            ExprError::UnknownColumn { name, valid } => CanaryError::query_hint(
                format!("{what}: unknown column `{name}` for product `{product}`"),
                did_you_mean(
                    name.rsplit('.').next().unwrap_or(&name),
                    valid.iter().map(String::as_str),
                ),
            ),
            other => CanaryError::query(format!("{what}: {other}")),
        })?;
        let e = match time {
            Some(t) => e
                .transform(|x| match &x {
                    Expr::Column(c) if c.relation.is_none() && c.name == METRIC_TIME => Ok(Transformed::yes(t.clone())),
                    _ => Ok(Transformed::no(x)),
                })
                .map(|t| t.data)
                .map_err(CanaryError::plan)?,
            None => e,
        };
        let schema = self
            .scope(product)?
            .extended_schema(&extras)
            .map_err(|e| CanaryError::query(format!("{what}: {e}")))?;
        crate::expr::check_boolean(&e, &schema, sql).map_err(|m| CanaryError::query(format!("{what}: {m}")))?;
        Ok(e)
    }

    /// The `by` dimensions resolved in a product's scope, as `(output name, expression)`.
    ///
    /// A name is a dimension (`channel`, `customers.segment`) or `metric_time` (the time of
    /// `measure`), optionally with `:GRAIN` (`customers.signup_date:month`) or
    /// `:extract_PART` (`metric_time:extract_dow`, ISO weekday 1-7).
    pub(super) fn dimensions(&mut self, product: &str, measure: &str) -> Result<Vec<(String, Expr)>> {
        Ok(self
            .dimensions_with(product, measure, None)?
            .into_iter()
            .map(|(n, e, _)| (n, e))
            .collect())
    }

    /// Whether the `by` name `name` is the time of `measure` (`metric_time`, or the
    /// measure's own time dimension), with or without a grain or date part.
    pub(super) fn is_time_by(&self, product: &str, measure: &str, name: &str) -> bool {
        let base = name.split_once(':').map_or(name, |(b, _)| b);
        if base == METRIC_TIME {
            return true;
        }
        let p = &self.project.products[product];
        match p.measures.get(measure).and_then(|m| p.measure_time_dimension(m)) {
            Some(t) => base == t || base == format!("{product}.{t}"),
            None => false,
        }
    }

    /// Like [`Self::dimensions`], with a flag for the names that are the measure's time; with
    /// `time`, those are computed from it instead (the day of a time spine).
    pub(super) fn dimensions_with(
        &mut self,
        product: &str,
        measure: &str,
        time: Option<&Expr>,
    ) -> Result<Vec<(String, Expr, bool)>> {
        let by = self.query.by.clone();
        let mut out = Vec::new();
        for name in &by {
            let (base, modifier) = match name.split_once(':') {
                Some((b, m)) => (b, Some(m)),
                None => (name.as_str(), None),
            };
            let is_time = self.is_time_by(product, measure, name);
            let expr = if let (true, Some(t)) = (is_time, time) {
                t.clone()
            } else if base == METRIC_TIME {
                self.time_expr(product, measure)?
            } else {
                let project = self.project;
                let scope = self.scope(product)?;
                let own_entity = project.products[product].entities.get(base);
                match scope.dimension(project, base) {
                    Ok(d) => d.expr,
                    // An entity of the product groups by its key column.
                    Err(DimensionError::Unknown { .. }) if let Some(e) = own_entity => {
                        entity_key(project, product, product, &e.column, e.expr.as_deref())?
                    }
                    Err(DimensionError::Unknown { valid, .. }) => {
                        return Err(CanaryError::query_hint(
                            format!("unknown dimension `{base}` for product `{product}`"),
                            did_you_mean(base, valid.iter().map(String::as_str)),
                        ));
                    }
                    Err(e) => return Err(CanaryError::query(e.to_string())),
                }
            };
            let expr = match modifier {
                None => expr,
                Some(m) => self.time_modifier(name, m, expr)?,
            };
            out.push((name.clone(), expr, is_time));
        }
        Ok(out)
    }

    /// A time expression at the grain, date part (`extract_PART`) or custom granularity
    /// `modifier` of the `by` name `name`.
    pub(super) fn time_modifier(&self, name: &str, modifier: &str, expr: Expr) -> Result<Expr> {
        Ok(match modifier.strip_prefix("extract_") {
            Some(part) => {
                let part = if part == "dow" { "isodow" } else { part };
                cast(
                    datafusion::functions::datetime::expr_fn::date_part(lit(part), super::time::ts(expr)),
                    DataType::Int64,
                )
            }
            None => match (
                modifier.parse::<crate::model::Grain>(),
                self.query.custom_grains.get(modifier),
            ) {
                (Ok(grain), _) => super::time::truncate(grain, super::time::ts(expr)),
                (Err(_), Some(custom)) => super::custom_grain_expr(custom, expr),
                (Err(e), None) => {
                    return Err(CanaryError::query(format!(
                        "`{name}`: {e}; or `extract_PART` for a date part"
                    )));
                }
            },
        })
    }

    /// The `by` names that are a form of `metric_time` (a grain, date part or custom
    /// granularity), with that form.
    pub(super) fn metric_time_bys(&self) -> Vec<(String, String)> {
        self.query
            .by
            .iter()
            .filter_map(|b| {
                let (base, m) = b.split_once(':')?;
                (base == METRIC_TIME).then(|| (b.clone(), m.to_owned()))
            })
            .collect()
    }

    /// Union the frames on their keys; keep rows present in an anchor frame.
    fn combine(&self, frames: Vec<Frame>) -> Result<LogicalPlanBuilder> {
        let mut keys: Vec<String> = Vec::new();
        if self.query.grain.is_some() {
            keys.push(PERIOD_COLUMN.into());
        }
        keys.extend(self.query.by.iter().cloned());
        if let [only] = frames.as_slice()
            && only.anchor
        {
            return Ok(LogicalPlanBuilder::from(only.plan.clone()));
        }
        let mut types: Vec<(String, DataType)> = Vec::new();
        for frame in &frames {
            for v in &frame.values {
                let t = frame
                    .plan
                    .schema()
                    .field_with_unqualified_name(v)
                    .map_err(CanaryError::plan)?
                    .data_type()
                    .clone();
                types.push((v.clone(), t));
            }
        }
        let any_anchor = frames.iter().any(|f| f.anchor);
        let mut union: Option<LogicalPlanBuilder> = None;
        for frame in frames {
            let mut projection: Vec<Expr> = keys.iter().map(ident).collect();
            for (v, t) in &types {
                if frame.values.contains(v) {
                    projection.push(ident(v));
                } else {
                    let null = ScalarValue::try_from(t).map_err(CanaryError::plan)?;
                    projection.push(lit(null).alias(v));
                }
            }
            let marker = if frame.anchor {
                lit(1i64)
            } else {
                lit(ScalarValue::Int64(None))
            };
            projection.push(marker.alias("_anchor"));
            let b = LogicalPlanBuilder::from(frame.plan)
                .project(projection)
                .map_err(CanaryError::plan)?;
            union = Some(match union {
                None => b,
                Some(u) => u
                    .union(b.build().map_err(CanaryError::plan)?)
                    .map_err(CanaryError::plan)?,
            });
        }
        let union = union.ok_or_else(|| CanaryError::internal("no frames to combine"))?;
        let mut aggs: Vec<Expr> = types.iter().map(|(v, _)| f::max(ident(v)).alias(v)).collect();
        aggs.push(f::max(ident("_anchor")).alias("_anchor"));
        let group: Vec<Expr> = keys.iter().map(ident).collect();
        let mut b = union.aggregate(group, aggs).map_err(CanaryError::plan)?;
        if any_anchor {
            b = b.filter(ident("_anchor").is_not_null()).map_err(CanaryError::plan)?;
        }
        Ok(b)
    }
}

/// `(kpi, entity)` of a `__kpi__K__per__E` name.
pub(super) fn entity_metric_parts(name: &str) -> Option<(String, String)> {
    let rest = name.strip_prefix(ENTITY_METRIC_PREFIX)?;
    let (kpi, entity) = rest.rsplit_once("__per__")?;
    Some((kpi.to_owned(), entity.to_owned()))
}

/// The name filters and `by` use for the time a measure is aggregated over.
pub const METRIC_TIME: &str = "metric_time";

/// The key of an entity of `product`, read under `qualifier`: its column, or its computed
/// key parsed (through the expression allow-list) over the product's columns.
pub(super) fn entity_key(
    project: &Project,
    product: &str,
    qualifier: &str,
    column_name: &str,
    expr: Option<&str>,
) -> Result<Expr> {
    let Some(sql) = expr else {
        return Ok(column(qualifier, column_name));
    };
    let schema = crate::model::declared_schema(&project.products[product]);
    let own = DFSchema::try_from_qualified_schema(qualifier, &schema)
        .map_err(|e| CanaryError::internal(format!("the schema of `{product}`: {e}")))?;
    parse_expr(sql, &own).map_err(|e| CanaryError::query(format!("the key of an entity of `{product}` (`{sql}`): {e}")))
}

/// A column reference that is never parsed for a qualifier (names may contain dots).
pub(super) fn column(qualifier: &str, name: &str) -> Expr {
    Expr::Column(Column::new(Some(qualifier), name))
}
