//! Conversion frames: base events (the opportunities) and the conversions attributed to
//! the latest base event of the same entity before them.

use std::collections::BTreeSet;

use datafusion::common::JoinType;
use datafusion::functions_window::expr_fn::row_number;
use datafusion::logical_expr::{Expr, ExprFunctionExt, LogicalPlanBuilder, ident, lit};

use super::PERIOD_COLUMN;
use super::aggregate::aggregate;
use super::planner::{Frame, LeafKind, Planner, entity_key};
use super::rows::{RowOptions, Rows, pe};
use super::time::{ts_lit, unshift};
use crate::error::{CanaryError, Result};
use crate::model::CalendarDuration;
use crate::model::ScopeSchema;

impl Planner<'_> {
    /// A dimension (or column) in a product's scope, for a conversion's constant property.
    fn property(&mut self, product: &str, name: &str, kpi: &str) -> Result<Expr> {
        let project = self.project;
        let scope = self.scope(product)?;
        match scope.dimension(project, name) {
            Ok(d) => Ok(d.expr),
            Err(_) => scope.parse(name).map_err(|e| {
                CanaryError::query(format!(
                    "KPI `{kpi}`: the constant property `{name}` is not a dimension or column of `{product}`: {e}"
                ))
            }),
        }
    }

    /// Base events of a conversion KPI within `range`: keys, entity `_e`, time `_bt`, value
    /// `_bv`, constant properties `_p0`, `_p1`, ….
    #[allow(clippy::type_complexity, clippy::too_many_arguments)]
    fn conversion_base_rows(
        &mut self,
        base: &crate::model::MeasureInput,
        base_leaf: usize,
        entity: &str,
        properties: &[Expr],
        shifts: &[CalendarDuration],
        range: (
            Option<chrono::DateTime<chrono::Utc>>,
            Option<chrono::DateTime<chrono::Utc>>,
        ),
    ) -> Result<(datafusion::logical_expr::LogicalPlan, Option<Expr>)> {
        let bp = self.project.products[&base.product].clone();
        let base_measure = bp.measures[&base.measure].clone();
        let base_value = self.measure_value(&base.product, &base_measure)?;
        let base_filter = self.leaf_filter(&base.product, base_leaf)?;
        let base_time = self.time_expr(&base.product, &base.measure)?;
        let extra: Vec<Expr> = base_filter
            .iter()
            .cloned()
            .chain([base_time.clone()])
            .chain(properties.iter().cloned())
            .collect();
        let Rows {
            builder: mut b,
            period,
            dims,
            ..
        } = self.rows(
            &base.product,
            &base.measure,
            shifts,
            &extra,
            Some(range),
            RowOptions::default(),
        )?;
        if let Some(f) = base_filter {
            b = b.filter(f).map_err(pe)?;
        }
        let mut projection = Self::group_exprs(&period, &dims);
        let key = &bp.entities[entity];
        projection.push(
            entity_key(
                self.project,
                &base.product,
                &base.product,
                &key.column,
                key.expr.as_deref(),
            )?
            .alias("_e"),
        );
        projection.push(base_time.alias("_bt"));
        projection.push(base_value.alias("_bv"));
        for (i, p) in properties.iter().enumerate() {
            projection.push(p.clone().alias(format!("_p{i}")));
        }
        Ok((b.project(projection).map_err(pe)?.build().map_err(pe)?, period))
    }

    pub(super) fn conversion_frames(
        &mut self,
        kpi: &str,
        leaves: &[usize],
        shifts: &[CalendarDuration],
    ) -> Result<Vec<Frame>> {
        let k = self.project.kpis[kpi].clone();
        let crate::model::KpiBody::Conversion {
            base,
            conversion,
            entity,
            window,
            constant_properties,
            ..
        } = &k.body
        else {
            return Err(CanaryError::internal("conversion frame for another kind of KPI"));
        };
        let mut base_props = Vec::new();
        let mut conv_props = Vec::new();
        for (b, c) in constant_properties {
            base_props.push(self.property(&base.product, b, kpi)?);
            conv_props.push(self.property(&conversion.product, c, kpi)?);
        }
        let find = |planner: &Self, hits: bool| {
            leaves
                .iter()
                .copied()
                .find(|&i| matches!(planner.leaves[i].key.kind, LeafKind::ConversionHits(_)) == hits)
        };
        let (Some(base_leaf), Some(hits_leaf)) = (find(self, false), find(self, true)) else {
            return Err(CanaryError::internal("conversion KPI without both leaves"));
        };
        let bp = self.project.products[&base.product].clone();
        let cp = self.project.products[&conversion.product].clone();
        let base_measure = bp.measures[&base.measure].clone();
        let conv_measure = cp.measures[&conversion.measure].clone();

        // Base events: the KPI's rows, grouped by the query's period and dimensions.
        let range_lo = self.from.map(|t| unshift(t, shifts));
        let range_hi = self.to.map(|t| unshift(t, shifts));
        let (base_rows, period) =
            self.conversion_base_rows(base, base_leaf, entity, &base_props, shifts, (range_lo, range_hi))?;
        // Base events that may claim a conversion: also those up to one window after the
        // range, so a conversion goes to the latest base event even when that one falls
        // after the range (it is then dropped, not given to an earlier event).
        let (candidates, _) = match (range_hi, window) {
            (Some(hi), Some(w)) => self.conversion_base_rows(
                base,
                base_leaf,
                entity,
                &base_props,
                shifts,
                (range_lo, Some(w.add_to(hi))),
            )?,
            (Some(_), None) => {
                self.conversion_base_rows(base, base_leaf, entity, &base_props, shifts, (range_lo, None))?
            }
            (None, _) => (base_rows.clone(), None),
        };
        let keys: Vec<Expr> = period
            .iter()
            .map(|_| ident(PERIOD_COLUMN))
            .chain(self.query.by.iter().map(ident))
            .collect();
        let base_col = self.leaves[base_leaf].column.clone();
        let opportunities = LogicalPlanBuilder::from(base_rows.clone())
            .aggregate(
                keys.clone(),
                vec![
                    aggregate(&base_measure, ident("_bv"), None, base_rows.schema())
                        .map_err(pe)?
                        .alias(&base_col),
                ],
            )
            .map_err(pe)?;
        self.whole_period_shifts(shifts, "conversion")?;
        let opportunities = self.shifted(opportunities, shifts, std::slice::from_ref(&base_col))?;

        // Conversion events of the same entity within the window after a base event; each
        // conversion counts once, for the latest base event before it.
        let conv_value = self.measure_value(&conversion.product, &conv_measure)?;
        let conv_filter = self.leaf_filter(&conversion.product, hits_leaf)?;
        // A time recorded coarser than a day (by month) compares with the other at that
        // granularity: a conversion recorded by month matches the base events of its month.
        // Otherwise times compare as read.
        let (conv_time, conv_granularity) = self.recorded_time(&conversion.product, &conversion.measure)?;
        let base_granularity = self.recorded_time(&base.product, &base.measure)?.1;
        let compare_at = conv_granularity
            .max(base_granularity)
            .filter(|g| *g > crate::model::Grain::Day);
        let mut needed = BTreeSet::new();
        for e in conv_filter
            .iter()
            .chain([&conv_time, &conv_value])
            .chain(conv_props.iter())
        {
            needed.extend(ScopeSchema::qualifiers(e));
        }
        let mut c = self.scan(&conversion.product, &needed)?;
        if let Some(f) = conv_filter {
            c = c.filter(f).map_err(pe)?;
        }
        if let Some(lo) = range_lo {
            let lo = compare_at.map_or(lo, |g| g.truncate(lo));
            c = c.filter(conv_time.clone().gt_eq(ts_lit(lo))).map_err(pe)?;
        }
        if let (Some(hi), Some(w)) = (range_hi, window) {
            // Through the end of the window of the last candidate base event.
            c = c
                .filter(conv_time.clone().lt(ts_lit(w.add_to(w.add_to(hi)))))
                .map_err(pe)?;
        }
        let mut conv_columns = vec![
            {
                let key = &cp.entities[entity];
                entity_key(
                    self.project,
                    &conversion.product,
                    &conversion.product,
                    &key.column,
                    key.expr.as_deref(),
                )?
                .alias("_ce")
            },
            conv_time.alias("_ct"),
            conv_value.alias("_cv"),
        ];
        for (i, p) in conv_props.iter().enumerate() {
            conv_columns.push(p.clone().alias(format!("_cp{i}")));
        }
        let c = c
            .project(conv_columns)
            .map_err(pe)?
            .window(vec![row_number().alias("_cid")])
            .map_err(pe)?
            .build()
            .map_err(pe)?;
        // A conversion at or after the base event and less than the window after it.
        let at = |column: &str| match compare_at {
            Some(g) => super::time::truncate(g, ident(column)),
            None => ident(column),
        };
        let mut within = at("_ct").gt_eq(at("_bt"));
        if let Some(w) = window {
            within = within.and(at("_ct").lt(super::time::shift_expr(at("_bt"), &[*w])));
        }
        for i in 0..conv_props.len() {
            within = within.and(ident(format!("_p{i}")).eq(ident(format!("_cp{i}"))));
        }
        // Ties between base events at the same time settle by their keys, the same every run.
        let mut order = vec![ident("_bt").sort(false, true)];
        order.extend(period.iter().map(|_| ident(PERIOD_COLUMN).sort(true, false)));
        order.extend(self.query.by.iter().map(|b| ident(b).sort(true, false)));
        let latest = row_number()
            .partition_by(vec![ident("_cid")])
            .order_by(order)
            .build()
            .map_err(pe)?
            .alias("_rn");
        let hits_col = self.leaves[hits_leaf].column.clone();
        let mut matched = LogicalPlanBuilder::from(candidates)
            .join(c, JoinType::Inner, (vec!["_e"], vec!["_ce"]), Some(within))
            .map_err(pe)?
            .window(vec![latest])
            .map_err(pe)?
            .filter(ident("_rn").eq(lit(1u64)))
            .map_err(pe)?;
        if let Some(hi) = range_hi {
            matched = matched.filter(ident("_bt").lt(ts_lit(hi))).map_err(pe)?;
        }
        let hits = aggregate(&conv_measure, ident("_cv"), None, matched.schema()).map_err(pe)?;
        let matched = matched.aggregate(keys, vec![hits.alias(&hits_col)]).map_err(pe)?;
        self.whole_period_shifts(shifts, "conversion")?;
        let matched = self.shifted(matched, shifts, std::slice::from_ref(&hits_col))?;
        Ok(vec![
            Frame {
                plan: opportunities.build().map_err(pe)?,
                values: vec![base_col],
                anchor: shifts.is_empty(),
            },
            Frame {
                plan: matched.build().map_err(pe)?,
                values: vec![hits_col],
                anchor: false,
            },
        ])
    }
}
