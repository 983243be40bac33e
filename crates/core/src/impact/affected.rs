//! Who a contract change breaks: the KPIs and dimensions that consume what changed, found
//! through the lineage of each KPI's plan.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::Path;

use datafusion::common::DFSchema;
use serde::Serialize;

use super::{Change, ChangeKind, Severity, diff};
use crate::error::{CanaryError, Result};
use crate::exec::{Engine, OpenOptions};
use crate::model::{Grain, KpiBody};
use crate::plan::Query;
use crate::spec::{ProductSpec, SourceFile, load_yaml};

/// A change and its consumers.
#[derive(Debug, Clone, Serialize)]
pub struct Impacted {
    pub change: Change,
    /// KPIs whose results depend on what changed.
    pub kpis: Vec<String>,
    /// Dimensions of the product defined over what changed.
    pub dimensions: Vec<String>,
}

/// The impact of replacing a contract `old` by `new` on the project in `root`.
#[derive(Debug, Clone, Serialize)]
pub struct ImpactReport {
    pub product: String,
    pub old_version: String,
    pub new_version: String,
    pub changes: Vec<Impacted>,
    /// KPIs whose lineage could not be traced, with why (they are counted as affected when
    /// they use the product at all).
    pub untraced: Vec<(String, String)>,
}

