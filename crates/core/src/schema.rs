//! JSON Schemas of the spec files, generated from the raw mirror types.

use schemars::schema_for;

use crate::spec::{KpiFile, ProductSpec, ProjectSpec};

/// `(file name, schema JSON)` for each kind of spec file.
pub fn json_schemas() -> Vec<(&'static str, String)> {
    let pretty = |v: schemars::Schema| {
        let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
        s.push('\n');
        s
    };
    vec![
        ("project.schema.json", pretty(schema_for!(ProjectSpec))),
        ("product.schema.json", pretty(schema_for!(ProductSpec))),
        ("kpis.schema.json", pretty(schema_for!(KpiFile))),
    ]
}
