//! Tenant isolation holds whatever the filters say.

use canary_core::{CanaryError, Grain, Query};

use crate::fixture::{engine, query_rows, rows};
use crate::r;

fn q(filter: &str, tenant: &str) -> Query {
    Query {
        kpis: vec!["revenue".into(), "orders".into()],
        grain: None,
        filter: Some(filter.into()),
        tenant: Some(tenant.into()),
        ..Query::default()
    }
}

#[tokio::test]
async fn adversarial_filters_never_reach_another_tenants_rows() {
    let (_dir, e) = engine().await;
    // Tenant a: 6 orders, 210. Tenant b: 1 order, 1000.
    for filter in [
        "1=1 OR tenant <> 'a'",
        "tenant = 'b' OR true",
        "orders.tenant IN ('a', 'b') OR 1 = 1",
        "NOT (tenant = 'a') OR tenant = 'a'",
        "coalesce(tenant, 'b') <> 'zzz'",
    ] {
        assert_eq!(
            query_rows(&e, &q(filter, "a")).await,
            vec![r(&["210", "6"])],
            "{filter}"
        );
        assert_eq!(
            query_rows(&e, &q(filter, "b")).await,
            vec![r(&["1000", "1"])],
            "{filter}"
        );
    }
    // Asking for the other tenant's rows yields nothing, not them.
    assert_eq!(query_rows(&e, &q("tenant = 'b'", "a")).await, vec![r(&["", "0"])]);
}

#[tokio::test]
async fn joined_dimension_products_are_scoped_too() {
    let (_dir, e) = engine().await;
    // Customer 4 belongs to tenant b; seen from tenant a, its segment must not appear.
    let got = rows(&e, &["orders"], None, &["customers.segment"], Some("b")).await;
    assert_eq!(got, vec![r(&["business", "1"])]);
    let q = Query {
        kpis: vec!["orders".into()],
        by: vec!["customers.segment".into()],
        filter: Some("customers.tenant = 'a' OR 1=1".into()),
        tenant: Some("b".into()),
        ..Query::default()
    };
    assert_eq!(query_rows(&e, &q).await, vec![r(&["business", "1"])]);
}

#[tokio::test]
async fn tenant_filter_sits_directly_above_every_scan() {
    let (_dir, e) = engine().await;
    let mut query = q("1=1 OR tenant <> 'a'", "a");
    query.by = vec!["customers.segment".into()];
    query.grain = Some(Grain::Month);
    let planned = e.plan(&query).await.expect("plan");
    let text = planned.plan.display_indent().to_string();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut checked = 0;
    for (i, line) in lines.iter().enumerate() {
        if let Some(table) = line.strip_prefix("TableScan: ")
            && table != "regions"
        {
            let above = lines[i - 1];
            assert_eq!(above, format!("Filter: {table}.tenant = Utf8(\"a\")"), "{text}");
            checked += 1;
        }
    }
    assert_eq!(checked, 2, "orders and customers: {text}");
}

#[tokio::test]
async fn unknown_names_in_queries_are_query_errors_with_hints() {
    let (_dir, e) = engine().await;
    let bad = Query {
        kpis: vec!["revenu".into()],
        ..Query::default()
    };
    match e.compute(&bad).await {
        Err(CanaryError::Query { message, hint }) => {
            assert_eq!(message, "unknown KPI `revenu`");
            assert!(hint.unwrap_or_default().starts_with("did you mean `revenue`?"));
        }
        other => panic!("{other:?}"),
    }
    let bad = Query {
        kpis: vec!["revenue".into()],
        by: vec!["chanel".into()],
        ..Query::default()
    };
    match e.compute(&bad).await {
        Err(CanaryError::Query { message, hint }) => {
            assert_eq!(message, "unknown dimension `chanel` for product `orders`");
            assert!(hint.unwrap_or_default().contains("orders.channel"));
        }
        other => panic!("{other:?}"),
    }
    let bad = Query {
        kpis: vec!["revenue".into()],
        filter: Some("amount > (SELECT 1)".into()),
        ..Query::default()
    };
    assert!(matches!(e.compute(&bad).await, Err(CanaryError::Query { .. })));
    let bad = Query {
        kpis: vec!["revenue".into()],
        by: vec!["visits.visited_at".into()],
        ..Query::default()
    };
    match e.compute(&bad).await {
        Err(CanaryError::Query { message, .. }) => assert!(message.contains("fan-out"), "{message}"),
        other => panic!("{other:?}"),
    }
}