impl ImpactReport {
    /// The report as indented JSON.
    pub fn to_json(&self) -> String {
        // Serializing plain data cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// The report for people: a line per change with the KPIs and dimensions it affects.
    pub fn to_text(&self) -> String {
        let breaking = self
            .changes
            .iter()
            .filter(|c| c.change.severity == Severity::Breaking)
            .count();
        let n = self.changes.len();
        let mut s = format!(
            "{} {} -> {}: {n} change{} ({breaking} breaking)\n",
            self.product,
            self.old_version,
            self.new_version,
            if n == 1 { "" } else { "s" }
        );
        for c in &self.changes {
            let _ = writeln!(
                s,
                "  {:10} {}: {}",
                c.change.severity.as_str(),
                c.change.kind.as_str(),
                c.change.detail
            );
            if !c.kpis.is_empty() {
                let _ = writeln!(s, "             KPIs: {}", c.kpis.join(", "));
            }
            if !c.dimensions.is_empty() {
                let _ = writeln!(s, "             dimensions: {}", c.dimensions.join(", "));
            }
        }
        for (kpi, why) in &self.untraced {
            let _ = writeln!(
                s,
                "  note: the lineage of `{kpi}` could not be traced ({why}); counted as affected"
            );
        }
        if self.breaks_kpis() {
            s.push_str("breaking changes affect KPIs\n");
        }
        s
    }

    /// Whether a breaking change affects a KPI.
    pub fn breaks_kpis(&self) -> bool {
        self.changes
            .iter()
            .any(|c| c.change.severity == Severity::Breaking && !c.kpis.is_empty())
    }
}

fn parse(file: &SourceFile) -> Result<ProductSpec> {
    load_yaml::<ProductSpec>(file)
        .map(|l| l.value)
        .map_err(|d| CanaryError::Spec(vec![d]))
}

/// The columns a dimension expression reads, parsed as validation parses it; `None` when it
/// does not parse over `schema` (the caller then assumes the worst).
fn referenced_columns(expr: &str, schema: &DFSchema) -> Option<BTreeSet<String>> {
    let e = crate::expr::parse_expr(expr, schema).ok()?;
    Some(e.column_refs().into_iter().map(|c| c.name.clone()).collect())
}

/// The impact of the contract `new` replacing `old` on the project in `root`, each named as
/// [`super::read_contract`] reads it (a file, or `REV:PATH`): the operation behind
/// `canary impact` and `Project.impact`.
///
/// ```no_run
/// # async fn demo() -> canary_core::Result<()> {
/// use canary_core::impact::impact_of;
/// let root = std::path::Path::new("examples/retail");
/// let report = impact_of(root, "old_orders.yaml", "products/orders.yaml", &Default::default()).await?;
/// print!("{}", report.to_text());
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// As [`super::read_contract`] and [`impact`].
pub async fn impact_of(root: &Path, old: &str, new: &str, options: &OpenOptions) -> Result<ImpactReport> {
    let old = super::read_contract(root, old)?;
    let new = super::read_contract(root, new)?;
    let in_project = new.in_project.or(old.in_project);
    impact(root, &old.file, &new.file, in_project.as_deref(), options).await
}

/// The impact of `new` replacing `old` (contract texts) on the project in `root`. The
/// project is opened with `old` in place of the file that declares the product (the
/// consumers as they were built), found at `project_file` or by the product's id.
pub async fn impact(
    root: &Path,
    old: &SourceFile,
    new: &SourceFile,
    project_file: Option<&str>,
    options: &OpenOptions,
) -> Result<ImpactReport> {
    let old_spec = parse(old)?;
    let new_spec = parse(new)?;
    let changes = diff(&old_spec, &new_spec);
    let file = match project_file {
        Some(f) => f.to_owned(),
        None => {
            let (project, _) =
                crate::validate::load_project_with(root, &options.extra_files).map_err(CanaryError::Spec)?;
            project
                .product(&old_spec.product)
                .map(|p| p.file.clone())
                .ok_or_else(|| CanaryError::query(format!("the project has no product `{}`", old_spec.product)))?
        }
    };
    let mut opts = options.clone();
    opts.overlay.insert(file, old.text.clone());
    let engine = Engine::open_with(root, &opts).await?;
    let project = engine.project();
    let id = old_spec.product.clone();
    let Some(product) = project.product(&id) else {
        return Err(CanaryError::query(format!("the project has no product `{id}`")));
    };

    // Per KPI: the product's columns its lineage names, and the measures it uses.
    let mut consumers: Vec<(String, BTreeSet<String>, BTreeSet<String>)> = Vec::new();
    let mut untraced = Vec::new();
    // Lineage does not depend on the tenant, but plans of cumulative KPIs take their time
    // spine from the data: read all of it unless the project requires a tenant.
    let tenant = project.require_tenant.then(|| "-".to_owned());
    for kpi in project.kpis.keys() {
        let direct = project.kpi_products(kpi).contains(&id);
        let query = Query {
            kpis: vec![kpi.clone()],
            grain: Some(Grain::Day),
            tenant: tenant.clone(),
            ..Query::default()
        };
        let traced = engine.lineage(&query).await;
        // A KPI reads the product itself, or a joined product's columns through its filter.
        let scans = traced
            .as_ref()
            .is_ok_and(|t| t.lineage.products.iter().any(|p| p.product == id));
        if !direct && !scans {
            continue;
        }
        let measures: BTreeSet<String> = project
            .kpi_closure(kpi)
            .iter()
            .filter_map(|k| project.kpi(k))
            .flat_map(|k| match &k.body {
                KpiBody::Simple { measure } | KpiBody::Cumulative { measure, .. } => vec![measure.clone()],
                KpiBody::Ratio { numerator, denominator } => vec![numerator.clone(), denominator.clone()],
                KpiBody::Conversion { base, conversion, .. } => vec![base.clone(), conversion.clone()],
                KpiBody::Derived { .. } => Vec::new(),
            })
            .filter(|m| m.product == id)
            .map(|m| m.measure)
            .collect();
        match traced {
            Ok(t) => {
                let columns = t
                    .lineage
                    .source_columns()
                    .into_iter()
                    .filter(|c| c.product == id)
                    .map(|c| c.column)
                    .collect();
                consumers.push((kpi.clone(), columns, measures));
            }
            Err(e) => {
                untraced.push((kpi.clone(), e.to_string()));
                consumers.push((kpi.clone(), product.columns.keys().cloned().collect(), measures));
            }
        }
    }

    let schema = DFSchema::try_from(crate::plan::declared_schema(product)).map_err(CanaryError::plan)?;
    let changes = changes
        .into_iter()
        .map(|change| {
            let touched: BTreeSet<&String> = change.columns.iter().collect();
            let documentation = change.kind == ChangeKind::Documentation;
            let kpis = consumers
                .iter()
                .filter(|_| !documentation)
                .filter(|(_, columns, measures)| {
                    change.whole_product
                        || columns.iter().any(|c| touched.contains(c))
                        || change.measures.iter().any(|m| measures.contains(m))
                })
                .map(|(k, _, _)| k.clone())
                .collect();
            let mut dimensions: Vec<String> = change.dimensions.iter().map(|d| format!("{id}.{d}")).collect();
            for (name, d) in &product.dimensions {
                let q = format!("{id}.{name}");
                let reads_changed = referenced_columns(&d.expr, &schema)
                    .is_none_or(|columns| columns.iter().any(|c| touched.contains(c)));
                if !dimensions.contains(&q) && (change.whole_product || reads_changed) {
                    dimensions.push(q);
                }
            }
            Impacted {
                change,
                kpis,
                dimensions,
            }
        })
        .collect();
    Ok(ImpactReport {
        product: id,
        old_version: old_spec.version,
        new_version: new_spec.version,
        changes,
        untraced,
    })
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::common::DFSchema;

    #[test]
    fn referenced_columns_skip_string_literals() {
        let schema = DFSchema::try_from(Schema::new(vec![
            Field::new("discount", DataType::Float64, true),
            Field::new("status", DataType::Utf8, true),
            Field::new("amount", DataType::Float64, true),
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        let ids =
            super::referenced_columns("coalesce(discount, 0) > 0 and status = 'discount'", &schema).unwrap_or_default();
        assert!(ids.contains("discount") && ids.contains("status") && !ids.contains("'discount'"));
        let ids = super::referenced_columns("status = 'amount'", &schema).unwrap_or_default();
        assert!(!ids.contains("amount"));
        assert_eq!(ids.len(), 1);
        assert_eq!(super::referenced_columns("no_such_column + 1", &schema), None);
    }
}
