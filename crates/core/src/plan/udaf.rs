//! Exact percentiles over values cast to `Float64`:
//! - discrete (`percentile_disc`): the smallest value whose cumulative share reaches the
//!   fraction; DataFusion has no such aggregate;
//! - continuous (`percentile_cont`): linear interpolation between the two closest ranks,
//!   in full `f64` precision (DataFusion's own rounds the fraction to 1e-6).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Float64Array, ListArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};

/// A percentile at a fixed fraction, over values cast to `Float64`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Percentile {
    /// The fraction's bits (so the type can be `Eq` and `Hash`).
    fraction_bits: u64,
    discrete: bool,
    signature: Signature,
}

impl Percentile {
    /// The aggregate `percentile_disc` (discrete) or `percentile_cont` at `fraction`.
    pub fn udaf(fraction: f64, discrete: bool) -> AggregateUDF {
        AggregateUDF::new_from_impl(Percentile {
            fraction_bits: fraction.to_bits(),
            discrete,
            signature: Signature::exact(vec![DataType::Float64], Volatility::Immutable),
        })
    }

    /// The fraction in [0, 1].
    pub fn fraction(&self) -> f64 {
        f64::from_bits(self.fraction_bits)
    }

    pub fn is_discrete(&self) -> bool {
        self.discrete
    }
}

impl AggregateUDFImpl for Percentile {
    fn name(&self) -> &str {
        if self.discrete {
            "percentile_disc"
        } else {
            "percentile_cont"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn state_fields(&self, args: StateFieldsArgs<'_>) -> Result<Vec<FieldRef>> {
        let item = Field::new_list_field(DataType::Float64, true);
        Ok(vec![Arc::new(Field::new(
            format!("{}[percentile_values]", args.name),
            DataType::List(Arc::new(item)),
            true,
        ))])
    }

    fn accumulator(&self, _args: AccumulatorArgs<'_>) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(PercentileAccumulator {
            fraction: self.fraction(),
            discrete: self.discrete,
            values: Vec::new(),
        }))
    }
}

#[derive(Debug)]
struct PercentileAccumulator {
    fraction: f64,
    discrete: bool,
    values: Vec<f64>,
}

/// The discrete percentile of `values` (sorted in place); `None` when empty.
pub fn percentile_disc(values: &mut [f64], fraction: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    // The first value whose cumulative share rank/len reaches the fraction. `ceil` of the
    // product can overshoot by one (0.07 * 100 = 7.000000000000001): step back while the
    // previous rank already reaches the fraction.
    let n = values.len();
    let mut rank = ((fraction * n as f64).ceil() as usize).clamp(1, n);
    while rank > 1 && (rank - 1) as f64 / n as f64 >= fraction {
        rank -= 1;
    }
    Some(values[rank - 1])
}

/// The continuous percentile of `values` (sorted in place); `None` when empty.
pub fn percentile_cont(values: &mut [f64], fraction: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let position = fraction.clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let (lo, hi) = (position.floor() as usize, position.ceil() as usize);
    let (a, b, f) = (values[lo], values[hi], position - lo as f64);
    let gap = b - a;
    // Between floats of opposite sign near the largest one the gap overflows: step from
    // the nearer end by that fraction of each end (at most half the gap, so finite).
    Some(if gap.is_finite() {
        a + gap * f
    } else if f <= 0.5 {
        a + (f * b - f * a)
    } else {
        let g = 1.0 - f;
        b - (g * b - g * a)
    })
}

impl Accumulator for PercentileAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let array = values[0].as_primitive::<Float64Type>();
        self.values.extend(array.iter().flatten());
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists = states[0].as_list::<i32>();
        for list in lists.iter().flatten() {
            self.values.extend(list.as_primitive::<Float64Type>().iter().flatten());
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let values = Float64Array::from(std::mem::take(&mut self.values));
        let list = ListArray::new(
            Arc::new(Field::new_list_field(DataType::Float64, true)),
            OffsetBuffer::from_lengths([values.len()]),
            Arc::new(values),
            None,
        );
        Ok(vec![ScalarValue::List(Arc::new(list))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let value = if self.discrete {
            percentile_disc(&mut self.values, self.fraction)
        } else {
            percentile_cont(&mut self.values, self.fraction)
        };
        Ok(ScalarValue::Float64(value))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.values.capacity() * std::mem::size_of::<f64>()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{percentile_cont, percentile_disc};

    #[test]
    fn continuous_percentiles_interpolate_exactly() {
        let mut v = vec![40.0, 10.0, 30.0, 20.0];
        assert_eq!(percentile_cont(&mut v, 0.5), Some(25.0));
        assert_eq!(percentile_cont(&mut v, 0.9), Some(37.0)); // 30 + 0.7 * 10
        assert_eq!(percentile_cont(&mut v, 1.0), Some(40.0));
        assert_eq!(percentile_cont(&mut [7.0], 0.3), Some(7.0));
        assert_eq!(percentile_cont(&mut [1.7e308, -1.7e308], 0.5), Some(0.0));
        assert_eq!(percentile_cont(&mut [1.7e308, -1.7e308], 0.25), Some(-8.5e307));
    }

    #[test]
    fn discrete_percentiles_pick_actual_values() {
        // Hand-counted: 10 values 1..=10.
        let mut v: Vec<f64> = (1..=10).rev().map(f64::from).collect();
        assert_eq!(percentile_disc(&mut v, 0.5), Some(5.0));
        assert_eq!(percentile_disc(&mut v, 0.9), Some(9.0));
        assert_eq!(percentile_disc(&mut v, 0.91), Some(10.0));
        assert_eq!(percentile_disc(&mut v, 0.0), Some(1.0));
        assert_eq!(percentile_disc(&mut v, 1.0), Some(10.0));
        assert_eq!(percentile_disc(&mut [], 0.5), None);
        // 0.07 * 100 is 7.000000000000001 in floating point; the 7th value still reaches 7%.
        let mut hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile_disc(&mut hundred, 0.07), Some(7.0));
        for p in 1..100 {
            let f = f64::from(p) / 100.0;
            assert_eq!(percentile_disc(&mut hundred, f), Some(f64::from(p)), "p = {f}");
        }
    }
}
