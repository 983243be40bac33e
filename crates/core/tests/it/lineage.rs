//! Column-level lineage of every KPI kind: the exact source columns and transformation kinds,
//! checked by hand on the fixture (see fixture.rs), then the whole lineage as snapshots.

use canary_core::lineage::Lineage;
use canary_core::{Engine, Grain, Query};

use crate::fixture::engine;

async fn lineage(e: &Engine, kpis: &[&str], grain: Option<Grain>, by: &[&str]) -> Lineage {
    let q = Query {
        kpis: kpis.iter().map(|s| s.to_string()).collect(),
        grain,
        by: by.iter().map(|s| s.to_string()).collect(),
        tenant: Some("a".into()),
        ..Query::default()
    };
    e.lineage(&q)
        .await
        .unwrap_or_else(|err| panic!("{kpis:?}: {err}"))
        .lineage
}

/// `product.column: SUBTYPE,SUBTYPE` for the inputs of output column `name`.
fn column(l: &Lineage, name: &str) -> Vec<String> {
    let c = l.columns.iter().find(|c| c.name == name).unwrap_or_else(|| {
        panic!(
            "no output column {name} in {:?}",
            l.columns.iter().map(|c| &c.name).collect::<Vec<_>>()
        )
    });
    compact(&c.inputs)
}

fn dataset(l: &Lineage) -> Vec<String> {
    compact(&l.dataset)
}

