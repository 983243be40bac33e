//! Benchmarks on the bundled sample project: planning, and computing the demo pack.
//!
//! `make bench` runs them in release mode; `make test` runs each once in test mode.

use std::path::Path;

use canary_core::{Engine, Grain, Query};
use criterion::{Criterion, criterion_group, criterion_main};

fn sample() -> (tokio::runtime::Runtime, Engine, Query) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/retail");
    let engine = runtime.block_on(Engine::open(&root)).expect("sample project");
    let kpis = engine
        .project()
        .kpis
        .values()
        .filter(|k| k.tags.iter().any(|t| t == "demo"))
        .map(|k| k.id.clone())
        .collect();
    let query = Query {
        kpis,
        grain: Some(Grain::Month),
        by: vec!["channel".into()],
        ..Query::default()
    };
    (runtime, engine, query)
}

fn benches(c: &mut Criterion) {
    let (runtime, engine, query) = sample();
    let mut group = c.benchmark_group("sample_pack");
    group.sample_size(10);
    group.bench_function("plan_demo_pack", |b| {
        b.iter(|| runtime.block_on(engine.plan(&query)).expect("plan"))
    });
    group.bench_function("compute_demo_pack_by_month_and_channel", |b| {
        b.iter(|| runtime.block_on(engine.compute(&query)).expect("compute"))
    });
    let mut one = query.clone();
    one.kpis = vec!["revenue".into()];
    group.bench_function("compute_revenue_by_month_and_channel", |b| {
        b.iter(|| runtime.block_on(engine.compute(&one)).expect("compute"))
    });
    group.finish();
}

criterion_group!(sample_pack, benches);
criterion_main!(sample_pack);
