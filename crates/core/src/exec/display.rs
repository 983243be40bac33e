//! Results as text for people: period labels at the query's grain, floats with up to four
//! decimals, NULL as blank. The CLI's table and the Python wheel's `repr` share it.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float64Type, SchemaRef, TimeUnit, TimestampMicrosecondType};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::model::Grain;

/// Rows of a result as display strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextTable {
    pub headers: Vec<String>,
    /// Whether each column is numeric (shown right-aligned).
    pub numeric: Vec<bool>,
    pub rows: Vec<Vec<String>>,
    /// Rows in the result, also those beyond the display limit.
    pub total_rows: usize,
}

impl TextTable {
    /// The first `limit` rows (all when `None`) of `batches` as text.
    pub fn new(
        schema: &SchemaRef,
        batches: &[RecordBatch],
        grain: Option<Grain>,
        limit: Option<usize>,
    ) -> Result<TextTable, String> {
        let total_rows = batches.iter().map(RecordBatch::num_rows).sum();
        let limit = limit.unwrap_or(usize::MAX);
        let options = FormatOptions::default().with_null("");
        let mut rows: Vec<Vec<String>> = Vec::new();
        for batch in batches {
            if rows.len() >= limit {
                break;
            }
            let batch = batch.slice(0, batch.num_rows().min(limit - rows.len()));
            let cols: Vec<Vec<String>> = batch
                .columns()
                .iter()
                .map(|c| cells(c, &options, grain))
                .collect::<Result<_, _>>()?;
            for r in 0..batch.num_rows() {
                rows.push(cols.iter().map(|c| c[r].clone()).collect());
            }
        }
        Ok(TextTable {
            headers: schema.fields().iter().map(|f| f.name().clone()).collect(),
            numeric: schema.fields().iter().map(|f| f.data_type().is_numeric()).collect(),
            rows,
            total_rows,
        })
    }

    /// Aligned columns under a rule, then `(N rows)`; `…` marks rows left out.
    pub fn to_text(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[String], right: &[bool]| -> String {
            cells
                .iter()
                .zip(&widths)
                .zip(right)
                .map(|((c, w), r)| if *r { format!("{c:>w$}") } else { format!("{c:<w$}") })
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_owned()
        };
        let mut out = String::new();
        out.push_str(&line(&self.headers, &self.numeric));
        out.push('\n');
        let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
        out.push_str(&line(&rule, &vec![false; widths.len()]));
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(row, &self.numeric));
            out.push('\n');
        }
        if self.rows.len() < self.total_rows {
            out.push_str("…\n");
        }
        let n = self.total_rows;
        out.push_str(&format!("({n} row{})\n", if n == 1 { "" } else { "s" }));
        out
    }
}

/// The start of a period as a label at `grain`: `2024-04`, `2024-Q2`, `2024-04-01 (W14)`.
pub fn period_label(micros: i64, grain: Option<Grain>) -> String {
    let Some(t) = chrono::DateTime::from_timestamp_micros(micros) else {
        return micros.to_string();
    };
    match grain {
        Some(Grain::Year) => t.format("%Y").to_string(),
        Some(Grain::Quarter) => {
            use chrono::Datelike;
            format!("{}-Q{}", t.year(), t.month0() / 3 + 1)
        }
        Some(Grain::Month) => t.format("%Y-%m").to_string(),
        Some(Grain::Week) => t.format("%Y-%m-%d (W%V)").to_string(),
        Some(Grain::Day) => t.format("%Y-%m-%d").to_string(),
        Some(Grain::Hour | Grain::Minute) | None => t.format("%Y-%m-%d %H:%M").to_string(),
        Some(Grain::Second) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        Some(Grain::Millisecond) => t.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
    }
}

fn cells(array: &ArrayRef, options: &FormatOptions<'_>, grain: Option<Grain>) -> Result<Vec<String>, String> {
    match array.data_type() {
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            let a = array.as_primitive::<TimestampMicrosecondType>();
            Ok((0..a.len())
                .map(|i| {
                    if a.is_null(i) {
                        String::new()
                    } else {
                        period_label(a.value(i), grain)
                    }
                })
                .collect())
        }
        DataType::Float64 => {
            let a = array.as_primitive::<Float64Type>();
            Ok((0..a.len())
                .map(|i| {
                    if a.is_null(i) {
                        String::new()
                    } else {
                        format_float(a.value(i))
                    }
                })
                .collect())
        }
        _ => {
            let f = ArrayFormatter::try_new(array.as_ref(), options).map_err(|e| e.to_string())?;
            Ok((0..array.len()).map(|i| f.value(i).to_string()).collect())
        }
    }
}

/// Up to four decimals, trailing zeros dropped, no negative zero.
pub fn format_float(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".to_owned() } else { s.to_owned() }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::Float64Array;
    use datafusion::arrow::datatypes::{Field, Schema};

    use super::*;

    #[test]
    fn floats_drop_trailing_zeros() {
        assert_eq!(format_float(1.5), "1.5");
        assert_eq!(format_float(2.0), "2");
        assert_eq!(format_float(0.123456), "0.1235");
        assert_eq!(format_float(-0.00001), "0");
    }

    #[test]
    fn period_labels_follow_the_grain() {
        let t = chrono::DateTime::parse_from_rfc3339("2024-04-01T00:00:00Z")
            .unwrap()
            .timestamp_micros();
        assert_eq!(period_label(t, Some(Grain::Month)), "2024-04");
        assert_eq!(period_label(t, Some(Grain::Quarter)), "2024-Q2");
        assert_eq!(period_label(t, Some(Grain::Year)), "2024");
    }

    #[test]
    fn a_limit_keeps_the_first_rows_and_counts_all() {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Float64, true)]));
        let batch = |v: Vec<Option<f64>>| {
            RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(Float64Array::from(v))]).unwrap()
        };
        let batches = [batch(vec![Some(1.0), None]), batch(vec![Some(3.25)])];
        let t = TextTable::new(&schema, &batches, None, Some(2)).unwrap();
        assert_eq!(t.rows, vec![vec!["1".to_owned()], vec![String::new()]]);
        assert_eq!(t.total_rows, 3);
        assert_eq!(t.to_text(), "v\n─\n1\n\n…\n(3 rows)\n");
        let all = TextTable::new(&schema, &batches, None, None).unwrap();
        assert_eq!(all.rows.len(), 3);
        assert!(all.to_text().ends_with("3.25\n(3 rows)\n"));
    }
}
