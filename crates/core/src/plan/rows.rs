//! The rows of a product for a frame: scan, joins, `--where`, the time range, and rows
//! moved to other days (shifted offsets, the start of a period, custom granularities).

use std::collections::BTreeSet;

use datafusion::logical_expr::{Expr, LogicalPlanBuilder, ident, lit};

use super::planner::Planner;
use super::time::{shift_expr, shifts_clamp, truncate, ts_lit, unshift, unshift_expr};
use crate::error::{CanaryError, Result};
use crate::model::{CalendarDuration, Grain, ScopeSchema};

/// How [`Planner::rows`] treats time.
#[derive(Debug, Clone, Default)]
pub(super) struct RowOptions {
    /// Return the `--where` parts on metric_time alone instead of applying them.
    pub defer_time: bool,
    /// Move rows by the shifts (rather than periods after aggregating).
    pub row_shift: bool,
    /// Give each output period the rows of the day that starts its period of this grain.
    pub to_start: Option<Grain>,
    /// Move each row's day N periods of this custom granularity forward.
    pub custom_shift: Option<(i64, String)>,
}

/// A time range: from (inclusive), to (exclusive), each open when `None`.
pub(super) type TimeRange = (
    Option<chrono::DateTime<chrono::Utc>>,
    Option<chrono::DateTime<chrono::Utc>>,
);

/// The rows of a product for a frame, from [`Planner::rows`].
pub(super) struct Rows {
    pub builder: LogicalPlanBuilder,
    /// The period each row falls in, when the query has a grain.
    pub period: Option<Expr>,
    /// The `by` dimensions, as `(output name, expression)`.
    pub dims: Vec<(String, Expr)>,
    /// The `--where` parts on `metric_time` alone, over `period`, when deferred.
    pub deferred: Option<Expr>,
}

/// The time of each row, from [`Planner::row_time`].
struct RowTime {
    /// As read.
    raw: Option<Expr>,
    /// As the frame uses it (moved, when rows are moved).
    time: Option<Expr>,
    /// Moved rows go to up to four candidate days (shifts that clamp at month ends).
    clamp: bool,
    /// Rows (not periods) are moved.
    row_shift: bool,
    /// The unit rows are bucketed in: the grain, at most a day.
    out_unit: Grain,
}

/// The unit shifted rows are bucketed in: the grain or the finest shift, at most a day.
fn shift_bucket(grain: Option<Grain>, shifts: &[CalendarDuration]) -> Grain {
    shifts
        .iter()
        .fold(grain.unwrap_or(Grain::Day).min(Grain::Day), |b, d| b.min(d.unit))
}

/// A one-column plan `_k` = 0, 1, …, n - 1 (candidate day offsets).
pub(super) fn day_counter(n: i32) -> Result<datafusion::logical_expr::LogicalPlan> {
    LogicalPlanBuilder::values((0..n).map(|k| vec![lit(k)]).collect())
        .and_then(|v| v.project(vec![ident("column1").alias("_k")]))
        .and_then(LogicalPlanBuilder::build)
        .map_err(pe)
}

pub(super) fn split_conjunction_owned(e: Expr) -> Vec<Expr> {
    datafusion::logical_expr::utils::split_conjunction_owned(e)
}

pub(super) fn conjunction(v: Vec<Expr>) -> Option<Expr> {
    datafusion::logical_expr::utils::conjunction(v)
}

pub(super) fn pe(e: datafusion::error::DataFusionError) -> CanaryError {
    CanaryError::plan(e)
}

