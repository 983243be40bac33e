//! Result tables and their comparison, as upstream's `compare_data_table.py` does it: the
//! same column names; the same multiset of rows (columns and rows sorted) unless the case
//! checks order; floats equal within a relative tolerance of 1e-6 and no absolute one, ints
//! and floats compared as numbers, NaN equal to NaN, NULL equal to NULL; timestamps compared
//! without zone, at microsecond precision.

use std::cmp::Ordering;
use std::fmt;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type, Schema, TimeUnit, TimestampMicrosecondType};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

/// Relative tolerance for floats (Python's `math.isclose(rel_tol=1e-6)`).
pub const REL_TOLERANCE: f64 = 1e-6;

/// One value, in a form both sides normalize to.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// Microseconds since the epoch, wall-clock time without zone.
    Timestamp(i64),
    Str(String),
}

impl Cell {
    fn rank(&self) -> u8 {
        match self {
            Cell::Null => 0,
            Cell::Bool(_) | Cell::Int(_) | Cell::Float(_) => 1,
            Cell::Timestamp(_) => 2,
            Cell::Str(_) => 3,
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            Cell::Bool(b) => Some(f64::from(u8::from(*b))),
            Cell::Int(i) => Some(*i as f64),
            Cell::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// A total order across types, for sorting rows the same way on both sides.
    pub fn total_cmp(&self, other: &Cell) -> Ordering {
        match (self, other) {
            (Cell::Int(a), Cell::Int(b)) => a.cmp(b),
            (Cell::Timestamp(a), Cell::Timestamp(b)) => a.cmp(b),
            (Cell::Str(a), Cell::Str(b)) => a.cmp(b),
            _ => match (self.as_f64(), other.as_f64()) {
                (Some(a), Some(b)) => a.total_cmp(&b),
                _ => self.rank().cmp(&other.rank()),
            },
        }
    }

    /// Whether `actual` is an acceptable value where `self` is expected.
    pub fn matches(&self, actual: &Cell) -> bool {
        match (self, actual) {
            (Cell::Null, Cell::Null) => true,
            (Cell::Int(a), Cell::Int(b)) => a == b,
            (Cell::Bool(a), Cell::Bool(b)) => a == b,
            (Cell::Timestamp(a), Cell::Timestamp(b)) => a == b,
            (Cell::Str(a), Cell::Str(b)) => a == b,
            _ => match (self.as_f64(), actual.as_f64()) {
                (Some(a), Some(b)) => is_close(a, b),
                _ => false,
            },
        }
    }
}

/// `math.isclose(a, b, rel_tol=1e-6)`, with NaN equal to NaN.
pub fn is_close(a: f64, b: f64) -> bool {
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    if !a.is_finite() || !b.is_finite() {
        return false;
    }
    (a - b).abs() <= REL_TOLERANCE * a.abs().max(b.abs())
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Null => f.write_str("NULL"),
            Cell::Bool(b) => write!(f, "{b}"),
            Cell::Int(i) => write!(f, "{i}"),
            Cell::Float(x) => write!(f, "{x:?}"),
            Cell::Timestamp(t) => match chrono::DateTime::from_timestamp_micros(*t) {
                Some(t) => write!(f, "{}", t.naive_utc().format("%Y-%m-%d %H:%M:%S%.f")),
                None => write!(f, "timestamp({t} µs)"),
            },
            Cell::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// A result: column names and rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// Read Arrow batches, normalizing every type to a [`Cell`].
    pub fn from_batches(schema: &Schema, batches: &[RecordBatch]) -> Result<Table, String> {
        let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let mut rows = Vec::new();
        for batch in batches {
            if batch.num_columns() != columns.len() {
                return Err(format!(
                    "a batch has {} columns where the schema has {}",
                    batch.num_columns(),
                    columns.len()
                ));
            }
            let cells: Vec<Vec<Cell>> = batch.columns().iter().map(cells).collect::<Result<_, _>>()?;
            for row in 0..batch.num_rows() {
                rows.push(cells.iter().map(|column| column[row].clone()).collect());
            }
        }
        Ok(Table { columns, rows })
    }

    /// The columns in the given order (names must all exist).
    fn project(&self, names: &[String]) -> Table {
        let indexes: Vec<usize> = names
            .iter()
            .filter_map(|n| self.columns.iter().position(|c| c == n))
            .collect();
        Table {
            columns: names.to_vec(),
            rows: self
                .rows
                .iter()
                .map(|r| indexes.iter().map(|&i| r[i].clone()).collect())
                .collect(),
        }
    }

    fn sort_rows(&mut self) {
        self.rows.sort_by(|a, b| {
            a.iter()
                .zip(b)
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        });
    }
}

fn cells(array: &ArrayRef) -> Result<Vec<Cell>, String> {
    let cast_to = |to: &DataType| cast(array, to).map_err(|e| format!("cannot read {}: {e}", array.data_type()));
    // Every value as a cell, NULL as `Cell::Null`.
    fn each<T>(values: impl Iterator<Item = Option<T>>, cell: impl Fn(T) -> Cell) -> Vec<Cell> {
        values.map(|v| v.map_or(Cell::Null, &cell)).collect()
    }
    let micros = DataType::Timestamp(TimeUnit::Microsecond, None);
    let cells: Vec<Cell> = match array.data_type() {
        DataType::Null => vec![Cell::Null; array.len()],
        DataType::Boolean => each(array.as_boolean().iter(), Cell::Bool),
        t if t.is_integer() => each(cast_to(&DataType::Int64)?.as_primitive::<Int64Type>().iter(), Cell::Int),
        t if t.is_floating() || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..)) => each(
            cast_to(&DataType::Float64)?.as_primitive::<Float64Type>().iter(),
            Cell::Float,
        ),
        // Stored values are UTC instants whatever the zone: the wall-clock time in UTC.
        DataType::Timestamp(_, zone) => each(
            cast_to(&DataType::Timestamp(TimeUnit::Microsecond, zone.clone()))?
                .as_primitive::<TimestampMicrosecondType>()
                .iter(),
            Cell::Timestamp,
        ),
        DataType::Date32 | DataType::Date64 => each(
            cast_to(&micros)?.as_primitive::<TimestampMicrosecondType>().iter(),
            Cell::Timestamp,
        ),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(..) => {
            each(cast_to(&DataType::Utf8)?.as_string::<i32>().iter(), |v| {
                Cell::Str(v.to_owned())
            })
        }
        _ => {
            let options = FormatOptions::default();
            let formatter = ArrayFormatter::try_new(array.as_ref(), &options).map_err(|e| e.to_string())?;
            each(
                (0..array.len()).map(|i| (!array.is_null(i)).then(|| formatter.value(i).to_string())),
                Cell::Str,
            )
        }
    };
    Ok(cells)
}