fn compact(fields: &[canary_core::lineage::InputField]) -> Vec<String> {
    fields
        .iter()
        .map(|f| {
            let subtypes: Vec<&str> = f.transformations.iter().map(|t| t.subtype.as_str()).collect();
            format!("{}.{}: {}", f.product, f.column, subtypes.join(","))
        })
        .collect()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn simple_filtered_kpi_by_month() {
    let (_d, e) = engine().await;
    let l = lineage(&e, &["done_revenue"], Some(Grain::Month), &["channel"]).await;
    assert!(l.unresolved.is_empty(), "{:?}", l.unresolved);
    // The period truncates the order time; the dimension is the column itself.
    assert_eq!(column(&l, "period"), strs(&["orders.ordered_at: TRANSFORMATION"]));
    assert_eq!(column(&l, "channel"), strs(&["orders.channel: IDENTITY"]));
    // sum(amount) FILTER (WHERE status = 'done').
    assert_eq!(
        column(&l, "done_revenue"),
        strs(&["orders.amount: AGGREGATION", "orders.status: FILTER"])
    );
    // Rows: grouped by period and channel, sorted by them, the KPI's filter pushed below
    // the aggregate, and the tenant restriction.
    assert_eq!(
        dataset(&l),
        strs(&[
            "orders.channel: GROUP_BY,SORT",
            "orders.ordered_at: GROUP_BY,SORT",
            "orders.status: FILTER",
            "orders.tenant: FILTER",
        ])
    );
    assert_eq!(l.products.len(), 1);
    assert_eq!(l.products[0].product, "orders");
}

#[tokio::test]
async fn counts_depend_on_no_column_value_and_are_masking() {
    let (_d, e) = engine().await;
    let l = lineage(&e, &["orders", "customers"], None, &[]).await;
    // count(*) reads no column: only the rows' filters decide it.
    assert_eq!(column(&l, "orders"), Vec::<String>::new());
    // count(distinct customer_id) aggregates the column and hides its values.
    let c = l.columns.iter().find(|c| c.name == "customers").expect("customers");
    assert_eq!(compact(&c.inputs), strs(&["orders.customer_id: AGGREGATION"]));
    assert!(
        c.inputs[0].transformations[0].masking,
        "a count masks the values it counts"
    );
    assert_eq!(dataset(&l), strs(&["orders.tenant: FILTER"]));
}

#[tokio::test]
async fn ratio_and_derived_kpis() {
    let (_d, e) = engine().await;
    let l = lineage(&e, &["return_rate", "aov"], Some(Grain::Month), &[]).await;
    assert!(l.unresolved.is_empty(), "{:?}", l.unresolved);
    // returned count / all orders: no value is read, status decides the numerator's rows.
    assert_eq!(column(&l, "return_rate"), strs(&["orders.status: FILTER"]));
    // revenue / orders: an aggregate, then divided.
    assert_eq!(column(&l, "aov"), strs(&["orders.amount: TRANSFORMATION,AGGREGATION"]));
}

#[tokio::test]
async fn joined_dimension_names_the_join_keys() {
    let (_d, e) = engine().await;
    let l = lineage(&e, &["revenue"], None, &["customers.segment"]).await;
    assert!(l.unresolved.is_empty(), "{:?}", l.unresolved);
    assert_eq!(column(&l, "customers.segment"), strs(&["customers.segment: IDENTITY"]));
    assert_eq!(column(&l, "revenue"), strs(&["orders.amount: AGGREGATION"]));
    let d = dataset(&l);
    for expected in [
        "customers.customer_id: JOIN",
        "customers.segment: GROUP_BY,SORT",
        "customers.tenant: FILTER",
        "orders.customer_id: JOIN",
        "orders.tenant: FILTER",
    ] {
        assert!(d.contains(&expected.to_string()), "{expected} not in {d:#?}");
    }
    let products: Vec<&str> = l.products.iter().map(|p| p.product.as_str()).collect();
    assert_eq!(products, ["customers", "orders"]);
}

#[tokio::test]
async fn cumulative_conversion_semi_additive_and_percentile() {
    let (_d, e) = engine().await;
    let l = lineage(&e, &["revenue_30d"], Some(Grain::Month), &[]).await;
    assert!(l.unresolved.is_empty(), "{:?}", l.unresolved);
    assert!(
        column(&l, "revenue_30d").contains(&"orders.amount: AGGREGATION".to_string()),
        "{:#?}",
        column(&l, "revenue_30d")
    );
    // The time spine is generated: the period still traces to the order time through the
    // window's join, never to a guess.
    assert!(dataset(&l).iter().any(|d| d.starts_with("orders.ordered_at:")));

    let l = lineage(&e, &["visit_conversion"], None, &[]).await;
    assert!(l.unresolved.is_empty(), "{:?}", l.unresolved);
    let d = dataset(&l);
    for expected in ["orders.customer_id", "visits.customer_id"] {
        assert!(
            d.iter().any(|x| x.starts_with(expected) && x.contains("JOIN")),
            "{expected} as a join key not in {d:#?}"
        );
    }

    let l = lineage(&e, &["closing_balance"], Some(Grain::Month), &[]).await;
    assert!(l.unresolved.is_empty(), "{:?}", l.unresolved);
    assert!(column(&l, "closing_balance").contains(&"balances.balance: AGGREGATION".to_string()));
    let all: Vec<String> = column(&l, "closing_balance").into_iter().chain(dataset(&l)).collect();
    assert!(all.iter().any(|x| x.starts_with("balances.account_id:")), "{all:#?}");
    assert!(all.iter().any(|x| x.starts_with("balances.snapshot_date:")), "{all:#?}");

    let l = lineage(&e, &["done_median"], None, &[]).await;
    assert_eq!(
        column(&l, "done_median"),
        strs(&["orders.amount: AGGREGATION", "orders.status: FILTER"])
    );
}

#[tokio::test]
async fn every_kpi_lineage_snapshot() {
    let (_d, e) = engine().await;
    let ids: Vec<String> = e.project().kpis.keys().cloned().collect();
    let mut out = String::new();
    for id in ids {
        let l = lineage(&e, &[id.as_str()], Some(Grain::Month), &[]).await;
        assert!(l.unresolved.is_empty(), "{id}: {:?}", l.unresolved);
        out.push_str(&format!("== {id}\n"));
        for c in &l.columns {
            out.push_str(&format!("  {}: {:?}\n", c.name, compact(&c.inputs)));
        }
        out.push_str(&format!("  rows: {:?}\n", dataset(&l)));
    }
    insta::assert_snapshot!(out);
}
