//! Computed values, handed to Python through the Arrow C stream interface: pyarrow, polars,
//! pandas and DuckDB read the same buffers, nothing is copied.

use std::sync::Arc;

use arrow::ffi_stream::FFI_ArrowArrayStream;
use canary_core::exec::display::TextTable;
use canary_core::plan::OutputRole;
use canary_core::{Grain, QueryResult};
use datafusion::arrow::record_batch::RecordBatchIterator;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use crate::errors::InternalError;
use crate::info::Kpi;

/// Display text of a result: headers, whether each column is numeric, rows, total rows.
type Cells = (Vec<String>, Vec<bool>, Vec<Vec<String>>, usize);

/// KPI values: one row per period and dimension values, one column per KPI.
#[pyclass(frozen, module = "canary._native")]
pub struct Result {
    result: Arc<QueryResult>,
    grain: Option<Grain>,
    /// The declared KPI of each KPI column, where the result comes from a project.
    kpis: Vec<Kpi>,
}

impl Result {
    pub fn new(result: QueryResult, grain: Option<Grain>, kpis: Vec<Kpi>) -> Result {
        Result {
            result: Arc::new(result),
            grain,
            kpis,
        }
    }

    fn names_with(&self, role: OutputRole) -> Vec<String> {
        self.result
            .columns
            .iter()
            .filter(|c| c.role == role)
            .map(|c| c.name.clone())
            .collect()
    }
}

#[pymethods]
impl Result {
    /// An Arrow C stream of the result's batches (the Arrow PyCapsule interface). A
    /// `requested_schema` is not applied: the result has one schema.
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let batches = self.result.batches.clone();
        let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), Arc::clone(&self.result.schema));
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        PyCapsule::new_with_value(py, stream, c"arrow_array_stream")
    }

    /// Number of rows.
    #[getter]
    fn num_rows(&self) -> usize {
        self.result.num_rows()
    }

    /// Column names, in order.
    #[getter]
    fn column_names(&self) -> Vec<String> {
        self.result.schema.fields().iter().map(|f| f.name().clone()).collect()
    }

    /// The period column's name, if the result has one.
    #[getter]
    fn period_column(&self) -> Option<String> {
        self.names_with(OutputRole::Period).into_iter().next()
    }

    /// Dimension columns, in order.
    #[getter]
    fn dimension_columns(&self) -> Vec<String> {
        self.names_with(OutputRole::Dimension)
    }

    /// KPI (or metric) columns, in order.
    #[getter]
    fn kpi_columns(&self) -> Vec<String> {
        self.names_with(OutputRole::Kpi)
    }

    /// The grain of the period column, e.g. `month`; `None` without one.
    #[getter]
    fn grain(&self) -> Option<String> {
        self.grain.map(|g| g.to_string())
    }

    /// The declared KPIs of the KPI columns (empty for MetricFlow queries).
    #[getter]
    fn kpis(&self) -> Vec<Kpi> {
        self.kpis.clone()
    }

    /// The first `max_rows` rows as display text: `(headers, numeric, rows, total_rows)`.
    #[pyo3(signature = (max_rows=None))]
    fn text_cells(&self, max_rows: Option<usize>) -> PyResult<Cells> {
        let t = self.table(max_rows)?;
        Ok((t.headers, t.numeric, t.rows, t.total_rows))
    }

    /// The first `max_rows` rows as an aligned text table, as the CLI prints it.
    #[pyo3(signature = (max_rows=None))]
    fn to_text(&self, max_rows: Option<usize>) -> PyResult<String> {
        Ok(self.table(max_rows)?.to_text())
    }
}

impl Result {
    fn table(&self, max_rows: Option<usize>) -> PyResult<TextTable> {
        TextTable::new(&self.result.schema, &self.result.batches, self.grain, max_rows)
            .map_err(|e| InternalError::new_err(format!("cannot display the result: {e}")))
    }
}
