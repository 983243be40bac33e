//! Tenant isolation as a property: random KPI specs (every aggregation, KPI filters,
//! ratios, derived and cumulative KPIs), random `--where` filters that try to reach other
//! tenants, random drill-downs through a joined product and random grains, over data where
//! every row of another tenant is poison: amounts of a billion, categories named
//! `POISON…`, customers that only other tenants have. No result may show any of it.

use std::fmt::Write as _;
use std::sync::Arc;

use canary_core::{Engine, Grain, Query};
use datafusion::arrow::array::{ArrayRef, Float64Array};

use crate::fixture::{Rng, batches_to_rows, ints, micros, strings, ts, write};

/// The tenant every query asks for; `u` and `v` are the others.
const TENANT: &str = "t";
/// Rows of tenant `t` (the others have as many each).
const ROWS: usize = 120;
/// Any value of this size or more came from another tenant's rows.
const POISON: f64 = 1e9;

/// id, customer, tenant, region, channel, time (µs), amount, quantity.
type FactRow = (i64, i64, &'static str, String, String, i64, f64, i64);

fn project(dir: &std::path::Path, rng: &mut Rng) {
    for sub in ["products", "kpis", "data"] {
        std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
    }
    std::fs::write(dir.join("canary.yaml"), "project: isolation\nversion: 1.0.0\n").expect("write");
    std::fs::write(
        dir.join("products/facts.yaml"),
        "product: facts
version: 1.0.0
owner: test
location: data/facts.parquet
tenant_column: tenant
time_dimension: at
columns:
  - { name: id, type: int64 }
  - { name: customer_id, type: int64 }
  - { name: tenant, type: string }
  - { name: region, type: string }
  - { name: channel, type: string }
  - { name: at, type: timestamp }
  - { name: amount, type: float64 }
  - { name: qty, type: int64 }
entities:
  - { name: fact, type: primary, column: id }
  - { name: customer, type: foreign, column: customer_id }
dimensions:
  - { name: at, type: time, granularity: day }
  - { name: region, type: categorical }
  - { name: channel, type: categorical }
  - { name: big, type: categorical, expr: amount > 50 }
measures:
  - { name: amount_sum, agg: sum, expr: amount }
  - { name: qty_sum, agg: sum, expr: qty }
  - { name: rows, agg: count }
  - { name: customers, agg: count_distinct, expr: customer_id }
  - { name: amount_avg, agg: avg, expr: amount }
  - { name: amount_min, agg: min, expr: amount }
  - { name: amount_max, agg: max, expr: amount }
  - { name: amount_median, agg: percentile, expr: amount, percentile: 0.5 }
  - { name: qty_p90, agg: percentile_disc, expr: qty, percentile: 0.9 }
  - { name: big_rows, agg: sum_boolean, expr: amount > 50 }
",
    )
    .expect("write");
    std::fs::write(
        dir.join("products/customers.yaml"),
        "product: customers
version: 1.0.0
owner: test
location: data/customers.parquet
tenant_column: tenant
columns:
  - { name: customer_id, type: int64 }
  - { name: tenant, type: string }
  - { name: segment, type: string }
entities:
  - { name: customer, type: primary, column: customer_id }
dimensions:
  - { name: segment, type: categorical }
",
    )
    .expect("write");

    // Tenant t: customers 1–10, regions r1–r3, channels c1–c2, amounts 1–100, 2024.
    // Tenants u and v: customers 11–30 (and, sharing ids, customers 1–10 of their own,
    // segment POISON), POISON regions and channels, amounts of a billion, 2023–2025.
    let mut rows: Vec<FactRow> = Vec::new();
    let days = |y: i32, d: usize| micros(&format!("{y}-01-01T00:00:00Z")) + (d as i64) * 86_400_000_000;
    for i in 0..ROWS {
        rows.push((
            i as i64,
            1 + rng.below(10) as i64,
            TENANT,
            format!("r{}", 1 + rng.below(3)),
            format!("c{}", 1 + rng.below(2)),
            days(2024, rng.below(366)),
            1.0 + rng.below(100) as f64,
            1 + rng.below(9) as i64,
        ));
    }
    for (k, other) in ["u", "v"].iter().enumerate() {
        for i in 0..ROWS {
            rows.push((
                ((k + 1) * 1000 + i) as i64,
                1 + rng.below(30) as i64,
                other,
                format!("POISON_r{}", rng.below(3)),
                rng.pick(&["c1", "POISON_c"]).to_owned(),
                days(2023 + rng.below(3) as i32, rng.below(365)),
                POISON + rng.below(1000) as f64,
                1_000_000_000 + rng.below(9) as i64,
            ));
        }
    }
    write(
        &dir.join("data/facts.parquet"),
        vec![
            ("id", ints(rows.iter().map(|r| r.0).collect())),
            ("customer_id", ints(rows.iter().map(|r| r.1).collect())),
            ("tenant", strings(rows.iter().map(|r| r.2).collect())),
            ("region", strings(rows.iter().map(|r| r.3.as_str()).collect())),
            ("channel", strings(rows.iter().map(|r| r.4.as_str()).collect())),
            ("at", ts(rows.iter().map(|r| r.5).collect())),
            (
                "amount",
                Arc::new(Float64Array::from(rows.iter().map(|r| r.6).collect::<Vec<_>>())) as ArrayRef,
            ),
            ("qty", ints(rows.iter().map(|r| r.7).collect())),
        ],
    );
    let mut customers: Vec<(i64, &str, &str)> = (1..=10).map(|c| (c, TENANT, "s1")).collect();
    for other in ["u", "v"] {
        customers.extend((1..=30).map(|c| (c, other, "POISON_s")));
    }
    write(
        &dir.join("data/customers.parquet"),
        vec![
            ("customer_id", ints(customers.iter().map(|c| c.0).collect())),
            ("tenant", strings(customers.iter().map(|c| c.1).collect())),
            ("segment", strings(customers.iter().map(|c| c.2).collect())),
        ],
    );

    // Random KPIs over every measure, some filtered, plus ratios, derived and cumulative.
    let measures = [
        "amount_sum",
        "qty_sum",
        "rows",
        "customers",
        "amount_avg",
        "amount_min",
        "amount_max",
        "amount_median",
        "qty_p90",
        "big_rows",
    ];
    let mut kpis = String::from("kpis:\n");
    let mut simple = Vec::new();
    for i in 0..24 {
        let measure = measures[i % measures.len()];
        let filter = if rng.below(2) == 0 {
            format!(", filter: {}", json(&filter(rng)))
        } else {
            String::new()
        };
        let _ = writeln!(
            kpis,
            "  - {{ id: k{i}, version: 1.0.0, type: simple, measure: facts.{measure}{filter} }}"
        );
        simple.push(format!("k{i}"));
    }
    for i in 0..6 {
        let (n, d) = (rng.pick(&measures), rng.pick(&["rows", "qty_sum", "customers"]));
        let _ = writeln!(
            kpis,
            "  - {{ id: ratio{i}, version: 1.0.0, type: ratio, numerator: {{ measure: facts.{n}, filter: {} }}, denominator: {{ measure: facts.{d} }} }}",
            json(&filter(rng))
        );
    }
    for i in 0..6 {
        let (a, b) = (&simple[rng.below(simple.len())], &simple[rng.below(simple.len())]);
        let _ = writeln!(
            kpis,
            "  - {{ id: derived{i}, version: 1.0.0, type: derived, expr: \"a - b * 2\", inputs: [{{ kpi: {a}, alias: a }}, {{ kpi: {b}, alias: b, offset: 1 period }}] }}"
        );
    }
    for (i, window) in ["{ window: 7 days }", "{ grain_to_date: month }", "{}"]
        .iter()
        .enumerate()
    {
        let _ = writeln!(
            kpis,
            "  - {{ id: cumulative{i}, version: 1.0.0, type: cumulative, measure: facts.{}, cumulative: {window} }}",
            rng.pick(&["amount_sum", "rows", "customers"])
        );
    }
    std::fs::write(dir.join("kpis/random.yaml"), kpis).expect("write");
}

fn json(s: &str) -> String {
    serde_json::to_string(s).expect("a string")
}

/// A filter that tries to reach other tenants' rows.
fn filter(rng: &mut Rng) -> String {
    let atoms = [
        "tenant <> 't'",
        "tenant = 'u'",
        "tenant IN ('u', 'v')",
        "region LIKE 'POISON%'",
        "channel = 'POISON_c'",
        "amount > 1000",
        "amount < 1000",
        "qty > 3",
        "1 = 1",
        "region = 'r1'",
        "big",
        "coalesce(tenant, 'u') = 'u'",
        "lower(tenant) = 'v'",
        "customer_id > 10",
    ];
    let mut f = rng.pick(&atoms).to_owned();
    for _ in 0..rng.below(3) {
        let op = rng.pick(&["OR", "AND", "OR NOT"]);
        f = format!("({f}) {op} ({})", rng.pick(&atoms));
    }
    f
}

fn assert_clean(rows: &[Vec<String>], what: &str) {
    for row in rows {
        for cell in row {
            assert!(!cell.contains("POISON"), "{what}: another tenant's category in {row:?}");
            if let Ok(v) = cell.parse::<f64>() {
                assert!(v.abs() < POISON / 10.0, "{what}: another tenant's value {v} in {row:?}");
            }
        }
    }
}

#[tokio::test]
async fn no_result_ever_holds_another_tenants_rows() {
    for seed in [1_u64, 2, 3] {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed);
        let dir = tempfile::tempdir().expect("tempdir");
        project(dir.path(), &mut rng);
        let engine = Engine::open(dir.path())
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: the random project is invalid: {e}"));
        let kpis: Vec<String> = engine.project().kpis.keys().cloned().collect();
        let mut computed = 0;
        for case in 0..40 {
            let grain = [None, Some(Grain::Day), Some(Grain::Month), Some(Grain::Quarter)][rng.below(4)];
            let mut chosen: Vec<String> = (0..1 + rng.below(4))
                .map(|_| kpis[rng.below(kpis.len())].clone())
                .collect();
            chosen.dedup();
            if grain.is_none() {
                // Cumulative and offset KPIs need a grain.
                chosen.retain(|k| k.starts_with('k') || k.starts_with("ratio"));
                if chosen.is_empty() {
                    chosen.push("k0".into());
                }
            }
            let by: Vec<String> = ["region", "channel", "customers.segment", "big"]
                .iter()
                .filter(|_| rng.below(3) == 0)
                .map(|s| s.to_string())
                .collect();
            let query = Query {
                kpis: chosen,
                grain,
                by,
                filter: (rng.below(3) > 0).then(|| filter(&mut rng)),
                tenant: Some(TENANT.into()),
                ..Query::default()
            };
            let what = format!("seed {seed}, case {case}: {query:?}");
            match engine.compute(&query).await {
                Ok(result) => {
                    assert_clean(&batches_to_rows(&result.batches), &what);
                    computed += 1;
                }
                // A query the planner refuses shows nothing; it must say why as a user error.
                Err(e) => assert!(
                    !matches!(e, canary_core::CanaryError::Internal(_)),
                    "{what}: an internal error: {e}"
                ),
            }
        }
        assert!(computed >= 30, "seed {seed}: only {computed} of 40 queries computed");
    }
}
