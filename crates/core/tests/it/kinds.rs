//! Every KPI kind against values counted by hand on the fixture (see fixture.rs).

use canary_core::Grain;

use crate::fixture::{engine, rows};
use crate::r;

const A: Option<&str> = Some("a");

#[tokio::test]
async fn simple_aggregations_match_hand_counts() {
    let (_dir, e) = engine().await;
    let got = rows(
        &e,
        &[
            "revenue",
            "done_revenue",
            "orders",
            "customers",
            "avg_amount",
            "min_amount",
            "max_amount",
            "returned",
            "web_orders",
        ],
        Some(Grain::Month),
        &[],
        A,
    )
    .await;
    assert_eq!(
        got,
        vec![
            r(&["2024-01-01", "60", "30", "3", "2", "20", "10", "30", "1", "2"]),
            r(&["2024-02-01", "90", "90", "2", "2", "45", "40", "50", "0", "1"]),
            r(&["2024-03-01", "60", "60", "1", "1", "60", "60", "60", "0", "1"]),
        ]
    );
}

#[tokio::test]
async fn percentiles_continuous_and_discrete() {
    let (_dir, e) = engine().await;
    // Jan amounts 10,20,30 → 20; qty 1,2,3 → 2. Feb amounts 40,50 → 45; qty 1,5 → 1 (the
    // first value reaching half). Mar: 60; qty 2.
    let got = rows(&e, &["median_amount", "median_qty"], Some(Grain::Month), &[], A).await;
    assert_eq!(
        got,
        vec![
            r(&["2024-01-01", "20", "2"]),
            r(&["2024-02-01", "45", "1"]),
            r(&["2024-03-01", "60", "2"]),
        ]
    );
}

#[tokio::test]
async fn filters_keep_distinct_and_within_group_ordering() {
    let (_dir, e) = engine().await;
    // Done orders: Jan 1, 2 (both customer 1; amounts 10, 20); Feb 4, 5 (customers 2, 3;
    // 40, 50); Mar 6 (customer 1; 60). Distinct customers 1, 2, 1; medians 15, 45, 60.
    let got = rows(&e, &["done_customers", "done_median"], Some(Grain::Month), &[], A).await;
    assert_eq!(
        got,
        vec![
            r(&["2024-01-01", "1", "15"]),
            r(&["2024-02-01", "2", "45"]),
            r(&["2024-03-01", "1", "60"]),
        ]
    );
}

#[tokio::test]
async fn ratio_divides_filtered_numerator_by_denominator() {
    let (_dir, e) = engine().await;
    let got = rows(&e, &["return_rate"], Some(Grain::Month), &[], A).await;
    assert_eq!(
        got,
        vec![
            r(&["2024-01-01", "0.3333"]),
            r(&["2024-02-01", "0"]),
            r(&["2024-03-01", "0"])
        ]
    );
}

#[tokio::test]
async fn derived_with_previous_period_offset() {
    let (_dir, e) = engine().await;
    // Revenue 60, 90, 60: growth —, (90-60)/60, (60-90)/90. AOV 60/3, 90/2, 60/1. April
    // has only last month's revenue: a row, with no growth (as MetricFlow joins inputs).
    let got = rows(&e, &["revenue_growth", "aov"], Some(Grain::Month), &[], A).await;
    assert_eq!(
        got,
        vec![
            r(&["2024-01-01", "", "20"]),
            r(&["2024-02-01", "0.5", "45"]),
            r(&["2024-03-01", "-0.3333", "60"]),
            r(&["2024-04-01", "", ""]),
        ]
    );
}

#[tokio::test]
async fn cumulative_all_time_trailing_and_to_date() {
    let (_dir, e) = engine().await;
    // All-time: 60, 150, 210. Trailing 30 days ending with each month:
    // Jan [Jan 2, Feb 1) → orders 1, 2, 3 = 60; Feb [Jan 31, Mar 1) → 3, 4, 5 = 120;
    // Mar [Mar 2, Apr 1) → nothing. Year to date equals all-time here.
    // Distinct customers to date: {1,2}, {1,2,3}, {1,2,3}.
    let got = rows(
        &e,
        &["revenue_total", "revenue_30d", "revenue_ytd", "customers_to_date"],
        Some(Grain::Month),
        &[],
        A,
    )
    .await;
    assert_eq!(
        got,
        vec![
            r(&["2024-01-01", "60", "60", "60", "2"]),
            r(&["2024-02-01", "150", "120", "150", "3"]),
            r(&["2024-03-01", "210", "", "210", "3"]),
        ]
    );
}

