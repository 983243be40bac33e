//! Locations as URLs, and the memory limit.

use canary_core::{CanaryError, Engine, Grain};

use crate::fixture::{create, rows};
use crate::r;

#[tokio::test]
async fn file_urls_and_globs_locate_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    create(dir.path());
    let orders = dir.path().join("products/orders.yaml");
    let url = format!(
        "file://{}/data/orders.parquet",
        dir.path().canonicalize().expect("path").display()
    );
    let text = std::fs::read_to_string(&orders).expect("read");
    std::fs::write(
        &orders,
        text.replace("location: data/orders.parquet", &format!("location: {url}")),
    )
    .expect("write");
    let regions = dir.path().join("products/regions.yaml");
    let text = std::fs::read_to_string(&regions).expect("read");
    std::fs::write(
        &regions,
        text.replace("location: data/regions.parquet", "location: data/region*.parquet"),
    )
    .expect("write");
    let e = Engine::open(dir.path()).await.expect("open");
    assert_eq!(e.project().products["orders"].location, url);
    let got = rows(&e, &["revenue"], Some(Grain::Month), &["region_name"], Some("a")).await;
    assert_eq!(got[0], r(&["2024-01-01", "north", "30"]));
}

#[tokio::test]
async fn the_memory_limit_applies_and_names_the_setting_when_exceeded() {
    let dir = tempfile::tempdir().expect("tempdir");
    create(dir.path());
    std::fs::write(
        dir.path().join("canary.yaml"),
        "project: tiny\nsettings:\n  memory_limit: 1KiB\n",
    )
    .expect("write");
    let e = Engine::open(dir.path()).await.expect("open");
    let q = canary_core::Query {
        kpis: vec!["customers".into(), "median_amount".into()],
        grain: Some(Grain::Hour),
        ..Default::default()
    };
    match e.compute(&q).await {
        Err(CanaryError::Data { message, .. }) => {
            assert!(message.starts_with("out of memory"), "{message}");
            assert!(message.ends_with("raise `settings.memory_limit`"), "{message}");
        }
        other => panic!("expected running out of memory, got {other:?}"),
    }
    // The same query within a workable limit.
    std::fs::write(
        dir.path().join("canary.yaml"),
        "project: small\nsettings:\n  memory_limit: 64MiB\n",
    )
    .expect("write");
    let e = Engine::open(dir.path()).await.expect("open");
    assert_eq!(e.compute(&q).await.expect("compute").num_rows(), 7);
}
