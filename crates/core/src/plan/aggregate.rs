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

/// A sum that gives the same bits whatever the order of the rows: exact for floats
/// (see [`ExactSum`]); integers and decimals are exact already.
fn sum(value: Expr, schema: &DFSchema) -> Result<Expr> {
    Ok(match value.get_type(schema)? {
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            ExactSum::udaf().call(vec![cast(value, DataType::Float64)])
        }
        _ => f::sum(value),
    })
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
        AggKind::Sum | AggKind::SumBoolean => sum(value, schema)?,
        AggKind::Count => f::count(value),
        AggKind::CountDistinct => f::count_distinct(value),
        AggKind::Avg => return Ok(mean(value, filter)),
        AggKind::Min => f::min(value),
        AggKind::Max => f::max(value),
        AggKind::Median => f::median(value),
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
    let float = matches!(
        value.get_type(schema)?,
        DataType::Float16 | DataType::Float32 | DataType::Float64
    );
    let split = match measure.agg {
        AggKind::Sum | AggKind::SumBoolean if float => Split {
            partials: vec![(with(ExactSum::udaf().call(vec![cast(value, DataType::Float64)]))?, "")],
            finish: |c| ExactSum::udaf().call(vec![c[0].clone()]),
        },
        AggKind::Sum | AggKind::SumBoolean => Split {
            partials: vec![(with(f::sum(value))?, "")],
            finish: |c| f::sum(c[0].clone()),
        },
        AggKind::Count => Split {
            partials: vec![(with(f::count(value))?, "")],
            finish: |c| f::sum(c[0].clone()),
        },
        AggKind::Min => Split {
            partials: vec![(with(f::min(value))?, "")],
            finish: |c| f::min(c[0].clone()),
        },
        AggKind::Max => Split {
            partials: vec![(with(f::max(value))?, "")],
            finish: |c| f::max(c[0].clone()),
        },
        AggKind::Avg => Split {
            partials: vec![
                (
                    with(ExactSum::udaf().call(vec![cast(value.clone(), DataType::Float64)]))?,
                    "_sum",
                ),
                (with(f::count(value))?, "_n"),
            ],
            finish: |c| ExactSum::udaf().call(vec![c[0].clone()]) / cast(f::sum(c[1].clone()), DataType::Float64),
        },
        AggKind::CountDistinct | AggKind::Median | AggKind::Percentile | AggKind::PercentileDisc => return Ok(None),
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