#[tokio::test]
async fn cumulative_by_day_accumulates_to_date() {
    let (_dir, e) = engine().await;
    let q = canary_core::Query {
        kpis: vec!["revenue_ytd".into(), "revenue".into()],
        grain: Some(Grain::Day),
        from: canary_core::model::parse_instant("2024-02-01").ok(),
        to: canary_core::model::parse_instant("2024-02-03").ok(),
        tenant: Some("a".into()),
        ..Default::default()
    };
    let got = crate::fixture::query_rows(&e, &q).await;
    // Year to date on Feb 1: 60 (January); on Feb 2: 60 + 40.
    assert_eq!(got, vec![r(&["2024-02-01", "60", ""]), r(&["2024-02-02", "100", "40"])]);
}

#[tokio::test]
async fn conversion_matches_each_order_to_the_latest_visit_within_the_window() {
    let (_dir, e) = engine().await;
    // Jan: visits 1,2,3,5 (4); orders 1←v1, 2←v5, 3←v3 (Jan 31). Order 4 (Feb 2) is within
    // 7 days of v3 (Jan 28) but v7 (Feb 1) is later, so it goes to February.
    // Feb: visits 4, 7; order 4←v7.
    let got = rows(
        &e,
        &["visit_conversion", "visit_conversions"],
        Some(Grain::Month),
        &[],
        A,
    )
    .await;
    assert_eq!(
        got,
        vec![r(&["2024-01-01", "0.75", "3"]), r(&["2024-02-01", "0.5", "1"])]
    );
    // Ending the range before v7 must not hand order 4 back to v3.
    let q = canary_core::Query {
        kpis: vec!["visit_conversions".into()],
        grain: Some(Grain::Month),
        to: canary_core::model::parse_instant("2024-02-01").ok(),
        tenant: Some("a".into()),
        ..Default::default()
    };
    assert_eq!(crate::fixture::query_rows(&e, &q).await, vec![r(&["2024-01-01", "3"])]);
}

#[tokio::test]
async fn semi_additive_balances_take_the_last_or_first_snapshot() {
    let (_dir, e) = engine().await;
    // Jan: last date overall Jan 31 → 110; per account 110 + 70; opening 100 + 50.
    // Feb: last date Feb 29 → 80; per account 120 + 80; opening 120 + 80.
    let got = rows(
        &e,
        &["closing_total", "closing_balance", "opening_balance"],
        Some(Grain::Month),
        &[],
        None,
    )
    .await;
    assert_eq!(
        got,
        vec![
            r(&["2024-01-01", "110", "180", "150"]),
            r(&["2024-02-01", "80", "200", "200"])
        ]
    );
}

#[tokio::test]
async fn totals_without_grain_and_dimensions_through_two_joins() {
    let (_dir, e) = engine().await;
    assert_eq!(
        rows(&e, &["revenue", "orders"], None, &[], A).await,
        vec![r(&["210", "6"])]
    );
    // orders → customers → regions: cust 1 north; 2, 3 south.
    let got = rows(&e, &["revenue"], Some(Grain::Month), &["region_name"], A).await;
    assert_eq!(
        got,
        vec![
            r(&["2024-01-01", "north", "30"]),
            r(&["2024-01-01", "south", "30"]),
            r(&["2024-02-01", "south", "90"]),
            r(&["2024-03-01", "north", "60"]),
        ]
    );
    let got = rows(&e, &["orders"], None, &["customers.segment", "channel"], A).await;
    assert_eq!(
        got,
        vec![
            r(&["business", "web", "2"]),
            r(&["consumer", "app", "2"]),
            r(&["consumer", "web", "2"]),
        ]
    );
}

#[tokio::test]
async fn kpis_from_several_products_share_the_output_rows() {
    let (_dir, e) = engine().await;
    let got = rows(
        &e,
        &["revenue", "closing_total", "visit_conversions"],
        Some(Grain::Month),
        &[],
        A,
    )
    .await;
    assert_eq!(
        got,
        vec![
            r(&["2024-01-01", "60", "110", "3"]),
            r(&["2024-02-01", "90", "80", "1"]),
            r(&["2024-03-01", "60", "", ""]),
        ]
    );
}

