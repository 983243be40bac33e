//! Impact of contract changes on the fixture's KPIs and dimensions, found through lineage;
//! the expected consumers are read off the fixture's specs by hand.

use canary_core::OpenOptions;
use canary_core::impact::{ChangeKind, ImpactReport, Severity, impact};
use canary_core::spec::SourceFile;

use crate::fixture;

async fn report(edit: impl Fn(&str) -> String) -> ImpactReport {
    let dir = tempfile::tempdir().expect("tempdir");
    fixture::create(dir.path());
    let text = std::fs::read_to_string(dir.path().join("products/orders.yaml")).expect("read");
    let old = SourceFile {
        display: "products/orders.yaml".into(),
        text: text.clone(),
    };
    let new = SourceFile {
        display: "new.yaml".into(),
        text: edit(&text),
    };
    // The project holds the new contract: impact opens it with the old one in place.
    std::fs::write(dir.path().join("products/orders.yaml"), &new.text).expect("write");
    impact(
        dir.path(),
        &old,
        &new,
        Some("products/orders.yaml"),
        &OpenOptions::default(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

fn sorted(v: &[String]) -> Vec<&str> {
    let mut v: Vec<&str> = v.iter().map(String::as_str).collect();
    v.sort_unstable();
    v
}

#[tokio::test]
async fn removing_a_column_breaks_exactly_the_kpis_that_read_it() {
    let r = report(|t| t.replace("  - { name: status, type: string }\n", "")).await;
    let c = r
        .changes
        .iter()
        .find(|c| c.change.kind == ChangeKind::ColumnRemoved)
        .expect("column removed");
    assert_eq!(c.change.severity, Severity::Breaking);
    // status: the filters of done_revenue, done_customers, done_median and return_rate's
    // numerator; the expression of the measure `returned`.
    assert_eq!(
        sorted(&c.kpis),
        [
            "done_customers",
            "done_median",
            "done_revenue",
            "return_rate",
            "returned"
        ]
    );
    assert_eq!(sorted(&c.dimensions), ["orders.status"]);
    assert!(r.breaks_kpis());
}

#[tokio::test]
async fn a_lossy_type_an_added_column_and_a_moved_location() {
    let r = report(|t| t.replace("{ name: qty, type: int64 }", "{ name: qty, type: float64 }")).await;
    assert_eq!(r.changes.len(), 1);
    // int64 -> float64 loses precision above 2^53: narrowed.
    assert_eq!(
        (r.changes[0].change.kind, r.changes[0].change.severity),
        (ChangeKind::TypeNarrowed, Severity::Breaking)
    );
    assert_eq!(sorted(&r.changes[0].kpis), ["median_qty"]);

    let r = report(|t| {
        t.replace(
            "- { name: customer_id, type: int64 }",
            "- { name: customer_id, type: int64 }\n  - { name: note, type: string }",
        )
    })
    .await;
    assert_eq!(r.changes.len(), 1);
    assert_eq!(
        (r.changes[0].change.kind, r.changes[0].change.severity),
        (ChangeKind::ColumnAdded, Severity::Compatible)
    );
    assert!(r.changes[0].kpis.is_empty() && !r.breaks_kpis());

    let r = report(|t| t.replace("location: data/orders.parquet", "location: data/orders_v2.parquet")).await;
    let c = &r.changes[0];
    assert_eq!(c.change.kind, ChangeKind::LocationMoved);
    // Every KPI that reads orders, conversions included (their conversion events).
    for kpi in ["revenue", "orders", "visit_conversion", "aov", "revenue_30d"] {
        assert!(c.kpis.iter().any(|k| k == kpi), "{kpi} not in {:?}", c.kpis);
    }
    for kpi in ["closing_balance", "closing_total"] {
        assert!(!c.kpis.iter().any(|k| k == kpi), "{kpi} does not read orders");
    }
}
