//! `sum` of floating-point values that does not depend on the order of the values.
//!
//! DataFusion sums in parallel and merges partial sums in whatever order threads finish,
//! so the last digits of a float sum vary between runs. Here every partial state holds the
//! running sum *exactly*, as a list of non-overlapping floats (Shewchuk's algorithm, as in
//! Python's `math.fsum`); merging adds lists exactly, and the result is the exact sum
//! rounded once. Same values in any order, any partitioning: the same bits.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, ListArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};

/// The aggregate `exact_sum(x)` over `Float64`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ExactSum {
    signature: Signature,
}

impl ExactSum {
    pub fn udaf() -> AggregateUDF {
        AggregateUDF::new_from_impl(ExactSum {
            signature: Signature::exact(vec![DataType::Float64], Volatility::Immutable),
        })
    }
}

impl AggregateUDFImpl for ExactSum {
    fn name(&self) -> &str {
        "exact_sum"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn state_fields(&self, args: StateFieldsArgs<'_>) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(
                format!("{}[partials]", args.name),
                DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true))),
                true,
            )),
            Arc::new(Field::new(format!("{}[special]", args.name), DataType::Float64, true)),
            Arc::new(Field::new(format!("{}[halved]", args.name), DataType::Boolean, true)),
        ])
    }

    fn accumulator(&self, _args: AccumulatorArgs<'_>) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(ExactSumAccumulator::default()))
    }
}

/// An exact running sum: finite values as non-overlapping partials, the rest apart.
///
/// A sum whose running total passes the largest float (`1e308 + 1e308 - 1e308`) is kept
/// exact by halving: once a value or partial reaches 2^1022, every partial and every later
/// value is held at half its size (exact: a power of two), and the result is doubled once
/// at the end, so only a sum whose exact value does not fit a float is infinite.
#[derive(Debug, Default, Clone)]
pub struct Partials {
    partials: Vec<f64>,
    /// Sum of the non-finite values (infinities, NaN), if any.
    special: Option<f64>,
    seen: bool,
    /// Partials hold half of what they stand for.
    halved: bool,
}

/// Values this large may overflow when two are added: halve first.
const HALVE_AT: f64 = 4.49423283715579e307; // 2^1022

impl Partials {
    pub fn add(&mut self, value: f64) {
        self.seen = true;
        if !value.is_finite() {
            self.special = Some(self.special.unwrap_or(0.0) + value);
            return;
        }
        if !self.halved && (value.abs() >= HALVE_AT || self.partials.iter().any(|p| p.abs() >= HALVE_AT)) {
            self.halve();
        }
        self.push(if self.halved { value * 0.5 } else { value });
    }

    fn halve(&mut self) {
        for p in &mut self.partials {
            *p *= 0.5;
        }
        self.halved = true;
    }

    /// Add `x`, already at the partials' scale.
    fn push(&mut self, value: f64) {
        let mut x = value;
        let mut i = 0;
        for j in 0..self.partials.len() {
            let mut y = self.partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            if !hi.is_finite() {
                // Even halved the total passes the largest float: it is infinite.
                self.special = Some(self.special.unwrap_or(0.0) + hi);
                return;
            }
            let lo = y - (hi - x);
            if lo != 0.0 {
                self.partials[i] = lo;
                i += 1;
            }
            x = hi;
        }
        self.partials.truncate(i);
        self.partials.push(x);
    }

    /// Add another exact sum.
    pub fn merge(&mut self, other: &Partials) {
        if !other.seen {
            return;
        }
        if other.halved {
            if !self.halved {
                self.halve();
            }
            for p in &other.partials {
                self.push(*p);
            }
        } else {
            for p in &other.partials {
                self.add(*p);
            }
        }
        if let Some(s) = other.special {
            self.special = Some(self.special.unwrap_or(0.0) + s);
        }
        self.seen = true;
    }

    /// The exact sum, rounded once to the nearest `f64`; `None` if nothing was added.
    pub fn value(&self) -> Option<f64> {
        if !self.seen {
            return None;
        }
        if let Some(s) = self.special {
            return Some(s);
        }
        let p = &self.partials;
        let mut n = p.len();
        if n == 0 {
            return Some(0.0);
        }
        n -= 1;
        let mut hi = p[n];
        let mut lo = 0.0;
        while n > 0 {
            let x = hi;
            n -= 1;
            let y = p[n];
            hi = x + y;
            let yr = hi - x;
            lo = y - yr;
            if lo != 0.0 {
                break;
            }
        }
        // Round half to even across the remaining partials, as math.fsum does.
        if n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            if y == x - hi {
                hi = x;
            }
        }
        Some(if self.halved { hi * 2.0 } else { hi })
    }
}

