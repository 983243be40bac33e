//! Plan shape: one scan and one aggregate per product for a pack of KPIs.

use canary_core::{Grain, Query};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::LogicalPlan;

use crate::fixture::engine;

fn count(plan: &LogicalPlan, pred: impl Fn(&LogicalPlan) -> bool) -> usize {
    let mut n = 0;
    plan.apply(|p| {
        if pred(p) {
            n += 1;
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .expect("walk");
    n
}

fn scans_of(plan: &LogicalPlan) -> Vec<String> {
    let mut names = Vec::new();
    plan.apply(|p| {
        if let LogicalPlan::TableScan(s) = p {
            names.push(s.table_name.to_string());
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .expect("walk");
    names.sort();
    names
}

#[tokio::test]
async fn ten_kpis_on_one_product_share_one_scan_and_one_aggregate() {
    let (_dir, e) = engine().await;
    let kpis = [
        "revenue",
        "done_revenue",
        "orders",
        "customers",
        "avg_amount",
        "min_amount",
        "max_amount",
        "median_amount",
        "median_qty",
        "returned",
        "web_orders",
        "return_rate",
        "aov",
    ];
    let q = Query {
        kpis: kpis.iter().map(|s| s.to_string()).collect(),
        grain: Some(Grain::Month),
        by: vec!["channel".into()],
        tenant: Some("a".into()),
        ..Query::default()
    };
    let planned = e.plan(&q).await.expect("plan");
    let optimized = e.session().state().optimize(&planned.plan).expect("optimize");
    for plan in [&planned.plan, &optimized] {
        assert_eq!(scans_of(plan), vec!["orders".to_string()], "{}", plan.display_indent());
        assert_eq!(
            count(plan, |p| matches!(p, LogicalPlan::Aggregate(_))),
            1,
            "{}",
            plan.display_indent()
        );
        assert_eq!(
            count(plan, |p| matches!(p, LogicalPlan::Join(_) | LogicalPlan::Union(_))),
            0
        );
    }
    // Filtered measures are FILTER clauses of that one aggregate.
    let text = planned.plan.display_indent().to_string();
    assert!(text.contains("FILTER (WHERE orders.status = Utf8(\"done\"))"), "{text}");
}

#[tokio::test]
async fn dimensions_join_only_the_products_they_need() {
    let (_dir, e) = engine().await;
    let q = Query {
        kpis: vec!["revenue".into()],
        grain: Some(Grain::Month),
        by: vec!["region_name".into()],
        ..Query::default()
    };
    let planned = e.plan(&q).await.expect("plan");
    assert_eq!(scans_of(&planned.plan), vec!["customers", "orders", "regions"]);
    assert_eq!(count(&planned.plan, |p| matches!(p, LogicalPlan::Join(_))), 2);
}

#[tokio::test]
async fn explain_gives_plans_and_sql() {
    let (_dir, e) = engine().await;
    let q = Query {
        kpis: vec!["revenue".into(), "orders".into()],
        grain: Some(Grain::Month),
        by: vec!["channel".into()],
        ..Query::default()
    };
    let x = e.explain(&q).await.expect("explain");
    assert!(x.logical.contains("TableScan: orders"), "{}", x.logical);
    assert!(x.optimized.contains("Aggregate"), "{}", x.optimized);
    let sql = x.sql.expect("sql");
    assert!(sql.contains("date_trunc('month'"), "{sql}");
    assert!(sql.contains("GROUP BY"), "{sql}");
}

#[tokio::test]
async fn a_product_reached_by_two_paths_is_refused_not_guessed() {
    let dir = tempfile::tempdir().expect("tempdir");
    crate::fixture::create(dir.path());
    // A second path orders → stores → regions beside orders → customers → regions.
    std::fs::write(
        dir.path().join("products/stores.yaml"),
        "product: stores
version: 1.0.0
owner: test
location: data/customers.parquet
columns:
  - { name: customer_id, type: int64 }
  - { name: region_id, type: int64 }
entities:
  - { name: customer, type: unique, column: customer_id }
  - { name: region, type: foreign, column: region_id }
",
    )
    .expect("write");
    let e = canary_core::Engine::open(dir.path()).await.expect("valid project");
    let q = Query {
        kpis: vec!["revenue".into()],
        by: vec!["region_name".into()],
        ..Query::default()
    };
    match e.compute(&q).await {
        Err(canary_core::CanaryError::Query { message, .. }) => {
            assert!(message.contains("reachable by more than one join path"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    // Unambiguous dimensions still work.
    let q = Query {
        kpis: vec!["orders".into()],
        by: vec!["customers.segment".into()],
        tenant: Some("b".into()),
        ..Query::default()
    };
    assert_eq!(
        crate::fixture::query_rows(&e, &q).await,
        vec![vec!["business".to_string(), "1".to_string()]]
    );
}
