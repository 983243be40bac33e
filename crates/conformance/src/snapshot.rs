//! The suite's table snapshots (`source_table_snapshots/**/*.yaml`) as Parquet files.
//!
//! A snapshot is `table_snapshot: {table_name, column_definitions: [{name, type}], rows}`
//! where every value is a string or null. Types map to Arrow as STRING → Utf8,
//! TIME → Timestamp(µs, no zone), FLOAT → Float64, INT → Int64, BOOLEAN → Boolean.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use marked_yaml::Node;

use crate::error::{HarnessError, Result};
use crate::suite::{first_document, yaml_files};

/// Bumped when the conversion changes, so Parquet files written by an older one are redone.
const CONVERSION_VERSION: &str = "1";
/// The file in the output folder that records which conversion wrote it.
const VERSION_FILE: &str = ".canary-conformance-version";

/// One table, read from its snapshot.
#[derive(Debug)]
pub struct Snapshot {
    pub table_name: String,
    pub batch: RecordBatch,
}

/// What [`convert_all`] did.
#[derive(Debug, Default)]
pub struct Conversion {
    /// Table name → its Parquet file.
    pub tables: BTreeMap<String, PathBuf>,
    pub converted: usize,
    pub up_to_date: usize,
}

/// Write every snapshot under `suite/source_table_snapshots` to `out_dir/<table_name>.parquet`,
/// skipping those whose Parquet file is newer than the snapshot.
pub fn convert_all(suite: &Path, out_dir: &Path) -> Result<Conversion> {
    let root = suite.join("source_table_snapshots");
    fs::create_dir_all(out_dir).map_err(|e| HarnessError::io(out_dir, e))?;
    let version_file = out_dir.join(VERSION_FILE);
    let current = fs::read_to_string(&version_file).is_ok_and(|v| v.trim() == CONVERSION_VERSION);
    let mut conversion = Conversion::default();
    let mut sources: BTreeMap<String, PathBuf> = BTreeMap::new();
    for file in yaml_files(&root)? {
        let text = fs::read_to_string(&file).map_err(|e| HarnessError::io(&file, e))?;
        // The name is all that is needed to know whether the file is stale; parse the whole
        // snapshot only when it is (or when the quick look does not find the name).
        let (name, parsed) = match quick_table_name(&text) {
            Some(name) if current && is_up_to_date(&file, &out_dir.join(format!("{name}.parquet"))) => (name, None),
            _ => {
                let snapshot = parse_snapshot(&text).map_err(|m| HarnessError::suite(&file, m))?;
                (snapshot.table_name.clone(), Some(snapshot))
            }
        };
        if let Some(previous) = sources.insert(name.clone(), file.clone()) {
            return Err(HarnessError::suite(
                &file,
                format!("table `{name}` is also defined by {}", previous.display()),
            ));
        }
        let target = out_dir.join(format!("{name}.parquet"));
        match parsed {
            Some(snapshot) => {
                write_parquet(&snapshot.batch, &target)?;
                conversion.converted += 1;
            }
            None => conversion.up_to_date += 1,
        }
        conversion.tables.insert(name, target);
    }
    if conversion.tables.is_empty() {
        return Err(HarnessError::suite(&root, "no table snapshots found"));
    }
    if !current {
        fs::write(&version_file, CONVERSION_VERSION).map_err(|e| HarnessError::io(&version_file, e))?;
    }
    Ok(conversion)
}

fn is_up_to_date(source: &Path, target: &Path) -> bool {
    let modified = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    matches!((modified(source), modified(target)), (Some(s), Some(t)) if t > s)
}

/// `table_name` read from the snapshot's header lines, without parsing the rows.
fn quick_table_name(text: &str) -> Option<String> {
    text.lines()
        .take_while(|line| !line.trim_start().starts_with("rows:"))
        .find_map(|line| line.trim().strip_prefix("table_name:"))
        .map(|v| v.trim().trim_matches(['"', '\'']).to_owned())
        .filter(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

/// Write `batch` to `target` through a temporary file, so a stopped run leaves no half file.
fn write_parquet(batch: &RecordBatch, target: &Path) -> Result<()> {
    let tmp = target.with_extension("parquet.tmp");
    let parquet_err = |e: datafusion::parquet::errors::ParquetError| HarnessError::Parquet {
        path: target.to_owned(),
        message: e.to_string(),
    };
    let file = fs::File::create(&tmp).map_err(|e| HarnessError::io(&tmp, e))?;
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).map_err(parquet_err)?;
    writer.write(batch).map_err(parquet_err)?;
    writer.close().map_err(parquet_err)?;
    fs::rename(&tmp, target).map_err(|e| HarnessError::io(target, e))
}

/// A column type of the snapshot format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnType {
    String,
    Time,
    Float,
    Int,
    Boolean,
}

