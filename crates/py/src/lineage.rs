//! Lineage of a query, in each of its forms.

use std::sync::Arc;

use canary_core::Engine;
use canary_core::clock::Clock;
use canary_core::lineage::{self, LineageFormat};
use pyo3::prelude::*;

use crate::errors::to_py;

/// The column-level lineage of a query (from `Project.lineage`).
#[pyclass(frozen, module = "canary._native")]
pub struct Lineage {
    engine: Arc<Engine>,
    kpis: Vec<String>,
    schema: Vec<(String, String)>,
    lineage: lineage::Lineage,
    /// Stamps OpenLineage events: `CANARY_NOW` when set, as in the CLI.
    clock: Arc<dyn Clock>,
}

impl Lineage {
    pub fn new(engine: Arc<Engine>, kpis: Vec<String>, traced: canary_core::Traced, clock: Arc<dyn Clock>) -> Lineage {
        Lineage {
            engine,
            kpis,
            schema: traced.output_schema(),
            lineage: traced.lineage,
            clock,
        }
    }

    fn render_as(&self, format: LineageFormat) -> String {
        lineage::render(
            &self.lineage,
            &self.schema,
            self.engine.project(),
            &self.kpis,
            format,
            self.clock.as_ref(),
        )
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

    /// The lineage in `format` (`text`, `json`, `openlineage`, `dot`, `mermaid`), exactly as
    /// `canary lineage --format FORMAT` prints it.
    fn render(&self, format: &str) -> PyResult<String> {
        Ok(self.render_as(format.parse().map_err(to_py)?))
    }

    fn text(&self) -> String {
        self.render_as(LineageFormat::Text)
    }

    fn dot(&self) -> String {
        self.render_as(LineageFormat::Dot)
    }

    fn mermaid(&self) -> String {
        self.render_as(LineageFormat::Mermaid)
    }

    /// OpenLineage RunEvents as JSON texts, stamped by the clock (`CANARY_NOW`, else now).
    fn openlineage(&self) -> Vec<String> {
        self.render_as(LineageFormat::OpenLineage)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}
