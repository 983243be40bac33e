//! A tiny project whose every KPI value can be counted by hand (see the tables below).

use std::path::Path;
use std::sync::Arc;

use canary_core::{Engine, Grain, Query};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::array::{
    ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema, TimestampMicrosecondType};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::parquet::arrow::ArrowWriter;

/// orders (tenant `a` unless noted):
/// | id | cust | tenant | channel | status   | ordered_at        | amount | qty |
/// | 1  | 1    | a      | web     | done     | 2024-01-05 10:00  | 10     | 1   |
/// | 2  | 1    | a      | app     | done     | 2024-01-20 12:00  | 20     | 2   |
/// | 3  | 2    | a      | web     | returned | 2024-01-31 23:00  | 30     | 3   |
/// | 4  | 2    | a      | web     | done     | 2024-02-02 09:00  | 40     | 1   |
/// | 5  | 3    | a      | app     | done     | 2024-02-15 15:00  | 50     | 5   |
/// | 6  | 1    | a      | web     | done     | 2024-03-01 00:00  | 60     | 2   |
/// | 7  | 4    | b      | web     | done     | 2024-01-10 08:00  | 1000   | 9   |
type OrderRow = (
    i64,
    i64,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    f64,
    i64,
);
pub const ORDERS: &[OrderRow] = &[
    (1, 1, "a", "web", "done", "2024-01-05T10:00:00Z", 10.0, 1),
    (2, 1, "a", "app", "done", "2024-01-20T12:00:00Z", 20.0, 2),
    (3, 2, "a", "web", "returned", "2024-01-31T23:00:00Z", 30.0, 3),
    (4, 2, "a", "web", "done", "2024-02-02T09:00:00Z", 40.0, 1),
    (5, 3, "a", "app", "done", "2024-02-15T15:00:00Z", 50.0, 5),
    (6, 1, "a", "web", "done", "2024-03-01T00:00:00Z", 60.0, 2),
    (7, 4, "b", "web", "done", "2024-01-10T08:00:00Z", 1000.0, 9),
];

const PROJECT: &str = "project: fixture\nversion: 1.0.0\n";

const PRODUCTS: &[(&str, &str)] = &[
    (
        "orders",
        "product: orders
version: 1.0.0
owner: test
location: data/orders.parquet
tenant_column: tenant
time_dimension: ordered_at
columns:
  - { name: order_id, type: int64 }
  - { name: customer_id, type: int64 }
  - { name: tenant, type: string }
  - { name: channel, type: string }
  - { name: status, type: string }
  - { name: ordered_at, type: timestamp }
  - { name: amount, type: float64 }
  - { name: qty, type: int64 }
entities:
  - { name: order, type: primary, column: order_id }
  - { name: customer, type: foreign, column: customer_id }
dimensions:
  - { name: ordered_at, type: time, granularity: hour }
  - { name: channel, type: categorical }
  - { name: status, type: categorical }
  - { name: is_web, type: categorical, expr: channel = 'web' }
measures:
  - { name: revenue, agg: sum, expr: amount }
  - { name: orders, agg: count }
  - { name: customers, agg: count_distinct, expr: customer_id }
  - { name: avg_amount, agg: avg, expr: amount }
  - { name: min_amount, agg: min, expr: amount }
  - { name: max_amount, agg: max, expr: amount }
  - { name: median_amount, agg: percentile, expr: amount, percentile: 0.5 }
  - { name: median_qty_disc, agg: percentile_disc, expr: qty, percentile: 0.5 }
  - { name: returned, agg: sum_boolean, expr: status = 'returned' }
",
    ),
    (
        "customers",
        "product: customers
version: 1.0.0
owner: test
location: data/customers.parquet
tenant_column: tenant
columns:
  - { name: customer_id, type: int64 }
  - { name: tenant, type: string }
  - { name: segment, type: string }
  - { name: region_id, type: int64 }
entities:
  - { name: customer, type: primary, column: customer_id }
  - { name: region, type: foreign, column: region_id }
dimensions:
  - { name: segment, type: categorical }
",
    ),
    (
        "regions",
        "product: regions
version: 1.0.0
owner: test
location: data/regions.parquet
columns:
  - { name: region_id, type: int64 }
  - { name: region, type: string }
entities:
  - { name: region, type: primary, column: region_id }
dimensions:
  - { name: region_name, type: categorical, expr: region }
",
    ),
    (
        "visits",
        "product: visits
version: 1.0.0
owner: test
location: data/visits.parquet
tenant_column: tenant
time_dimension: visited_at
columns:
  - { name: visit_id, type: int64 }
  - { name: customer_id, type: int64 }
  - { name: tenant, type: string }
  - { name: visited_at, type: timestamp }
entities:
  - { name: visit, type: primary, column: visit_id }
  - { name: customer, type: foreign, column: customer_id }
dimensions:
  - { name: visited_at, type: time }
measures:
  - { name: visits, agg: count }
",
    ),
    (
        "balances",
        "product: balances
version: 1.0.0
owner: test
location: data/balances.parquet
time_dimension: snapshot_date
columns:
  - { name: snapshot_date, type: date }
  - { name: account_id, type: int64 }
  - { name: balance, type: float64 }
entities:
  - { name: account, type: foreign, column: account_id }
dimensions:
  - { name: snapshot_date, type: time }
measures:
  - name: closing_total
    agg: sum
    expr: balance
    non_additive: { dimension: snapshot_date, window: last }
  - name: closing_by_account
    agg: sum
    expr: balance
    non_additive: { dimension: snapshot_date, window: last, per: [account] }
  - name: opening_by_account
    agg: sum
    expr: balance
    non_additive: { dimension: snapshot_date, window: first, per: [account] }
",
    ),
];

