use std::sync::Arc;

use datafusion::arrow::array::{
    BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray,
    TimestampNanosecondArray,
};
use datafusion::arrow::datatypes::Field;

use super::*;

fn table(columns: &[&str], rows: Vec<Vec<Cell>>) -> Table {
    Table {
        columns: columns.iter().map(|c| (*c).to_owned()).collect(),
        rows,
    }
}

fn s(v: &str) -> Cell {
    Cell::Str(v.to_owned())
}

#[test]
fn floats_match_within_a_relative_tolerance_and_no_absolute_one() {
    assert!(Cell::Float(1000.0).matches(&Cell::Float(1000.0009)));
    assert!(!Cell::Float(1000.0).matches(&Cell::Float(1000.002)));
    assert!(!Cell::Float(0.0).matches(&Cell::Float(1e-12)));
    assert!(Cell::Float(f64::NAN).matches(&Cell::Float(f64::NAN)));
    assert!(!Cell::Float(f64::INFINITY).matches(&Cell::Float(1e308)));
}

#[test]
fn ints_and_floats_compare_as_numbers() {
    assert!(Cell::Int(3).matches(&Cell::Float(3.0)));
    assert!(Cell::Float(3.0).matches(&Cell::Int(3)));
    assert!(!Cell::Int(3).matches(&Cell::Int(4)));
    assert!(!Cell::Int(3).matches(&s("3")));
}

#[test]
fn null_matches_only_null() {
    assert!(Cell::Null.matches(&Cell::Null));
    assert!(!Cell::Null.matches(&Cell::Int(0)));
    assert!(!s("").matches(&Cell::Null));
}

#[test]
fn rows_compare_as_a_multiset_whatever_their_order_and_column_order() {
    let expected = table(
        &["metric_time__day", "bookings"],
        vec![
            vec![Cell::Timestamp(2), Cell::Int(5)],
            vec![Cell::Null, Cell::Int(1)],
            vec![Cell::Timestamp(1), Cell::Int(5)],
        ],
    );
    let actual = table(
        &["bookings", "metric_time__day"],
        vec![
            vec![Cell::Float(5.0), Cell::Timestamp(1)],
            vec![Cell::Float(5.0), Cell::Timestamp(2)],
            vec![Cell::Int(1), Cell::Null],
        ],
    );
    assert_eq!(compare(&expected, &actual, false, false), Ok(()));
}

#[test]
fn a_missing_row_is_reported_with_the_counts() {
    let expected = table(&["x"], vec![vec![Cell::Int(1)], vec![Cell::Int(2)]]);
    let actual = table(&["x"], vec![vec![Cell::Int(2)]]);
    assert_eq!(
        compare(&expected, &actual, false, false),
        Err("expected 2 rows, got 1; first difference at sorted row 0: expected (x=1), got (x=2)".to_owned())
    );
}

#[test]
fn check_order_requires_the_same_row_and_column_order() {
    let expected = table(
        &["a", "b"],
        vec![vec![Cell::Int(1), s("x")], vec![Cell::Int(2), s("y")]],
    );
    let swapped_rows = table(
        &["a", "b"],
        vec![vec![Cell::Int(2), s("y")], vec![Cell::Int(1), s("x")]],
    );
    assert_eq!(compare(&expected, &swapped_rows, false, false), Ok(()));
    assert_eq!(
        compare(&expected, &swapped_rows, true, false),
        Err("row 0, column a: expected 1, got 2 (expected row (a=1, b=\"x\"), got (a=2, b=\"y\"))".to_owned())
    );
    let swapped_columns = table(
        &["b", "a"],
        vec![vec![s("x"), Cell::Int(1)], vec![s("y"), Cell::Int(2)]],
    );
    assert_eq!(compare(&expected, &swapped_columns, false, false), Ok(()));
    assert_eq!(
        compare(&expected, &swapped_columns, true, false),
        Err(r#"column order differs: expected ["a", "b"], got ["b", "a"]"#.to_owned())
    );
}

#[test]
fn different_column_names_fail_before_anything_else() {
    let expected = table(&["a", "b"], vec![]);
    let actual = table(&["a", "c"], vec![]);
    assert_eq!(
        compare(&expected, &actual, false, true),
        Err(r#"columns differ: expected ["a", "b"], got ["a", "c"] (missing ["b"], unexpected ["c"])"#.to_owned())
    );
}

#[test]
fn an_empty_expected_result_fails_unless_allowed() {
    let empty = table(&["a"], vec![]);
    assert_eq!(
        compare(&empty, &empty, false, false),
        Err("the expected result is empty and the case does not set allow_empty".to_owned())
    );
    assert_eq!(compare(&empty, &empty, false, true), Ok(()));
}

#[test]
fn sorting_is_total_across_types() {
    let mut cells = vec![
        s("b"),
        Cell::Timestamp(0),
        Cell::Float(2.5),
        Cell::Null,
        Cell::Int(2),
        Cell::Bool(true),
    ];
    cells.sort_by(Cell::total_cmp);
    assert_eq!(
        cells,
        [
            Cell::Null,
            Cell::Bool(true),
            Cell::Int(2),
            Cell::Float(2.5),
            Cell::Timestamp(0),
            s("b")
        ]
    );
}

#[test]
fn arrow_columns_normalize_timestamps_dates_and_numbers() {
    let day = 86_400_000_000i64;
    let schema = Schema::new(vec![
        Field::new("ns", DataType::Timestamp(TimeUnit::Nanosecond, None), true),
        Field::new(
            "utc",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("date", DataType::Date32, true),
        Field::new("i32", DataType::Int32, true),
        Field::new("f", DataType::Float64, true),
        Field::new("b", DataType::Boolean, true),
        Field::new("s", DataType::Utf8, true),
    ]);
    let batch = RecordBatch::try_new(
        Arc::new(schema.clone()),
        vec![
            Arc::new(TimestampNanosecondArray::from(vec![Some(day * 1000 + 1999), None])),
            Arc::new(TimestampMicrosecondArray::from(vec![Some(day), None]).with_timezone("UTC")),
            Arc::new(Date32Array::from(vec![Some(1), None])),
            Arc::new(Int32Array::from(vec![Some(7), None])),
            Arc::new(Float64Array::from(vec![Some(0.5), None])),
            Arc::new(BooleanArray::from(vec![Some(false), None])),
            Arc::new(StringArray::from(vec![Some("x"), None])),
        ],
    )
    .unwrap();
    let t = Table::from_batches(&schema, &[batch]).unwrap();
    assert_eq!(t.columns, ["ns", "utc", "date", "i32", "f", "b", "s"]);
    assert_eq!(
        t.rows,
        [
            vec![
                Cell::Timestamp(day + 1),
                Cell::Timestamp(day),
                Cell::Timestamp(day),
                Cell::Int(7),
                Cell::Float(0.5),
                Cell::Bool(false),
                s("x")
            ],
            vec![Cell::Null; 7],
        ]
    );
    let ints = Table::from_batches(
        &Schema::new(vec![Field::new("n", DataType::Int64, false)]),
        &[RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)])),
            vec![Arc::new(Int64Array::from(vec![3]))],
        )
        .unwrap()],
    )
    .unwrap();
    assert_eq!(ints.rows, [vec![Cell::Int(3)]]);
}
