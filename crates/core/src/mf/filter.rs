//! MetricFlow's filter language (`{{ Dimension('listing__country_latest') }} = 'us'`) to
//! SQL over Canary names, as seen from one semantic model.

use super::manifest::Manifest;
use super::names::{MfName, resolve};
use crate::error::{CanaryError, Result};

type CustomGrains = std::collections::BTreeMap<String, crate::plan::CustomGrain>;

/// Render every `{{ … }}` of `template` for the semantic model `root`.
pub fn render(manifest: &Manifest, root: &str, template: &str) -> Result<String> {
    render_with(manifest, root, template, &CustomGrains::new())
}

/// Like [`render`], with custom granularities (`TimeDimension('x', 'fiscal_quarter')`).
pub fn render_with(manifest: &Manifest, root: &str, template: &str, customs: &CustomGrains) -> Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| CanaryError::query(format!("unclosed `{{{{` in filter `{template}`")))?;
        out.push_str(&render_call(manifest, root, after[..end].trim(), template, customs)?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// One call such as `Dimension('x', entity_path=['a'])` or `TimeDimension('metric_time', 'day')`,
/// optionally followed by `.grain('month')` or `.date_part('year')`.
fn render_call(manifest: &Manifest, root: &str, call: &str, template: &str, customs: &CustomGrains) -> Result<String> {
    let open = call.find('(').ok_or_else(|| bad(template))?;
    let function = call[..open].trim();
    let close = matching_paren(call, open).ok_or_else(|| bad(template))?;
    let args = split_args(&call[open + 1..close]);
    let mut grain: Option<String> = None;
    let mut date_part: Option<String> = None;
    let mut entity_path: Vec<String> = Vec::new();
    let mut positional = Vec::new();
    for a in &args {
        match a.split_once('=') {
            Some((k, v)) if !k.contains('\'') && !k.contains('"') => {
                let v = v.trim();
                match k.trim() {
                    "entity_path" => entity_path = list(v),
                    "time_granularity_name" | "grain" => grain = unquote(v),
                    "date_part_name" | "date_part" => date_part = unquote(v),
                    "group_by" => {}
                    other => {
                        return Err(CanaryError::query(format!(
                            "unsupported argument `{other}` in filter `{template}`"
                        )));
                    }
                }
            }
            _ => positional.extend(unquote(a)),
        }
    }
    // Methods after the call: `.grain('month')`, `.date_part('year')`, `.descending(..)`.
    let mut tail = call[close + 1..].trim();
    while let Some(m) = tail.strip_prefix('.') {
        let open = m.find('(').ok_or_else(|| bad(template))?;
        let close = matching_paren(m, open).ok_or_else(|| bad(template))?;
        let value = unquote(m[open + 1..close].trim());
        match m[..open].trim() {
            "grain" => grain = value,
            "date_part" => date_part = value,
            "descending" => {}
            other => {
                return Err(CanaryError::query(format!(
                    "unsupported method `.{other}` in filter `{template}`"
                )));
            }
        }
        tail = m[close + 1..].trim();
    }
    let name = positional.first().cloned().ok_or_else(|| bad(template))?;
    if function == "TimeDimension" && grain.is_none() {
        grain = positional.get(1).cloned();
    }
    match function {
        "Dimension" | "TimeDimension" | "Entity" => {}
        "Metric" => {
            // The metric's value per entity: a column the planner joins in.
            let by = group_by_of(&args);
            return match by.as_slice() {
                [entity] => Ok(format!(
                    "{}{}__per__{}",
                    crate::plan::ENTITY_METRIC_PREFIX,
                    positional.first().cloned().ok_or_else(|| bad(template))?,
                    entity.rsplit("__").next().unwrap_or(entity)
                )),
                _ => Err(CanaryError::query(format!(
                    "a metric in a filter must be grouped by one entity (`{call}`)"
                ))),
            };
        }
        other => {
            return Err(CanaryError::query(format!(
                "unknown filter function `{other}` in `{template}`"
            )));
        }
    }
    let mut parsed = MfName::parse(&name);
    let mut path = entity_path;
    path.extend(parsed.entity_path);
    parsed.entity_path = path;
    let grain = grain.or_else(|| parsed.grain.map(|g| g.as_str().to_owned()));
    let custom = grain.as_ref().and_then(|g| customs.get(g));
    if let Some(g) = &grain
        && custom.is_none()
        && !matches!(
            g.as_str(),
            "millisecond" | "second" | "minute" | "hour" | "day" | "week" | "month" | "quarter" | "year"
        )
    {
        return Err(CanaryError::query(format!(
            "the granularity `{g}` in `{template}` is not supported (custom granularities are not yet)"
        )));
    }
    let date_part = date_part.or(parsed.date_part.clone());
    let column = if parsed.is_metric_time() {
        "metric_time".to_owned()
    } else {
        let r = resolve(manifest, root, &parsed)?;
        if r.is_time {
            format!("CAST({} AS TIMESTAMP)", r.reference)
        } else {
            r.reference
        }
    };
    let time = parsed.is_metric_time() || function == "TimeDimension" || grain.is_some() || date_part.is_some();
    if let Some(c) = custom {
        return Ok(crate::plan::custom_grain_sql(c, &column));
    }
    Ok(match (date_part, grain) {
        (Some(part), _) => format!(
            "date_part('{}', {column})",
            if part == "dow" { "isodow".into() } else { part }
        ),
        (None, Some(g)) => format!("date_trunc('{g}', {column})"),
        (None, None) if time && parsed.is_metric_time() => format!("date_trunc('day', {column})"),
        (None, None) => column,
    })
}

/// The `group_by` of a `Metric(...)` call: keyword or second positional argument.
fn group_by_of(args: &[String]) -> Vec<String> {
    for a in args {
        if let Some((k, v)) = a.split_once('=')
            && k.trim() == "group_by"
        {
            return list(v.trim());
        }
    }
    args.get(1).map(|a| list(a.trim())).unwrap_or_default()
}

fn bad(template: &str) -> CanaryError {
    CanaryError::query(format!("cannot read the filter `{template}`"))
}

fn matching_paren(s: &str, open: usize) -> Option<usize> {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices().skip_while(|(i, _)| *i < open) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(' | '[') => depth += 1,
            (None, ')' | ']') => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Split arguments on top-level commas.
fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut quote: Option<char> = None;
    let mut cur = String::new();
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (Some(_), _) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                cur.push(c);
            }
            (None, '(' | '[') => {
                depth += 1;
                cur.push(c);
            }
            (None, ')' | ']') => {
                depth -= 1;
                cur.push(c);
            }
            (None, ',') if depth == 0 => {
                out.push(cur.trim().to_owned());
                cur.clear();
            }
            _ => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_owned());
    }
    out
}

