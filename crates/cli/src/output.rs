//! Writing results: table, CSV, JSON, Parquet; styling stderr.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use canary_core::Grain;
use canary_core::exec::display::TextTable;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
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

/// A plain-text table: numbers right-aligned, floats with up to 4 decimals, NULL as blank.
fn write_table(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    grain: Option<Grain>,
    out: &mut dyn Write,
) -> Result<(), String> {
    let table = TextTable::new(schema, batches, grain, None)?;
    out.write_all(table.to_text().as_bytes()).map_err(|e| e.to_string())
}
