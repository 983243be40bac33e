//! Measure aggregations as DataFusion aggregate expressions, whole or in two phases.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, Result};
use datafusion::functions_aggregate::expr_fn as f;
use datafusion::logical_expr::{Expr, ExprSchemable, cast, lit, when};

use super::exact_sum::ExactSum;
use super::udaf::Percentile;
use crate::model::{AggKind, Measure};

/// The measure's value expression for one row (`1` for a row count).
pub fn value_expr(measure: &Measure, parsed: Option<Expr>) -> Expr {
    match (measure.agg, parsed) {
        (AggKind::SumBoolean, Some(e)) => cast(e, DataType::Int64),
        (AggKind::Percentile | AggKind::PercentileDisc | AggKind::Median, Some(e)) => cast(e, DataType::Float64),
        (_, Some(e)) => e,
        (_, None) => lit(1i64),
    }
}

/// A sum that gives the same bits whatever the order of the rows, over rows where `filter`
/// holds: exact for floats (see [`ExactSum`]); integers are summed in 128 bits and the
/// total cast back to the sum's type, so a total that does not fit is an error, never a
/// wrapped number (see [`checked`]); 128-bit decimals likewise in 256 bits (DataFusion's
/// own decimal sum returns totals past 38 digits that its type cannot hold).
fn sum(value: Expr, filter: Option<Expr>, schema: &DFSchema) -> Result<Expr> {
    let t = value.get_type(schema)?;
    Ok(match (&t, int_sum_type(&t)) {
        (DataType::Float16 | DataType::Float32 | DataType::Float64, _) => {
            with_filter(ExactSum::udaf().call(vec![cast(value, DataType::Float64)]), filter)
        }
        (_, Some(to)) => checked(with_filter(f::sum(wide(value)), filter), to),
        (DataType::Decimal128(_, scale), _) => {
            let scale = *scale;
            checked(
                with_filter(f::sum(cast(value, DataType::Decimal256(76, scale))), filter),
                DataType::Decimal128(38, scale),
            )
        }
        _ => with_filter(f::sum(value), filter),
    })
}

/// The type DataFusion gives the sum of integers of type `t`: `Int64` for signed integers,
/// `UInt64` for unsigned ones; `None` for other types.
fn int_sum_type(t: &DataType) -> Option<DataType> {
    match t {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => Some(DataType::Int64),
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => Some(DataType::UInt64),
        _ => None,
    }
}

/// An integer as a 128-bit decimal, so that sums of up to 2^64 values of 64 bits are exact.
fn wide(value: Expr) -> Expr {
    cast(value, DataType::Decimal128(38, 0))
}

/// A wide sum back to its integer type: the cast fails when the total does not fit.
fn checked(sum: Expr, to: DataType) -> Expr {
    cast(sum, to)
}

/// The mean as an exact sum over a count (order-independent, like [`sum`]).
fn mean(value: Expr, filter: Option<Expr>) -> Expr {
    let total = with_filter(
        ExactSum::udaf().call(vec![cast(value.clone(), DataType::Float64)]),
        filter.clone(),
    );
    let n = with_filter(f::count(value), filter);
    total / cast(n, DataType::Float64)
}

/// Aggregate `value` (from [`value_expr`]) as the measure says, over rows where `filter`
/// holds; `schema` is the schema `value` is evaluated against.
pub fn aggregate(measure: &Measure, value: Expr, filter: Option<Expr>, schema: &DFSchema) -> Result<Expr> {
    let base = match measure.agg {
        AggKind::Sum | AggKind::SumBoolean => return sum(value, filter, schema),
        AggKind::Count => f::count(value),
        AggKind::CountDistinct => f::count_distinct(value),
        AggKind::Avg => return Ok(mean(value, filter)),
        AggKind::Min => f::min(value),
        AggKind::Max => f::max(value),
        // Canary's interpolation, as for `percentile`: DataFusion's median overflows
        // between floats near the largest one.
        AggKind::Median => Percentile::udaf(0.5, false).call(vec![value]),
        AggKind::Percentile => Percentile::udaf(measure.percentile.unwrap_or(0.5), false).call(vec![value]),
        AggKind::PercentileDisc => Percentile::udaf(measure.percentile.unwrap_or(0.5), true).call(vec![value]),
    };
    Ok(with_filter(base, filter))
}