/// Compare `actual` with `expected`; the error is the first difference, on one line.
pub fn compare(expected: &Table, actual: &Table, check_order: bool, allow_empty: bool) -> Result<(), String> {
    let mut expected_names = expected.columns.clone();
    let mut actual_names = actual.columns.clone();
    expected_names.sort();
    actual_names.sort();
    if expected_names != actual_names {
        let missing: Vec<&String> = expected_names.iter().filter(|n| !actual_names.contains(n)).collect();
        let extra: Vec<&String> = actual_names.iter().filter(|n| !expected_names.contains(n)).collect();
        return Err(format!(
            "columns differ: expected {:?}, got {:?} (missing {missing:?}, unexpected {extra:?})",
            expected.columns, actual.columns
        ));
    }
    if check_order && expected.columns != actual.columns {
        return Err(format!(
            "column order differs: expected {:?}, got {:?}",
            expected.columns, actual.columns
        ));
    }
    if !allow_empty && expected.rows.is_empty() {
        return Err("the expected result is empty and the case does not set allow_empty".to_owned());
    }
    let (expected, actual) = if check_order {
        (expected.clone(), actual.clone())
    } else {
        let mut e = expected.project(&expected_names);
        let mut a = actual.project(&expected_names);
        e.sort_rows();
        a.sort_rows();
        (e, a)
    };
    let first_difference = expected
        .rows
        .iter()
        .zip(&actual.rows)
        .enumerate()
        .find_map(|(i, (e, a))| e.iter().zip(a).position(|(x, y)| !x.matches(y)).map(|c| (i, c)));
    let row_word = if check_order { "row" } else { "sorted row" };
    if expected.rows.len() != actual.rows.len() {
        let at = first_difference.map_or(expected.rows.len().min(actual.rows.len()), |(i, _)| i);
        return Err(format!(
            "expected {} rows, got {}; first difference at {row_word} {at}: expected {}, got {}",
            expected.rows.len(),
            actual.rows.len(),
            show_row(&expected, at),
            show_row(&actual, at)
        ));
    }
    match first_difference {
        None => Ok(()),
        Some((row, column)) => Err(format!(
            "{row_word} {row}, column {}: expected {}, got {} (expected row {}, got {})",
            expected.columns[column],
            expected.rows[row][column],
            actual.rows[row][column],
            show_row(&expected, row),
            show_row(&actual, row)
        )),
    }
}

fn show_row(table: &Table, index: usize) -> String {
    match table.rows.get(index) {
        None => "no row".to_owned(),
        Some(row) => {
            let text = table
                .columns
                .iter()
                .zip(row)
                .map(|(name, cell)| format!("{name}={cell}"))
                .collect::<Vec<_>>()
                .join(", ");
            let mut short: String = text.chars().take(240).collect();
            if short.len() < text.len() {
                short.push('…');
            }
            format!("({short})")
        }
    }
}

#[cfg(test)]
mod tests;
