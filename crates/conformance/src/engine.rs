//! The one place that calls Canary's MetricFlow engine.

use std::path::Path;

use canary_core::CanaryError;
use canary_core::mf::MfQuery;
use tokio::runtime::Runtime;

use crate::compare::Table;
use crate::suite::{Case, GroupByObj};

/// A case's query, as `canary_core::mf::MfQuery` takes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EngineQuery {
    pub metrics: Vec<String>,
    /// `group_bys`, then `group_by_objs` as names (`name__grain`, `name__extract_<part>`).
    pub group_by: Vec<String>,
    /// The where filter after pass 1, in MetricFlow's filter syntax.
    pub where_filters: Vec<String>,
    /// Names; `-name` for descending.
    pub order_by: Vec<String>,
    pub limit: Option<usize>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub saved_query: Option<String>,
    pub min_max_only: bool,
    pub apply_group_by: bool,
}

impl EngineQuery {
    pub fn from_case(case: &Case, where_filter: Option<String>) -> EngineQuery {
        let (start_time, end_time) = match case.time_constraint.as_deref() {
            Some([start, end]) => (Some(start.clone()), Some(end.clone())),
            _ => (None, None),
        };
        EngineQuery {
            metrics: case.metrics.clone().unwrap_or_default(),
            group_by: case
                .group_bys
                .iter()
                .flatten()
                .cloned()
                .chain(case.group_by_objs.iter().flatten().map(GroupByObj::to_name))
                .collect(),
            where_filters: where_filter.into_iter().collect(),
            order_by: case.order_bys.clone().unwrap_or_default(),
            limit: case.limit,
            start_time,
            end_time,
            saved_query: case.saved_query_name.clone(),
            min_max_only: case.min_max_only,
            apply_group_by: case.apply_group_by.unwrap_or(true),
        }
    }
}

/// Run `query` with the manifest in `manifest_dir` over `data_dir/<table>.parquet`.
pub fn run(runtime: &Runtime, manifest_dir: &Path, data_dir: &Path, query: &EngineQuery) -> Result<Table, String> {
    let query = MfQuery {
        metrics: query.metrics.clone(),
        group_by: query.group_by.clone(),
        where_filters: query.where_filters.clone(),
        order_by: query.order_by.clone(),
        limit: query.limit,
        start_time: query.start_time.clone(),
        end_time: query.end_time.clone(),
        saved_query: query.saved_query.clone(),
        min_max_only: query.min_max_only,
        apply_group_by: query.apply_group_by,
    };
    let result = runtime
        .block_on(canary_core::mf::run_query(manifest_dir, data_dir, &query))
        .map_err(|e| format!("engine: {}", describe(&e)))?;
    Table::from_batches(&result.schema, &result.batches).map_err(|e| format!("engine result: {e}"))
}

/// The error with what it carries: a spec error lists its diagnostics, a query error its hint.
fn describe(error: &CanaryError) -> String {
    match error {
        CanaryError::Spec(diagnostics) => {
            let each: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
            format!("{error}: {}", each.join("; "))
        }
        CanaryError::Query { hint: Some(hint), .. } => format!("{error} (hint: {hint})"),
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_becomes_the_engine_query() {
        let case = Case {
            name: "c".into(),
            model: "SIMPLE_MODEL".into(),
            metrics: Some(vec!["bookings".into()]),
            group_bys: Some(vec!["metric_time__day".into()]),
            group_by_objs: Some(vec![GroupByObj {
                name: "metric_time".into(),
                grain: None,
                date_part: Some("dow".into()),
            }]),
            order_bys: Some(vec!["-bookings".into()]),
            time_constraint: Some(vec!["2020-01-01".into(), "2020-01-02".into()]),
            limit: Some(3),
            ..Case::default()
        };
        let query = EngineQuery::from_case(&case, Some("{{ Dimension('booking__is_instant') }}".into()));
        assert_eq!(
            query,
            EngineQuery {
                metrics: vec!["bookings".into()],
                group_by: vec!["metric_time__day".into(), "metric_time__extract_dow".into()],
                where_filters: vec!["{{ Dimension('booking__is_instant') }}".into()],
                order_by: vec!["-bookings".into()],
                limit: Some(3),
                start_time: Some("2020-01-01".into()),
                end_time: Some("2020-01-02".into()),
                saved_query: None,
                min_max_only: false,
                apply_group_by: true,
            }
        );
    }
}
