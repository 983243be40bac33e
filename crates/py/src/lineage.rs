//! Lineage of a query, in each of its forms.

use std::sync::Arc;

use canary_core::Engine;
use canary_core::clock::SystemClock;
use canary_core::lineage::{self, OpenLineageContext};
use pyo3::prelude::*;

use crate::errors::to_py;

/// The column-level lineage of a query (from `Project.lineage`).
#[pyclass(frozen, module = "canary._native")]
pub struct Lineage {
    engine: Arc<Engine>,
    kpis: Vec<String>,
    schema: Vec<(String, String)>,
    lineage: lineage::Lineage,
}

impl Lineage {
    pub fn new(engine: Arc<Engine>, kpis: Vec<String>, traced: canary_core::Traced) -> Lineage {
        Lineage {
            engine,
            kpis,
            schema: traced.output_schema(),
            lineage: traced.lineage,
        }
    }
}

fn json(v: &serde_json::Value) -> PyResult<String> {
    serde_json::to_string(v).map_err(|e| to_py(canary_core::CanaryError::internal(e.to_string())))
}

#[pymethods]
impl Lineage {
    /// Canary's lineage document, as JSON text.
    fn json(&self) -> PyResult<String> {
        json(&self.lineage.to_json())
    }

    fn text(&self) -> String {
        lineage::to_text(&self.lineage)
    }

    fn dot(&self) -> String {
        lineage::to_dot(&self.lineage)
    }

    fn mermaid(&self) -> String {
        lineage::to_mermaid(&self.lineage)
    }

    /// OpenLineage RunEvents as JSON texts, stamped now with a new run id.
    fn openlineage(&self) -> PyResult<Vec<String>> {
        let project = self.engine.project();
        let ctx = OpenLineageContext::for_query(project, &self.kpis, &SystemClock);
        lineage::to_openlineage(&self.lineage, project, &ctx, &self.schema)
            .iter()
            .map(json)
            .collect()
    }
}
