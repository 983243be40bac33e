//! Cumulative frames: running totals over a generated time spine, per period (the window
//! ends with each period) or per day and then one daily value per period (`period_agg`).

use chrono::{DateTime, Utc};
use datafusion::common::JoinType;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, ident, lit};

use super::PERIOD_COLUMN;
use super::aggregate::{aggregate, masked, split};
use super::planner::{Frame, Planner};
use super::rows::{RowOptions, Rows, pe};
use super::time::{SpineRow, spine, spine_plan, truncate, unshift};
use crate::error::{CanaryError, Result};
use crate::model::{CalendarDuration, CumulativeWindow, Grain, Measure, PeriodAgg};

impl Planner<'_> {
    pub(super) fn cumulative_frame(
        &mut self,
        product: &str,
        leaves: &[usize],
        shifts: &[CalendarDuration],
        window: CumulativeWindow,
        to_start: Option<Grain>,
    ) -> Result<Frame> {
        let Some(grain) = self.query.grain else {
            return Err(CanaryError::query_hint("cumulative KPIs need a grain", "pass --grain"));
        };
        // No range and no data to take one from: plan one period and return no rows.
        let (from, to, no_data) = match self.spine_range {
            Some((from, to)) => (from, to, false),
            None => {
                let start = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
                (start, grain.add(start, 1), true)
            }
        };
        let out_range = (from, to);
        let from = self.start_of_range(grain, to_start, from)?;
        let (from, to, no_data) = match self.shifted_range(from, to, shifts) {
            Some((from, to)) => (from, to, no_data),
            None => (from, grain.add(grain.truncate(from), 1), true),
        };
        let rows = spine(grain, from, to, window)?;
        if rows.is_empty() {
            return Err(CanaryError::query("the range holds no whole period"));
        }
        let data_lo = match window {
            CumulativeWindow::AllTime => None,
            _ => rows.iter().filter_map(|r| r.lo).min(),
        };
        let data_hi = rows.iter().map(|r| r.hi).max();
        let first = self.leaves[leaves[0]].key.input.measure.clone();

        let (measures, filters) = self.leaf_measures(product, leaves)?;
        // Rows are read without the query grain: they are bucketed finer, then windowed.
        let bucket_grain = match window {
            CumulativeWindow::Trailing(d) if d.unit < Grain::Day => d.unit.min(grain),
            _ if grain < Grain::Day => grain,
            _ => Grain::Day,
        };
        let time = self.time_expr(product, &first)?;
        // The rows of every window of the spine; periods come from the spine, not the rows.
        // Shifted values: filters on metric_time alone select output periods.
        let Rows {
            builder: b,
            dims,
            deferred,
            ..
        } = self.rows(
            product,
            &first,
            shifts,
            &filters,
            Some((data_lo, data_hi)),
            RowOptions {
                defer_time: !shifts.is_empty(),
                ..RowOptions::default()
            },
        )?;
        let bucket = truncate(bucket_grain, time.clone()).alias("_t");
        let mut splits = Vec::new();
        for (_, measure, value, filter) in &measures {
            splits.push(split(measure, value.clone(), filter.clone(), b.schema()).map_err(pe)?);
        }
        let dim_keys: Vec<Expr> = dims.iter().map(|(n, _)| ident(n)).collect();
        let (rows_plan, finals): (LogicalPlanBuilder, Vec<Expr>) = if splits.iter().all(Option::is_some) {
            // Two phases: partial aggregates per bucket, combined per spine period.
            let mut group = vec![bucket];
            group.extend(dims.iter().map(|(n, e)| e.clone().alias(n)));
            let mut partials = Vec::new();
            let mut finals = Vec::new();
            for ((i, ..), s) in measures.iter().zip(splits.into_iter().flatten()) {
                let col = self.leaves[*i].column.clone();
                let mut names = Vec::new();
                for (e, suffix) in s.partials {
                    let name = format!("{col}{suffix}_p");
                    partials.push(e.alias(&name));
                    names.push(ident(name));
                }
                finals.push((s.finish)(&names).alias(col));
            }
            (b.aggregate(group, partials).map_err(pe)?, finals)
        } else {
            // One phase: keep rows, with each measure's value masked by its filter.
            self.masked_measures(b, time.clone(), &dims, &measures)?
        };
        let mut on = vec![ident("_t").lt(ident("_hi"))];
        if window != CumulativeWindow::AllTime {
            on.push(ident("_t").gt_eq(ident("_lo")));
        }
        let joined = spine_plan(&rows)
            .map_err(pe)?
            .join_on(rows_plan.build().map_err(pe)?, JoinType::Inner, on)
            .map_err(pe)?;
        let mut group = vec![ident(PERIOD_COLUMN)];
        group.extend(dim_keys);
        let values: Vec<String> = leaves.iter().map(|&i| self.leaves[i].column.clone()).collect();
        let mut b = joined.aggregate(group, finals).map_err(pe)?;
        if no_data {
            b = b.filter(lit(false)).map_err(pe)?;
        }
        if let Some(g) = to_start {
            b = to_start_of(b, grain, g, out_range)?;
        }
        self.whole_period_shifts(shifts, "cumulative")?;
        let mut b = self.shifted(b, shifts, &values)?;
        if let Some(f) = deferred {
            b = b.filter(f).map_err(pe)?;
        }
        Ok(Frame {
            plan: b.build().map_err(pe)?,
            values,
            anchor: true,
        })
    }

    /// A cumulative KPI computed per day (or finer grain) over the time spine, each day
    /// covering the data in `(day - window, day]`, then one daily value per period
    /// (`period_agg`). Time dimensions of the measure come from the spine day, and filters on
    /// `metric_time` alone select output days.
    pub(super) fn daily_cumulative_frame(
        &mut self,
        product: &str,
        leaves: &[usize],
        shifts: &[CalendarDuration],
        window: CumulativeWindow,
        (agg, every_day): (PeriodAgg, bool),
        to_start: Option<Grain>,
    ) -> Result<Frame> {
        // Grouped by a custom granularity of metric_time instead of a grain: per day, then
        // one value per custom period.
        let Some(grain) = self.query.grain.or(self.custom_period_day()) else {
            return Err(CanaryError::internal("a daily cumulative frame without a grain"));
        };
        let per_period = self.query.grain.is_some();
        // Values are per day, or per unit of the measure's time when that is finer.
        let first = self.leaves[leaves[0]].key.input.measure.clone();
        let p = &self.project.products[product];
        let recorded = p
            .measures
            .get(&first)
            .and_then(|m| p.measure_time_dimension(m))
            .and_then(|t| p.dimensions.get(t))
            .and_then(|d| d.granularity)
            .unwrap_or(Grain::Day);
        let mut bucket = grain.min(recorded.min(Grain::Day));
        if let CumulativeWindow::Trailing(d) = window {
            bucket = bucket.min(d.unit);
        }
        let (from, to, no_data) = match self.spine_range {
            Some((from, to)) => (from, to, false),
            None => {
                let start = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
                (start, grain.add(start, 1), true)
            }
        };
        // A calendar (a time spine table) bounds the days, not only the periods.
        let (from, to) = match (self.calendar(), self.from, self.to) {
            (Some((lo, _)), None, _) if lo > from => (bucket.truncate(lo), to),
            _ => (from, to),
        };
        let to = match (self.calendar(), self.to) {
            (Some((_, hi)), None) => to.min(bucket.add(bucket.truncate(hi), 1)),
            _ => to,
        };
        let out_range = (from, to);
        // Values at the start of a period are read day by day, before the period's pick.
        let from = self.start_of_range(bucket, to_start, from)?;
        let (from, to, no_data) = match self.shifted_range(from, to, shifts) {
            Some((from, to)) => (from, to, no_data),
            None => (from, bucket.add(bucket.truncate(from), 1), true),
        };
        let mut rows = Vec::new();
        let mut d = bucket.truncate(from);
        while d < to {
            if rows.len() == super::time::MAX_SPINE_PERIODS {
                return Err(CanaryError::query_hint(
                    format!(
                        "the time spine from {} to {} has more than {} periods of a {bucket}",
                        from.format("%Y-%m-%d"),
                        to.format("%Y-%m-%d"),
                        super::time::MAX_SPINE_PERIODS
                    ),
                    "narrow the range with --from/--to (or the calendar setting), or use a coarser --grain",
                ));
            }
            let hi = bucket.add(d, 1);
            let lo = match window {
                CumulativeWindow::AllTime => None,
                CumulativeWindow::Trailing(w) => Some(bucket.add(w.sub_from(d), 1)),
                CumulativeWindow::GrainToDate(g) => Some(g.truncate(d)),
            };
            rows.push(SpineRow { period: d, lo, hi });
            d = hi;
        }
        if rows.is_empty() {
            return Err(CanaryError::query("the range holds no whole period"));
        }
        let data_lo = rows
            .iter()
            .filter_map(|r| r.lo)
            .min()
            .filter(|_| window != CumulativeWindow::AllTime);
        let data_hi = rows.iter().map(|r| r.hi).max();
        let (measures, filters) = self.leaf_measures(product, leaves)?;
        let time = self.time_expr(product, &first)?;
        let Rows {
            builder: b, deferred, ..
        } = self.rows(
            product,
            &first,
            shifts,
            &filters,
            Some((data_lo, data_hi)),
            RowOptions {
                defer_time: true,
                ..RowOptions::default()
            },
        )?;
        let all_dims = self.dimensions_with(product, &first, Some(&ident(PERIOD_COLUMN)))?;
        let row_dims: Vec<(String, Expr)> = all_dims
            .iter()
            .filter(|(_, _, is_time)| !is_time)
            .map(|(n, e, _)| (n.clone(), e.clone()))
            .collect();
        let time_dims: Vec<(String, Expr)> = all_dims
            .iter()
            .filter(|(_, _, is_time)| *is_time)
            .map(|(n, e, _)| (n.clone(), e.clone()))
            .collect();
        // Rows: bucket, row dimensions, each measure's value masked by its filter.
        let (projected, daily) = self.masked_measures(b, truncate(bucket, time), &row_dims, &measures)?;
        let mut on = vec![ident("_t").lt(ident("_hi"))];
        if window != CumulativeWindow::AllTime {
            on.push(ident("_t").gt_eq(ident("_lo")));
        }
        let mut group = vec![ident(PERIOD_COLUMN)];
        group.extend(row_dims.iter().map(|(n, _)| ident(n)));
        let mut b = spine_plan(&rows)
            .map_err(pe)?
            .join_on(projected.build().map_err(pe)?, JoinType::Inner, on)
            .and_then(|b| b.aggregate(group, daily))
            .map_err(pe)?;
        if every_day {
            // Days without data are candidates too, with no value (MetricFlow joins the
            // daily values to the time spine before it picks).
            b = with_every_period(b, &rows)?;
        }
        if let Some(g) = to_start {
            b = to_start_of(b, bucket, g, out_range)?;
        }
        // An offset finer than the grain (2 days by month) moves the daily values, before
        // each period picks among its days, as MetricFlow does.
        let day_shift = per_period && !shifts.is_empty() && shifts.iter().any(|d| d.unit < grain);
        if day_shift {
            if let Some(d) = shifts.iter().find(|d| d.unit < bucket) {
                return Err(CanaryError::query(format!(
                    "an offset of {d} on a cumulative value computed per {bucket} is not supported yet"
                )));
            }
            let moved: Vec<Expr> = b
                .schema()
                .columns()
                .into_iter()
                .map(|c| {
                    if c.name == PERIOD_COLUMN {
                        super::time::shift_expr(ident(PERIOD_COLUMN), shifts).alias(PERIOD_COLUMN)
                    } else {
                        Expr::Column(c)
                    }
                })
                .collect();
            b = b.project(moved).map_err(pe)?;
        }
        // Filters on metric_time select days; a shifted value's, the days it is shifted to.
        let (deferred, after_shift) = if shifts.is_empty() || day_shift {
            (deferred, None)
        } else {
            (None, deferred)
        };
        if let Some(f) = deferred {
            b = b.filter(f).map_err(pe)?;
        }
        if no_data {
            b = b.filter(lit(false)).map_err(pe)?;
        }
        let values: Vec<String> = leaves.iter().map(|&i| self.leaves[i].column.clone()).collect();
        // One value per output period, from its days.
        let mut keys = Vec::new();
        if per_period {
            keys.push(truncate(grain, ident(PERIOD_COLUMN)).alias(PERIOD_COLUMN));
        }
        keys.extend(row_dims.iter().map(|(n, _)| ident(n)));
        keys.extend(time_dims.iter().map(|(n, e)| e.clone().alias(n)));
        let order = || vec![ident(PERIOD_COLUMN).sort(true, false)];
        let picks: Vec<Expr> = values
            .iter()
            .map(|v| {
                match agg {
                    PeriodAgg::First => datafusion::functions_aggregate::expr_fn::first_value(ident(v), order()),
                    PeriodAgg::Last => datafusion::functions_aggregate::expr_fn::last_value(ident(v), order()),
                    PeriodAgg::Average => datafusion::functions_aggregate::expr_fn::avg(ident(v)),
                }
                .alias(v)
            })
            .collect();
        let b = b.aggregate(keys, picks).map_err(pe)?;
        // Back to the query's column order: period, then `by`.
        let mut out = Vec::new();
        if per_period {
            out.push(ident(PERIOD_COLUMN));
        }
        out.extend(self.query.by.iter().map(ident));
        out.extend(values.iter().map(ident));
        let b = b.project(out).map_err(pe)?;
        let mut b = if day_shift {
            b
        } else {
            self.whole_period_shifts(shifts, "cumulative")?;
            self.shifted(b, shifts, &values)?
        };
        if let Some(f) = after_shift {
            b = b.filter(f).map_err(pe)?;
        }
        Ok(Frame {
            plan: b.build().map_err(pe)?,
            values,
            anchor: true,
        })
    }

    /// Where a cumulative frame's periods start: at `from`, or with a `start of GRAIN`
    /// offset, at the start of `from`'s GRAIN, which must be a period of `grain` (with
    /// [`Query::shifted_cumulatives_within_range`] and a range, still at `from`).
    ///
    /// [`Query::shifted_cumulatives_within_range`]: super::Query::shifted_cumulatives_within_range
    fn start_of_range(&self, grain: Grain, to_start: Option<Grain>, from: DateTime<Utc>) -> Result<DateTime<Utc>> {
        let Some(g) = to_start else {
            return Ok(from);
        };
        // A week does not start every month, nor a month every week.
        let aligned = grain <= Grain::Day || g == grain || (grain >= Grain::Month && g >= grain);
        if g < grain || !aligned {
            return Err(CanaryError::query_hint(
                format!("a cumulative value at the start of each {g} cannot be reported per {grain}"),
                format!("query at grain `day`, or at a grain that every {g} starts"),
            ));
        }
        if self.query.shifted_cumulatives_within_range && self.from.is_some() {
            // MetricFlow's semantics: the values read lie in the range too.
            return Ok(from);
        }
        Ok(g.truncate(from))
    }

    /// The periods a cumulative frame shifted by `shifts` is computed for: `from..to` moved
    /// back by the shifts and, with [`Query::shifted_cumulatives_within_range`], cut to the
    /// query's range as well. `None` when nothing is left.
    ///
    /// [`Query::shifted_cumulatives_within_range`]: super::Query::shifted_cumulatives_within_range
    fn shifted_range(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        shifts: &[CalendarDuration],
    ) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let (mut lo, mut hi) = (unshift(from, shifts), unshift(to, shifts));
        if self.query.shifted_cumulatives_within_range && !shifts.is_empty() {
            lo = self.from.map_or(lo, |f| lo.max(f));
            hi = self.to.map_or(hi, |t| hi.min(t));
        }
        (lo < hi).then_some((lo, hi))
    }

    /// Rows as `_t` (the time), the dimensions, and each measure's value masked by its
    /// filter (`<column>_raw`); with the aggregate of each over those values.
    fn masked_measures(
        &self,
        b: LogicalPlanBuilder,
        time: Expr,
        dims: &[(String, Expr)],
        measures: &[(usize, Measure, Expr, Option<Expr>)],
    ) -> Result<(LogicalPlanBuilder, Vec<Expr>)> {
        let mut projection = vec![time.alias("_t")];
        projection.extend(dims.iter().map(|(n, e)| e.clone().alias(n)));
        for (i, _, value, filter) in measures {
            let raw = format!("{}_raw", self.leaves[*i].column);
            projection.push(masked(value.clone(), filter.clone()).map_err(pe)?.alias(raw));
        }
        let projected = b.project(projection).map_err(pe)?;
        let mut aggregates = Vec::new();
        for (i, measure, ..) in measures {
            let col = self.leaves[*i].column.clone();
            let raw = ident(format!("{col}_raw"));
            aggregates.push(
                aggregate(measure, raw, None, projected.schema())
                    .map_err(pe)?
                    .alias(col),
            );
        }
        Ok((projected, aggregates))
    }
}