#[derive(Debug, Default)]
struct ExactSumAccumulator {
    sum: Partials,
}

impl Accumulator for ExactSumAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        for v in values[0].as_primitive::<Float64Type>().iter().flatten() {
            self.sum.add(v);
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists = states[0].as_list::<i32>();
        let specials = states[1].as_primitive::<Float64Type>();
        let halved = states[2].as_boolean();
        for (row, list) in lists.iter().enumerate() {
            let Some(list) = list else { continue };
            let other = Partials {
                partials: list.as_primitive::<Float64Type>().iter().flatten().collect(),
                special: (!specials.is_null(row)).then(|| specials.value(row)),
                seen: true,
                halved: halved.is_valid(row) && halved.value(row),
            };
            self.sum.merge(&other);
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        if !self.sum.seen {
            let empty = ListArray::new_null(Arc::new(Field::new_list_field(DataType::Float64, true)), 1);
            return Ok(vec![
                ScalarValue::List(Arc::new(empty)),
                ScalarValue::Float64(None),
                ScalarValue::Boolean(None),
            ]);
        }
        let values = Float64Array::from(self.sum.partials.clone());
        let list = ListArray::new(
            Arc::new(Field::new_list_field(DataType::Float64, true)),
            OffsetBuffer::from_lengths([values.len()]),
            Arc::new(values),
            None,
        );
        Ok(vec![
            ScalarValue::List(Arc::new(list)),
            ScalarValue::Float64(self.sum.special),
            ScalarValue::Boolean(Some(self.sum.halved)),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(self.sum.value()))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.sum.partials.capacity() * std::mem::size_of::<f64>()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::Partials;

    fn sum(values: &[f64]) -> Option<f64> {
        let mut p = Partials::default();
        values.iter().for_each(|v| p.add(*v));
        p.value()
    }

    #[test]
    fn a_running_total_past_the_largest_float_stays_exact() {
        assert_eq!(sum(&[1e308, 1e308, -1e308]), Some(1e308));
        assert_eq!(sum(&[-1.7e308, -1.7e308, 1.7e308, 1.0]), Some(-1.7e308));
        assert_eq!(sum(&[1e308, 1e308]), Some(f64::INFINITY));
        // Halved and plain sums merge.
        let (mut a, mut b) = (Partials::default(), Partials::default());
        a.add(1e308);
        a.add(1e308);
        b.add(-1e308);
        b.add(0.5);
        b.merge(&a);
        assert_eq!(b.value(), Some(1e308));
    }

    #[test]
    fn sums_exactly_where_naive_addition_loses_digits() {
        // Naive left-to-right: 1e16 + 1 + 1 - 1e16 = 0 (each +1 is lost); exact: 2.
        assert_eq!(sum(&[1e16, 1.0, 1.0, -1e16]), Some(2.0));
        assert_eq!(sum(&[0.1; 10]), Some(1.0));
        assert_eq!(sum(&[]), None);
        assert_eq!(sum(&[f64::INFINITY, 1.0]), Some(f64::INFINITY));
    }

    #[test]
    fn the_result_does_not_depend_on_order_or_partitioning() {
        // A fixed pseudo-random set of values of mixed magnitude.
        let mut state: u64 = 7;
        let values: Vec<f64> = (0..2000)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 10f64.powi((state % 12) as i32)
            })
            .collect();
        let forward = sum(&values).unwrap();
        let mut reversed = values.clone();
        reversed.reverse();
        assert_eq!(sum(&reversed).unwrap().to_bits(), forward.to_bits());
        for split in [1, 7, 500, 1999] {
            let (a, b) = values.split_at(split);
            let mut left = Partials::default();
            a.iter().for_each(|v| left.add(*v));
            let mut right = Partials::default();
            b.iter().for_each(|v| right.add(*v));
            right.merge(&left);
            assert_eq!(right.value().unwrap().to_bits(), forward.to_bits(), "split at {split}");
        }
    }
}
