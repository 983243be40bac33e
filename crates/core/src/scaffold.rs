//! A new project that works as it is, with generated sample data (`canary init`).

use std::path::Path;
use std::sync::Arc;

use crate::error::{CanaryError, Result};
use chrono::{Duration, TimeZone, Utc};
use datafusion::arrow::array::{
    ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::parquet::arrow::ArrowWriter;

const PROJECT: &str = "\
project: my-kpis
version: 0.1.0
owner: analytics@example.com
description: A new Canary project. Edit products/ and kpis/, then run `canary validate`.
";

const PRODUCT: &str = "\
product: sales
version: 1.0.0
owner: sales-data@example.com
description: One row per sale.
location: data/sales.parquet
time_dimension: sold_at
columns:
  - { name: sale_id, type: int64, nullable: false }
  - { name: sold_at, type: timestamp, nullable: false }
  - { name: region, type: string }
  - { name: product, type: string }
  - { name: quantity, type: int64 }
  - { name: amount, type: float64 }
entities:
  - { name: sale, type: primary, column: sale_id }
dimensions:
  - { name: sold_at, type: time, granularity: day }
  - { name: region, type: categorical }
  - { name: product, type: categorical }
measures:
  - { name: revenue, agg: sum, expr: amount }
  - { name: sales, agg: count }
  - { name: units, agg: sum, expr: quantity }
";

const KPIS: &str = "\
kpis:
  - id: revenue
    version: 1.0.0
    type: simple
    name: Revenue
    measure: sales.revenue
    unit: EUR
    direction: higher_is_better
  - id: sales
    version: 1.0.0
    type: simple
    name: Number of sales
    measure: sales.sales
    direction: higher_is_better
  - id: average_sale
    version: 1.0.0
    type: ratio
    name: Average sale
    numerator: { measure: sales.revenue }
    denominator: { measure: sales.sales }
    unit: EUR
  - id: revenue_growth
    version: 1.0.0
    type: derived
    name: Revenue growth on the previous period
    expr: (revenue - revenue_previous) / revenue_previous
    inputs:
      - { kpi: revenue, alias: revenue_previous, offset: 1 period }
    unit: ratio
  - id: revenue_to_date
    version: 1.0.0
    type: cumulative
    name: Revenue, year to date
    measure: sales.revenue
    cumulative: { grain_to_date: year }
    unit: EUR
";

/// Create `dir` with a project, its specs and sample data: the operation behind
/// `canary init`.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let project = dir.path().join("kpis");
/// canary_core::scaffold::create_project(&project).unwrap();
/// assert!(project.join("canary.yaml").is_file());
/// assert!(canary_core::scaffold::create_project(&project).is_err(), "not empty any more");
/// ```
///
/// # Errors
/// A query error when `dir` exists and is not empty; an I/O error when a file cannot be
/// written.
pub fn create_project(dir: &Path) -> Result<()> {
    let io = |path: &Path, e: std::io::Error| CanaryError::Io {
        path: path.display().to_string(),
        source: e,
    };
    if std::path::absolute(dir)
        .unwrap_or_else(|_| dir.to_path_buf())
        .to_str()
        .is_none()
    {
        return Err(CanaryError::query_hint(
            format!(
                "`{}` is not a UTF-8 path; a project's data locations must be",
                dir.display()
            ),
            "choose a folder whose path is UTF-8",
        ));
    }
    if dir.exists() && dir.read_dir().map_err(|e| io(dir, e))?.next().is_some() {
        return Err(CanaryError::query_hint(
            format!("`{}` exists and is not empty", dir.display()),
            "choose a new folder",
        ));
    }
    for sub in ["products", "kpis", "data"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(|e| io(&dir.join(sub), e))?;
    }
    for (path, text) in [
        ("canary.yaml", PROJECT),
        ("products/sales.yaml", PRODUCT),
        ("kpis/sales.yaml", KPIS),
    ] {
        std::fs::write(dir.join(path), text).map_err(|e| io(&dir.join(path), e))?;
    }
    let data = dir.join("data/sales.parquet");
    let file = std::fs::File::create(&data).map_err(|e| io(&data, e))?;
    let batch = sample_sales().map_err(|e| CanaryError::internal(e.to_string()))?;
    let mut writer =
        ArrowWriter::try_new(file, batch.schema(), None).map_err(|e| CanaryError::internal(e.to_string()))?;
    writer.write(&batch).map_err(|e| CanaryError::internal(e.to_string()))?;
    writer.close().map_err(|e| CanaryError::internal(e.to_string()))?;
    Ok(())
}

/// 2,000 sales over 2025, from a fixed-seed generator (the same file every time).
fn sample_sales() -> std::result::Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let regions = ["north", "south", "east", "west"];
    let products = ["basic", "plus", "pro"];
    let prices = [19.0, 49.0, 99.0];
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).single().unwrap_or_default();
    let n = 2_000;
    let mut ids = Vec::with_capacity(n);
    let mut times = Vec::with_capacity(n);
    let mut region = Vec::with_capacity(n);
    let mut product = Vec::with_capacity(n);
    let mut quantity = Vec::with_capacity(n);
    let mut amount = Vec::with_capacity(n);
    for i in 0..n {
        let minutes = (next() % (365 * 24 * 60)) as i64;
        let p = (next() % 3) as usize;
        let q = (next() % 4 + 1) as i64;
        ids.push(i as i64 + 1);
        times.push((start + Duration::minutes(minutes)).timestamp_micros());
        region.push(regions[(next() % 4) as usize]);
        product.push(products[p]);
        quantity.push(q);
        amount.push(prices[p] * q as f64);
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("sale_id", DataType::Int64, false),
        Field::new("sold_at", DataType::Timestamp(TimeUnit::Microsecond, None), false),
        Field::new("region", DataType::Utf8, true),
        Field::new("product", DataType::Utf8, true),
        Field::new("quantity", DataType::Int64, true),
        Field::new("amount", DataType::Float64, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids)),
        Arc::new(TimestampMicrosecondArray::from(times)),
        Arc::new(StringArray::from(region)),
        Arc::new(StringArray::from(product)),
        Arc::new(Int64Array::from(quantity)),
        Arc::new(Float64Array::from(amount)),
    ];
    RecordBatch::try_new(schema, columns)
}
