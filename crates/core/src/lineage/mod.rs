//! Column-level lineage, read off the logical plan that runs.
//!
//! Every output column of a plan is resolved *positionally* through every node down to the
//! columns of the data products it scans: a column reference is resolved to its index in
//! the input schema the way DataFusion resolves it, a projection's output `i` is its `i`-th
//! expression, a join's output is the left input's columns then the right's, and so on.
//! Output names are never matched against product columns. A node or expression this module
//! does not understand is reported in [`Lineage::unresolved`], never guessed.
//!
//! Transformations follow OpenLineage's taxonomy: DIRECT (`IDENTITY`, `TRANSFORMATION`,
//! `AGGREGATION`) when a source value flows into the output value, INDIRECT (`FILTER`,
//! `JOIN`, `GROUP_BY`, `SORT`, `WINDOW`, `CONDITIONAL`) when it only decides which rows or
//! which branch. Indirect dependencies of a single column (a `CASE` condition, an aggregate's
//! `FILTER (WHERE …)`, a window's partition) stay with that column; those that decide the
//! rows of the whole result (filters, join keys, grouping, sorting) are [`Lineage::dataset`].

mod analyze;
mod format;

pub use analyze::analyze;
pub use format::{LineageFormat, OpenLineageContext, render, to_dot, to_mermaid, to_openlineage, to_text};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::Project;
use crate::plan::OutputRole;

/// How a source column contributes to an output column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Subtype {
    /// DIRECT: the value is copied unchanged.
    Identity,
    /// DIRECT: the value is computed from the source value (arithmetic, casts, functions).
    Transformation,
    /// DIRECT: the value aggregates source values.
    Aggregation,
    /// INDIRECT: the source decides which rows are kept.
    Filter,
    /// INDIRECT: the source is a join key or join condition.
    Join,
    /// INDIRECT: the source is a grouping key.
    GroupBy,
    /// INDIRECT: the source orders the rows.
    Sort,
    /// INDIRECT: the source partitions or orders a window.
    Window,
    /// INDIRECT: the source decides a conditional branch (`CASE WHEN`).
    Conditional,
}

impl Subtype {
    /// `DIRECT` or `INDIRECT`.
    pub fn kind(self) -> &'static str {
        if self.is_direct() { "DIRECT" } else { "INDIRECT" }
    }

    pub fn is_direct(self) -> bool {
        matches!(self, Subtype::Identity | Subtype::Transformation | Subtype::Aggregation)
    }

    /// OpenLineage's name of the subtype (`GROUP_BY`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Subtype::Identity => "IDENTITY",
            Subtype::Transformation => "TRANSFORMATION",
            Subtype::Aggregation => "AGGREGATION",
            Subtype::Filter => "FILTER",
            Subtype::Join => "JOIN",
            Subtype::GroupBy => "GROUP_BY",
            Subtype::Sort => "SORT",
            Subtype::Window => "WINDOW",
            Subtype::Conditional => "CONDITIONAL",
        }
    }
}

/// One transformation of a source column on its way to an output.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Transformation {
    /// `DIRECT` or `INDIRECT`.
    #[serde(rename = "type")]
    pub kind: String,
    pub subtype: Subtype,
    /// Whether the output hides the source values (counts, hashes).
    pub masking: bool,
}

/// A column of a data product.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SourceColumn {
    pub product: String,
    pub column: String,
}

/// A source column and how it contributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputField {
    pub product: String,
    pub column: String,
    pub transformations: Vec<Transformation>,
}

/// The lineage of one output column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnLineage {
    pub name: String,
    pub role: OutputRole,
    /// Sources of this column's values (DIRECT) and of decisions about this column only
    /// (INDIRECT: conditions, an aggregate's own filter, window partitions).
    pub inputs: Vec<InputField>,
}

/// A mapping from a raw source column to a product column, as the product's contract
/// declares it (`sources:`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawEdge {
    pub source: String,
    pub source_column: String,
    pub product: String,
    pub column: String,
}

/// Column-level lineage of a query: raw sources → data products → output columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lineage {
    /// Output columns, in order.
    pub columns: Vec<ColumnLineage>,
    /// Sources deciding the rows of the whole result (filters, joins, grouping, sorting).
    pub dataset: Vec<InputField>,
    /// Products the plan scans (sorted), with the contract version and declared raw sources.
    pub products: Vec<ProductRef>,
    /// Raw source columns feeding the product columns above (from the contracts).
    pub raw: Vec<RawEdge>,
    /// What could not be resolved: `node or expression: reason`. Empty for Canary's plans.
    pub unresolved: Vec<String>,
}

/// A product the lineage reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductRef {
    pub product: String,
    pub version: String,
    pub location: String,
    /// Raw sources the contract declares (names).
    pub sources: Vec<String>,
}

impl Lineage {
    /// Every product column the lineage names, directly or indirectly.
    pub fn source_columns(&self) -> std::collections::BTreeSet<SourceColumn> {
        self.columns
            .iter()
            .flat_map(|c| c.inputs.iter())
            .chain(self.dataset.iter())
            .map(|f| SourceColumn {
                product: f.product.clone(),
                column: f.column.clone(),
            })
            .collect()
    }

    /// The lineage as JSON (Canary's own format, see docs/lineage.md).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Attach the contracts' upstream: the products' versions, locations and raw sources.
    pub(crate) fn with_upstream(mut self, project: &Project, scanned: &[String]) -> Lineage {
        let used = self.source_columns();
        let mut products: Vec<&str> = scanned.iter().map(String::as_str).collect();
        products.sort_unstable();
        for id in products {
            let Some(p) = project.products.get(id) else {
                continue;
            };
            self.products.push(ProductRef {
                product: p.id.clone(),
                version: p.version.to_string(),
                location: p.location_written.clone(),
                sources: p.sources.iter().map(|s| s.name.clone()).collect(),
            });
            for source in &p.sources {
                for (column, source_column) in &source.columns {
                    if used.contains(&SourceColumn {
                        product: p.id.clone(),
                        column: column.clone(),
                    }) {
                        self.raw.push(RawEdge {
                            source: source.name.clone(),
                            source_column: source_column.clone(),
                            product: p.id.clone(),
                            column: column.clone(),
                        });
                    }
                }
            }
        }
        self
    }
}

/// Dependencies of one value: source column → subtypes, with masking.
pub(crate) type Deps = BTreeMap<SourceColumn, BTreeMap<Subtype, bool>>;

pub(crate) fn fields(deps: &Deps) -> Vec<InputField> {
    deps.iter()
        .map(|(src, subtypes)| InputField {
            product: src.product.clone(),
            column: src.column.clone(),
            transformations: subtypes
                .iter()
                .map(|(s, masking)| Transformation {
                    kind: s.kind().to_owned(),
                    subtype: *s,
                    masking: *masking,
                })
                .collect(),
        })
        .collect()
}
