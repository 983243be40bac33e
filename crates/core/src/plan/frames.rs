//! Frames: one subplan per group of value columns that can share a scan and an aggregate.

use std::collections::BTreeSet;

use datafusion::common::JoinType;
use datafusion::common::tree_node::TreeNode;
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::{Expr, ExprFunctionExt, LogicalPlanBuilder, WindowFunctionDefinition, ident, lit};
use indexmap::IndexMap;

use super::PERIOD_COLUMN;
use super::aggregate::{aggregate, value_expr};
use super::planner::{Frame, LeafKind, Planner, column, entity_key};
use super::rows::{RowOptions, Rows, conjunction, day_counter, pe, split_conjunction_owned};
use super::time::{shift_expr, shifts_clamp, ts, unshift_expr};
use crate::error::{CanaryError, Result};
use crate::model::{CalendarDuration, CumulativeWindow, Grain, Measure, NonAdditiveWindow, PeriodAgg};

/// How leaves are grouped into frames.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FrameKey {
    /// Ordinary measures of one product over one time dimension: one scan, one aggregate.
    Plain {
        product: String,
        time: Option<String>,
        shifts: Vec<CalendarDuration>,
        to_start: Option<Grain>,
        custom_shift: Option<(i64, String)>,
    },
    /// A semi-additive measure (its leaf index).
    SemiAdditive(usize),
    Cumulative {
        product: String,
        time: Option<String>,
        shifts: Vec<CalendarDuration>,
        window: CumulativeWindow,
        period_agg: Option<PeriodAgg>,
        /// Every day of the spine is a candidate for the period pick.
        every_day: bool,
        /// A `start of GRAIN` offset: each period reads the value at the start of its GRAIN.
        to_start: Option<Grain>,
    },
    Conversion {
        kpi: String,
        shifts: Vec<CalendarDuration>,
    },
}

