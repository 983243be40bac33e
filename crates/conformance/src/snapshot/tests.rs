use datafusion::arrow::array::{Array, AsArray, Float64Array};
use datafusion::arrow::datatypes::{Float64Type, Int64Type, TimestampMicrosecondType};

use super::*;

const SNAPSHOT: &str = r#"
table_snapshot:
  table_name: fct_things
  column_definitions:
    - name: ds
      type: TIME
    - name: label
      type: STRING
    - name: amount
      type: FLOAT
    - name: n
      type: INT
    - name: flag
      type: BOOLEAN
  rows:
    # a comment between rows
    - ["2020-01-02", "a", "1.5", "7", "True"]
    - ["2020-01-02 03:04:05", null, null, null, "False"]
    - ["2020-01-02 03:04:05.123456789", "null", "-2", "-3", null]
"#;

/// Microseconds since the epoch, computed independently of `parse_time`.
fn micros(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32, us: u32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_micro_opt(h, mi, s, us)
        .unwrap()
        .and_utc()
        .timestamp_micros()
}

#[test]
fn a_snapshot_becomes_one_typed_batch() {
    let snapshot = parse_snapshot(SNAPSHOT).unwrap();
    assert_eq!(snapshot.table_name, "fct_things");
    let batch = &snapshot.batch;
    let types: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().to_string())
        .collect();
    assert_eq!(types, ["Timestamp(µs)", "Utf8", "Float64", "Int64", "Boolean"]);
    assert_eq!(batch.num_rows(), 3);
}

#[test]
fn time_values_are_microseconds_and_nanoseconds_truncate() {
    let snapshot = parse_snapshot(SNAPSHOT).unwrap();
    let ds = snapshot.batch.column(0).as_primitive::<TimestampMicrosecondType>();
    assert_eq!(ds.value(0), micros(2020, 1, 2, 0, 0, 0, 0));
    assert_eq!(ds.value(1), micros(2020, 1, 2, 3, 4, 5, 0));
    assert_eq!(ds.value(2), micros(2020, 1, 2, 3, 4, 5, 123_456));
}

#[test]
fn short_fractions_pad_and_bad_times_are_refused() {
    assert_eq!(
        parse_time("2020-01-01 00:00:00.5"),
        Ok(micros(2020, 1, 1, 0, 0, 0, 500_000))
    );
    assert_eq!(
        parse_time("2020-01-01 00:00:00.123"),
        Ok(micros(2020, 1, 1, 0, 0, 0, 123_000))
    );
    assert_eq!(
        parse_time("2019-12-31T23:59:59"),
        Ok(micros(2019, 12, 31, 23, 59, 59, 0))
    );
    assert_eq!(parse_time("1999-01-01"), Ok(micros(1999, 1, 1, 0, 0, 0, 0)));
    for bad in [
        "2020-13-01",
        "2020-01-01 25:00:00",
        "2020-1-1",
        "yesterday",
        "2020-01-01 00:00",
    ] {
        assert_eq!(
            parse_time(bad),
            Err(format!("`{bad}` is not a TIME (YYYY-MM-DD[ hh:mm:ss[.fraction]])")),
            "{bad}"
        );
    }
}

#[test]
fn strings_keep_a_quoted_null_and_plain_null_is_null() {
    let snapshot = parse_snapshot(SNAPSHOT).unwrap();
    let label = snapshot.batch.column(1).as_string::<i32>();
    assert_eq!(label.value(0), "a");
    assert!(label.is_null(1));
    assert_eq!(label.value(2), "null");
}

#[test]
fn floats_and_ints_parse_and_nulls_stay_null() {
    let snapshot = parse_snapshot(SNAPSHOT).unwrap();
    let amount = snapshot.batch.column(2).as_primitive::<Float64Type>();
    assert_eq!(amount, &Float64Array::from(vec![Some(1.5), None, Some(-2.0)]));
    let n = snapshot.batch.column(3).as_primitive::<Int64Type>();
    assert_eq!(n.iter().collect::<Vec<_>>(), [Some(7), None, Some(-3)]);
}

#[test]
fn booleans_are_true_false_and_null() {
    let snapshot = parse_snapshot(SNAPSHOT).unwrap();
    let flag = snapshot.batch.column(4).as_boolean();
    assert_eq!(flag.iter().collect::<Vec<_>>(), [Some(true), Some(false), None]);
}

#[test]
fn a_bad_value_names_its_line_and_column() {
    let text = SNAPSHOT.replace("\"7\"", "\"seven\"");
    assert_eq!(
        parse_snapshot(&text).unwrap_err(),
        "line 17: column `n`: `seven` is not an INT"
    );
    let text = SNAPSHOT.replace("\"True\"", "\"yes\"");
    assert_eq!(
        parse_snapshot(&text).unwrap_err(),
        "line 17: column `flag`: `yes` is not a BOOLEAN (True or False)"
    );
}

#[test]
fn the_table_name_is_found_without_parsing_rows() {
    assert_eq!(quick_table_name(SNAPSHOT).as_deref(), Some("fct_things"));
    assert_eq!(quick_table_name("table_snapshot:\n  rows:\n  table_name: x\n"), None);
}

#[test]
fn conversion_writes_parquet_and_skips_it_when_up_to_date() {
    let suite = std::env::temp_dir().join(format!("canary-conformance-test-{}", std::process::id()));
    let snapshots = suite.join("source_table_snapshots/some_model");
    fs::create_dir_all(&snapshots).unwrap();
    let yaml = snapshots.join("things.yaml");
    fs::write(&yaml, SNAPSHOT).unwrap();
    // File times can be coarser than this test is fast: date the snapshot a minute back.
    let a_minute_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    fs::File::options()
        .write(true)
        .open(&yaml)
        .unwrap()
        .set_modified(a_minute_ago)
        .unwrap();
    let out = suite.join("out");

    let first = convert_all(&suite, &out).unwrap();
    assert_eq!((first.converted, first.up_to_date), (1, 0));
    assert_eq!(first.tables.keys().collect::<Vec<_>>(), ["fct_things"]);
    let file = fs::File::open(out.join("fct_things.parquet")).unwrap();
    let reader = datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().unwrap();
    assert_eq!(batches, [parse_snapshot(SNAPSHOT).unwrap().batch]);

    let second = convert_all(&suite, &out).unwrap();
    assert_eq!((second.converted, second.up_to_date), (0, 1));
    fs::remove_dir_all(&suite).unwrap();
}
