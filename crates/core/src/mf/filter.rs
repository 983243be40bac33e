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
    render_collecting(manifest, root, template, customs, &mut Vec::new())
}

/// Like [`render_with`], adding the join paths the filter's names follow to `paths`.
pub(crate) fn render_collecting(
    manifest: &Manifest,
    root: &str,
    template: &str,
    customs: &CustomGrains,
    paths: &mut Vec<crate::model::JoinPath>,
) -> Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| CanaryError::query(format!("unclosed `{{{{` in filter `{template}`")))?;
        out.push_str(&render_call(
            manifest,
            root,
            after[..end].trim(),
            template,
            customs,
            paths,
        )?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A call of MetricFlow's object-builder language, as filters, saved queries and order-bys
/// write it: `Dimension('x', entity_path=['a'])`, `TimeDimension('metric_time', 'day')`,
/// `Entity('listing')`, `Metric('m', group_by=['e'])`, optionally followed by
/// `.grain('month')`, `.date_part('year')` or `.descending(True)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Call {
    pub function: String,
    pub name: String,
    pub grain: Option<String>,
    pub date_part: Option<String>,
    pub entity_path: Vec<String>,
    /// A `Metric`'s entities.
    pub group_by: Vec<String>,
    pub descending: bool,
}

impl Call {
    /// Parse one call; the error says what is wrong with it.
    pub fn parse(call: &str) -> std::result::Result<Call, String> {
        let cannot = || format!("cannot read `{call}`");
        let open = call.find('(').ok_or_else(cannot)?;
        let close = matching_paren(call, open).ok_or_else(cannot)?;
        let mut c = Call {
            function: call[..open].trim().to_owned(),
            ..Call::default()
        };
        let mut positional = Vec::new();
        for a in split_args(&call[open + 1..close]) {
            match a.split_once('=') {
                Some((k, v)) if !k.contains('\'') && !k.contains('"') => {
                    let v = v.trim();
                    match k.trim() {
                        "entity_path" => c.entity_path = list(v),
                        "time_granularity_name" | "grain" => c.grain = unquote(v),
                        "date_part_name" | "date_part" => c.date_part = unquote(v),
                        "group_by" => c.group_by = list(v),
                        "descending" => c.descending = v == "True",
                        other => return Err(format!("unsupported argument `{other}` in `{call}`")),
                    }
                }
                // A list in second place is a `Metric`'s group-by.
                _ if positional.len() == 1 && a.trim_start().starts_with(['[', '(']) => c.group_by = list(&a),
                _ => positional.extend(unquote(&a)),
            }
        }
        // Methods after the call.
        let mut tail = call[close + 1..].trim();
        while let Some(m) = tail.strip_prefix('.') {
            let open = m.find('(').ok_or_else(cannot)?;
            let close = matching_paren(m, open).ok_or_else(cannot)?;
            let arg = m[open + 1..close].trim();
            match m[..open].trim() {
                "grain" => c.grain = unquote(arg),
                "date_part" => c.date_part = unquote(arg),
                "descending" => c.descending = arg.is_empty() || arg == "True",
                other => return Err(format!("unsupported method `.{other}` in `{call}`")),
            }
            tail = m[close + 1..].trim();
        }
        if !tail.is_empty() {
            return Err(cannot());
        }
        let mut positional = positional.into_iter();
        c.name = positional.next().ok_or_else(cannot)?;
        if c.function == "TimeDimension" && c.grain.is_none() {
            c.grain = positional.next();
        }
        Ok(c)
    }

    /// The item as `mf query` names it: `entity__name`, `name__grain`,
    /// `name__extract_part`.
    pub fn query_name(&self) -> String {
        let mut parts = self.entity_path.clone();
        parts.push(self.name.clone());
        if let Some(part) = &self.date_part {
            parts.push(format!("extract_{part}"));
        } else if let Some(g) = &self.grain {
            parts.push(g.clone());
        }
        parts.join("__")
    }
}

/// One call such as `Dimension('x', entity_path=['a'])` rendered as SQL over Canary names.
fn render_call(
    manifest: &Manifest,
    root: &str,
    call: &str,
    template: &str,
    customs: &CustomGrains,
    paths: &mut Vec<crate::model::JoinPath>,
) -> Result<String> {
    let c = Call::parse(call).map_err(|m| CanaryError::query(format!("{m} in filter `{template}`")))?;
    match c.function.as_str() {
        "Dimension" | "TimeDimension" | "Entity" => {}
        "Metric" => {
            // The metric's value per entity: a column the planner joins in.
            return match c.group_by.as_slice() {
                [entity] => Ok(format!(
                    "{}{}__per__{}",
                    crate::plan::ENTITY_METRIC_PREFIX,
                    c.name,
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
    let mut parsed = MfName::parse(&c.name);
    let mut path = c.entity_path.clone();
    path.extend(parsed.entity_path);
    parsed.entity_path = path;
    let grain = c.grain.clone().or_else(|| parsed.grain.map(|g| g.as_str().to_owned()));
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
    let date_part = c.date_part.clone().or(parsed.date_part.clone());
    let column = if parsed.is_metric_time() {
        "metric_time".to_owned()
    } else {
        let mut r = resolve(manifest, root, &parsed)?;
        super::names::push_join_path(paths, &parsed, &r.reference);
        // An entity named on its own is each measure's own key (quoted: a name such as
        // `user` is also an SQL keyword).
        if super::names::is_own_entity(manifest, root, &parsed, &r.reference) {
            r.reference = format!("\"{}\"", parsed.element);
        }
        if r.is_time {
            format!("CAST({} AS TIMESTAMP)", r.reference)
        } else {
            r.reference
        }
    };
    let time = parsed.is_metric_time() || c.function == "TimeDimension" || grain.is_some() || date_part.is_some();
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

    #[test]
    fn calls_name_query_items() {
        let name = |s: &str| Call::parse(s).unwrap().query_name();
        assert_eq!(name("TimeDimension('metric_time', 'day')"), "metric_time__day");
        assert_eq!(
            name("Dimension('listing__capacity_latest')"),
            "listing__capacity_latest"
        );
        assert_eq!(
            name("Dimension('country', entity_path=['listing']).grain('x')"),
            "listing__country__x"
        );
        assert_eq!(
            name("TimeDimension('booking__ds', 'month', date_part_name='year')"),
            "booking__ds__extract_year"
        );
        assert_eq!(name("Entity('listing')"), "listing");
        let d = Call::parse("TimeDimension('metric_time', 'day').descending(True)").unwrap();
        assert!(d.descending && d.function == "TimeDimension");
        assert!(!Call::parse("Metric('views')").unwrap().descending);
        assert_eq!(
            Call::parse("Metric('b', ['listing'])").unwrap().group_by,
            vec!["listing"]
        );
        assert!(Call::parse("Dimension('x').sideways()").is_err());
        assert!(Call::parse("Dimension('x') extra").is_err());
    }
}
