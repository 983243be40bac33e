//! Every file at a location is checked against the contract, not only the schema merged
//! from all of them: a file that would read as NULLs, be skipped, or be read ambiguously is
//! a diagnostic, never a silently different number.

use std::path::Path;
use std::sync::Arc;

use canary_core::{CanaryError, Engine};
use datafusion::arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::parquet::arrow::ArrowWriter;

/// A project whose product `t` (columns `g`, `amount`) is the folder `data/t/`, with the
/// `month` partition when `partitioned`.
fn project(root: &Path, partitioned: bool) {
    for d in ["products", "kpis", "data/t"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    std::fs::write(root.join("canary.yaml"), "project: files\n").expect("w");
    let partitions = if partitioned {
        "partitions: [{name: month, type: string}]\n"
    } else {
        ""
    };
    std::fs::write(
        root.join("products/t.yaml"),
        format!(
            "product: t\nversion: 1.0.0\nowner: t@example.com\nlocation: data/t/\n{partitions}\
             columns:\n  - {{name: g, type: string, nullable: false}}\n  - {{name: amount, type: float64, nullable: false}}\n\
             dimensions:\n  - {{name: g, type: categorical}}\nmeasures:\n  - {{name: revenue, agg: sum, expr: amount}}\n"
        ),
    )
    .expect("w");
    std::fs::write(
        root.join("kpis/k.yaml"),
        "kpis:\n  - {id: revenue, version: 1.0.0, type: simple, measure: t.revenue}\n",
    )
    .expect("w");
}

/// A Parquet file at `path` with the named columns (`g` strings, others floats), one row.
fn write(path: &Path, columns: &[&str]) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| match *c {
            "g" => Field::new(*c, DataType::Utf8, false),
            _ => Field::new(*c, DataType::Float64, false),
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .map(|c| match *c {
            "g" => Arc::new(StringArray::from(vec!["x"])) as ArrayRef,
            _ => Arc::new(Float64Array::from(vec![10.0])) as ArrayRef,
        })
        .collect();
    let batch = RecordBatch::try_new(Arc::clone(&schema), arrays).expect("batch");
    let mut w = ArrowWriter::try_new(std::fs::File::create(path).expect("file"), schema, None).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
}

async fn problems(root: &Path) -> Vec<String> {
    match Engine::open(root).await {
        Err(CanaryError::Spec(diags)) => diags.iter().map(|d| d.to_string()).collect(),
        Ok(_) => Vec::new(),
        Err(other) => panic!("{other}"),
    }
}

#[tokio::test]
async fn a_file_without_a_contract_column_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    project(dir.path(), false);
    write(&dir.path().join("data/t/a.parquet"), &["g", "amount"]);
    write(&dir.path().join("data/t/b.parquet"), &["g", "amount"]);
    assert!(problems(dir.path()).await.is_empty());
    // Its rows would read amount as NULL: revenue halved, and validate said ok.
    write(&dir.path().join("data/t/c.parquet"), &["g"]);
    let p = problems(dir.path()).await;
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].contains("error[C0703]: 1 of the 3 files of `t` have no column `amount`: `c.parquet`"),
        "{p:?}"
    );
}

#[tokio::test]
async fn a_file_with_two_columns_of_one_name_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    project(dir.path(), false);
    write(&dir.path().join("data/t/a.parquet"), &["g", "amount", "amount"]);
    let p = problems(dir.path()).await;
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].contains("error[C0705]") && p[0].contains("`a.parquet` (`amount`)"),
        "{p:?}"
    );
}

#[tokio::test]
async fn a_file_outside_the_partition_folders_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    project(dir.path(), true);
    write(&dir.path().join("data/t/month=2024-01/a.parquet"), &["g", "amount"]);
    assert!(problems(dir.path()).await.is_empty());
    // DataFusion would skip it without a word.
    write(&dir.path().join("data/t/stray.parquet"), &["g", "amount"]);
    write(&dir.path().join("data/t/other/b.parquet"), &["g", "amount"]);
    let p = problems(dir.path()).await;
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].contains(
            "error[C0705]: 2 files of `t` are outside the partition folders `month=…/` and would not be read: `other/b.parquet`, `stray.parquet`"
        ),
        "{p:?}"
    );
}

#[tokio::test]
async fn a_file_in_a_sub_folder_of_a_folder_location_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    project(dir.path(), false);
    write(&dir.path().join("data/t/a.parquet"), &["g", "amount"]);
    // DataFusion's listing skips sub-folders that are not partition folders.
    write(&dir.path().join("data/t/2024/b.parquet"), &["g", "amount"]);
    let p = problems(dir.path()).await;
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].contains(
            "error[C0705]: 1 files below the location of `t` are in sub-folders and would not be read: `2024/b.parquet`"
        ),
        "{p:?}"
    );
}

#[tokio::test]
async fn a_file_with_an_impossible_footer_is_a_diagnostic_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    project(dir.path(), false);
    write(&dir.path().join("data/t/a.parquet"), &["g", "amount"]);
    // `PAR1`, junk, a metadata length of 2^31 - 1, `PAR1`: the Parquet reader panicked.
    let mut bytes = b"PAR1".to_vec();
    bytes.extend([0u8; 16]);
    bytes.extend(0x7fff_ffffu32.to_le_bytes());
    bytes.extend(b"PAR1");
    std::fs::write(dir.path().join("data/t/b.parquet"), &bytes).expect("write");
    std::fs::write(dir.path().join("data/t/c.parquet"), b"PAR").expect("write");
    let p = problems(dir.path()).await;
    // One diagnostic for the product, naming every bad file, not only the first.
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].contains("error[C0704]: 2 files of `data/t/` cannot be read:\n  `b.parquet` is not a valid Parquet file: its footer says 2147483647 bytes of metadata, but the file has 28 bytes\n  `c.parquet` is not a Parquet file: it has 3 bytes"),
        "{p:?}"
    );
}
