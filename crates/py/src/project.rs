//! A Canary project opened in-process.

use std::path::PathBuf;
use std::sync::Arc;

use canary_core::{CanaryError, Engine, Environment, QueryRequest};
use pyo3::prelude::*;

use crate::errors::to_py;
use crate::info::{Diagnostic, Dimension, Kpi, Product};
use crate::lineage::Lineage;
use crate::result::Result;
use crate::runtime::run;

/// A project opened for computing: specs validated, data checked, one engine.
#[pyclass(frozen, module = "canary._native")]
pub struct Project {
    engine: Arc<Engine>,
    root: PathBuf,
    tenant: Option<String>,
}

/// The settings from the process's environment (`AWS_*`, `CANARY_NOW`), read as the CLI
/// reads them.
pub fn environment() -> PyResult<Environment> {
    Environment::from_vars(std::env::vars()).map_err(to_py)
}

/// The arguments of `compute` and `explain`, as the facade passes them.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct Request {
    kpis: Vec<String>,
    grain: Option<String>,
    by: Vec<String>,
    filter: Option<String>,
    start: Option<String>,
    end: Option<String>,
}

impl Project {
    fn request(&self, r: Request) -> QueryRequest {
        QueryRequest {
            kpis: r.kpis,
            grain: r.grain,
            by: r.by,
            filter: r.filter,
            from: r.start,
            to: r.end,
            tenant: self.tenant.clone(),
        }
    }
}

#[pymethods]
impl Project {
    /// Open the project in `path` (the folder holding `canary.yaml`).
    #[new]
    #[pyo3(signature = (path, tenant=None))]
    fn new(py: Python<'_>, path: PathBuf, tenant: Option<String>) -> PyResult<Project> {
        let root = path.clone();
        let options = environment()?.open_options();
        let engine = run(py, async move { Engine::open_with(&path, &options).await })?;
        Ok(Project {
            engine: Arc::new(engine),
            root,
            tenant,
        })
    }

    /// The project folder.
    #[getter]
    fn path(&self) -> PathBuf {
        self.root.clone()
    }

    #[getter]
    fn tenant(&self) -> Option<String> {
        self.tenant.clone()
    }

    /// The project's name, from `canary.yaml`.
    #[getter]
    fn name(&self) -> String {
        self.engine.project().name.clone()
    }

    /// Validate the specs and data as they are on disk now; every problem, or none.
    fn validate(&self, py: Python<'_>) -> PyResult<Vec<Diagnostic>> {
        let root = self.root.clone();
        let options = environment()?.open_options();
        let v = run(py, async move { Engine::validate(&root, &options).await })?;
        Ok(v.diagnostics.into_iter().map(Diagnostic::from).collect())
    }

    /// The KPIs, in project order.
    #[getter]
    fn kpis(&self) -> Vec<Kpi> {
        self.engine
            .project()
            .kpis
            .values()
            .map(|k| Kpi::from(k.as_ref()))
            .collect()
    }

    /// The data-product contracts, in project order.
    #[getter]
    fn products(&self) -> Vec<Product> {
        self.engine
            .project()
            .products
            .values()
            .map(|p| Product::from(p.as_ref()))
            .collect()
    }

    /// The dimensions `kpi` (or, without one, any query) can be grouped by.
    #[pyo3(signature = (kpi=None))]
    fn dimensions(&self, kpi: Option<&str>) -> PyResult<Vec<Dimension>> {
        let dims = self.engine.project().groupable_dimensions(kpi).map_err(to_py)?;
        Ok(dims.into_iter().map(Dimension::from).collect())
    }

    /// The impact of the contract `new` replacing `old` (files, or `REV:PATH`), as
    /// `(text, json, breaks_kpis)`.
    fn impact(&self, py: Python<'_>, old: String, new: String) -> PyResult<(String, String, bool)> {
        let root = self.root.clone();
        let options = environment()?.open_options();
        let report = run(py, async move {
            canary_core::impact::impact_of(&root, &old, &new, &options).await
        })?;
        Ok((report.to_text(), report.to_json(), report.breaks_kpis()))
    }

    /// Compute KPIs.
    fn compute(&self, py: Python<'_>, request: Request) -> PyResult<Result> {
        let query = self.request(request).resolve(self.engine.project()).map_err(to_py)?;
        let project = self.engine.project();
        let kpis = query
            .kpis
            .iter()
            .filter_map(|k| project.kpi(k).map(|k| Kpi::from(k.as_ref())))
            .collect();
        let grain = query.grain;
        let engine = Arc::clone(&self.engine);
        let result = run(py, async move { engine.compute(&query).await })?;
        Ok(Result::new(result, grain, kpis))
    }

    /// The column-level lineage of a query.
    fn lineage(&self, py: Python<'_>, request: Request) -> PyResult<Lineage> {
        let query = self.request(request).resolve(self.engine.project()).map_err(to_py)?;
        let engine = Arc::clone(&self.engine);
        let kpis = query.kpis.clone();
        let traced = run(py, async move { engine.lineage(&query).await })?;
        Ok(Lineage::new(
            Arc::clone(&self.engine),
            kpis,
            traced,
            environment()?.clock,
        ))
    }

    /// Verify the project's evidence log (or the folder `path`): JSON of the verification.
    #[pyo3(signature = (path=None, key=None))]
    fn verify(&self, py: Python<'_>, path: Option<PathBuf>, key: Option<PathBuf>) -> PyResult<String> {
        let target = path.unwrap_or_else(|| self.engine.project().root.clone());
        let v = py
            .detach(move || {
                let key = key
                    .as_deref()
                    .map(canary_core::evidence::VerifyingKey::read)
                    .transpose()?;
                canary_core::evidence::verify(&target, key.as_ref())
            })
            .map_err(to_py)?;
        serde_json::to_string(&v).map_err(|e| to_py(CanaryError::internal(e.to_string())))
    }

    /// The plan of a query: `(logical, optimized, sql, sql_error)`.
    fn explain(&self, py: Python<'_>, request: Request) -> PyResult<(String, String, Option<String>, Option<String>)> {
        let query = self.request(request).resolve(self.engine.project()).map_err(to_py)?;
        let engine = Arc::clone(&self.engine);
        let e = run(py, async move { engine.explain(&query).await })?;
        let (sql, sql_error) = match e.sql {
            Ok(s) => (Some(s), None),
            Err(m) => (None, Some(m)),
        };
        Ok((e.logical, e.optimized, sql, sql_error))
    }
}