/// Each period of `range` at `grain` with the values `b` has at the start of its `to_start`
/// period (`b` has `period`, then dimensions and values).
fn to_start_of(
    b: LogicalPlanBuilder,
    grain: Grain,
    to_start: Grain,
    range: (DateTime<Utc>, DateTime<Utc>),
) -> Result<LogicalPlanBuilder> {
    let periods = spine(grain, range.0, range.1, CumulativeWindow::AllTime)?;
    let out = spine_plan(&periods)
        .and_then(|p| p.project(vec![ident(PERIOD_COLUMN).alias("_out")]))
        .map_err(pe)?;
    let keep: Vec<Expr> = b
        .schema()
        .columns()
        .into_iter()
        .filter(|c| c.name != PERIOD_COLUMN)
        .map(Expr::Column)
        .collect();
    let mut projection = vec![ident("_out").alias(PERIOD_COLUMN)];
    projection.extend(keep);
    out.join_on(
        b.build().map_err(pe)?,
        JoinType::Inner,
        vec![truncate(to_start, ident("_out")).eq(ident(PERIOD_COLUMN))],
    )
    .and_then(|j| j.project(projection))
    .map_err(pe)
}

/// `b` (with a `period` column) and a row for each period of `rows` it has none for, its
/// other columns empty.
fn with_every_period(b: LogicalPlanBuilder, rows: &[SpineRow]) -> Result<LogicalPlanBuilder> {
    let b = b.build().map_err(pe)?;
    let present = LogicalPlanBuilder::from(b.clone())
        .project(vec![ident(PERIOD_COLUMN).alias("_present")])
        .and_then(LogicalPlanBuilder::build)
        .map_err(pe)?;
    let mut projection = Vec::new();
    for field in b.schema().fields() {
        if field.name() == PERIOD_COLUMN {
            projection.push(ident(PERIOD_COLUMN));
        } else {
            let null = datafusion::common::ScalarValue::try_from(field.data_type()).map_err(pe)?;
            projection.push(lit(null).alias(field.name()));
        }
    }
    let missing = spine_plan(rows)
        .and_then(|s| {
            s.join(
                present,
                JoinType::LeftAnti,
                (vec![PERIOD_COLUMN], vec!["_present"]),
                None,
            )
        })
        .and_then(|s| s.project(projection))
        .and_then(LogicalPlanBuilder::build)
        .map_err(pe)?;
    LogicalPlanBuilder::from(b).union(missing).map_err(pe)
}
