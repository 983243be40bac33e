//! Saved queries: named queries a manifest declares (`saved_query:` documents, dbt's
//! `saved_queries:`). Running one is running its metrics and group-bys with its filters
//! and those of the request; the request's order and limit replace the saved ones.

use serde_json::Value;

use super::filter::Call;
use super::manifest::Manifest;
use super::request::MfQuery;
use crate::diagnostic::did_you_mean;
use crate::error::{CanaryError, Result};

/// `q` with the saved query it names expanded into metrics, group-bys, filters, order and
/// limit.
pub fn expand(manifest: &Manifest, q: &MfQuery) -> Result<MfQuery> {
    let Some(name) = &q.saved_query else {
        return Ok(q.clone());
    };
    if !q.metrics.is_empty() || !q.group_by.is_empty() {
        return Err(CanaryError::query_hint(
            format!("the saved query `{name}` brings its own metrics and group-bys"),
            "refine it with where filters, order-by, limit, start and end times instead",
        ));
    }
    let saved = manifest
        .saved_queries
        .iter()
        .find(|s| s.get("name").and_then(Value::as_str) == Some(name.as_str()))
        .ok_or_else(|| {
            let names = manifest
                .saved_queries
                .iter()
                .filter_map(|s| s.get("name").and_then(Value::as_str));
            CanaryError::query_hint(format!("no saved query `{name}`"), did_you_mean(name, names))
        })?;
    let params = saved.get("query_params").unwrap_or(&Value::Null);
    let bad = |what: &str, m: String| CanaryError::query(format!("saved query `{name}`, {what}: {m}"));
    let group_by = strings(params.get("group_by"))
        .iter()
        .map(|g| item_name(g).map_err(|m| bad("group_by", m)))
        .collect::<Result<Vec<_>>>()?;
    let mut where_filters = filters(params.get("where"));
    where_filters.extend(q.where_filters.iter().cloned());
    let order_by = if q.order_by.is_empty() {
        strings(params.get("order_by"))
            .iter()
            .map(|o| order_name(o).map_err(|m| bad("order_by", m)))
            .collect::<Result<Vec<_>>>()?
    } else {
        q.order_by.clone()
    };
    let limit = q.limit.or_else(|| {
        params
            .get("limit")
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
    });
    Ok(MfQuery {
        metrics: strings(params.get("metrics")),
        group_by,
        where_filters,
        order_by,
        limit,
        saved_query: None,
        ..q.clone()
    })
}

/// A string or a list of strings (YAML allows either); nothing for anything else.
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

/// Filters as YAML writes them (a string or a list) or as dbt's JSON does
/// (`{where_filters: [{where_sql_template}]}`).
fn filters(v: Option<&Value>) -> Vec<String> {
    match v.and_then(|w| w.get("where_filters")) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|f| f.get("where_sql_template").and_then(Value::as_str).map(str::to_owned))
            .collect(),
        _ => strings(v),
    }
}

/// A group-by as `Dimension('x')`, `TimeDimension('metric_time', 'day')`, `Entity('e')`,
/// or already a name.
fn item_name(item: &str) -> std::result::Result<String, String> {
    if !item.contains('(') {
        return Ok(item.trim().to_owned());
    }
    let call = Call::parse(item.trim())?;
    match call.function.as_str() {
        "Dimension" | "TimeDimension" | "Entity" => Ok(call.query_name()),
        other => Err(format!("`{other}` cannot be grouped by (`{item}`)")),
    }
}

/// An order-by as `Metric('m')`, `Dimension('x').descending(True)`, or already a name.
fn order_name(item: &str) -> std::result::Result<String, String> {
    if !item.contains('(') {
        return Ok(item.trim().to_owned());
    }
    let call = Call::parse(item.trim())?;
    let name = match call.function.as_str() {
        "Metric" => call.name.clone(),
        "Dimension" | "TimeDimension" | "Entity" => call.query_name(),
        other => return Err(format!("`{other}` cannot be ordered by (`{item}`)")),
    };
    Ok(if call.descending { format!("-{name}") } else { name })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            saved_queries: vec![
                json!({"name": "p0", "query_params": {
                    "metrics": ["bookings", "views"],
                    "group_by": ["TimeDimension('metric_time', 'day')", "Dimension('listing__capacity_latest')"],
                    "where": ["{{ Dimension('listing__capacity_latest') }} > 3"],
                    "order_by": ["TimeDimension('metric_time', 'day').descending(True)", "Metric('views')"],
                    "limit": 10}}),
                json!({"name": "json_form", "query_params": {
                    "metrics": ["bookings"], "group_by": [],
                    "where": {"where_filters": [{"where_sql_template": "{{ Dimension('x__y') }}"}]}}}),
            ],
            ..Manifest::default()
        }
    }

    #[test]
    fn a_saved_query_becomes_a_query() {
        let q = MfQuery {
            saved_query: Some("p0".into()),
            where_filters: vec!["extra".into()],
            ..MfQuery::default()
        };
        let e = expand(&manifest(), &q).unwrap();
        assert_eq!(e.metrics, vec!["bookings", "views"]);
        assert_eq!(e.group_by, vec!["metric_time__day", "listing__capacity_latest"]);
        assert_eq!(
            e.where_filters,
            vec!["{{ Dimension('listing__capacity_latest') }} > 3", "extra"]
        );
        assert_eq!(e.order_by, vec!["-metric_time__day", "views"]);
        assert_eq!(e.limit, Some(10));
        assert_eq!(e.saved_query, None);
    }

    #[test]
    fn the_request_order_and_limit_win() {
        let q = MfQuery {
            saved_query: Some("p0".into()),
            order_by: vec!["bookings".into()],
            limit: Some(2),
            ..MfQuery::default()
        };
        let e = expand(&manifest(), &q).unwrap();
        assert_eq!((e.order_by, e.limit), (vec!["bookings".to_owned()], Some(2)));
    }

    #[test]
    fn dbt_json_filters_and_errors() {
        let q = MfQuery {
            saved_query: Some("json_form".into()),
            ..MfQuery::default()
        };
        assert_eq!(
            expand(&manifest(), &q).unwrap().where_filters,
            vec!["{{ Dimension('x__y') }}"]
        );
        let unknown = MfQuery {
            saved_query: Some("p1".into()),
            ..MfQuery::default()
        };
        let err = expand(&manifest(), &unknown).unwrap_err().to_string();
        assert!(err.contains("no saved query `p1`"), "{err}");
        let both = MfQuery {
            saved_query: Some("p0".into()),
            metrics: vec!["bookings".into()],
            ..MfQuery::default()
        };
        assert!(expand(&manifest(), &both).is_err());
    }
}
