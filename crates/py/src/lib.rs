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
#[pyo3(signature = (manifest, data, metrics, group_by, where_filters, order_by, limit, start_time, end_time, saved_query))]
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
        ..MfQuery::default()
    };
    let result = runtime::run(
        py,
        async move { canary_core::mf::run_query(&manifest, &data, &query).await },
    )?;
    // A MetricFlow result's grain is in its column names (`metric_time__day`).
    Ok(result::Result::new(result, None, Vec::new()))
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
    errors::register(m)?;
    Ok(())
}
