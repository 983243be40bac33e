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

    /// The width of each column: its widest cell or header, in characters.
    fn widths(&self) -> Vec<usize> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        widths
    }

    /// The width of [`TextTable::to_text`]'s widest line, in characters.
    pub fn width(&self) -> usize {
        let widths = self.widths();
        widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1)
    }

    /// The table within `width` characters: as [`TextTable::to_text`] when it fits, else
    /// in blocks, each with the first `keys` columns (period, dimensions) and as many of
    /// the other columns as fit (at least one), one block under the other, then `(N rows)`
    /// once.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use canary_core::exec::display::TextTable;
    /// use datafusion::arrow::array::{Float64Array, RecordBatch, StringArray};
    /// use datafusion::arrow::datatypes::{DataType, Field, Schema};
    ///
    /// let schema = Arc::new(Schema::new(vec![
    ///     Field::new("channel", DataType::Utf8, false),
    ///     Field::new("revenue", DataType::Float64, true),
    ///     Field::new("orders", DataType::Float64, true),
    /// ]));
    /// let batch = RecordBatch::try_new(Arc::clone(&schema), vec![
    ///     Arc::new(StringArray::from(vec!["web"])),
    ///     Arc::new(Float64Array::from(vec![1250.5])),
    ///     Arc::new(Float64Array::from(vec![12.0])),
    /// ]).unwrap();
    /// let table = TextTable::new(&schema, &[batch], None, None).unwrap();
    /// assert_eq!(table.width(), 24);
    /// assert_eq!(table.to_text_within(24, 1), table.to_text());
    /// assert_eq!(
    ///     table.to_text_within(20, 1),
    ///     "channel  revenue\n───────  ───────\nweb       1250.5\n\nchannel  orders\n───────  ──────\nweb          12\n(1 row)\n"
    /// );
    /// ```
    pub fn to_text_within(&self, width: usize, keys: usize) -> String {
        if self.width() <= width || self.headers.len() <= keys {
            return self.to_text();
        }
        let widths = self.widths();
        let keys = keys.min(widths.len());
        let key_width: usize = widths[..keys].iter().map(|w| w + 2).sum();
        let mut blocks: Vec<Vec<usize>> = Vec::new();
        let mut used = key_width;
        for (i, w) in widths.iter().enumerate().skip(keys) {
            match blocks.last_mut() {
                Some(block) if used + w <= width => block.push(i),
                _ => {
                    blocks.push(vec![i]);
                    used = key_width;
                }
            }
            used += w + 2;
        }
        let mut out = String::new();
        for (n, block) in blocks.iter().enumerate() {
            let columns: Vec<usize> = (0..keys).chain(block.iter().copied()).collect();
            let part = TextTable {
                headers: columns.iter().map(|&c| self.headers[c].clone()).collect(),
                numeric: columns.iter().map(|&c| self.numeric[c]).collect(),
                rows: self
                    .rows
                    .iter()
                    .map(|r| columns.iter().map(|&c| r[c].clone()).collect())
                    .collect(),
                total_rows: self.total_rows,
            };
            if n > 0 {
                out.push('\n');
            }
            out.push_str(&part.body(&part.widths()));
        }
        out.push_str(&self.footer());
        out
    }

    /// Aligned columns under a rule, then `(N rows)`; `…` marks rows left out.
    pub fn to_text(&self) -> String {
        let widths = self.widths();
        let mut out = self.body(&widths);
        out.push_str(&self.footer());
        out
    }

    /// `(N rows)`.
    fn footer(&self) -> String {
        let n = self.total_rows;
        format!("({n} row{})\n", if n == 1 { "" } else { "s" })
    }

    /// The header, the rule and the rows (`…` when rows were left out).
    fn body(&self, widths: &[usize]) -> String {
        let line = |cells: &[String], right: &[bool]| -> String {
            cells
                .iter()
                .zip(widths.iter())
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

/// Up to four decimals, trailing zeros dropped, no negative zero; from 10^15 on, scientific
/// notation with up to five significant digits (`1.2346e20`, `1e308`), never hundreds of
/// digits.
pub fn format_float(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v.abs() >= 1e15 {
        let s = format!("{v:.4e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}e{exponent}");
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
    fn huge_floats_are_scientific() {
        assert_eq!(format_float(1e308), "1e308");
        assert_eq!(format_float(-123_456_789_000_000_000_000.0), "-1.2346e20");
        assert_eq!(format_float(1e15), "1e15");
        assert_eq!(format_float(999_999_999_999_999.0), "999999999999999");
        assert_eq!(format_float(f64::MAX), "1.7977e308");
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
        assert_eq!(t.width(), 1);
        let all = TextTable::new(&schema, &batches, None, None).unwrap();
        assert_eq!(all.rows.len(), 3);
        assert!(all.to_text().ends_with("3.25\n(3 rows)\n"));
    }
}
