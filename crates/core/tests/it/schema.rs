//! The JSON Schemas in docs/schema are generated from the spec types and must be current.

use std::path::Path;

#[test]
fn json_schemas_in_docs_match_the_spec_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schema");
    let update = std::env::var_os("CANARY_UPDATE_SCHEMAS").is_some();
    for (name, json) in canary_core::schema::json_schemas() {
        let path = dir.join(name);
        if update {
            std::fs::write(&path, &json).expect("write schema");
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == json,
            "docs/schema/{name} is stale; regenerate with `make schemas`"
        );
    }
}

#[test]
fn the_kpi_schema_documents_every_type() {
    let (_, json) = canary_core::schema::json_schemas()
        .into_iter()
        .find(|(n, _)| *n == "kpis.schema.json")
        .expect("kpi schema");
    for kind in ["simple", "ratio", "derived", "cumulative", "conversion"] {
        assert!(json.contains(&format!("\"{kind}\"")), "{kind} missing");
    }
}
