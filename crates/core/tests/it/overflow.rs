//! Integers never wrap: a sum that fits is exact however large its partial sums; a sum, a
//! product or a folded constant that does not fit is an error, never a wrapped number.

use std::sync::Arc;

use canary_core::{CanaryError, Engine, Grain, Query};
use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::parquet::arrow::ArrowWriter;

use crate::fixture::query_rows;

/// A project over one table of `(g, at, q)` rows, with `sum(q)` by `g`.
async fn project(rows: &[(&str, i64)]) -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("products")).expect("mkdir");
    std::fs::create_dir_all(root.join("kpis")).expect("mkdir");
    std::fs::create_dir_all(root.join("data")).expect("mkdir");
    std::fs::write(
        root.join("canary.yaml"),
        "project: big\nversion: 1.0.0\nowner: t@example.com\n",
    )
    .expect("w");
    std::fs::write(
        root.join("products/t.yaml"),
        "product: t\nversion: 1.0.0\nowner: t@example.com\nlocation: data/t.parquet\n\
         columns:\n  - {name: g, type: string, nullable: false}\n  - {name: at, type: timestamp, nullable: false}\n  - {name: q, type: int64, nullable: false}\n\
         dimensions:\n  - {name: g, type: categorical}\n  - {name: at, type: time}\n\
         measures:\n  - {name: total, agg: sum, expr: q}\n  - {name: doubled, agg: sum, expr: q * 2}\n\
         time_dimension: at\n",
    )
    .expect("w");
    std::fs::write(
        root.join("kpis/k.yaml"),
        "kpis:\n  - {id: total, version: 1.0.0, type: simple, measure: t.total}\n  - {id: doubled, version: 1.0.0, type: simple, measure: t.doubled}\n  - {id: running, version: 1.0.0, type: cumulative, measure: t.total, cumulative: {window: 3 days}}\n",
    )
    .expect("w");
    let schema = Arc::new(Schema::new(vec![
        Field::new("g", DataType::Utf8, false),
        Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, None), false),
        Field::new("q", DataType::Int64, false),
    ]));
    let day = 86_400_000_000i64;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(rows.iter().map(|(g, _)| *g))),
        Arc::new(TimestampMicrosecondArray::from_iter_values(
            (0..rows.len() as i64).map(|i| 1_704_067_200_000_000 + i * day),
        )),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|(_, q)| *q))),
    ];
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns).expect("batch");
    let file = std::fs::File::create(root.join("data/t.parquet")).expect("file");
    let mut w = ArrowWriter::try_new(file, schema, None).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
    let engine = Engine::open(root).await.expect("open");
    (dir, engine)
}

fn query(kpi: &str, grain: Option<Grain>) -> Query {
    Query {
        kpis: vec![kpi.into()],
        grain,
        by: vec!["g".into()],
        ..Query::default()
    }
}

#[tokio::test]
async fn a_total_that_fits_is_exact_whatever_its_partial_sums() {
    // Hand count: 2^62 + 2^62 - 2^62 - 2^62 + 5 = 5, though 2^62 + 2^62 already overflows
    // an i64 on the way.
    let big = 1i64 << 62;
    let (_dir, e) = project(&[("a", big), ("a", big), ("a", -big), ("a", -big), ("a", 5)]).await;
    assert_eq!(query_rows(&e, &query("total", None)).await, vec![vec!["a", "5"]]);
}

#[tokio::test]
async fn a_total_past_int64_is_an_error_not_a_wrapped_number() {
    let big = 1i64 << 62;
    let (_dir, e) = project(&[("a", big), ("a", big), ("b", 1)]).await;
    for q in [
        query("total", None),
        query("total", Some(Grain::Month)),
        query("running", Some(Grain::Day)),
    ] {
        match e.compute(&q).await {
            Err(CanaryError::Data { message, .. }) => {
                assert!(message.contains("9223372036854775808"), "{message}");
            }
            other => panic!("{:?}: {other:?}", q.kpis),
        }
    }
}

#[tokio::test]
async fn integer_arithmetic_past_int64_is_an_error_in_rows_and_in_constants() {
    let (_dir, e) = project(&[("a", 1i64 << 62), ("b", 3)]).await;
    // q * 2 of 2^62 is 2^63: one past i64::MAX.
    match e.compute(&query("doubled", None)).await {
        Err(CanaryError::Data { message, .. }) => assert!(message.contains("Overflow"), "{message}"),
        other => panic!("{other:?}"),
    }
    // Constants: was `false` (the sum wrapped), so every row was silently filtered out.
    let folded = Query {
        filter: Some("9223372036854775807 + 1 > 0".into()),
        ..query("total", None)
    };
    match e.compute(&folded).await {
        Err(CanaryError::Data { message, .. }) => {
            assert_eq!(
                message,
                "Arithmetic overflow: Overflow happened on: 9223372036854775807 + 1"
            );
        }
        other => panic!("{other:?}"),
    }
    // Arithmetic that fits is unchanged, in rows and in constants.
    let (_dir, e) = project(&[("a", 1i64 << 61), ("b", 3)]).await;
    let fine = Query {
        filter: Some("q * 2 >= 9223372036854775806 - 9223372036854775800".into()),
        ..query("doubled", None)
    };
    assert_eq!(
        query_rows(&e, &fine).await,
        vec![vec!["a", "4611686018427387904"], vec!["b", "6"]]
    );
}
