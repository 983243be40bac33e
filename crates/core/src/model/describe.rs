//! What a project offers its users, described once for every front door.

use serde::Serialize;

use super::{Grain, Project};
use crate::diagnostic::did_you_mean;
use crate::error::{CanaryError, Result};
use crate::spec::DimensionKind;

/// A dimension as a query names it in `by` (`--by` on the command line, `by=` in Python).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupableDimension {
    /// The name to group by: bare when only one product in reach has a dimension of that
    /// name, else `product.dimension`.
    pub name: String,
    /// The product that declares it.
    pub product: String,
    pub kind: DimensionKind,
    pub granularity: Option<Grain>,
    pub description: Option<String>,
}

impl Project {
    /// The dimensions a query can group by: those `kpi` can be grouped by, or, without a
    /// KPI, every product's; each under the name `by` takes.
    ///
    /// ```no_run
    /// # async fn demo() -> canary_core::Result<()> {
    /// let engine = canary_core::Engine::open(std::path::Path::new("examples/retail")).await?;
    /// for d in engine.project().groupable_dimensions(Some("revenue"))? {
    ///     println!("{} ({})", d.name, d.product);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// A query error naming the closest KPIs when `kpi` is not one of the project's.
    pub fn groupable_dimensions(&self, kpi: Option<&str>) -> Result<Vec<GroupableDimension>> {
        let pairs: Vec<(String, String)> = match kpi {
            Some(k) if self.kpi(k).is_none() => {
                return Err(CanaryError::query_hint(
                    format!("unknown KPI `{k}`"),
                    did_you_mean(k, self.kpis.keys().map(String::as_str)),
                ));
            }
            Some(k) => self.kpi_dimensions(k),
            None => self
                .products
                .values()
                .flat_map(|p| p.dimensions.keys().map(|d| (p.id.clone(), d.clone())))
                .collect(),
        };
        Ok(pairs
            .iter()
            .filter_map(|(p, d)| {
                let dim = self.product(p)?.dimensions.get(d)?;
                let shared = pairs.iter().filter(|(_, other)| other == d).count() > 1;
                Some(GroupableDimension {
                    name: if shared { format!("{p}.{d}") } else { d.clone() },
                    product: p.clone(),
                    kind: dim.kind,
                    granularity: dim.granularity,
                    description: dim.description.clone(),
                })
            })
            .collect())
    }
}
