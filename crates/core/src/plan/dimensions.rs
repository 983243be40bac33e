//! Queries without KPIs: the values of dimensions over one product's rows, distinct or
//! row by row.

use std::collections::BTreeSet;

use datafusion::logical_expr::{Expr, LogicalPlanBuilder, ident, lit};

use super::Query;
use super::planner::{OutputColumn, OutputRole, PlannedQuery, Planner};
use crate::catalog::Catalog;
use crate::error::{CanaryError, Result};
use crate::model::{Project, ScopeSchema};

impl<'a> Planner<'a> {
    /// Plan the distinct values of the query's `by` dimensions over the rows of one product
    /// (joined as the names need), filtered by the query's `filter`; no KPIs.
    pub fn plan_dimensions(
        project: &'a Project,
        catalog: &'a Catalog,
        query: &'a Query,
        product: &str,
    ) -> Result<PlannedQuery> {
        Self::dimension_rows(project, catalog, query, product, true, false)
    }

    /// Like [`Self::plan_dimensions`], with `distinct: false` keeping one output row per
    /// row of the product (MetricFlow's `apply_group_by: false`) and `full_joins` also
    /// keeping the rows of joined products that match none (MetricFlow's distinct values
    /// join semantic models with full outer joins).
    pub(crate) fn dimension_rows(
        project: &'a Project,
        catalog: &'a Catalog,
        query: &'a Query,
        product: &str,
        distinct: bool,
        full_joins: bool,
    ) -> Result<PlannedQuery> {
        if project.product(product).is_none() {
            return Err(CanaryError::query(format!("unknown product `{product}`")));
        }
        if query.by.is_empty() && query.filter.is_none() {
            return Err(CanaryError::query("name at least one dimension"));
        }
        let mut planner = Planner::empty(project, catalog, query, None, None);
        if full_joins {
            planner.joins = datafusion::common::JoinType::Full;
        }
        let dims = planner.dimensions(product, "")?;
        let filter = match &query.filter {
            Some(sql) => Some(planner.parse_in(product, sql, "--where")?),
            None => None,
        };
        let mut needed = BTreeSet::new();
        for e in dims.iter().map(|(_, e)| e).chain(filter.iter()) {
            needed.extend(ScopeSchema::qualifiers(e));
        }
        let mut b = planner.scan(product, &needed)?;
        if let Some(w) = filter {
            b = planner.join_entity_metrics(product, b, &[&w])?;
            b = b.filter(w).map_err(CanaryError::plan)?;
        }
        if dims.is_empty() {
            // No dimensions: one row when some row passes the filter, none otherwise.
            let plan = b
                .limit(0, Some(1))
                .and_then(|b| b.project(vec![lit(1i64).alias("_any")]))
                .and_then(LogicalPlanBuilder::build)
                .map_err(CanaryError::plan)?;
            return Ok(PlannedQuery {
                plan,
                columns: Vec::new(),
            });
        }
        let mut group: Vec<Expr> = dims.iter().map(|(n, e)| e.clone().alias(n)).collect();
        if b.schema().has_column_with_unqualified_name(super::ROOT_ROW) {
            group.push(ident(super::ROOT_ROW).is_not_null().alias(super::ROOT_ROW));
        }
        let keys: Vec<Expr> = group.iter().map(|e| ident(e.schema_name().to_string())).collect();
        let b = if distinct {
            b.aggregate(group, Vec::<Expr>::new())
        } else {
            b.project(group)
        };
        // Sorted for a reader; MetricFlow's distinct values are sorted by their caller, after
        // the time spine is joined.
        let b = if full_joins {
            b
        } else {
            b.and_then(|b| b.sort(keys.into_iter().map(|k| k.sort(true, false)).collect::<Vec<_>>()))
        };
        let plan = b.and_then(LogicalPlanBuilder::build).map_err(CanaryError::plan)?;
        let columns = dims
            .into_iter()
            .map(|(name, _)| OutputColumn {
                name,
                role: OutputRole::Dimension,
            })
            .collect();
        Ok(PlannedQuery { plan, columns })
    }
}