#[tokio::test]
async fn offsets_look_back_from_each_output_period() {
    let (_dir, e) = engine().await;
    // Day grain, one month back: Mar 1 looks at Feb 1 (no orders: NULL). Feb 2's revenue is
    // 40 and Jan 2 had none. The month-end clamp maps Mar 1 → Feb 1 only.
    let q = canary_core::Query {
        kpis: vec!["revenue".into(), "revenue_month_ago".into()],
        grain: Some(Grain::Day),
        from: canary_core::model::parse_instant("2024-02-01").ok(),
        to: canary_core::model::parse_instant("2024-03-02").ok(),
        tenant: Some("a".into()),
        ..Default::default()
    };
    let got = crate::fixture::query_rows(&e, &q).await;
    // Rows exist where either input has data: revenue on Feb 2 (40), Feb 15 (50), Mar 1
    // (60), with nothing a month before (Jan 2, Jan 15, Feb 1); and Feb 5 ← Jan 5 (10),
    // Feb 20 ← Jan 20 (20) with no revenue of their own. Jan 31 maps to no day of February.
    assert_eq!(
        got,
        vec![
            r(&["2024-02-02", "40", ""]),
            r(&["2024-02-05", "", "10"]),
            r(&["2024-02-15", "50", ""]),
            r(&["2024-02-20", "", "20"]),
            r(&["2024-03-01", "60", ""])
        ]
    );
    let q = canary_core::Query {
        kpis: vec!["revenue_month_ago".into()],
        grain: Some(Grain::Day),
        from: canary_core::model::parse_instant("2024-02-05").ok(),
        to: canary_core::model::parse_instant("2024-02-06").ok(),
        tenant: Some("a".into()),
        ..Default::default()
    };
    // Feb 5 ← Jan 5 (order 1, 10): the only input of this KPI is offset, so its rows are kept.
    assert_eq!(crate::fixture::query_rows(&e, &q).await, vec![r(&["2024-02-05", "10"])]);
}

#[tokio::test]
async fn offsets_that_do_not_fit_the_grain_move_rows() {
    let (_dir, e) = engine().await;
    // A month at week grain: each order's day moves a month, then weeks are summed.
    // Jan 5 (10) and Jan 10 (tenant b, 1000) → Feb 5 and Feb 10, week of Feb 5; Jan 20 →
    // Feb 20 (week of Feb 19); Feb 2 → Mar 2 (week of Feb 26); Feb 15 → Mar 15 (week of
    // Mar 11); Mar 1 → Apr 1. Jan 31 (30) is no day of February minus a month: it drops.
    let q = canary_core::Query {
        kpis: vec!["revenue_month_ago".into()],
        grain: Some(Grain::Week),
        ..Default::default()
    };
    assert_eq!(
        crate::fixture::query_rows(&e, &q).await,
        vec![
            r(&["2024-02-05", "1010"]),
            r(&["2024-02-19", "20"]),
            r(&["2024-02-26", "40"]),
            r(&["2024-03-11", "50"]),
            r(&["2024-04-01", "60"]),
        ]
    );
    // Without a grain: the moved rows' total, 1210 - 30.
    let q = canary_core::Query {
        kpis: vec!["revenue_month_ago".into()],
        ..Default::default()
    };
    assert_eq!(crate::fixture::query_rows(&e, &q).await, vec![r(&["1180"])]);
}

#[tokio::test]
async fn daily_cumulative_values_reported_per_period() {
    let (_dir, e) = engine().await;
    // Tenant a, window 2 days; `ordered_at` is recorded by the hour, so the values are
    // hourly: hour h holds the revenue of (h - 48 h, h]. Each order counts for 48 hours
    // from its own: Jan 5 10:00 (10), Jan 20 12:00 (20), Jan 31 23:00 (30, one hour in
    // January, 47 in February), Feb 2 09:00 (40; its first 14 hours overlap the 30: 70),
    // Feb 15 15:00 (50), Mar 1 00:00 (60). First: 10, 30, 60; last: 30, 50, 60; average:
    // (48·10 + 48·20 + 30) / 97 = 15.1546, (33·30 + 14·70 + 34·40 + 48·50) / 129 = 44.4186,
    // 60.
    let got = rows(
        &e,
        &["revenue_2d_first", "revenue_2d_last", "revenue_2d_avg"],
        Some(Grain::Month),
        &[],
        A,
    )
    .await;
    assert_eq!(
        got,
        vec![
            r(&["2024-01-01", "10", "30", "15.1546"]),
            r(&["2024-02-01", "30", "50", "44.4186"]),
            r(&["2024-03-01", "60", "60", "60"]),
        ]
    );
    // Without a grain: the total over the range.
    assert_eq!(rows(&e, &["revenue_2d_first"], None, &[], A).await, vec![r(&["210"])]);
}