impl Planner<'_> {
    pub(super) fn frames(&mut self) -> Result<Vec<Frame>> {
        let mut groups: IndexMap<FrameKey, Vec<usize>> = IndexMap::new();
        for (i, leaf) in self.leaves.iter().enumerate() {
            let input = &leaf.key.input;
            let product = &self.project.products[&input.product];
            let measure = &product.measures[&input.measure];
            let time = product.measure_time_dimension(measure).map(str::to_owned);
            let shifts = leaf.key.shifts.clone();
            let to_start = leaf.key.to_start;
            let custom_shift = leaf.key.custom_shift.clone();
            let special = to_start.is_some() || custom_shift.is_some();
            let cumulative_to_start =
                matches!(leaf.key.kind, LeafKind::Cumulative(..)) && custom_shift.is_none() && shifts.is_empty();
            if special
                && !cumulative_to_start
                && (!matches!(leaf.key.kind, LeafKind::Plain) || measure.non_additive.is_some())
            {
                return Err(CanaryError::query(
                    "`start of` and custom-granularity offsets work on simple and ratio values only, not yet on cumulative, conversion or semi-additive ones",
                ));
            }
            let key = match &leaf.key.kind {
                LeafKind::Plain if measure.non_additive.is_some() => FrameKey::SemiAdditive(i),
                LeafKind::Plain => FrameKey::Plain {
                    product: input.product.clone(),
                    time,
                    shifts,
                    to_start,
                    custom_shift: custom_shift.clone(),
                },
                // Daily values reported per period, queried without a grain: the total.
                LeafKind::Cumulative(_, Some(_), _)
                    if self.query.grain.is_none() && self.custom_period_day().is_none() =>
                {
                    FrameKey::Plain {
                        product: input.product.clone(),
                        time,
                        shifts,
                        to_start,
                        custom_shift: custom_shift.clone(),
                    }
                }
                LeafKind::Cumulative(window, period_agg, every_day) => FrameKey::Cumulative {
                    product: input.product.clone(),
                    time,
                    shifts,
                    window: *window,
                    period_agg: *period_agg,
                    every_day: *every_day,
                    to_start,
                },
                LeafKind::ConversionBase(k) | LeafKind::ConversionHits(k) => {
                    FrameKey::Conversion { kpi: k.clone(), shifts }
                }
            };
            groups.entry(key).or_default().push(i);
        }
        let mut frames = Vec::new();
        for (key, leaves) in groups {
            match key {
                FrameKey::Plain {
                    product,
                    shifts,
                    to_start,
                    custom_shift,
                    ..
                } => frames.push(self.plain_frame(&product, &leaves, &shifts, to_start, custom_shift)?),
                FrameKey::SemiAdditive(i) => frames.push(self.semi_additive_frame(i)?),
                FrameKey::Cumulative {
                    product,
                    shifts,
                    window,
                    period_agg: None,
                    to_start,
                    ..
                } => frames.push(self.cumulative_frame(&product, &leaves, &shifts, window, to_start)?),
                FrameKey::Cumulative {
                    product,
                    shifts,
                    window,
                    period_agg: Some(agg),
                    every_day,
                    to_start,
                    ..
                } => frames.push(self.daily_cumulative_frame(
                    &product,
                    &leaves,
                    &shifts,
                    window,
                    (agg, every_day),
                    to_start,
                )?),
                FrameKey::Conversion { kpi, shifts } => frames.extend(self.conversion_frames(&kpi, &leaves, &shifts)?),
            }
        }
        Ok(frames)
    }

    /// Scan a product, restricted to the tenant, joined to the products `needed` names.
    ///
    /// Joins nest as MetricFlow's do: each joined product comes with the products joined
    /// through it, and a condition a deeper product has on an ancestor (equal partitions,
    /// validity at the root's time) is part of the join at that ancestor, so a deeper row
    /// that does not match drops the whole path, not only itself. Where other products are
    /// joined through the same path, the conditioned one joins by a path of its own.
    pub(super) fn scan(&mut self, product: &str, needed: &BTreeSet<String>) -> Result<LogicalPlanBuilder> {
        let scope = self.scope(product)?.scope.clone();
        let members = scope.closure(needed);
        self.scan_subtree(product, &scope, &members, 0)
    }

    /// Member `i` of `scope`, joined to its children among `members`, each with its own.
    fn scan_subtree(
        &mut self,
        root: &str,
        scope: &crate::model::Scope,
        members: &[usize],
        i: usize,
    ) -> Result<LogicalPlanBuilder> {
        let member = &scope.members[i];
        let table = self.catalog.table(&member.product)?;
        let mut b = LogicalPlanBuilder::scan(
            member.qualifier.as_str(),
            provider_as_source(table.provider.clone()),
            None,
        )
        .map_err(pe)?;
        let contract = &self.project.products[&member.product];
        if let (Some(tenant), Some(tc)) = (&self.query.tenant, &contract.tenant_column) {
            // Directly above the scan, below every user expression.
            b = b
                .filter(column(&member.qualifier, tc).eq(lit(tenant.as_str())))
                .map_err(pe)?;
        }
        let children: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&c| scope.members[c].join.as_ref().is_some_and(|j| j.parent == i))
            .collect();
        if i == 0 && self.joins == JoinType::Full && !children.is_empty() {
            // Marks the root's rows, which a full join does not keep apart from a joined
            // product's rows that match none.
            let mut columns: Vec<Expr> = b.schema().columns().into_iter().map(Expr::Column).collect();
            columns.push(lit(true).alias(super::ROOT_ROW));
            b = b.project(columns).map_err(pe)?;
        }
        for c in children {
            // A deeper product partitioned like this one joins by its own path from here
            // (validity at the root's time keeps dropping the whole path), as MetricFlow joins each
            // model in its own subquery: a row of it that does not match then drops only
            // itself, not the other products reached through the same path.
            let mut split = Vec::new();
            for &d in members.iter().filter(|&&d| d != c && descends_from(scope, d, c)) {
                if self.has_condition_at(scope, d, i) {
                    split.push(d);
                }
            }
            let all = split.clone();
            split.retain(|&d| !all.iter().any(|&a| a != d && descends_from(scope, d, a)));
            // With nothing else joined through c but the path to them, they stay in one
            // subquery with c, whose own columns MetricFlow reads from it too.
            let on_path = |m: usize| split.iter().any(|&d| m != d && descends_from(scope, d, m));
            let others = members.iter().any(|&m| {
                descends_from(scope, m, c) && !on_path(m) && !split.iter().any(|&d| descends_from(scope, m, d))
            });
            if !others {
                split.clear();
            }
            let main: Vec<usize> = members
                .iter()
                .copied()
                .filter(|&m| !split.iter().any(|&d| descends_from(scope, m, d)))
                .collect();
            b = self.join_subtree(root, scope, &main, i, c, b)?;
            for d in split {
                // The path from c to d, its products named apart from the main path's.
                let mut branch_scope = scope.clone();
                let mut branch: Vec<usize> = members
                    .iter()
                    .copied()
                    .filter(|&m| descends_from(scope, m, d))
                    .collect();
                let mut at = scope.members[d].join.as_ref().map(|j| j.parent);
                while let Some(x) = at {
                    if !descends_from(scope, x, c) {
                        break;
                    }
                    let alias = format!("{}__to__{}", scope.members[x].qualifier, scope.members[d].qualifier);
                    branch_scope.members[x].qualifier = alias;
                    branch.push(x);
                    at = scope.members[x].join.as_ref().map(|j| j.parent);
                }
                branch.sort_unstable();
                b = self.join_subtree(root, &branch_scope, &branch, i, c, b)?;
            }
        }
        Ok(b)
    }

    /// Whether member `d` has a partition condition on member `i`.
    fn has_condition_at(&self, scope: &crate::model::Scope, d: usize, i: usize) -> bool {
        self.partition_matches(scope, d).iter().any(|(at, _)| *at == i)
    }

    /// `b` (member `i`'s rows) joined to child `c` with the members of `members` joined
    /// through it, on c's entity and the conditions those members have on member `i`.
    fn join_subtree(
        &mut self,
        root: &str,
        scope: &crate::model::Scope,
        members: &[usize],
        i: usize,
        c: usize,
        b: LogicalPlanBuilder,
    ) -> Result<LogicalPlanBuilder> {
        let member = &scope.members[i];
        let sub = self.scan_subtree(root, scope, members, c)?;
        let Some(join) = scope.members[c].join.clone() else {
            return Err(CanaryError::internal("a joined member without a join"));
        };
        let keys = (
            vec![entity_key(
                self.project,
                &member.product,
                &member.qualifier,
                &join.left_column,
                join.left_expr.as_deref(),
            )?],
            vec![entity_key(
                self.project,
                &scope.members[c].product,
                &scope.members[c].qualifier,
                &join.right_column,
                join.right_expr.as_deref(),
            )?],
        );
        // The conditions of c and of the products joined through it that read this one.
        let mut on = Vec::new();
        for &d in members.iter().filter(|&&d| descends_from(scope, d, c)) {
            on.extend(
                self.partition_matches(scope, d)
                    .into_iter()
                    .filter(|(at, _)| *at == i)
                    .map(|(_, e)| e),
            );
            if i == 0
                && let Some(valid) = self.valid_at_root_time(root, &scope.members[d])?
            {
                on.push(valid);
            }
        }
        b.join_with_expr_keys(sub.build().map_err(pe)?, self.joins, keys, conjunction(on))
            .map_err(pe)
    }

    /// For a product with history, the rows valid at the root product's time:
    /// `start <= t AND (t < end OR end IS NULL)`.
    fn valid_at_root_time(&mut self, root: &str, member: &crate::model::Member) -> Result<Option<Expr>> {
        let project = self.project;
        let Some((start, end)) = project.products[&member.product].validity.clone() else {
            return Ok(None);
        };
        let Some(time) = project.products[root].time_dimension.clone() else {
            return Err(CanaryError::query_hint(
                format!(
                    "`{}` keeps history, so joining it needs the time of `{root}`, which has no time dimension",
                    member.product
                ),
                format!("set `time_dimension:` on product `{root}`"),
            ));
        };
        let scope = self.scope(root)?;
        let resolve = |name: String| {
            scope
                .dimension(project, &name)
                .map(|d| super::time::ts(d.expr))
                .map_err(|e| CanaryError::internal(e.to_string()))
        };
        let t = resolve(format!("{root}.{time}"))?;
        let start = resolve(format!("{}.{start}", member.product))?;
        let end = resolve(format!("{}.{end}", member.product))?;
        Ok(Some(start.lt_eq(t.clone()).and(t.lt(end.clone()).or(end.is_null()))))
    }

    /// Join the value of a KPI per entity (`__kpi__K__per__E`) to the rows of `product`,
    /// on the product's entity E: the KPI computed by E over all time (NULL where E has none).
    pub(super) fn join_entity_metric(
        &mut self,
        product: &str,
        b: LogicalPlanBuilder,
        name: &str,
    ) -> Result<LogicalPlanBuilder> {
        let Some((kpi, entity)) = super::planner::entity_metric_parts(name) else {
            return Err(CanaryError::query(format!("cannot read `{name}`")));
        };
        let project = self.project;
        let Some(e) = project.products[product].entities.get(&entity) else {
            return Err(CanaryError::query(format!(
                "`{name}`: `{entity}` is not an entity of `{product}`"
            )));
        };
        let query = super::Query {
            kpis: vec![kpi.clone()],
            by: vec![entity.clone()],
            tenant: self.query.tenant.clone(),
            custom_grains: self.query.custom_grains.clone(),
            ..super::Query::default()
        };
        let sub = Planner::new(project, self.catalog, &query)
            .and_then(|p| p.plan(None))
            .map_err(|err| CanaryError::query(format!("`{name}`: {err}")))?;
        let key = format!("{name}__key");
        let values = LogicalPlanBuilder::from(sub.plan)
            .project(vec![
                ident(&entity).alias(&key),
                datafusion::logical_expr::cast(ident(&kpi), datafusion::arrow::datatypes::DataType::Float64)
                    .alias(name),
            ])
            .and_then(LogicalPlanBuilder::build)
            .map_err(pe)?;
        let own_key = entity_key(project, product, product, &e.column, e.expr.as_deref())?;
        let (b, own_key) = column_key(b, own_key, &format!("{name}__own_key"))?;
        b.join_with_expr_keys(values, JoinType::Left, (vec![own_key], vec![ident(key)]), None)
            .map_err(pe)
    }

    /// Join every KPI-per-entity column (`__kpi__K__per__E`) that `exprs` read to the rows
    /// of `product`.
    pub(super) fn join_entity_metrics(
        &mut self,
        product: &str,
        mut b: LogicalPlanBuilder,
        exprs: &[&Expr],
    ) -> Result<LogicalPlanBuilder> {
        let mut names: BTreeSet<String> = BTreeSet::new();
        for e in exprs {
            for c in e.column_refs() {
                if c.relation.is_none() && c.name.starts_with(crate::model::ENTITY_METRIC_PREFIX) {
                    names.insert(c.name.clone());
                }
            }
        }
        for name in names {
            b = self.join_entity_metric(product, b, &name)?;
        }
        Ok(b)
    }

    /// Equality of each partition dimension member `m` shares (by name) with its nearest
    /// ancestor in the scope that has it, with that ancestor's index.
    fn partition_matches(&self, scope: &crate::model::Scope, m: usize) -> Vec<(usize, Expr)> {
        let plain = |e: &str| e.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let member = &scope.members[m];
        let product = &self.project.products[&member.product];
        let mut all = Vec::new();
        for (name, dim) in product.dimensions.iter().filter(|(_, d)| d.partition && plain(&d.expr)) {
            let mut at = member.join.as_ref().map(|j| j.parent);
            while let Some(i) = at {
                let ancestor = &scope.members[i];
                let theirs = self.project.products[&ancestor.product]
                    .dimensions
                    .get(name)
                    .filter(|d| d.partition && plain(&d.expr));
                if let Some(d) = theirs {
                    all.push((
                        i,
                        column(&ancestor.qualifier, &d.expr).eq(column(&member.qualifier, &dim.expr)),
                    ));
                    break;
                }
                at = ancestor.join.as_ref().map(|j| j.parent);
            }
        }
        all
    }

    /// The UTC time expression a measure aggregates over, checked against the grain.
    pub(super) fn time_expr(&mut self, product: &str, measure: &str) -> Result<Expr> {
        let p = &self.project.products[product];
        let m = &p.measures[measure];
        let Some(name) = p.measure_time_dimension(m).map(str::to_owned) else {
            return Err(CanaryError::query_hint(
                format!(
                    "`{product}.{measure}` has no time dimension, so it cannot be grouped by period or limited to a range"
                ),
                format!("set `time_dimension:` on product `{product}`"),
            ));
        };
        if let (Some(g), Some(fine)) = (self.query.grain, p.dimensions[&name].granularity)
            && g < fine
        {
            return Err(CanaryError::query(format!(
                "grain `{g}` is finer than `{product}.{name}`, which is recorded by {fine}"
            )));
        }
        Ok(self.recorded_time(product, measure)?.0)
    }

    /// The UTC time a measure aggregates over, whatever the grain, with the granularity its
    /// time dimension declares.
    pub(super) fn recorded_time(&mut self, product: &str, measure: &str) -> Result<(Expr, Option<Grain>)> {
        let p = &self.project.products[product];
        let Some(name) = p.measure_time_dimension(&p.measures[measure]).map(str::to_owned) else {
            return Err(CanaryError::query(format!(
                "`{product}.{measure}` has no time dimension"
            )));
        };
        let granularity = p.dimensions[&name].granularity;
        let project = self.project;
        let d = self
            .scope(product)?
            .dimension(project, &format!("{product}.{name}"))
            .map_err(|e| CanaryError::internal(e.to_string()))?;
        Ok((ts(d.expr), granularity))
    }

    pub(super) fn measure_value(&mut self, product: &str, measure: &Measure) -> Result<Expr> {
        let parsed = match &measure.expr {
            Some(sql) => Some(
                self.scope(product)?
                    .parse(sql)
                    .map_err(|e| CanaryError::internal(e.to_string()))?,
            ),
            None => None,
        };
        Ok(value_expr(measure, parsed))
    }

    /// Whether `shifts` move rows rather than periods: when there is no grain, or a shift
    /// does not map periods of the grain onto periods (5 days at month grain). Rows are then
    /// moved at day grain (finer if the grain or a shift is) and aggregated after. Also
    /// when the query groups by another form of `metric_time` (a coarser grain, a date part,
    /// a custom granularity): those are read from the moved time, not the row's own.
    pub(super) fn shifts_rows(&self, shifts: &[CalendarDuration]) -> bool {
        !shifts.is_empty()
            && match self.query.grain {
                None => true,
                Some(g) => {
                    shifts.iter().any(|d| !super::time::offset_fits_grain(*d, g)) || !self.metric_time_bys().is_empty()
                }
            }
    }

    /// The conjuncts of the filter `sql`, each over `period` when it reads `metric_time` and
    /// nothing else (`None` otherwise).
    pub(super) fn period_conjuncts(&mut self, product: &str, sql: &str) -> Result<Vec<Option<Expr>>> {
        // Columns of KPIs per entity (`Metric(...)` filters) parse too; they are not
        // conjuncts on metric_time alone.
        let mut extras = super::entity_metric_columns(sql);
        extras.push((super::planner::METRIC_TIME.to_owned(), super::time::ts_type()));
        let raw = self
            .scope(product)?
            .parse_with_extras(sql, &extras)
            .map_err(|e| CanaryError::query(format!("--where: {e}")))?;
        split_conjunction_owned(raw)
            .into_iter()
            .map(|p| {
                let columns = p.column_refs();
                if columns.is_empty() || columns.iter().any(|c| c.name != super::planner::METRIC_TIME) {
                    return Ok(None);
                }
                p.transform(|x| match &x {
                    Expr::Column(c) if c.name == super::planner::METRIC_TIME => {
                        Ok(datafusion::common::tree_node::Transformed::yes(ident(PERIOD_COLUMN)))
                    }
                    _ => Ok(datafusion::common::tree_node::Transformed::no(x)),
                })
                .map(|t| Some(t.data))
                .map_err(pe)
            })
            .collect()
    }

    pub(super) fn group_exprs(period: &Option<Expr>, dims: &[(String, Expr)]) -> Vec<Expr> {
        period
            .iter()
            .map(|p| p.clone().alias(PERIOD_COLUMN))
            .chain(dims.iter().map(|(n, e)| e.clone().alias(n)))
            .collect()
    }

    /// Move the period of a frame forward by `shifts`.
    /// A value computed per period (cumulative, conversion) can only move by whole periods:
    /// an offset finer than the query's grain (`2 days` at `month`) would move its period
    /// labels off the grain. Refused until such values are computed at the offset's grain.
    pub(super) fn whole_period_shifts(&self, shifts: &[CalendarDuration], what: &str) -> Result<()> {
        let Some(grain) = self.query.grain else {
            return Ok(());
        };
        if let Some(d) = shifts.iter().find(|d| d.unit < grain) {
            return Err(CanaryError::query_hint(
                format!("an offset of {d} on a {what} value at grain `{grain}` is not supported yet"),
                format!("query at grain `{}` or finer", d.unit),
            ));
        }
        Ok(())
    }

    pub(super) fn shifted(
        &self,
        b: LogicalPlanBuilder,
        shifts: &[CalendarDuration],
        values: &[String],
    ) -> Result<LogicalPlanBuilder> {
        let Some(grain) = self.query.grain.filter(|_| !shifts.is_empty()) else {
            return Ok(b);
        };
        if shifts_clamp(shifts, grain) {
            // Each output period takes the value of the period `shifts` before it. Month
            // arithmetic clamps at month ends, so that is not always `period + shifts`:
            // try the next few days and keep those that map back onto the period.
            let offsets = day_counter(4i32)?;
            let candidate = shift_expr(ident(PERIOD_COLUMN), shifts)
                + datafusion::logical_expr::cast(
                    ident("_k") * lit(86_400_000_000i64),
                    datafusion::arrow::datatypes::DataType::Duration(
                        datafusion::arrow::datatypes::TimeUnit::Microsecond,
                    ),
                );
            let mut projection = vec![candidate.clone().alias("_candidate")];
            projection.push(ident(PERIOD_COLUMN));
            projection.extend(self.query.by.iter().map(ident));
            projection.extend(values.iter().map(ident));
            let mut out = vec![ident("_candidate").alias(PERIOD_COLUMN)];
            out.extend(self.query.by.iter().map(ident));
            out.extend(values.iter().map(ident));
            return b
                .cross_join(offsets)
                .and_then(|b| b.project(projection))
                .and_then(|b| b.filter(unshift_expr(ident("_candidate"), shifts).eq(ident(PERIOD_COLUMN))))
                .and_then(|b| b.project(out))
                .map_err(pe);
        }
        let mut projection = vec![shift_expr(ident(PERIOD_COLUMN), shifts).alias(PERIOD_COLUMN)];
        projection.extend(self.query.by.iter().map(ident));
        projection.extend(values.iter().map(ident));
        b.project(projection).map_err(pe)
    }

    /// Each leaf's (index, measure, value expression, filter), and the filters alone.
    #[allow(clippy::type_complexity)]
    pub(super) fn leaf_measures(
        &mut self,
        product: &str,
        leaves: &[usize],
    ) -> Result<(Vec<(usize, Measure, Expr, Option<Expr>)>, Vec<Expr>)> {
        let mut measures = Vec::new();
        let mut filters = Vec::new();
        for &i in leaves {
            let measure = self.project.products[product].measures[&self.leaves[i].key.input.measure].clone();
            let value = self.measure_value(product, &measure)?;
            let filter = self.leaf_filter(product, i)?;
            filters.extend(filter.clone());
            measures.push((i, measure, value, filter));
        }
        Ok((measures, filters))
    }

    /// A leaf's KPI filter over the rows; `metric_time` in it is the time of the row.
    pub(super) fn leaf_filter(&mut self, product: &str, i: usize) -> Result<Option<Expr>> {
        let Some(sql) = self.leaves[i].key.input.filter.clone() else {
            return Ok(None);
        };
        let time = if sql.contains(super::planner::METRIC_TIME) {
            let measure = self.leaves[i].key.input.measure.clone();
            Some(self.time_expr(product, &measure)?)
        } else {
            None
        };
        Ok(Some(self.parse_with_time(
            product,
            &sql,
            "KPI filter",
            time.as_ref(),
        )?))
    }

    fn plain_frame(
        &mut self,
        product: &str,
        leaves: &[usize],
        shifts: &[CalendarDuration],
        to_start: Option<Grain>,
        custom_shift: Option<(i64, String)>,
    ) -> Result<Frame> {
        let (inputs, filters) = self.leaf_measures(product, leaves)?;
        let values: Vec<String> = leaves.iter().map(|&i| self.leaves[i].column.clone()).collect();
        let first = self.leaves[leaves[0]].key.input.measure.clone();
        let row_shift = self.shifts_rows(shifts);
        // `start of G` at grain G is the period itself, as in MetricFlow (a month starts
        // its month): its whole value, not its first day's.
        let to_start = to_start.filter(|g| self.query.grain != Some(*g));
        // Shifted periods: filters on metric_time alone select output periods.
        let defer = !shifts.is_empty() && !row_shift && self.query.grain.is_some();
        let Rows {
            builder: mut b,
            period,
            dims,
            deferred,
        } = self.rows(
            product,
            &first,
            shifts,
            &filters,
            None,
            RowOptions {
                defer_time: defer,
                row_shift,
                to_start,
                custom_shift,
            },
        )?;
        if filters.len() == leaves.len()
            && let Some(any) = filters.iter().cloned().reduce(Expr::or)
        {
            // When every value is filtered, a group exists only where some row passes a
            // filter (as if each were aggregated on its own): rows passing none go first.
            b = b.filter(any).map_err(pe)?;
        }
        let aggs = inputs
            .into_iter()
            .map(|(i, measure, value, filter)| {
                aggregate(&measure, value, filter, b.schema()).map(|a| a.alias(&self.leaves[i].column))
            })
            .collect::<datafusion::common::Result<Vec<_>>>()
            .map_err(pe)?;
        let b = b.aggregate(Self::group_exprs(&period, &dims), aggs).map_err(pe)?;
        let mut b = if row_shift {
            b
        } else {
            self.shifted(b, shifts, &values)?
        };
        if let Some(f) = deferred {
            b = b.filter(f).map_err(pe)?;
        }
        Ok(Frame {
            plan: b.build().map_err(pe)?,
            values,
            anchor: true,
        })
    }

    fn semi_additive_frame(&mut self, i: usize) -> Result<Frame> {
        let key = self.leaves[i].key.clone();
        let product = key.input.product.as_str();
        let p = self.project.products[product].clone();
        let measure = p.measures[&key.input.measure].clone();
        let Some(na) = measure.non_additive.clone() else {
            return Err(CanaryError::internal("semi-additive frame without settings"));
        };
        let value = self.measure_value(product, &measure)?;
        let filter = self.leaf_filter(product, i)?;
        let project = self.project;
        let snapshot = ts(self
            .scope(product)?
            .dimension(project, &format!("{product}.{}", na.dimension))
            .map_err(|e| CanaryError::internal(e.to_string()))?
            .expr);
        let extra: Vec<Expr> = filter.iter().cloned().chain([snapshot.clone()]).collect();
        let row_shift = self.shifts_rows(&key.shifts);
        let Rows {
            builder: mut b,
            period,
            dims,
            ..
        } = self.rows(
            product,
            &key.input.measure,
            &key.shifts,
            &extra,
            None,
            RowOptions {
                defer_time: false,
                row_shift,
                to_start: None,
                custom_shift: None,
            },
        )?;
        if let Some(f) = filter {
            b = b.filter(f).map_err(pe)?;
        }
        let mut projection = Self::group_exprs(&period, &dims);
        projection.push(snapshot.alias("_snap"));
        for e in &na.per {
            let key = &p.entities[e];
            projection.push(
                entity_key(self.project, product, product, &key.column, key.expr.as_deref())?
                    .alias(format!("_per_{e}")),
            );
        }
        projection.push(value.alias("_val"));
        b = b.project(projection).map_err(pe)?;
        let mut partition: Vec<Expr> = Vec::new();
        if period.is_some() {
            partition.push(ident(PERIOD_COLUMN));
        }
        partition.extend(self.query.by.iter().map(ident));
        partition.extend(na.per.iter().map(|e| ident(format!("_per_{e}"))));
        let pick = match na.window {
            NonAdditiveWindow::Last => datafusion::functions_aggregate::min_max::max_udaf(),
            NonAdditiveWindow::First => datafusion::functions_aggregate::min_max::min_udaf(),
        };
        let window = Expr::WindowFunction(Box::new(WindowFunction::new(
            WindowFunctionDefinition::AggregateUDF(pick),
            vec![ident("_snap")],
        )))
        .partition_by(partition)
        .build()
        .map_err(pe)?
        .alias("_pick");
        b = b
            .window(vec![window])
            .map_err(pe)?
            .filter(ident("_snap").eq(ident("_pick")))
            .map_err(pe)?;
        let keys: Vec<Expr> = period
            .iter()
            .map(|_| ident(PERIOD_COLUMN))
            .chain(self.query.by.iter().map(ident))
            .collect();
        let column_name = self.leaves[i].column.clone();
        let total = aggregate(&measure, ident("_val"), None, b.schema()).map_err(pe)?;
        let b = b.aggregate(keys, vec![total.alias(&column_name)]).map_err(pe)?;
        let values = vec![column_name];
        let b = if row_shift {
            b
        } else {
            self.shifted(b, &key.shifts, &values)?
        };
        Ok(Frame {
            plan: b.build().map_err(pe)?,
            values,
            anchor: true,
        })
    }
}

/// A join key that reads no column (a constant computed key, `expr: 1`) cannot be matched
/// by a join: it becomes a column of `b` named `name` first.
fn column_key(b: LogicalPlanBuilder, key: Expr, name: &str) -> Result<(LogicalPlanBuilder, Expr)> {
    if !key.column_refs().is_empty() {
        return Ok((b, key));
    }
    let mut columns: Vec<Expr> = b.schema().columns().into_iter().map(Expr::Column).collect();
    columns.push(key.alias(name));
    Ok((b.project(columns).map_err(pe)?, ident(name)))
}

/// Whether member `d` is `c` or joined through it.
fn descends_from(scope: &crate::model::Scope, d: usize, c: usize) -> bool {
    let mut at = Some(d);
    while let Some(i) = at {
        if i == c {
            return true;
        }
        at = scope.members[i].join.as_ref().map(|j| j.parent);
    }
    false
}
