//! Plans as portable SQL: Canary's own aggregates rewritten to their standard forms before
//! DataFusion's unparser writes SQL for other engines.

use std::any::Any;

use datafusion::common::Result;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::functions_aggregate::expr_fn as f;
use datafusion::functions_aggregate::percentile_cont::percentile_cont;
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::{Expr, LogicalPlan, lit};

use super::aggregate::with_filter;
use super::udaf::Percentile;

/// `exact_sum(x)` → `sum(x)`; `checked_add(a, b)` → `a + b` (and `-`, `*`); continuous percentiles → `percentile_cont(p) WITHIN GROUP
/// (ORDER BY x)`. Same results up to float rounding. (Discrete percentiles have no form
/// DataFusion can write; they stay `percentile_disc(x)`.)
pub fn portable(plan: LogicalPlan) -> Result<LogicalPlan> {
    plan.transform_up(|node| node.map_expressions(|e| e.transform_up(rewrite)))
        .map(|t| t.data)
}

fn rewrite(e: Expr) -> Result<Transformed<Expr>> {
    if let Expr::ScalarFunction(_) = &e {
        return Ok(crate::expr::uncheck(e));
    }
    let Expr::AggregateFunction(AggregateFunction { func, params }) = &e else {
        return Ok(Transformed::no(e));
    };
    let filter = params.filter.as_deref().cloned();
    let arg = params.args.first().cloned();
    let portable = match (func.name(), arg) {
        ("exact_sum", Some(x)) => with_filter(f::sum(x), filter),
        ("percentile_cont", Some(x)) => {
            let inner: &dyn Any = func.inner().as_ref();
            match inner.downcast_ref::<Percentile>() {
                Some(p) => with_filter(percentile_cont(x.sort(true, false), lit(p.fraction())), filter),
                None => return Ok(Transformed::no(e)),
            }
        }
        _ => return Ok(Transformed::no(e)),
    };
    Ok(Transformed::yes(portable))
}