fn unquote(s: &str) -> Option<String> {
    let s = s.trim();
    let inner = s
        .strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .or_else(|| s.strip_prefix('"').and_then(|r| r.strip_suffix('"')))?;
    Some(inner.to_owned())
}

fn list(s: &str) -> Vec<String> {
    let inner = s.trim().trim_start_matches(['[', '(']).trim_end_matches([']', ')']);
    split_args(inner).iter().filter_map(|a| unquote(a)).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn arguments_split_at_top_level_commas_only() {
        assert_eq!(
            split_args("'a', entity_path=['b', 'c']"),
            vec!["'a'", "entity_path=['b', 'c']"]
        );
        assert_eq!(list("['b', 'c']"), vec!["b", "c"]);
        assert_eq!(list("()"), Vec::<String>::new());
    }

    #[test]
    fn metric_time_renders_without_a_model() {
        let m = Manifest::default();
        assert_eq!(
            render(&m, "x", "{{ TimeDimension('metric_time', 'month') }} >= '2020-01-01'").unwrap(),
            "date_trunc('month', metric_time) >= '2020-01-01'"
        );
        assert_eq!(
            render(&m, "x", "{{ Dimension('metric_time') }} = '2020-01-01'").unwrap(),
            "date_trunc('day', metric_time) = '2020-01-01'"
        );
        assert_eq!(
            render(&m, "x", "{{ Metric('bookings', group_by=['listing']) }} > 2").unwrap(),
            "__kpi__bookings__per__listing > 2"
        );
        assert_eq!(
            render(&m, "x", "{{ Metric('views', ['listing']) }} > 10").unwrap(),
            "__kpi__views__per__listing > 10"
        );
        assert!(render(&m, "x", "{{ Metric('bookings', group_by=['listing', 'user']) }} > 2").is_err());
    }
}
