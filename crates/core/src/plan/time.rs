//! Time expressions: UTC timestamps, truncation, shifts, and the generated time spine.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{Result, ScalarValue};
use datafusion::functions::datetime::expr_fn::date_trunc;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, cast, lit};

use crate::model::{CalendarDuration, CumulativeWindow, Grain, Offset};

/// The type every time value is normalised to: microseconds, UTC.
pub fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(Arc::from("UTC")))
}

/// `e` as a UTC timestamp.
pub fn ts(e: Expr) -> Expr {
    cast(e, ts_type())
}

/// A UTC timestamp literal.
pub fn ts_lit(t: DateTime<Utc>) -> Expr {
    lit(ScalarValue::TimestampMicrosecond(
        Some(t.timestamp_micros()),
        Some(Arc::from("UTC")),
    ))
}

/// The start of the `grain` period containing `e` (a UTC timestamp expression).
pub fn truncate(grain: Grain, e: Expr) -> Expr {
    date_trunc(lit(grain.as_str()), e)
}

/// An interval literal of `n` units of `grain`.
pub fn interval(grain: Grain, n: i64) -> Expr {
    let n32 = n as i32;
    let v = match grain {
        Grain::Millisecond => ScalarValue::new_interval_mdn(0, 0, n * 1_000_000),
        Grain::Second => ScalarValue::new_interval_mdn(0, 0, n * 1_000_000_000),
        Grain::Minute => ScalarValue::new_interval_mdn(0, 0, n * 60_000_000_000),
        Grain::Hour => ScalarValue::new_interval_mdn(0, 0, n * 3_600_000_000_000),
        Grain::Day => ScalarValue::new_interval_mdn(0, n32, 0),
        Grain::Week => ScalarValue::new_interval_mdn(0, 7 * n32, 0),
        Grain::Month => ScalarValue::new_interval_mdn(n32, 0, 0),
        Grain::Quarter => ScalarValue::new_interval_mdn(3 * n32, 0, 0),
        Grain::Year => ScalarValue::new_interval_mdn(12 * n32, 0, 0),
    };
    lit(v)
}

/// A total shift: a list of offsets applied one after the other, resolved at a grain.
pub fn offset_duration(offset: Offset, grain: Option<Grain>) -> Option<CalendarDuration> {
    match offset {
        Offset::Calendar(d) => Some(d),
        Offset::Periods(n) => grain.map(|unit| CalendarDuration { count: n, unit }),
        Offset::ToStart(_) | Offset::Custom(..) => None,
    }
}

/// Whether shifting by `d` maps the start of every `grain` period onto a period start.
pub fn offset_fits_grain(d: CalendarDuration, grain: Grain) -> bool {
    use Grain::*;
    match grain {
        Millisecond | Second | Minute | Hour => true,
        Day => d.unit != Hour || d.count % 24 == 0,
        Week => d.unit == Week || (d.unit == Day && d.count % 7 == 0),
        Month => matches!(d.unit, Month | Quarter | Year),
        Quarter => matches!(d.unit, Quarter | Year) || (d.unit == Month && d.count % 3 == 0),
        Year => d.unit == Year || (d.unit == Month && d.count % 12 == 0) || (d.unit == Quarter && d.count % 4 == 0),
    }
}

/// Whether calendar shifts at this grain can land two periods on one (month ends:
/// 2024-02-29 + 1 year = 2025-02-28 = 2024-02-28 + 1 year).
pub fn shifts_clamp(shifts: &[CalendarDuration], grain: Grain) -> bool {
    grain <= Grain::Day && shifts.iter().any(|d| d.unit >= Grain::Month)
}

/// `e - d` for each shift, in reverse order.
pub fn unshift_expr(mut e: Expr, shifts: &[CalendarDuration]) -> Expr {
    for d in shifts.iter().rev() {
        e = e - interval(d.unit, d.count);
    }
    e
}

/// `e + d` for each shift.
pub fn shift_expr(mut e: Expr, shifts: &[CalendarDuration]) -> Expr {
    for d in shifts {
        e = e + interval(d.unit, d.count);
    }
    e
}

/// `t - d` for each shift (where the data for a shifted period comes from).
pub fn unshift(mut t: DateTime<Utc>, shifts: &[CalendarDuration]) -> DateTime<Utc> {
    for d in shifts {
        t = d.sub_from(t);
    }
    t
}

/// One period of the time spine: the period start, and the window of data it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpineRow {
    pub period: DateTime<Utc>,
    /// Inclusive lower bound of the data window (`None`: unbounded).
    pub lo: Option<DateTime<Utc>>,
    /// Exclusive upper bound of the data window.
    pub hi: DateTime<Utc>,
}