#[tokio::test]
async fn every_period_reports_periods_without_data() {
    let (_dir, e) = engine().await;
    let q = canary_core::Query {
        kpis: vec!["revenue_every_day".into()],
        grain: Some(Grain::Day),
        from: canary_core::model::parse_instant("2024-02-01").ok(),
        to: canary_core::model::parse_instant("2024-02-05").ok(),
        tenant: Some("a".into()),
        ..Default::default()
    };
    // Only Feb 2 has an order (40).
    assert_eq!(
        crate::fixture::query_rows(&e, &q).await,
        vec![
            r(&["2024-02-01", ""]),
            r(&["2024-02-02", "40"]),
            r(&["2024-02-03", ""]),
            r(&["2024-02-04", ""]),
        ]
    );
}

/// One KPI for tenant a at `grain` over `[from, to)`.
fn tenant_a_range(kpi: &str, grain: Grain, from: &str, to: &str) -> canary_core::Query {
    canary_core::Query {
        kpis: vec![kpi.into()],
        grain: Some(grain),
        from: canary_core::model::parse_instant(from).ok(),
        to: canary_core::model::parse_instant(to).ok(),
        tenant: Some("a".into()),
        ..Default::default()
    }
}

/// A KPI filter on `metric_time` selects rows by their time and, for a KPI that reports
/// every period, the periods it reports: a week is reported when one of its days passes.
#[tokio::test]
async fn a_filter_on_metric_time_selects_rows_and_reported_periods() {
    let (_dir, e) = crate::fixture::engine_with_kpis(
        "  - { id: revenue_from_feb_3, version: 1.0.0, type: simple, measure: orders.revenue, every_period: true, filter: \"metric_time >= '2024-02-03'\" }
",
    )
    .await;
    let q = |grain, from, to| tenant_a_range("revenue_from_feb_3", grain, from, to);
    // Tenant a orders Feb 2 (40) and Feb 15 (50). Feb 2 fails the filter: no value, and
    // Feb 1 and 2 are not reported.
    assert_eq!(
        crate::fixture::query_rows(&e, &q(Grain::Day, "2024-02-01", "2024-02-05")).await,
        vec![r(&["2024-02-03", ""]), r(&["2024-02-04", ""])]
    );
    // The week of Jan 29 holds Feb 3 and 4: reported, without the Feb 2 order.
    assert_eq!(
        crate::fixture::query_rows(&e, &q(Grain::Week, "2024-01-22", "2024-02-19")).await,
        vec![r(&["2024-01-29", ""]), r(&["2024-02-05", ""]), r(&["2024-02-12", "50"])]
    );
}

#[tokio::test]
async fn start_of_period_offsets_read_the_first_day() {
    let (_dir, e) = engine().await;
    // Tenant a: Mar 1 has 60; Jan 1 and Feb 1 have no orders. Each day takes its month's
    // first day; each week (starting in March) the same.
    let at = |grain, from, to| tenant_a_range("revenue_month_start", grain, from, to);
    assert_eq!(
        crate::fixture::query_rows(&e, &at(Grain::Day, "2024-02-27", "2024-03-04")).await,
        vec![
            r(&["2024-03-01", "60"]),
            r(&["2024-03-02", "60"]),
            r(&["2024-03-03", "60"])
        ]
    );
    assert_eq!(
        crate::fixture::query_rows(&e, &at(Grain::Week, "2024-03-01", "2024-04-01")).await,
        vec![
            r(&["2024-03-04", "60"]),
            r(&["2024-03-11", "60"]),
            r(&["2024-03-18", "60"]),
            r(&["2024-03-25", "60"]),
        ]
    );
}