/// Attach `FILTER (WHERE p)` to an aggregate, keeping its other parameters.
///
/// (`ExprFunctionExt::filter(..).build()` rebuilds the call and resets `DISTINCT` and
/// `WITHIN GROUP (ORDER BY ..)`, silently turning `count(DISTINCT x)` into `count(x)`.)
pub fn with_filter(aggregate: Expr, filter: Option<Expr>) -> Expr {
    match (aggregate, filter) {
        (Expr::AggregateFunction(mut a), Some(p)) => {
            a.params.filter = Some(Box::new(p));
            Expr::AggregateFunction(a)
        }
        (other, _) => other,
    }
}

/// A two-phase form: partial aggregates per small bucket, then a final combination.
pub struct Split {
    /// `(expression, suffix)` partial aggregates; each is aliased `{column}{suffix}`.
    pub partials: Vec<(Expr, &'static str)>,
    /// Final aggregate over the partial columns, given their names.
    pub finish: fn(&[Expr]) -> Expr,
}

/// The two-phase form of a measure, if it has one (distinct counts and percentiles do not).
pub fn split(measure: &Measure, value: Expr, filter: Option<Expr>, schema: &DFSchema) -> Result<Option<Split>> {
    let with = |e: Expr| -> Result<Expr> { Ok(with_filter(e, filter.clone())) };
    let t = value.get_type(schema)?;
    let float = matches!(t, DataType::Float16 | DataType::Float32 | DataType::Float64);
    let split = match (measure.agg, int_sum_type(&t)) {
        (AggKind::Sum | AggKind::SumBoolean, _) if float => Split {
            partials: vec![(with(ExactSum::udaf().call(vec![cast(value, DataType::Float64)]))?, "")],
            finish: |c| ExactSum::udaf().call(vec![c[0].clone()]),
        },
        // Partial sums stay wide; the total is checked once, at the end.
        (AggKind::Sum | AggKind::SumBoolean, Some(DataType::UInt64)) => Split {
            partials: vec![(with(f::sum(wide(value)))?, "")],
            finish: |c| checked(f::sum(c[0].clone()), DataType::UInt64),
        },
        (AggKind::Sum | AggKind::SumBoolean, Some(_)) => Split {
            partials: vec![(with(f::sum(wide(value)))?, "")],
            finish: |c| checked(f::sum(c[0].clone()), DataType::Int64),
        },
        (AggKind::Sum | AggKind::SumBoolean, None) if matches!(t, DataType::Decimal128(..)) => return Ok(None),
        (AggKind::Sum | AggKind::SumBoolean, None) => Split {
            partials: vec![(with(f::sum(value))?, "")],
            finish: |c| f::sum(c[0].clone()),
        },
        (AggKind::Count, _) => Split {
            partials: vec![(with(f::count(value))?, "")],
            finish: |c| f::sum(c[0].clone()),
        },
        (AggKind::Min, _) => Split {
            partials: vec![(with(f::min(value))?, "")],
            finish: |c| f::min(c[0].clone()),
        },
        (AggKind::Max, _) => Split {
            partials: vec![(with(f::max(value))?, "")],
            finish: |c| f::max(c[0].clone()),
        },
        (AggKind::Avg, _) => Split {
            partials: vec![
                (
                    with(ExactSum::udaf().call(vec![cast(value.clone(), DataType::Float64)]))?,
                    "_sum",
                ),
                (with(f::count(value))?, "_n"),
            ],
            finish: |c| ExactSum::udaf().call(vec![c[0].clone()]) / cast(f::sum(c[1].clone()), DataType::Float64),
        },
        (AggKind::CountDistinct | AggKind::Median | AggKind::Percentile | AggKind::PercentileDisc, _) => {
            return Ok(None);
        }
    };
    Ok(Some(split))
}

/// `value` where `filter` holds, else NULL (for aggregates applied after a join).
pub fn masked(value: Expr, filter: Option<Expr>) -> Result<Expr> {
    match filter {
        Some(p) => when(p, value).end(),
        None => Ok(value),
    }
}