/// The most periods a time spine may have: a million (2,700 years of days, 114 years of
/// hours). A spine is a `VALUES` list planned in memory; a query past this is refused
/// before any row is made.
pub const MAX_SPINE_PERIODS: usize = 1_000_000;

/// The periods of `grain` covering `[from, to)` and, for each, the data window of a
/// cumulative KPI.
///
/// # Errors
/// A query error when the range holds more than [`MAX_SPINE_PERIODS`] periods.
pub fn spine(
    grain: Grain,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    window: CumulativeWindow,
) -> crate::error::Result<Vec<SpineRow>> {
    let mut rows = Vec::new();
    let mut p = grain.truncate(from);
    while p < to {
        if rows.len() == MAX_SPINE_PERIODS {
            return Err(crate::error::CanaryError::query_hint(
                format!(
                    "the time spine from {} to {} has more than {MAX_SPINE_PERIODS} periods of a {grain}",
                    from.format("%Y-%m-%d"),
                    to.format("%Y-%m-%d")
                ),
                "narrow the range with --from/--to (or the calendar setting), or use a coarser --grain",
            ));
        }
        let hi = grain.add(p, 1);
        let lo = match window {
            CumulativeWindow::AllTime => None,
            CumulativeWindow::Trailing(d) => Some(d.sub_from(hi)),
            CumulativeWindow::GrainToDate(g) => Some(g.truncate(p)),
        };
        rows.push(SpineRow { period: p, lo, hi });
        p = hi;
    }
    Ok(rows)
}

/// The name of the in-memory table a time spine is read from (lineage knows it is no data
/// product).
pub const SPINE_TABLE: &str = "canary_time_spine";

/// The spine as a plan with columns `period`, `_lo`, `_hi`: a scan of an in-memory table,
/// so that a spine of many periods (the hours of years) costs its arrays, not a plan node
/// per value.
pub fn spine_plan(rows: &[SpineRow]) -> Result<LogicalPlanBuilder> {
    use datafusion::arrow::array::{ArrayRef, TimestampMicrosecondArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    let column = |values: Vec<Option<i64>>| -> ArrayRef {
        Arc::new(TimestampMicrosecondArray::from(values).with_timezone("UTC"))
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new(super::PERIOD_COLUMN, ts_type(), false),
        Field::new("_lo", ts_type(), true),
        Field::new("_hi", ts_type(), false),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            column(rows.iter().map(|r| Some(r.period.timestamp_micros())).collect()),
            column(rows.iter().map(|r| r.lo.map(|t| t.timestamp_micros())).collect()),
            column(rows.iter().map(|r| Some(r.hi.timestamp_micros())).collect()),
        ],
    )?;
    let table = datafusion::datasource::MemTable::try_new(schema, vec![vec![batch]])?;
    LogicalPlanBuilder::scan(
        SPINE_TABLE,
        datafusion::datasource::provider_as_source(Arc::new(table)),
        None,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::parse_instant;

    fn t(s: &str) -> DateTime<Utc> {
        parse_instant(s).unwrap()
    }

    #[test]
    fn spine_windows_by_kind() {
        let trailing = CumulativeWindow::Trailing(CalendarDuration {
            count: 7,
            unit: Grain::Day,
        });
        let rows = spine(Grain::Month, t("2024-01-15"), t("2024-03-01"), trailing).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0],
            SpineRow {
                period: t("2024-01-01"),
                lo: Some(t("2024-01-25")),
                hi: t("2024-02-01")
            }
        );
        assert_eq!(rows[1].lo, Some(t("2024-02-23")));

        let mtd = spine(
            Grain::Day,
            t("2024-01-30"),
            t("2024-02-02"),
            CumulativeWindow::GrainToDate(Grain::Month),
        )
        .unwrap();
        let los: Vec<_> = mtd.iter().map(|r| r.lo.unwrap()).collect();
        assert_eq!(los, vec![t("2024-01-01"), t("2024-01-01"), t("2024-02-01")]);
    }

    #[test]
    fn a_spine_past_its_bound_is_refused_before_it_is_made() {
        let days = spine(Grain::Day, t("0001-01-01"), t("9999-12-31"), CumulativeWindow::AllTime);
        let err = days.unwrap_err().to_string();
        assert!(err.contains("more than 1000000 periods of a day"), "{err}");
        let hours = spine(Grain::Hour, t("2000-01-01"), t("2100-01-01"), CumulativeWindow::AllTime).unwrap();
        assert_eq!(hours.len(), 876_600);
    }
}
