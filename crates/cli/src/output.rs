//! Presenting results: tables, CSV, JSON, Parquet to stdout or a file; messages on stderr.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use canary_core::exec::display::TextTable;
use canary_core::{CanaryError, Grain};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::parquet::arrow::ArrowWriter;

use crate::args::{ColorChoice, Format};

/// Colors for one output stream, decided once.
#[derive(Debug, Clone, Copy)]
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
}

/// The core's wording, in the terminal's colors.
impl canary_core::diagnostic::Highlight for Style {
    fn location(&self, s: &str) -> String {
        self.paint("1", s)
    }

    fn error(&self, s: &str) -> String {
        self.paint("1;31", s)
    }

    fn hint(&self, s: &str) -> String {
        self.paint("36", s)
    }
}

/// An error (and its hint) on stderr.
pub fn report(style: &Style, message: &str, hint: Option<&str>) {
    use canary_core::diagnostic::Highlight;
    use canary_core::diagnostic::printable;
    let mut text = format!("{}: {}\n", style.error("error"), printable(message));
    if let Some(h) = hint {
        text.push_str(&format!("  {}: {}\n", style.hint("hint"), printable(h)));
    }
    eprint(&text);
}

/// `text` on stderr; there is nowhere to report a failure to write it.
pub fn eprint(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

fn stdout_error(source: std::io::Error) -> CanaryError {
    CanaryError::Io {
        path: "stdout".into(),
        source,
    }
}

/// `text` on stdout. A reader that went away (`canary … | head`) is not an error.
pub fn print(text: &str) -> Result<(), CanaryError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(stdout_error),
    }
}

/// Whether a wide table must change shape to fit the terminal: `Some(width)` of the terminal
/// when `format` is a table, stdout is a terminal and the table is wider than it.
pub fn too_wide(format: Format, schema: &SchemaRef, batches: &[RecordBatch], grain: Option<Grain>) -> Option<usize> {
    if format != Format::Table || !std::io::stdout().is_terminal() {
        return None;
    }
    let (terminal_size::Width(width), _) = terminal_size::terminal_size()?;
    let width = usize::from(width);
    let table = TextTable::new(schema, batches, grain, None).ok()?;
    (table.width() > width).then_some(width)
}

/// Write a result in `format` to `output`, or to stdout.
pub fn emit(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    format: Format,
    grain: Option<Grain>,
    output: Option<&Path>,
) -> Result<(), CanaryError> {
    check_binary_to_terminal(format, output)?;
    match output {
        Some(path) => canary_core::atomic::write_output(path, |f| write(schema, batches, format, grain, f)),
        None => match write(schema, batches, format, grain, &mut std::io::stdout().lock()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other.map_err(stdout_error),
        },
    }
}

/// Refuse to print Parquet to a terminal, before any work is done.
pub fn check_binary_to_terminal(format: Format, output: Option<&Path>) -> Result<(), CanaryError> {
    if format == Format::Parquet && output.is_none() && std::io::stdout().is_terminal() {
        return Err(CanaryError::query_hint(
            "Parquet is binary and stdout is a terminal",
            "redirect stdout to a file (or pass --output FILE)",
        ));
    }
    Ok(())
}

/// A writer that keeps the I/O error it met, so that an encoder's error which only quotes
/// it (as text) is reported as the I/O error itself, with its kind.
struct Keeping<W> {
    inner: W,
    error: Option<std::io::Error>,
}

impl<W: Write> Write for Keeping<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf).inspect_err(|e| {
            self.error = Some(std::io::Error::new(e.kind(), e.to_string()));
        })
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush().inspect_err(|e| {
            self.error = Some(std::io::Error::new(e.kind(), e.to_string()));
        })
    }
}

impl<W> Keeping<W> {
    /// The I/O error met, else `err` (an encoding error).
    fn error(&mut self, err: impl std::fmt::Display) -> std::io::Error {
        self.error
            .take()
            .unwrap_or_else(|| std::io::Error::other(err.to_string()))
    }
}

/// Write record batches in `format`. `grain` shortens period labels in tables.
pub fn write(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    format: Format,
    grain: Option<Grain>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let mut out = Keeping {
        inner: out,
        error: None,
    };
    let result = encode(schema, batches, format, grain, &mut out);
    result.map_err(|e| out.error(e))
}

fn encode(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    format: Format,
    grain: Option<Grain>,
    out: &mut dyn Write,
) -> Result<(), ArrowError> {
    match format {
        Format::Table => {
            let table = TextTable::new(schema, batches, grain, None).map_err(ArrowError::ComputeError)?;
            out.write_all(table.to_text().as_bytes())?;
            Ok(())
        }
        Format::Csv => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .with_timestamp_tz_format("%Y-%m-%dT%H:%M:%SZ".to_owned())
                .build(out);
            // An empty batch still writes the header: no rows is not no columns.
            let empty = RecordBatch::new_empty(Arc::clone(schema));
            for b in batches.iter().chain(batches.is_empty().then_some(&empty)) {
                w.write(b)?;
            }
            Ok(())
        }
        Format::Json => {
            let mut w = datafusion::arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, datafusion::arrow::json::writer::JsonArray>(&mut *out);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            w.write_batches(&refs)?;
            w.finish()?;
            out.write_all(b"\n")?;
            Ok(())
        }
        Format::Parquet => {
            let mut buf = Vec::new();
            let mut w = ArrowWriter::try_new(&mut buf, Arc::clone(schema), None)
                .map_err(|e| ArrowError::ExternalError(Box::new(e)))?;
            for b in batches {
                w.write(b).map_err(|e| ArrowError::ExternalError(Box::new(e)))?;
            }
            w.close().map_err(|e| ArrowError::ExternalError(Box::new(e)))?;
            out.write_all(&buf)?;
            Ok(())
        }
    }
}
