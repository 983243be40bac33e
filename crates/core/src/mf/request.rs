//! A MetricFlow query as it is asked: the fields of `mf query` and of saved queries.

/// A MetricFlow query, as `canary mf query` takes it.
#[derive(Debug, Clone)]
pub struct MfQuery {
    pub metrics: Vec<String>,
    /// Group-by names: `metric_time`, `metric_time__month`, `listing__country_latest`,
    /// `booking__ds__week`, `metric_time__extract_dow`.
    pub group_by: Vec<String>,
    /// Filters in MetricFlow's filter language, combined with AND.
    pub where_filters: Vec<String>,
    /// Output names, `-name` for descending.
    pub order_by: Vec<String>,
    pub limit: Option<usize>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub saved_query: Option<String>,
    pub min_max_only: bool,
    /// `false` is MetricFlow's `apply_group_by: false` (no de-duplication).
    pub apply_group_by: bool,
}

impl Default for MfQuery {
    fn default() -> Self {
        MfQuery {
            metrics: Vec::new(),
            group_by: Vec::new(),
            where_filters: Vec::new(),
            order_by: Vec::new(),
            limit: None,
            start_time: None,
            end_time: None,
            saved_query: None,
            min_max_only: false,
            apply_group_by: true,
        }
    }
}
