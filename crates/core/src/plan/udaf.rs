//! `percentile_disc`: the smallest value whose cumulative share reaches the percentile.
//! DataFusion has `percentile_cont` (interpolating) but no discrete variant.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Float64Array, ListArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};

/// `percentile_disc(x)` at a fixed fraction, over values cast to `Float64`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PercentileDisc {
    /// The fraction's bits (so the type can be `Eq` and `Hash`).
    fraction_bits: u64,
    signature: Signature,
}

impl PercentileDisc {
    pub fn udaf(fraction: f64) -> AggregateUDF {
        AggregateUDF::new_from_impl(PercentileDisc {
            fraction_bits: fraction.to_bits(),
            signature: Signature::exact(vec![DataType::Float64], Volatility::Immutable),
        })
    }

    fn fraction(&self) -> f64 {
        f64::from_bits(self.fraction_bits)
    }
}

impl AggregateUDFImpl for PercentileDisc {
    fn name(&self) -> &str {
        "percentile_disc"
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
            format!("{}[percentile_disc_values]", args.name),
            DataType::List(Arc::new(item)),
            true,
        ))])
    }

    fn accumulator(&self, _args: AccumulatorArgs<'_>) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(DiscAccumulator {
            fraction: self.fraction(),
            values: Vec::new(),
        }))
    }
}

#[derive(Debug)]
struct DiscAccumulator {
    fraction: f64,
    values: Vec<f64>,
}

/// The discrete percentile of `values` (sorted in place); `None` when empty.
pub fn percentile_disc(values: &mut [f64], fraction: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    // The first value whose cumulative share n/len reaches the fraction.
    let rank = (fraction * values.len() as f64).ceil() as usize;
    Some(values[rank.clamp(1, values.len()) - 1])
}

impl Accumulator for DiscAccumulator {
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
        Ok(ScalarValue::Float64(percentile_disc(&mut self.values, self.fraction)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.values.capacity() * std::mem::size_of::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use super::percentile_disc;

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
    }
}
