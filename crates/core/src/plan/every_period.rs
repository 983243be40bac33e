//! Periods without data: the time spine of KPIs that report every period, the days its
//! filters select, and the rows added for the periods (and other forms of `metric_time`)
//! the data has none for.

use chrono::{DateTime, Utc};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, ident, lit};

use super::PERIOD_COLUMN;
use super::planner::Planner;
use crate::error::{CanaryError, Result};
use crate::model::CumulativeWindow;

impl Planner<'_> {
    /// The grain of the time spine, if the query can have one: the query's grain; else the
    /// day, when grouping by a custom granularity of `metric_time`, or by another form of it
    /// with a KPI that reports every period.
    pub(super) fn spine_grain(&self) -> Option<crate::model::Grain> {
        let every_day = self.every_period && !self.metric_time_bys().is_empty();
        self.query
            .grain
            .or(self.custom_period_day())
            .or(every_day.then_some(crate::model::Grain::Day))
    }

    /// Add a row for each period of `[lo, hi)` the plan has none for: `by` dimensions and
    /// values empty. With other forms of `metric_time` in `by` (a coarser grain, a date
    /// part, a custom granularity), a row for each combination of them and the period that
    /// a day of the range has, within `clip` (the calendar's first and last day) when there
    /// is one: a week across two months is the week in each month. Filters on
    /// `metric_time` alone select days too: a period is added when one of its days passes.
    /// `grain` is the query's.
    pub(super) fn add_missing_periods(
        &mut self,
        combined: LogicalPlanBuilder,
        grain: Option<crate::model::Grain>,
        (lo, hi): (DateTime<Utc>, DateTime<Utc>),
        clip: Option<(DateTime<Utc>, DateTime<Utc>)>,
    ) -> Result<LogicalPlanBuilder> {
        use crate::model::Grain;
        let time_bys = self.metric_time_bys();
        // The days the filters on metric_time alone select: `--where`'s, and those of the
        // KPIs that report every period.
        let mut selection = Vec::new();
        if let (Some(sql), Some(leaf)) = (self.query.filter.clone(), self.leaves.first()) {
            let product = leaf.key.input.product.clone();
            selection.extend(self.period_conjuncts(&product, &sql)?.into_iter().flatten());
        }
        selection.extend(self.every_period_selection()?);
        let selection = datafusion::logical_expr::utils::conjunction(selection);
        let unit = match grain {
            Some(g) if time_bys.is_empty() && selection.is_none() => g,
            Some(g) => g.min(Grain::Day),
            None => Grain::Day,
        };
        let (lo, hi) = match clip {
            Some((first, last)) if Some(unit) != grain => {
                (lo.max(unit.truncate(first)), hi.min(unit.add(unit.truncate(last), 1)))
            }
            _ => (lo, hi),
        };
        let rows = super::time::spine(unit, lo, hi, CumulativeWindow::AllTime)?;
        let day = ident(PERIOD_COLUMN);
        let mut keys = Vec::new();
        let mut key_names = Vec::new();
        if let Some(g) = grain {
            keys.push(super::time::truncate(g, day.clone()).alias(PERIOD_COLUMN));
            key_names.push(PERIOD_COLUMN.to_owned());
        }
        for (name, m) in &time_bys {
            keys.push(self.time_modifier(name, m, day.clone())?.alias(name));
            key_names.push(name.clone());
        }
        let present_names: Vec<String> = (0..key_names.len()).map(|i| format!("_present{i}")).collect();
        let combined = combined.build().map_err(CanaryError::plan)?;
        let present = LogicalPlanBuilder::from(combined.clone())
            .project(key_names.iter().zip(&present_names).map(|(k, p)| ident(k).alias(p)))
            .and_then(LogicalPlanBuilder::build)
            .map_err(CanaryError::plan)?;
        let mut projection = Vec::new();
        for field in combined.schema().fields() {
            if key_names.contains(field.name()) {
                projection.push(ident(field.name()));
            } else {
                let null = ScalarValue::try_from(field.data_type()).map_err(CanaryError::plan)?;
                projection.push(lit(null).alias(field.name()));
            }
        }
        let mut spine = super::time::spine_plan(&rows).map_err(CanaryError::plan)?;
        if let Some(only) = selection {
            spine = spine.filter(only).map_err(CanaryError::plan)?;
        }
        let missing = spine
            .project(keys)
            .and_then(LogicalPlanBuilder::distinct)
            .and_then(|b| {
                b.join_detailed(
                    present,
                    datafusion::common::JoinType::LeftAnti,
                    (key_names.clone(), present_names.clone()),
                    None,
                    datafusion::common::NullEquality::NullEqualsNull,
                )
            })
            .and_then(|b| b.project(projection))
            .and_then(LogicalPlanBuilder::build)
            .map_err(CanaryError::plan)?;
        LogicalPlanBuilder::from(combined)
            .union(missing)
            .map_err(CanaryError::plan)
    }

    /// The periods (over the spine's `period`) the KPIs that report every period select with
    /// the parts of their filters on `metric_time` alone; `None` when one selects them all.
    fn every_period_selection(&mut self) -> Result<Option<Expr>> {
        let mut any = Vec::new();
        for f in self.every_period_filters.clone() {
            let Some((product, sql)) = f else {
                return Ok(None);
            };
            let parts: Vec<Expr> = self.period_conjuncts(&product, &sql)?.into_iter().flatten().collect();
            match datafusion::logical_expr::utils::conjunction(parts) {
                Some(e) => any.push(e),
                None => return Ok(None),
            }
        }
        Ok(any.into_iter().reduce(Expr::or))
    }
}
