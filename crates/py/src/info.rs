//! Read-only descriptions of what a project holds: diagnostics, KPIs, products, dimensions.

use canary_core::model::{Kpi as CoreKpi, Product as CoreProduct, type_name};
use pyo3::prelude::*;

/// `s` as Python writes a string literal: single quotes, `\\` and `\'` escaped.
fn quote(s: &str) -> String {
    format!(
        "'{}'",
        s.replace('\\', "\\\\").replace('\'', "\\'").replace('\n', "\\n")
    )
}

/// One problem found in a project.
#[pyclass(frozen, module = "canary")]
#[derive(Clone)]
pub struct Diagnostic {
    /// Stable code of the kind of problem, e.g. `C0301`.
    #[pyo3(get)]
    pub code: String,
    /// Spec file, relative to the project.
    #[pyo3(get)]
    pub file: String,
    #[pyo3(get)]
    pub line: usize,
    #[pyo3(get)]
    pub column: usize,
    #[pyo3(get)]
    pub message: String,
    /// How to fix it, if known.
    #[pyo3(get)]
    pub hint: Option<String>,
    /// The core's rendering (`file:line:column: error[code]: message`, then the hint).
    text: String,
}

impl From<canary_core::Diagnostic> for Diagnostic {
    fn from(d: canary_core::Diagnostic) -> Self {
        let text = d.to_string();
        Diagnostic {
            code: d.code.as_str().to_owned(),
            file: d.location.file,
            line: d.location.line,
            column: d.location.column,
            message: d.message,
            hint: d.hint,
            text,
        }
    }
}

#[pymethods]
impl Diagnostic {
    fn __repr__(&self) -> String {
        format!(
            "Diagnostic(code={}, file={}, line={}, column={}, message={})",
            quote(&self.code),
            quote(&self.file),
            self.line,
            self.column,
            quote(&self.message)
        )
    }

    fn __str__(&self) -> String {
        self.text.clone()
    }
}

/// A KPI as declared: identity, kind, and how to read its values.
#[pyclass(frozen, get_all, module = "canary")]
#[derive(Clone)]
pub struct Kpi {
    pub id: String,
    pub name: Option<String>,
    /// `simple`, `ratio`, `derived`, `cumulative` or `conversion`.
    pub r#type: String,
    pub version: String,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub unit: Option<String>,
    /// `higher_is_better` or `lower_is_better`.
    pub direction: String,
    pub target: Option<f64>,
    pub warn: Option<f64>,
    pub critical: Option<f64>,
    pub tags: Vec<String>,
    /// Spec file, relative to the project.
    pub file: String,
}

impl From<&CoreKpi> for Kpi {
    fn from(k: &CoreKpi) -> Self {
        Kpi {
            id: k.id.clone(),
            name: k.name.clone(),
            r#type: k.body.type_name().to_owned(),
            version: k.version.to_string(),
            description: k.description.clone(),
            owner: k.owner.clone(),
            unit: k.unit.clone(),
            direction: k.direction.as_str().to_owned(),
            target: k.target,
            warn: k.warn,
            critical: k.critical,
            tags: k.tags.clone(),
            file: k.file.clone(),
        }
    }
}

#[pymethods]
impl Kpi {
    fn __repr__(&self) -> String {
        format!(
            "Kpi(id={}, type={}, version={})",
            quote(&self.id),
            quote(&self.r#type),
            quote(&self.version)
        )
    }
}

/// A data-product contract.
#[pyclass(frozen, get_all, module = "canary")]
#[derive(Clone)]
pub struct Product {
    pub id: String,
    pub version: String,
    pub owner: String,
    pub description: Option<String>,
    /// Where the data is (path, glob or URL), as the contract says.
    pub location: String,
    /// `(name, type)` of each declared column.
    pub columns: Vec<(String, String)>,
    pub dimensions: Vec<String>,
    pub measures: Vec<String>,
    pub entities: Vec<String>,
    pub time_dimension: Option<String>,
    pub tenant_column: Option<String>,
    /// Contract file, relative to the project.
    pub file: String,
}

impl From<&CoreProduct> for Product {
    fn from(p: &CoreProduct) -> Self {
        Product {
            id: p.id.clone(),
            version: p.version.to_string(),
            owner: p.owner.clone(),
            description: p.description.clone(),
            location: p.location.clone(),
            columns: p
                .columns
                .iter()
                .map(|(n, c)| (n.clone(), type_name(&c.data_type)))
                .collect(),
            dimensions: p.dimensions.keys().cloned().collect(),
            measures: p.measures.keys().cloned().collect(),
            entities: p.entities.keys().cloned().collect(),
            time_dimension: p.time_dimension.clone(),
            tenant_column: p.tenant_column.clone(),
            file: p.file.clone(),
        }
    }
}

#[pymethods]
impl Product {
    fn __repr__(&self) -> String {
        format!(
            "Product(id={}, version={}, columns={}, location={})",
            quote(&self.id),
            quote(&self.version),
            self.columns.len(),
            quote(&self.location)
        )
    }
}

/// A dimension a KPI can be grouped by.
#[pyclass(frozen, get_all, module = "canary")]
#[derive(Clone)]
pub struct Dimension {
    /// The name to pass in `by=`: bare when only one reachable product has it, else
    /// `product.name`.
    pub name: String,
    pub product: String,
    /// `categorical` or `time`.
    pub r#type: String,
    pub granularity: Option<String>,
    pub description: Option<String>,
}

#[pymethods]
impl Dimension {
    fn __repr__(&self) -> String {
        format!(
            "Dimension(name={}, product={}, type={})",
            quote(&self.name),
            quote(&self.product),
            quote(&self.r#type)
        )
    }
}

impl From<canary_core::model::GroupableDimension> for Dimension {
    fn from(d: canary_core::model::GroupableDimension) -> Self {
        Dimension {
            name: d.name,
            product: d.product,
            r#type: d.kind.as_str().to_owned(),
            granularity: d.granularity.map(|g| g.to_string()),
            description: d.description,
        }
    }
}