const KPIS: &str = "kpis:
  - { id: revenue, version: 1.0.0, type: simple, measure: orders.revenue }
  - { id: done_revenue, version: 1.0.0, type: simple, measure: orders.revenue, filter: \"status = 'done'\" }
  - { id: orders, version: 1.0.0, type: simple, measure: orders.orders }
  - { id: customers, version: 1.0.0, type: simple, measure: orders.customers }
  - { id: done_customers, version: 1.0.0, type: simple, measure: orders.customers, filter: \"status = 'done'\" }
  - { id: done_median, version: 1.0.0, type: simple, measure: orders.median_amount, filter: \"status = 'done'\" }
  - { id: avg_amount, version: 1.0.0, type: simple, measure: orders.avg_amount }
  - { id: min_amount, version: 1.0.0, type: simple, measure: orders.min_amount }
  - { id: max_amount, version: 1.0.0, type: simple, measure: orders.max_amount }
  - { id: median_amount, version: 1.0.0, type: simple, measure: orders.median_amount }
  - { id: median_qty, version: 1.0.0, type: simple, measure: orders.median_qty_disc }
  - { id: returned, version: 1.0.0, type: simple, measure: orders.returned }
  - { id: web_orders, version: 1.0.0, type: simple, measure: orders.orders, filter: is_web }
  - id: return_rate
    version: 1.0.0
    type: ratio
    numerator: { measure: orders.orders, filter: \"status = 'returned'\" }
    denominator: { measure: orders.orders }
  - id: revenue_growth
    version: 1.0.0
    type: derived
    expr: (revenue - previous) / previous
    inputs: [{ kpi: revenue, alias: previous, offset: 1 period }]
  - { id: aov, version: 1.0.0, type: derived, expr: revenue / orders }
  - id: revenue_month_ago
    version: 1.0.0
    type: derived
    expr: before
    inputs: [{ kpi: revenue, alias: before, offset: 1 month }]
  - { id: revenue_total, version: 1.0.0, type: cumulative, measure: orders.revenue }
  - { id: revenue_30d, version: 1.0.0, type: cumulative, measure: orders.revenue, cumulative: { window: 30 days } }
  - { id: revenue_ytd, version: 1.0.0, type: cumulative, measure: orders.revenue, cumulative: { grain_to_date: year } }
  - { id: customers_to_date, version: 1.0.0, type: cumulative, measure: orders.customers }
  - { id: revenue_2d_first, version: 1.0.0, type: cumulative, measure: orders.revenue, cumulative: { window: 2 days, period_agg: first } }
  - { id: revenue_2d_last, version: 1.0.0, type: cumulative, measure: orders.revenue, cumulative: { window: 2 days, period_agg: last } }
  - { id: revenue_2d_avg, version: 1.0.0, type: cumulative, measure: orders.revenue, cumulative: { window: 2 days, period_agg: average } }
  - { id: revenue_every_day, version: 1.0.0, type: simple, measure: orders.revenue, every_period: true }
  - id: revenue_month_start
    version: 1.0.0
    type: derived
    expr: first_day
    inputs: [{ kpi: revenue, alias: first_day, offset: start of month }]
  - id: visit_conversion
    version: 1.0.0
    type: conversion
    conversion:
      base: { measure: visits.visits }
      conversion: { measure: orders.orders }
      entity: customer
      window: 7 days
  - id: visit_conversions
    version: 1.0.0
    type: conversion
    conversion:
      base: { measure: visits.visits }
      conversion: { measure: orders.orders }
      entity: customer
      window: 7 days
      calculation: conversions
  - { id: closing_total, version: 1.0.0, type: simple, measure: balances.closing_total }
  - { id: closing_balance, version: 1.0.0, type: simple, measure: balances.closing_by_account }
  - { id: opening_balance, version: 1.0.0, type: simple, measure: balances.opening_by_account }
";

pub(crate) fn micros(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .expect("fixture time")
        .timestamp_micros()
}

pub(crate) fn write(path: &Path, columns: Vec<(&str, ArrayRef)>) {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns.into_iter().map(|(_, a)| a).collect())
        .expect("fixture batch");
    let mut w = ArrowWriter::try_new(std::fs::File::create(path).expect("fixture file"), schema, None).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
}

pub(crate) fn ts(values: Vec<i64>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(values))
}

pub(crate) fn strings(values: Vec<&str>) -> ArrayRef {
    Arc::new(StringArray::from(values))
}

pub(crate) fn ints(values: Vec<i64>) -> ArrayRef {
    Arc::new(Int64Array::from(values))
}

/// Write the fixture project into `dir`.
pub fn create(dir: &Path) {
    std::fs::create_dir_all(dir.join("products")).expect("mkdir");
    std::fs::create_dir_all(dir.join("kpis")).expect("mkdir");
    std::fs::create_dir_all(dir.join("data")).expect("mkdir");
    std::fs::write(dir.join("canary.yaml"), PROJECT).expect("write");
    for (name, text) in PRODUCTS {
        std::fs::write(dir.join(format!("products/{name}.yaml")), text).expect("write");
    }
    std::fs::write(dir.join("kpis/all.yaml"), KPIS).expect("write");
    let o = ORDERS;
    write(
        &dir.join("data/orders.parquet"),
        vec![
            ("order_id", ints(o.iter().map(|r| r.0).collect())),
            ("customer_id", ints(o.iter().map(|r| r.1).collect())),
            ("tenant", strings(o.iter().map(|r| r.2).collect())),
            ("channel", strings(o.iter().map(|r| r.3).collect())),
            ("status", strings(o.iter().map(|r| r.4).collect())),
            ("ordered_at", ts(o.iter().map(|r| micros(r.5)).collect())),
            (
                "amount",
                Arc::new(Float64Array::from(o.iter().map(|r| r.6).collect::<Vec<_>>())),
            ),
            ("qty", ints(o.iter().map(|r| r.7).collect())),
        ],
    );
    write(
        &dir.join("data/customers.parquet"),
        vec![
            ("customer_id", ints(vec![1, 2, 3, 4])),
            ("tenant", strings(vec!["a", "a", "a", "b"])),
            ("segment", strings(vec!["consumer", "business", "consumer", "business"])),
            ("region_id", ints(vec![10, 20, 20, 10])),
        ],
    );
    write(
        &dir.join("data/regions.parquet"),
        vec![
            ("region_id", ints(vec![10, 20])),
            ("region", strings(vec!["north", "south"])),
        ],
    );
    // visits: v1 cust1 Jan 4 → order 1 (Jan 5); v2 cust2 Jan 10 → none within 7 days;
    // v3 cust2 Jan 28 → orders 3 (Jan 31) and 4 (Feb 2); v4 cust3 Feb 20 → none after;
    // v5 cust1 Jan 18 → order 2 (Jan 20); v6 tenant b; v7 cust2 Feb 1 → order 4 (Feb 2),
    // which is later than v3 and so takes order 4 from it.
    write(
        &dir.join("data/visits.parquet"),
        vec![
            ("visit_id", ints(vec![1, 2, 3, 4, 5, 6, 7])),
            ("customer_id", ints(vec![1, 2, 2, 3, 1, 4, 2])),
            ("tenant", strings(vec!["a", "a", "a", "a", "a", "b", "a"])),
            (
                "visited_at",
                ts(vec![
                    micros("2024-01-04T10:00:00Z"),
                    micros("2024-01-10T00:00:00Z"),
                    micros("2024-01-28T00:00:00Z"),
                    micros("2024-02-20T00:00:00Z"),
                    micros("2024-01-18T00:00:00Z"),
                    micros("2024-01-09T00:00:00Z"),
                    micros("2024-02-01T00:00:00Z"),
                ]),
            ),
        ],
    );
    let day = |s: &str| (micros(&format!("{s}T00:00:00Z")) / 86_400_000_000) as i32;
    write(
        &dir.join("data/balances.parquet"),
        vec![
            (
                "snapshot_date",
                Arc::new(Date32Array::from(vec![
                    day("2024-01-01"),
                    day("2024-01-01"),
                    day("2024-01-31"),
                    day("2024-01-15"),
                    day("2024-02-10"),
                    day("2024-02-29"),
                ])),
            ),
            ("account_id", ints(vec![1, 2, 1, 2, 1, 2])),
            (
                "balance",
                Arc::new(Float64Array::from(vec![100.0, 50.0, 110.0, 70.0, 120.0, 80.0])),
            ),
        ],
    );
}

/// A fresh fixture project and its engine.
pub async fn engine() -> (tempfile::TempDir, Engine) {
    engine_with_kpis("").await
}

/// The fixture with `extra` (YAML list items, indented as in `KPIS`) appended to its KPIs.
pub async fn engine_with_kpis(extra: &str) -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().expect("tempdir");
    create(dir.path());
    if !extra.is_empty() {
        let kpis = dir.path().join("kpis/all.yaml");
        let text = std::fs::read_to_string(&kpis).expect("read");
        std::fs::write(&kpis, text + extra).expect("write");
    }
    let engine = Engine::open(dir.path()).await.unwrap_or_else(|e| match e {
        canary_core::CanaryError::Spec(d) => panic!("fixture invalid: {d:#?}"),
        other => panic!("{other}"),
    });
    (dir, engine)
}

/// Compute and render every row as strings (`""` for NULL), for exact comparisons.
pub async fn rows(
    engine: &Engine,
    kpis: &[&str],
    grain: Option<Grain>,
    by: &[&str],
    tenant: Option<&str>,
) -> Vec<Vec<String>> {
    let q = Query {
        kpis: kpis.iter().map(|s| s.to_string()).collect(),
        grain,
        by: by.iter().map(|s| s.to_string()).collect(),
        tenant: tenant.map(str::to_owned),
        ..Query::default()
    };
    query_rows(engine, &q).await
}

pub async fn query_rows(engine: &Engine, q: &Query) -> Vec<Vec<String>> {
    let result = engine.compute(q).await.unwrap_or_else(|e| panic!("{q:?}: {e}"));
    batches_to_rows(&result.batches)
}

/// Every cell as text: periods as dates (or date-times when not midnight), floats rounded
/// to 4 decimals, NULL as `""`.
pub fn batches_to_rows(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for b in batches {
        let columns: Vec<Vec<String>> = b.columns().iter().map(|c| cells(c.as_ref())).collect();
        for r in 0..b.num_rows() {
            rows.push(columns.iter().map(|c| c[r].clone()).collect());
        }
    }
    rows
}

fn cells(a: &dyn Array) -> Vec<String> {
    let text = |i: usize, f: &dyn Fn(usize) -> String| if a.is_null(i) { String::new() } else { f(i) };
    match a.data_type() {
        DataType::Float64 => {
            let p = a.as_primitive::<Float64Type>();
            (0..a.len())
                .map(|i| {
                    text(i, &|i| {
                        let s = format!("{:.4}", p.value(i));
                        s.trim_end_matches('0').trim_end_matches('.').to_owned()
                    })
                })
                .collect()
        }
        DataType::Timestamp(_, _) => {
            let p = a.as_primitive::<TimestampMicrosecondType>();
            (0..a.len())
                .map(|i| {
                    text(i, &|i| {
                        let t = chrono::DateTime::from_timestamp_micros(p.value(i)).expect("time");
                        if t.time() == chrono::NaiveTime::MIN {
                            t.format("%Y-%m-%d").to_string()
                        } else {
                            t.format("%Y-%m-%d %H:%M").to_string()
                        }
                    })
                })
                .collect()
        }
        _ => {
            let f = ArrayFormatter::try_new(a, &FormatOptions::default()).expect("formatter");
            (0..a.len()).map(|i| text(i, &|i| f.value(i).to_string())).collect()
        }
    }
}

/// A small deterministic generator (xorshift64*), so a failure names its seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}