impl Planner<'_> {
    /// Rows of a product for a frame: scan, joins, `--where`, and the time range; with
    /// `defer_time`, the parts of `--where` on `metric_time` alone are returned (over
    /// `period`) instead of applied to the rows.
    pub(super) fn rows(
        &mut self,
        product: &str,
        measure: &str,
        shifts: &[CalendarDuration],
        extra: &[Expr],
        range: Option<TimeRange>,
        opts: RowOptions,
    ) -> Result<Rows> {
        let t = self.row_time(product, measure, shifts, range.is_some(), &opts)?;
        let dims: Vec<(String, Expr)> = match (&t.time, t.row_shift) {
            (Some(time), true) => self
                .dimensions_with(product, measure, Some(time))?
                .into_iter()
                .map(|(n, e, _)| (n, e))
                .collect(),
            _ => self.dimensions(product, measure)?,
        };
        let (filter, deferred) = self.where_filter(product, t.time.as_ref(), opts.defer_time)?;
        let mut needed = BTreeSet::new();
        for e in dims
            .iter()
            .map(|(_, e)| e)
            .chain(filter.iter())
            .chain(extra.iter())
            .chain(t.time.iter())
        {
            needed.extend(ScopeSchema::qualifiers(e));
        }
        let mut b = self.scan(product, &needed)?;
        let reads: Vec<&Expr> = filter.iter().chain(extra.iter()).collect();
        b = self.join_entity_metrics(product, b, &reads)?;
        b = self.move_rows(b, product, measure, shifts, &t, opts.to_start)?;
        if let Some(w) = filter {
            b = b.filter(w).map_err(pe)?;
        }
        let (lo, hi) = self.row_range(range, shifts, t.row_shift);
        if let Some(time) = &t.time {
            if let Some(lo) = lo {
                b = b.filter(time.clone().gt_eq(ts_lit(lo))).map_err(pe)?;
            }
            if let Some(hi) = hi {
                b = b.filter(time.clone().lt(ts_lit(hi))).map_err(pe)?;
            }
        }
        let period = match (self.query.grain, t.time) {
            (Some(g), Some(time)) => Some(truncate(g, time)),
            _ => None,
        };
        Ok(Rows {
            builder: b,
            period,
            dims,
            deferred,
        })
    }

    /// The time of each row as the frame sees it: as read, or moved (by shifts, to the
    /// start of a period, or by a custom granularity).
    fn row_time(
        &mut self,
        product: &str,
        measure: &str,
        shifts: &[CalendarDuration],
        ranged: bool,
        opts: &RowOptions,
    ) -> Result<RowTime> {
        let wants_time = |s: &str| s.contains(super::planner::METRIC_TIME);
        let row_shift =
            (opts.row_shift && !shifts.is_empty()) || opts.to_start.is_some() || opts.custom_shift.is_some();
        let need_time = self.query.grain.is_some()
            || self.from.is_some()
            || self.to.is_some()
            || ranged
            || row_shift
            || self.query.filter.as_deref().is_some_and(wants_time);
        let raw = if need_time {
            Some(self.time_expr(product, measure)?)
        } else {
            None
        };
        // Moved rows: each row's day `t` goes to every day `d` with `d - shifts = t` (none or
        // several near month ends); `_k` enumerates the candidates.
        let mut clamp = false;
        let out_unit = self.query.grain.unwrap_or(Grain::Day).min(Grain::Day);
        let custom = match &opts.custom_shift {
            Some((n, g)) => Some((
                *n,
                self.query.custom_grains.get(g).cloned().ok_or_else(|| {
                    CanaryError::query(format!("the custom granularity `{g}` has no calendar in this query"))
                })?,
            )),
            None => None,
        };
        let day_offsets = || {
            datafusion::logical_expr::cast(
                ident("_k") * lit(86_400_000_000i64),
                datafusion::arrow::datatypes::DataType::Duration(datafusion::arrow::datatypes::TimeUnit::Microsecond),
            )
        };
        let time = match (&raw, row_shift, opts.to_start) {
            (Some(t), _, _) if custom.is_some() => {
                custom.as_ref().map(|(n, g)| super::custom_shift_expr(g, *n, t.clone()))
            }
            // Period p takes the rows of the day that starts its `g` period: a row on such a
            // day goes to every period start p within that `g` period; `_k` counts days.
            (Some(t), _, Some(_)) => Some(truncate(out_unit, t.clone()) + day_offsets()),
            (Some(t), true, None) => {
                let bucket = shift_bucket(self.query.grain, shifts);
                let base = truncate(bucket, t.clone());
                clamp = shifts_clamp(shifts, bucket);
                let moved = shift_expr(base.clone(), shifts);
                Some(if clamp { moved + day_offsets() } else { moved })
            }
            _ => raw.clone(),
        };
        Ok(RowTime {
            raw,
            time,
            clamp,
            row_shift,
            out_unit,
        })
    }

    /// `--where` over the rows (with `metric_time` as `time`), and with `defer` the
    /// conjuncts on `metric_time` alone set aside, over `period`.
    fn where_filter(
        &mut self,
        product: &str,
        time: Option<&Expr>,
        defer: bool,
    ) -> Result<(Option<Expr>, Option<Expr>)> {
        let Some(sql) = self.query.filter.clone() else {
            return Ok((None, None));
        };
        let filter = self.parse_with_time(product, &sql, "--where", time)?;
        if !defer {
            return Ok((Some(filter), None));
        }
        // Conjuncts on metric_time alone hold for the output period, not the rows.
        let mut keep = Vec::new();
        let mut later = Vec::new();
        for (r, p) in split_conjunction_owned(filter)
            .into_iter()
            .zip(self.period_conjuncts(product, &sql)?)
        {
            match p {
                Some(p) => later.push(p),
                None => keep.push(r),
            }
        }
        Ok((conjunction(keep), conjunction(later)))
    }

    /// Rows moved to other days: only those that can land in the range are read, then
    /// each goes to its candidate days (`_k`).
    fn move_rows(
        &self,
        mut b: LogicalPlanBuilder,
        product: &str,
        measure: &str,
        shifts: &[CalendarDuration],
        t: &RowTime,
        to_start: Option<Grain>,
    ) -> Result<LogicalPlanBuilder> {
        if let (Some(raw), Some(time), Some(g)) = (&t.raw, &t.time, to_start) {
            // The unit a row is read at: an offset to a sub-daily grain (`start of hour`) reads
            // the rows of the hour that starts each output period, not of its whole day.
            let day = truncate(t.out_unit.min(g), raw.clone());
            if let Some(from) = self.from {
                b = b.filter(raw.clone().gt_eq(ts_lit(g.truncate(from)))).map_err(pe)?;
            }
            if let Some(to) = self.to {
                b = b.filter(raw.clone().lt(ts_lit(to))).map_err(pe)?;
            }
            let days: i32 = match g {
                Grain::Week => 7,
                Grain::Month => 31,
                Grain::Quarter => 92,
                Grain::Year => 366,
                _ => 1,
            };
            let offsets = day_counter(days)?;
            // Output days: those starting a period of a queried time grain.
            let mut grains = vec![self.query.grain.unwrap_or(Grain::Day)];
            for name in &self.query.by {
                if let Some((base, m)) = name.split_once(':')
                    && self.is_time_by(product, measure, base)
                    && let Ok(gr) = m.parse::<Grain>()
                {
                    grains.push(gr);
                }
            }
            let starts = grains
                .into_iter()
                .map(|gr| truncate(gr, time.clone()).eq(time.clone()))
                .reduce(Expr::or)
                .unwrap_or_else(|| lit(true));
            b = b
                .filter(day.clone().eq(truncate(g, day.clone())))
                .and_then(|b| b.cross_join(offsets))
                .and_then(|b| b.filter(truncate(g, time.clone()).eq(day.clone())))
                .and_then(|b| b.filter(starts))
                .map_err(pe)?;
        } else if let (Some(raw), Some(time), true) = (&t.raw, &t.time, t.row_shift) {
            let slack = chrono::Duration::days(4);
            if let Some(from) = self.from {
                b = b
                    .filter(raw.clone().gt_eq(ts_lit(unshift(from, shifts) - slack)))
                    .map_err(pe)?;
            }
            if let Some(to) = self.to {
                b = b
                    .filter(raw.clone().lt(ts_lit(unshift(to, shifts) + slack)))
                    .map_err(pe)?;
            }
            if t.clamp {
                let offsets = day_counter(4i32)?;
                let bucket = shift_bucket(self.query.grain, shifts);
                b = b
                    .cross_join(offsets)
                    .and_then(|b| b.filter(unshift_expr(time.clone(), shifts).eq(truncate(bucket, raw.clone()))))
                    .map_err(pe)?;
            }
        }
        Ok(b)
    }

    /// The time range the rows are read in: `range` when given, else the query's, moved
    /// back by the shifts when periods (not rows) are shifted.
    fn row_range(&self, range: Option<TimeRange>, shifts: &[CalendarDuration], row_shift: bool) -> TimeRange {
        match range {
            Some(r) => r,
            None if row_shift => (self.from, self.to),
            None => {
                // Periods near a month end can look back past `to - shifts` (2025-03-29 - 1
                // month = 2025-02-28 = 2025-03-30 - 1 month): read a few days more when
                // shifted; rows outside the range are removed after combining.
                let slack = |t| {
                    if shifts.is_empty() {
                        t
                    } else {
                        t + chrono::Duration::days(4)
                    }
                };
                (
                    self.from.map(|t| unshift(t, shifts)),
                    self.to.map(|t| slack(unshift(t, shifts))),
                )
            }
        }
    }
}