#[tokio::test]
async fn filters_on_a_kpi_per_entity() {
    let (_dir, e) = engine().await;
    // Tenant a orders per customer: 1 → 3 (10, 20, 60), 2 → 2 (30, 40), 3 → 1 (50).
    // Revenue of customers with at least 2 orders: 90 + 70.
    let q = canary_core::Query {
        kpis: vec!["revenue".into(), "orders".into()],
        filter: Some("__kpi__orders__per__customer >= 2".into()),
        tenant: Some("a".into()),
        ..Default::default()
    };
    assert_eq!(crate::fixture::query_rows(&e, &q).await, vec![r(&["160", "5"])]);
    // The entity itself can be a drill-down.
    let got = rows(&e, &["orders"], None, &["customer"], A).await;
    assert_eq!(got, vec![r(&["1", "3"]), r(&["2", "2"]), r(&["3", "1"])]);
}

/// An entity whose key is computed (`expr:`) joins exactly as one read from a column: the
/// fixture with both sides of `customer` rewritten as expressions gives the same rows.
#[tokio::test]
async fn computed_entity_keys_join_like_columns() {
    let (_plain_dir, plain) = engine().await;
    let dir = tempfile::tempdir().expect("tempdir");
    crate::fixture::create(dir.path());
    for (file, from, to) in [
        (
            "orders",
            "{ name: customer, type: foreign, column: customer_id }",
            "{ name: customer, type: foreign, expr: \"CAST(customer_id AS BIGINT)\" }",
        ),
        (
            "customers",
            "{ name: customer, type: primary, column: customer_id }",
            "{ name: customer, type: primary, expr: \"customer_id + 0\" }",
        ),
    ] {
        let path = dir.path().join(format!("products/{file}.yaml"));
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains(from), "{file}: fixture changed");
        std::fs::write(&path, text.replace(from, to)).expect("write");
    }
    let computed = canary_core::Engine::open(dir.path()).await.expect("open");
    for by in [&["customers.segment"][..], &["customers.segment", "channel"][..]] {
        let want = rows(&plain, &["orders", "revenue"], Some(Grain::Month), by, A).await;
        let got = rows(&computed, &["orders", "revenue"], Some(Grain::Month), by, A).await;
        assert!(!want.is_empty());
        assert_eq!(got, want, "by {by:?}");
    }
}

/// A computed key goes through the expression allow-list, and is not given with a column.
#[tokio::test]
async fn computed_entity_keys_are_checked() {
    for (entity, needle) in [
        ("{ name: customer, type: primary, expr: \"read_csv('x')\" }", "customer"),
        (
            "{ name: customer, type: primary, column: customer_id, expr: \"customer_id\" }",
            "both `column` and `expr`",
        ),
        // Text on one side of the join, an integer on the other.
        (
            "{ name: customer, type: primary, expr: \"CAST(customer_id AS VARCHAR)\" }",
            "the join keys must have one type",
        ),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        crate::fixture::create(dir.path());
        let path = dir.path().join("products/customers.yaml");
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(
            &path,
            text.replace("{ name: customer, type: primary, column: customer_id }", entity),
        )
        .expect("write");
        match canary_core::Engine::open(dir.path()).await {
            Err(canary_core::CanaryError::Spec(d)) => {
                let text = format!("{d:?}");
                assert!(text.contains(needle), "{entity}: {text}");
            }
            Err(other) => panic!("{entity}: {other}"),
            Ok(_) => panic!("{entity}: accepted"),
        }
    }
}

