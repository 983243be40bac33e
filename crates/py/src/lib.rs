//! `canary._native`: Canary's engine for Python. This crate only adapts `canary-core`
//! (types, errors, waiting); the Python API is the facade in `python/canary`.

mod errors;
mod info;
mod lineage;
mod project;
mod result;
mod runtime;

use std::path::PathBuf;

use canary_core::mf::MfQuery;
use pyo3::prelude::*;

/// Answer a MetricFlow query over a manifest and a folder of tables, as `canary mf query`.
#[pyfunction]
#[pyo3(signature = (manifest, data, metrics, group_by, where_filters, order_by, limit, start_time, end_time, saved_query, min_max_only, apply_group_by))]
#[allow(clippy::too_many_arguments)]
fn mf_query(
    py: Python<'_>,
    manifest: PathBuf,
    data: PathBuf,
    metrics: Vec<String>,
    group_by: Vec<String>,
    where_filters: Vec<String>,
    order_by: Vec<String>,
    limit: Option<usize>,
    start_time: Option<String>,
    end_time: Option<String>,
    saved_query: Option<String>,
    min_max_only: bool,
    apply_group_by: bool,
) -> PyResult<result::Result> {
    let query = MfQuery {
        metrics,
        group_by,
        where_filters,
        order_by,
        limit,
        start_time,
        end_time,
        saved_query,
        min_max_only,
        apply_group_by,
    };
    let result = runtime::run(
        py,
        async move { canary_core::mf::run_query(&manifest, &data, &query).await },
    )?;
    // A MetricFlow result's grain is in its column names (`metric_time__day`).
    Ok(result::Result::new(result, None, Vec::new()))
}

/// Validate the project in `path` (with extra spec `files`) as `canary validate` does:
/// `(diagnostics, products, kpis, text, json)`, the texts exactly as the CLI prints them.
#[pyfunction]
#[pyo3(signature = (path, files))]
fn validate(
    py: Python<'_>,
    path: PathBuf,
    files: Vec<PathBuf>,
) -> PyResult<(Vec<info::Diagnostic>, usize, usize, String, String)> {
    let options = canary_core::OpenOptions {
        extra_files: files,
        ..project::environment()?.open_options()
    };
    let v = runtime::run(py, async move { canary_core::Engine::validate(&path, &options).await })?;
    let text = v.to_text(&canary_core::diagnostic::Plain);
    let json = v.to_json();
    let diagnostics = v.diagnostics.into_iter().map(info::Diagnostic::from).collect();
    Ok((diagnostics, v.products, v.kpis, text, json))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<project::Project>()?;
    m.add_class::<result::Result>()?;
    m.add_class::<lineage::Lineage>()?;
    m.add_class::<info::Diagnostic>()?;
    m.add_class::<info::Kpi>()?;
    m.add_class::<info::Product>()?;
    m.add_class::<info::Dimension>()?;
    m.add_function(wrap_pyfunction!(mf_query, m)?)?;
    m.add_function(wrap_pyfunction!(validate, m)?)?;
    errors::register(m)?;
    Ok(())
}
