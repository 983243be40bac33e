//! Every exception the extension raises, and the one mapping from core errors to them.

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::info::Diagnostic;

pyo3::create_exception!(
    canary,
    CanaryError,
    PyException,
    "Base class of every error Canary raises."
);
pyo3::create_exception!(
    canary,
    SpecError,
    CanaryError,
    "The project's specs (or the data they describe) have problems; `.diagnostics` lists \
     every one, each with a code, file, line, column and message."
);
pyo3::create_exception!(
    canary,
    DataError,
    CanaryError,
    "Data could not be read or processed (missing or unreadable files, out of memory)."
);
pyo3::create_exception!(
    canary,
    QueryError,
    CanaryError,
    "The query asks for something the project cannot answer; `.hint` says what would work."
);
pyo3::create_exception!(
    canary,
    InternalError,
    CanaryError,
    "A bug in Canary; please report it with the message."
);

/// The Python exception for a core error.
pub fn to_py(err: canary_core::CanaryError) -> PyErr {
    use canary_core::CanaryError as E;
    // The core's own wording ("the project has 2 problems", "data error: …"), with every
    // cause, as the CLI shows it.
    let text = canary_core::error::with_causes(&err);
    match err {
        E::Spec(diags) => Python::attach(|py| {
            let mut message = text;
            for d in &diags {
                message.push('\n');
                message.push_str(&d.to_string());
            }
            let exc = SpecError::new_err(message);
            let list = diags
                .into_iter()
                .map(|d| Py::new(py, Diagnostic::from(d)))
                .collect::<PyResult<Vec<_>>>()
                .and_then(|items| PyList::new(py, items));
            match list.and_then(|l| exc.value(py).setattr("diagnostics", l)) {
                Ok(()) => exc,
                Err(e) => e,
            }
        }),
        E::Query { hint, .. } => Python::attach(|py| {
            let exc = QueryError::new_err(match &hint {
                Some(h) => format!("{text}\n  hint: {h}"),
                None => text,
            });
            match exc.value(py).setattr("hint", hint) {
                Ok(()) => exc,
                Err(e) => e,
            }
        }),
        E::Data { .. } | E::Io { .. } => DataError::new_err(text),
        E::Internal(_) => InternalError::new_err(text),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("CanaryError", py.get_type::<CanaryError>())?;
    m.add("SpecError", py.get_type::<SpecError>())?;
    m.add("DataError", py.get_type::<DataError>())?;
    m.add("QueryError", py.get_type::<QueryError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    Ok(())
}
