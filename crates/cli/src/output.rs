//! Writing results: table, CSV, JSON, Parquet; styling stderr.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use canary_core::Grain;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float64Type, SchemaRef, TimeUnit, TimestampMicrosecondType};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::parquet::arrow::ArrowWriter;

use crate::args::{ColorChoice, Format};

/// Colors for one output stream, decided once.
pub struct Style {
    color: bool,
}

impl Style {
    /// Colors for stderr.
    pub fn detect(choice: ColorChoice) -> Style {
        Style::for_stream(choice, std::io::stderr().is_terminal())
    }

    /// Colors for stdout (e.g. diagnostics printed as `validate`'s output).
    pub fn for_stdout(choice: ColorChoice) -> Style {
        Style::for_stream(choice, std::io::stdout().is_terminal())
    }

    fn for_stream(choice: ColorChoice, terminal: bool) -> Style {
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && terminal,
        };
        Style { color }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }

    pub fn error(&self, s: &str) -> String {
        self.paint("1;31", s)
    }

    pub fn hint(&self, s: &str) -> String {
        self.paint("36", s)
    }

    pub fn location(&self, s: &str) -> String {
        self.paint("1", s)
    }
}

/// Write record batches in `format`. `grain` shortens period labels in tables.
pub fn write(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    format: Format,
    grain: Option<Grain>,
    out: &mut dyn Write,
) -> Result<(), String> {
    match format {
        Format::Table => write_table(schema, batches, grain, out),
        Format::Csv => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .with_timestamp_tz_format("%Y-%m-%dT%H:%M:%SZ".to_owned())
                .build(out);
            // An empty batch still writes the header: no rows is not no columns.
            let empty = RecordBatch::new_empty(Arc::clone(schema));
            for b in batches.iter().chain(batches.is_empty().then_some(&empty)) {
                w.write(b).map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        Format::Json => {
            let mut w = datafusion::arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, datafusion::arrow::json::writer::JsonArray>(&mut *out);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            w.write_batches(&refs).map_err(|e| e.to_string())?;
            w.finish().map_err(|e| e.to_string())?;
            out.write_all(b"\n").map_err(|e| e.to_string())
        }
        Format::Parquet => {
            let mut buf = Vec::new();
            let mut w = ArrowWriter::try_new(&mut buf, Arc::clone(schema), None).map_err(|e| e.to_string())?;
            for b in batches {
                w.write(b).map_err(|e| e.to_string())?;
            }
            w.close().map_err(|e| e.to_string())?;
            out.write_all(&buf).map_err(|e| e.to_string())
        }
    }
}

fn period_label(micros: i64, grain: Option<Grain>) -> String {
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

/// A plain-text table: numbers right-aligned, floats with up to 4 decimals, NULL as blank.
fn write_table(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    grain: Option<Grain>,
    out: &mut dyn Write,
) -> Result<(), String> {
    let headers: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let numeric: Vec<bool> = schema.fields().iter().map(|f| f.data_type().is_numeric()).collect();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let options = FormatOptions::default().with_null("");
    for batch in batches {
        let cols: Vec<Vec<String>> = batch
            .columns()
            .iter()
            .map(|c| cells(c, &options, grain))
            .collect::<Result<_, _>>()?;
        for r in 0..batch.num_rows() {
            rows.push(cols.iter().map(|c| c[r].clone()).collect());
        }
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
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
    let io = |e: std::io::Error| e.to_string();
    writeln!(out, "{}", line(&headers, &numeric)).map_err(io)?;
    let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
    writeln!(out, "{}", line(&rule, &vec![false; widths.len()])).map_err(io)?;
    for row in &rows {
        writeln!(out, "{}", line(row, &numeric)).map_err(io)?;
    }
    writeln!(out, "({} row{})", rows.len(), if rows.len() == 1 { "" } else { "s" }).map_err(io)?;
    Ok(())
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

fn format_float(v: f64) -> String {
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
}