impl ColumnType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "STRING" => ColumnType::String,
            "TIME" => ColumnType::Time,
            "FLOAT" => ColumnType::Float,
            "INT" => ColumnType::Int,
            "BOOLEAN" => ColumnType::Boolean,
            _ => return None,
        })
    }

    fn arrow(self) -> DataType {
        match self {
            ColumnType::String => DataType::Utf8,
            ColumnType::Time => DataType::Timestamp(TimeUnit::Microsecond, None),
            ColumnType::Float => DataType::Float64,
            ColumnType::Int => DataType::Int64,
            ColumnType::Boolean => DataType::Boolean,
        }
    }
}

/// Parse one snapshot file's text; the error says where and why.
pub fn parse_snapshot(text: &str) -> Result<Snapshot, String> {
    let (_, document) = first_document(text).ok_or("the file holds no YAML document")?;
    // Without coercion, a quoted "null" stays a string and only a plain null is null.
    let options = marked_yaml::LoaderOptions::default().prevent_coercion(true);
    let node = marked_yaml::parse_yaml_with_options(0, &document, options).map_err(|e| e.to_string())?;
    let snapshot = node
        .as_mapping()
        .and_then(|m| m.get_mapping("table_snapshot"))
        .ok_or("expected a top-level `table_snapshot:` mapping")?;
    let table_name = snapshot
        .get_scalar("table_name")
        .ok_or("`table_snapshot.table_name` is missing")?
        .as_str()
        .to_owned();
    let mut columns = Vec::new();
    for definition in snapshot
        .get_sequence("column_definitions")
        .ok_or("`column_definitions` is missing")?
        .iter()
    {
        let definition = definition
            .as_mapping()
            .ok_or("each column definition must be a mapping")?;
        let name = definition
            .get_scalar("name")
            .ok_or("a column definition has no `name`")?
            .as_str();
        let type_name = definition
            .get_scalar("type")
            .ok_or_else(|| format!("column `{name}` has no `type`"))?;
        let column_type = ColumnType::parse(type_name.as_str())
            .ok_or_else(|| format!("column `{name}`: unknown type `{}`", type_name.as_str()))?;
        columns.push((name.to_owned(), column_type));
    }
    let empty = Vec::new();
    let rows = match snapshot.get_node("rows") {
        None => &empty,
        Some(Node::Sequence(rows)) => &**rows,
        Some(Node::Scalar(s)) if is_null(s) => &empty,
        Some(_) => return Err("`rows` must be a list of lists".to_owned()),
    };
    let mut builders: Vec<ColumnBuilder> = columns
        .iter()
        .map(|(_, t)| ColumnBuilder::new(*t, rows.len()))
        .collect();
    for (index, row) in rows.iter().enumerate() {
        let line = row.span().start().map_or(0, |m| m.line());
        let cells = row
            .as_sequence()
            .ok_or_else(|| format!("line {line}: a row must be a list"))?;
        if cells.len() != columns.len() {
            return Err(format!(
                "line {line}: row {index} has {} values for {} columns",
                cells.len(),
                columns.len()
            ));
        }
        for ((cell, builder), (name, _)) in cells.iter().zip(&mut builders).zip(&columns) {
            let value = match cell {
                Node::Scalar(s) if is_null(s) => None,
                Node::Scalar(s) => Some(s.as_str()),
                _ => return Err(format!("line {line}: column `{name}` holds a list or mapping")),
            };
            builder
                .append(value)
                .map_err(|m| format!("line {line}: column `{name}`: {m}"))?;
        }
    }
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, t)| Field::new(name, t.arrow(), true))
        .collect();
    let arrays: Vec<ArrayRef> = builders.into_iter().map(ColumnBuilder::finish).collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|e| e.to_string())?;
    Ok(Snapshot { table_name, batch })
}