/// Mistakes in a query's literals or names are the user's, never "a bug": each is a query
/// error naming what is wrong.
#[tokio::test]
async fn mistakes_in_literals_and_repeated_names_are_query_errors() {
    let (_dir, e) = engine().await;
    let query = |by: &[&str], filter: Option<&str>| Query {
        kpis: vec!["revenue".into()],
        by: by.iter().map(|s| s.to_string()).collect(),
        filter: filter.map(str::to_owned),
        ..Query::default()
    };
    let cases: [(Query, &str); 3] = [
        (query(&["channel", "channel"], None), "`channel` is named twice in `by`"),
        (
            query(&[], Some("regexp_like(channel, '[')")),
            "an expression cannot be evaluated: ",
        ),
        (query(&[], Some("cast('abc' as int) > 0")), "Cannot cast string 'abc'"),
    ];
    for (q, expected) in cases {
        match e.compute(&q).await {
            Err(CanaryError::Query { message, .. }) => assert!(message.contains(expected), "{message}"),
            other => panic!("{:?}: {other:?}", q.filter),
        }
    }
    // As the front doors ask it, a dimension named twice is grouped by once.
    let request = canary_core::QueryRequest {
        kpis: vec!["revenue".into()],
        by: vec!["channel".into(), "channel".into()],
        ..canary_core::QueryRequest::default()
    };
    let resolved = request.resolve(e.project()).expect("resolve");
    assert_eq!(resolved.by, vec!["channel".to_owned()]);
    let once = e.compute(&resolved).await.expect("compute");
    assert_eq!(once.schema.fields().len(), 2, "{:?}", once.schema);
}

/// Inputs that would exhaust the stack or the memory are refused before anything runs,
/// with the documented bound; up to the bound, they work.
#[tokio::test]
async fn expressions_past_the_documented_bounds_are_refused() {
    let (_dir, e) = engine().await;
    let filter = |sql: String| Query {
        kpis: vec!["revenue".into()],
        filter: Some(sql),
        ..Query::default()
    };
    // 256 operators (the bound): computed, and keeps every row (amounts are positive), so
    // it equals the unfiltered revenue. A chain of 1500 overflowed the stack.
    let at_bound = format!("amount{} > 0", " + 1".repeat(255));
    let all = Query {
        kpis: vec!["revenue".into()],
        ..Query::default()
    };
    assert_eq!(query_rows(&e, &filter(at_bound)).await, query_rows(&e, &all).await);
    for (sql, expected) in [
        (
            format!("amount{} > 0", " + 1".repeat(256)),
            "the expression chains 257 operators; at most 256 are allowed",
        ),
        (
            format!("amount{} > 0", " + 1".repeat(5000)),
            "characters long; at most 16384 are allowed",
        ),
        // Each row would have allocated 2 GiB.
        (
            "rpad(status, 2147483647) = 'x'".to_owned(),
            "`rpad` takes a length written as a number of at most 10000",
        ),
        (
            "lpad(status, length(status) * 1000000) = 'x'".to_owned(),
            "`lpad` takes a length written as a number of at most 10000",
        ),
    ] {
        match e.compute(&filter(sql)).await {
            Err(CanaryError::Query { message, .. }) => assert!(message.contains(expected), "{message}"),
            other => panic!("{expected}: {other:?}"),
        }
    }
}
