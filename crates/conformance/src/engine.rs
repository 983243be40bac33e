//! The one place that calls Canary's MetricFlow engine.

use std::path::Path;

use canary_core::CanaryError;
use canary_core::mf::{MfProject, MfQuery};
use tokio::runtime::Runtime;

use crate::compare::Table;
use crate::suite::{Case, GroupByObj};

/// A case's query: `group_bys`, then `group_by_objs` as names (`name__grain`,
/// `name__extract_<part>`); the where filter after pass 1, in MetricFlow's filter syntax.
pub fn query_of(case: &Case, where_filter: Option<String>) -> MfQuery {
    let (start_time, end_time) = match case.time_constraint.as_deref() {
        Some([start, end]) => (Some(start.clone()), Some(end.clone())),
        _ => (None, None),
    };
    MfQuery {
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

/// Open the manifest in `manifest_dir` over `data_dir/<table>.parquet`.
pub fn open(runtime: &Runtime, manifest_dir: &Path, data_dir: &Path) -> Result<MfProject, String> {
    runtime
        .block_on(MfProject::open(manifest_dir, data_dir))
        .map_err(|e| format!("engine: {}", describe(&e)))
}

/// Run `query` on an opened manifest.
pub fn run(runtime: &Runtime, project: &MfProject, query: &MfQuery) -> Result<Table, String> {
    let result = runtime
        .block_on(project.query(query))
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
        let query = query_of(&case, Some("{{ Dimension('booking__is_instant') }}".into()));
        assert_eq!(query.metrics, vec!["bookings".to_string()]);
        assert_eq!(
            query.group_by,
            vec!["metric_time__day".to_string(), "metric_time__extract_dow".to_string()]
        );
        assert_eq!(
            query.where_filters,
            vec!["{{ Dimension('booking__is_instant') }}".to_string()]
        );
        assert_eq!(query.order_by, vec!["-bookings".to_string()]);
        assert_eq!(query.limit, Some(3));
        assert_eq!(query.start_time.as_deref(), Some("2020-01-01"));
        assert_eq!(query.end_time.as_deref(), Some("2020-01-02"));
        assert_eq!(query.saved_query, None);
        assert!(!query.min_max_only);
        assert!(query.apply_group_by);
    }
}