/// A product reached by two join paths of different lengths: by default the shortest path
/// is joined; a named path (`Query::join_paths`, MetricFlow's `customer__region__x`) is
/// joined instead; two different paths to one product in one query are refused.
#[tokio::test]
async fn named_join_paths_choose_the_route_to_a_product() {
    use canary_core::Query;
    use canary_core::model::JoinPath;

    let dir = tempfile::tempdir().expect("tempdir");
    crate::fixture::create(dir.path());
    let path = dir.path().join("products/orders.yaml");
    let text = std::fs::read_to_string(&path).expect("read");
    let from = "  - { name: customer, type: foreign, column: customer_id }\n";
    assert!(text.contains(from), "fixture changed");
    // A shipping region of its own: web orders ship from region 10, app orders from 20.
    let direct = "  - { name: region, type: foreign, expr: \"CASE WHEN channel = 'web' THEN 10 ELSE 20 END\" }\n";
    std::fs::write(&path, text.replace(from, &format!("{from}{direct}"))).expect("write");
    let e = canary_core::Engine::open(dir.path()).await.expect("open");
    let query = |paths: Vec<JoinPath>| Query {
        kpis: vec!["revenue".into()],
        by: vec!["regions.region_name".into()],
        tenant: Some("a".into()),
        join_paths: paths,
        ..Query::default()
    };
    let via_customer = JoinPath {
        entities: vec!["customer".into(), "region".into()],
        product: "regions".into(),
    };
    let direct = JoinPath {
        entities: vec!["region".into()],
        product: "regions".into(),
    };
    // Direct: web orders 1, 3, 4, 6 = 140 north; app orders 2, 5 = 70 south.
    let shortest = crate::fixture::query_rows(&e, &query(Vec::new())).await;
    assert_eq!(shortest, vec![r(&["north", "140"]), r(&["south", "70"])]);
    assert_eq!(
        crate::fixture::query_rows(&e, &query(vec![direct.clone()])).await,
        shortest
    );
    // Through the customer: customer 1 (orders 1, 2, 6 = 90) is north; customers 2 and 3
    // (orders 3, 4, 5 = 120) are south.
    let named = crate::fixture::query_rows(&e, &query(vec![via_customer.clone()])).await;
    assert_eq!(named, vec![r(&["north", "90"]), r(&["south", "120"])]);
    // A path that does not start from the KPI's product does not apply.
    let elsewhere = JoinPath {
        entities: vec!["visit".into(), "region".into()],
        product: "regions".into(),
    };
    assert_eq!(crate::fixture::query_rows(&e, &query(vec![elsewhere])).await, shortest);
    match e.compute(&query(vec![direct, via_customer])).await {
        Err(err) => assert!(err.to_string().contains("two join paths"), "{err}"),
        Ok(_) => panic!("two paths to one product were accepted"),
    }
}

/// `start of month` over a cumulative KPI: each day takes the running total of the day that
/// starts its month; with a period pick (`period_agg: first`), a week takes its first day's.
#[tokio::test]
async fn cumulative_values_at_the_start_of_a_period() {
    let (_dir, e) = crate::fixture::engine_with_kpis(
        "  - { id: revenue_total_first, version: 1.0.0, type: cumulative, measure: orders.revenue, cumulative: { period_agg: first } }
  - id: total_at_month_start
    version: 1.0.0
    type: derived
    expr: t
    inputs: [{ kpi: revenue_total_first, alias: t, offset: start of month }]
",
    )
    .await;
    let q = |grain: Grain, from: &str, to: &str| canary_core::Query {
        kpis: vec!["total_at_month_start".into()],
        grain: Some(grain),
        from: Some(canary_core::model::parse_instant(from).expect("from")),
        to: Some(canary_core::model::parse_instant(to).expect("to")),
        tenant: Some("a".into()),
        ..canary_core::Query::default()
    };
    // Tenant a's running total: 60 on Feb 1 (orders of 10, 20, 30 in January), 210 on Mar 1
    // (40 and 50 in February, 60 on Mar 1 itself).
    let days = crate::fixture::query_rows(&e, &q(Grain::Day, "2024-02-28", "2024-03-03")).await;
    assert_eq!(
        days,
        vec![
            r(&["2024-02-28", "60"]),
            r(&["2024-02-29", "60"]),
            r(&["2024-03-01", "210"]),
            r(&["2024-03-02", "210"]),
        ]
    );
    // The week of Monday Feb 26 starts in February: its first day reads Feb 1.
    let weeks = crate::fixture::query_rows(&e, &q(Grain::Week, "2024-02-26", "2024-03-10")).await;
    assert_eq!(weeks, vec![r(&["2024-02-26", "60"]), r(&["2024-03-04", "210"])]);
}

/// `start of hour` at day grain reads the rows of the hour that starts each day (as
/// MetricFlow's `offset_to_grain: hour`), not the whole day.
#[tokio::test]
async fn start_of_a_sub_daily_grain_reads_that_hour() {
    let (_dir, e) = crate::fixture::engine_with_kpis(
        "  - id: revenue_first_hour
    version: 1.0.0
    type: derived
    expr: h
    inputs: [{ kpi: revenue, alias: h, offset: start of hour }]
",
    )
    .await;
    // Of tenant a's orders only order 6 (60, 2024-03-01 00:00) lies in the first hour of a day.
    let got = rows(&e, &["revenue_first_hour"], Some(Grain::Day), &[], A).await;
    let with_value: Vec<Vec<String>> = got.into_iter().filter(|r| !r[1].is_empty()).collect();
    assert_eq!(with_value, vec![r(&["2024-03-01", "60"])]);
}
