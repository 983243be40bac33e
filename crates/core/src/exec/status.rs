//! Status of KPI values against their targets and thresholds, and the long layout
//! (one row per period, dimensions and KPI) that shows it.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray, UInt32Array};
use datafusion::arrow::compute::{cast, concat_batches, take};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use serde::Serialize;

use super::QueryResult;
use crate::error::{CanaryError, Result};
use crate::model::{Direction, Kpi, Project};
use crate::plan::OutputRole;

/// Where a value stands against a KPI's thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Warn,
    Critical,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Critical => "critical",
        }
    }
}

/// The status of `value` for `kpi`: `None` when the KPI has no thresholds or the value is
/// missing. With `higher_is_better`, below `critical` is critical and below `warn` warns;
/// with `lower_is_better`, above.
pub fn status(kpi: &Kpi, value: Option<f64>) -> Option<Status> {
    let v = value.filter(|v| v.is_finite())?;
    if kpi.warn.is_none() && kpi.critical.is_none() {
        return None;
    }
    let worse = |limit: Option<f64>| match (kpi.direction, limit) {
        (Direction::HigherIsBetter, Some(l)) => v < l,
        (Direction::LowerIsBetter, Some(l)) => v > l,
        _ => false,
    };
    Some(if worse(kpi.critical) {
        Status::Critical
    } else if worse(kpi.warn) {
        Status::Warn
    } else {
        Status::Ok
    })
}

/// The result in long layout: the key columns, then `kpi`, `value` (float64), `unit`,
/// `target` and `status`; rows by key, then KPI in query order.
pub fn long_layout(result: &QueryResult, project: &Project) -> Result<RecordBatch> {
    let err = |e: datafusion::arrow::error::ArrowError| CanaryError::internal(format!("long layout: {e}"));
    let wide = concat_batches(&result.schema, &result.batches).map_err(err)?;
    let keys: Vec<usize> = result
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.role != OutputRole::Kpi)
        .map(|(i, _)| i)
        .collect();
    let kpis: Vec<(usize, Arc<Kpi>)> = result
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.role == OutputRole::Kpi)
        .map(|(i, c)| {
            project
                .kpi(&c.name)
                .cloned()
                .map(|k| (i, k))
                .ok_or_else(|| CanaryError::internal(format!("no KPI `{}` in the project", c.name)))
        })
        .collect::<Result<_>>()?;
    let rows = wide.num_rows();
    let n = rows * kpis.len();
    let take_index = UInt32Array::from_iter_values((0..rows as u32).flat_map(|r| std::iter::repeat_n(r, kpis.len())));
    let mut fields: Vec<Field> = keys.iter().map(|&i| result.schema.field(i).clone()).collect();
    let mut columns: Vec<ArrayRef> = keys
        .iter()
        .map(|&i| take(wide.column(i).as_ref(), &take_index, None))
        .collect::<std::result::Result<_, _>>()
        .map_err(err)?;
    let values: Vec<Float64Array> = kpis
        .iter()
        .map(|(i, _)| {
            cast(wide.column(*i), &DataType::Float64).map(|a| {
                a.as_any()
                    .downcast_ref::<Float64Array>()
                    .cloned()
                    .unwrap_or_else(|| Float64Array::new_null(rows))
            })
        })
        .collect::<std::result::Result<_, _>>()
        .map_err(err)?;
    let mut kpi_col = Vec::with_capacity(n);
    let mut value_col = Vec::with_capacity(n);
    let mut unit_col = Vec::with_capacity(n);
    let mut target_col = Vec::with_capacity(n);
    let mut status_col = Vec::with_capacity(n);
    for r in 0..rows {
        for (k, (_, kpi)) in kpis.iter().enumerate() {
            let v = (!values[k].is_null(r)).then(|| values[k].value(r));
            kpi_col.push(kpi.id.clone());
            value_col.push(v);
            unit_col.push(kpi.unit.clone());
            target_col.push(kpi.target);
            status_col.push(status(kpi, v).map(Status::as_str));
        }
    }
    for (name, data_type, array) in [
        ("kpi", DataType::Utf8, Arc::new(StringArray::from(kpi_col)) as ArrayRef),
        ("value", DataType::Float64, Arc::new(Float64Array::from(value_col))),
        ("unit", DataType::Utf8, Arc::new(StringArray::from(unit_col))),
        ("target", DataType::Float64, Arc::new(Float64Array::from(target_col))),
        ("status", DataType::Utf8, Arc::new(StringArray::from(status_col))),
    ] {
        fields.push(Field::new(name, data_type, name != "kpi"));
        columns.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(err)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::{KpiBody, MeasureInput};

    fn kpi(direction: Direction, warn: Option<f64>, critical: Option<f64>) -> Kpi {
        Kpi {
            id: "k".into(),
            version: semver::Version::new(1, 0, 0),
            name: None,
            description: None,
            owner: None,
            unit: None,
            direction,
            target: None,
            warn,
            critical,
            tags: vec![],
            every_period: false,
            body: KpiBody::Simple {
                measure: MeasureInput {
                    product: "p".into(),
                    measure: "m".into(),
                    filter: None,
                },
            },
            file: String::new(),
        }
    }

    #[test]
    fn status_follows_direction_and_bands() {
        let up = kpi(Direction::HigherIsBetter, Some(100.0), Some(50.0));
        assert_eq!(status(&up, Some(120.0)), Some(Status::Ok));
        assert_eq!(status(&up, Some(100.0)), Some(Status::Ok));
        assert_eq!(status(&up, Some(99.0)), Some(Status::Warn));
        assert_eq!(status(&up, Some(49.0)), Some(Status::Critical));
        assert_eq!(status(&up, None), None);
        let down = kpi(Direction::LowerIsBetter, Some(0.05), Some(0.1));
        assert_eq!(status(&down, Some(0.01)), Some(Status::Ok));
        assert_eq!(status(&down, Some(0.07)), Some(Status::Warn));
        assert_eq!(status(&down, Some(0.2)), Some(Status::Critical));
        assert_eq!(status(&kpi(Direction::HigherIsBetter, None, None), Some(1.0)), None);
    }
}