/// A plain (unquoted) YAML null: `null`, `~` or nothing (`may_coerce` marks plain scalars
/// when the document is loaded with `prevent_coercion`).
fn is_null(scalar: &marked_yaml::types::MarkedScalarNode) -> bool {
    scalar.may_coerce() && matches!(scalar.as_str(), "" | "~" | "null" | "Null" | "NULL")
}

enum ColumnBuilder {
    String(StringBuilder),
    Time(TimestampMicrosecondBuilder),
    Float(Float64Builder),
    Int(Int64Builder),
    Boolean(BooleanBuilder),
}

impl ColumnBuilder {
    fn new(column_type: ColumnType, capacity: usize) -> Self {
        match column_type {
            ColumnType::String => ColumnBuilder::String(StringBuilder::with_capacity(capacity, capacity * 8)),
            ColumnType::Time => ColumnBuilder::Time(TimestampMicrosecondBuilder::with_capacity(capacity)),
            ColumnType::Float => ColumnBuilder::Float(Float64Builder::with_capacity(capacity)),
            ColumnType::Int => ColumnBuilder::Int(Int64Builder::with_capacity(capacity)),
            ColumnType::Boolean => ColumnBuilder::Boolean(BooleanBuilder::with_capacity(capacity)),
        }
    }

    fn append(&mut self, value: Option<&str>) -> Result<(), String> {
        match (self, value) {
            (ColumnBuilder::String(b), v) => b.append_option(v),
            (ColumnBuilder::Time(b), v) => b.append_option(v.map(parse_time).transpose()?),
            (ColumnBuilder::Float(b), v) => b.append_option(
                v.map(|s| s.trim().parse::<f64>().map_err(|_| format!("`{s}` is not a FLOAT")))
                    .transpose()?,
            ),
            (ColumnBuilder::Int(b), v) => b.append_option(
                v.map(|s| s.trim().parse::<i64>().map_err(|_| format!("`{s}` is not an INT")))
                    .transpose()?,
            ),
            (ColumnBuilder::Boolean(b), v) => b.append_option(v.map(parse_bool).transpose()?),
        }
        Ok(())
    }

    fn finish(self) -> ArrayRef {
        match self {
            ColumnBuilder::String(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Time(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Float(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Int(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Boolean(mut b) => Arc::new(b.finish()),
        }
    }
}

/// `True`/`False` as the suite writes them (any case).
fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim() {
        v if v.eq_ignore_ascii_case("true") => Ok(true),
        v if v.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(format!("`{s}` is not a BOOLEAN (True or False)")),
    }
}

/// `YYYY-MM-DD` or `YYYY-MM-DD hh:mm:ss[.fraction]` (or with `T`) as microseconds since the
/// epoch, without zone. Fractions finer than a microsecond are truncated.
pub fn parse_time(s: &str) -> Result<i64, String> {
    let bad = || format!("`{s}` is not a TIME (YYYY-MM-DD[ hh:mm:ss[.fraction]])");
    let number = |part: &str, digits: usize| -> Result<u32, String> {
        if part.len() == digits && part.bytes().all(|b| b.is_ascii_digit()) {
            part.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let text = s.trim();
    let (date, time) = match text.find([' ', 'T']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let mut ymd = date.split('-');
    let (Some(y), Some(m), Some(d), None) = (ymd.next(), ymd.next(), ymd.next(), ymd.next()) else {
        return Err(bad());
    };
    let date = chrono::NaiveDate::from_ymd_opt(number(y, 4)? as i32, number(m, 2)?, number(d, 2)?).ok_or_else(bad)?;
    let (seconds, fraction) = match time {
        None => (chrono::NaiveTime::MIN, ""),
        Some(time) => {
            let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
            let mut parts = hms.split(':');
            let (Some(h), Some(mi), Some(se), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
                return Err(bad());
            };
            let t = chrono::NaiveTime::from_hms_opt(number(h, 2)?, number(mi, 2)?, number(se, 2)?).ok_or_else(bad)?;
            (t, fraction)
        }
    };
    if fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) || (time.is_some_and(|t| t.ends_with('.'))) {
        return Err(bad());
    }
    // Microseconds: the first six digits, padded on the right.
    let micros_digits: String = fraction.chars().chain(std::iter::repeat('0')).take(6).collect();
    let micros: i64 = micros_digits.parse().map_err(|_| bad())?;
    Ok(date.and_time(seconds).and_utc().timestamp_micros() + micros)
}

#[cfg(test)]
mod tests;
