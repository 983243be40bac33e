//! The suite's Jinja helpers, rendered for DataFusion.
//!
//! Two environments, as upstream has them: check queries get the SQL helpers; where filters
//! (pass 1) also get the `render_*_template` helpers, which emit MetricFlow's own filter
//! Jinja (`{{ Dimension('x', entity_path=()) }}`) for the engine to render in pass 2.
//! Undefined names are errors, like Jinja's `StrictUndefined`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use minijinja::value::{Kwargs, Rest, Value, ValueOrKwargs, from_args};
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior};

/// The table that holds the daily time spine.
pub const TIME_SPINE_TABLE: &str = "public.mf_time_spine";
/// The schema every snapshot table is registered in.
pub const SOURCE_SCHEMA: &str = "public";

const GRANULARITIES: &[&str] = &[
    "nanosecond",
    "microsecond",
    "millisecond",
    "second",
    "minute",
    "hour",
    "day",
    "week",
    "month",
    "quarter",
    "year",
];
const DATE_PARTS: &[&str] = &["year", "quarter", "month", "week", "day", "dow", "doy"];

/// Discrete percentiles seen while rendering: UDAF name → fraction.
pub type DiscretePercentiles = Arc<Mutex<BTreeMap<String, f64>>>;

pub struct Renderer {
    check: Environment<'static>,
    filter: Environment<'static>,
    percentiles: DiscretePercentiles,
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

impl Renderer {
    pub fn new() -> Self {
        let percentiles = DiscretePercentiles::default();
        let mut check = Environment::new();
        add_sql_helpers(&mut check, &percentiles);
        let mut filter = Environment::new();
        add_sql_helpers(&mut filter, &percentiles);
        add_template_helpers(&mut filter);
        Renderer {
            check,
            filter,
            percentiles,
        }
    }

    /// A case's `check_query`, as DataFusion SQL.
    pub fn check_query(&self, template: &str) -> Result<String, String> {
        self.check.render_str(template, ()).map_err(|e| one_line(&e))
    }

    /// A case's `where_filter` after pass 1: MetricFlow filter syntax for the engine.
    pub fn where_filter(&self, template: &str) -> Result<String, String> {
        self.filter.render_str(template, ()).map_err(|e| one_line(&e))
    }

    /// Every discrete percentile rendered so far, as (UDAF name, fraction).
    pub fn discrete_percentiles(&self) -> Vec<(String, f64)> {
        let seen = self.percentiles.lock().unwrap_or_else(PoisonError::into_inner);
        seen.iter().map(|(name, fraction)| (name.clone(), *fraction)).collect()
    }
}

fn one_line(error: &Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        message.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn add_sql_helpers(env: &mut Environment<'static>, percentiles: &DiscretePercentiles) {
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_global("source_schema", SOURCE_SCHEMA);
    env.add_global("mf_time_spine_source", TIME_SPINE_TABLE);
    env.add_global("double_data_type_name", "DOUBLE");
    env.add_global("TimeGranularity", enumeration(GRANULARITIES));
    env.add_global("DatePart", enumeration(DATE_PARTS));
    env.add_function("cast_to_ts", |args: Rest<ValueOrKwargs>| {
        let [literal] = bind(args, ["string_literal"])?;
        Ok(cast_to_ts(&string(required(literal, "string_literal")?)?))
    });
    env.add_function("render_time_constraint", |args: Rest<ValueOrKwargs>| {
        let [expr, start, stop] = bind(args, ["expr", "start_time", "stop_time"])?;
        let start = optional_string(start)?;
        let stop = optional_string(stop)?;
        time_constraint(&string(required(expr, "expr")?)?, start.as_deref(), stop.as_deref()).map_err(invalid)
    });
    env.add_function("render_date_trunc", |args: Rest<ValueOrKwargs>| {
        let [expr, granularity] = bind(args, ["expr", "granularity"])?;
        date_trunc(
            &string(required(expr, "expr")?)?,
            &member(required(granularity, "granularity")?)?,
        )
        .map_err(invalid)
    });
    env.add_function("render_date_sub", |args: Rest<ValueOrKwargs>| {
        let [alias, column, count, granularity] = bind(args, ["table_alias", "column_alias", "count", "granularity"])?;
        let count = required(count, "count")?;
        let count = count
            .as_i64()
            .ok_or_else(|| invalid(format!("render_date_sub: count must be an integer, got {count}")))?;
        date_sub(
            &string(required(alias, "table_alias")?)?,
            &string(required(column, "column_alias")?)?,
            count,
            &member(required(granularity, "granularity")?)?,
        )
        .map_err(invalid)
    });
    env.add_function("render_date_add", |args: Rest<ValueOrKwargs>| {
        let [date, count, granularity] = bind(args, ["date_column", "count_column", "granularity"])?;
        date_add(
            &string(required(date, "date_column")?)?,
            &string(required(count, "count_column")?)?,
            &member(required(granularity, "granularity")?)?,
        )
        .map_err(invalid)
    });
    env.add_function("render_extract", |args: Rest<ValueOrKwargs>| {
        let [expr, part] = bind(args, ["expr", "date_part"])?;
        extract(
            &string(required(expr, "expr")?)?,
            &member(required(part, "date_part")?)?,
        )
        .map_err(invalid)
    });
    let seen = Arc::clone(percentiles);
    env.add_function("render_percentile_expr", move |args: Rest<ValueOrKwargs>| {
        let [expr, fraction, discrete, approximate] = bind(
            args,
            [
                "expr",
                "percentile",
                "use_discrete_percentile",
                "use_approximate_percentile",
            ],
        )?;
        let fraction = required(fraction, "percentile")?;
        let fraction = f64::try_from(fraction.clone()).map_err(|_| {
            invalid(format!(
                "render_percentile_expr: percentile must be a number, got {fraction}"
            ))
        })?;
        let rendered = percentile(
            &string(required(expr, "expr")?)?,
            fraction,
            required(discrete, "use_discrete_percentile")?.is_true(),
            required(approximate, "use_approximate_percentile")?.is_true(),
        )
        .map_err(invalid)?;
        if let Some(name) = &rendered.udaf {
            seen.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(name.clone(), fraction);
        }
        Ok(rendered.sql)
    });
    env.add_function("generate_random_uuid", |args: Rest<ValueOrKwargs>| {
        let [] = bind(args, [])?;
        Ok("uuid()".to_owned())
    });
}

fn add_template_helpers(env: &mut Environment<'static>) {
    env.add_function("render_dimension_template", |args: Rest<ValueOrKwargs>| {
        let [name, path] = bind(args, ["dimension_name", "entity_path"])?;
        let name = string(required(name, "dimension_name")?)?;
        Ok(format!(
            "{{{{ Dimension('{name}', entity_path={}) }}}}",
            python_sequence(path)?
        ))
    });
    env.add_function("render_entity_template", |args: Rest<ValueOrKwargs>| {
        let [name, path] = bind(args, ["entity_name", "entity_path"])?;
        let name = string(required(name, "entity_name")?)?;
        Ok(format!(
            "{{{{ Entity('{name}', entity_path={}) }}}}",
            python_sequence(path)?
        ))
    });
    env.add_function("render_metric_template", |args: Rest<ValueOrKwargs>| {
        let [name, group_by] = bind(args, ["metric_name", "group_by"])?;
        let name = string(required(name, "metric_name")?)?;
        Ok(format!(
            "{{{{ Metric('{name}', group_by={}) }}}}",
            python_sequence(group_by)?
        ))
    });
    env.add_function("render_time_dimension_template", |args: Rest<ValueOrKwargs>| {
        let [name, grain, path] = bind(args, ["time_dimension_name", "time_granularity", "entity_path"])?;
        let name = string(required(name, "time_dimension_name")?)?;
        let path = python_sequence(path)?;
        Ok(match optional_string(grain)? {
            Some(grain) => format!("{{{{ TimeDimension('{name}', '{grain}', entity_path={path}) }}}}"),
            None => format!("{{{{ TimeDimension('{name}', entity_path={path}) }}}}"),
        })
    });
}

/// An enum as Jinja sees it: `TimeGranularity.WEEK` is `{name: "WEEK", value: "week"}`.
fn enumeration(values: &[&str]) -> Value {
    let members: BTreeMap<Value, Value> = values
        .iter()
        .map(|v| {
            let name = Value::from(v.to_uppercase());
            let member = BTreeMap::from([
                (Value::from("name"), name.clone()),
                (Value::from("value"), Value::from(*v)),
            ]);
            (name, Value::from(member))
        })
        .collect();
    Value::from(members)
}

/// Python-style binding of positional and keyword arguments to parameter names.
fn bind<const N: usize>(args: Rest<ValueOrKwargs>, names: [&str; N]) -> Result<[Option<Value>; N], Error> {
    let values = args.into_values();
    let (positional, kwargs): (&[Value], Kwargs) = from_args(&values)?;
    if positional.len() > N {
        return Err(Error::new(
            ErrorKind::TooManyArguments,
            format!("takes {N} arguments, {} given", positional.len()),
        ));
    }
    let mut bound: [Option<Value>; N] = std::array::from_fn(|i| positional.get(i).cloned());
    for (slot, name) in bound.iter_mut().zip(names) {
        if let Some(value) = kwargs.get::<Option<Value>>(name)? {
            if slot.is_some() {
                return Err(invalid(format!("got multiple values for argument `{name}`")));
            }
            *slot = Some(value);
        }
    }
    kwargs.assert_all_used()?;
    // Jinja's `None` is Python's `None`: the same as leaving the argument out.
    Ok(bound.map(|v| v.filter(|v| !v.is_none() && !v.is_undefined())))
}

fn required(value: Option<Value>, name: &str) -> Result<Value, Error> {
    value.ok_or_else(|| Error::new(ErrorKind::MissingArgument, format!("`{name}` is required")))
}

fn string(value: Value) -> Result<String, Error> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| invalid(format!("expected a string, got {value}")))
}

/// A string argument where Python's truthiness applies: `None` and `''` are absent.
fn optional_string(value: Option<Value>) -> Result<Option<String>, Error> {
    Ok(value.map(string).transpose()?.filter(|s| !s.is_empty()))
}

/// An enum member (`TimeGranularity.X`, `DatePart.X`) or its value as a string.
fn member(value: Value) -> Result<String, Error> {
    if let Some(s) = value.as_str() {
        return Ok(s.to_lowercase());
    }
    value
        .get_attr("value")
        .ok()
        .and_then(|v| v.as_str().map(str::to_lowercase))
        .ok_or_else(|| invalid(format!("expected a TimeGranularity or DatePart, got {value}")))
}

/// `()` for an absent or empty sequence (the helpers' default), else a Python list repr.
fn python_sequence(value: Option<Value>) -> Result<String, Error> {
    let Some(value) = value else {
        return Ok("()".to_owned());
    };
    if let Some(s) = value.as_str() {
        return Ok(python_str(s));
    }
    let items: Vec<String> = value
        .try_iter()?
        .map(|v| {
            v.as_str()
                .map(python_str)
                .ok_or_else(|| invalid(format!("expected strings, got {v}")))
        })
        .collect::<Result<_, _>>()?;
    Ok(if items.is_empty() {
        "()".to_owned()
    } else {
        format!("[{}]", items.join(", "))
    })
}

fn python_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

pub fn cast_to_ts(literal: &str) -> String {
    format!("CAST('{literal}' AS TIMESTAMP)")
}

/// `expr >= start AND expr < stop`, where a date-only stop includes that whole day and a
/// timestamp stop includes that second. The format follows `start_time or stop_time`.
pub fn time_constraint(expr: &str, start: Option<&str>, stop: Option<&str>) -> Result<String, String> {
    let pattern = start
        .or(stop)
        .ok_or("render_time_constraint: give start_time or stop_time")?;
    let date_only = pattern.len() == 10;
    let mut parts = Vec::new();
    if let Some(start) = start {
        parts.push(format!("CAST({expr} AS TIMESTAMP) >= {}", cast_to_ts(start)));
    }
    if let Some(stop) = stop {
        let end = if date_only {
            chrono::NaiveDate::parse_from_str(stop, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.succ_opt())
                .map(|d| d.format("%Y-%m-%d").to_string())
        } else {
            let separator = if stop.contains('T') { "T" } else { " " };
            let format = format!("%Y-%m-%d{separator}%H:%M:%S");
            chrono::NaiveDateTime::parse_from_str(stop, &format)
                .ok()
                .map(|t| (t + chrono::TimeDelta::seconds(1)).format(&format).to_string())
        };
        let end = end.ok_or_else(|| {
            format!(
                "render_time_constraint: stop_time `{stop}` is not {}",
                if date_only { "YYYY-MM-DD" } else { "YYYY-MM-DD hh:mm:ss" }
            )
        })?;
        parts.push(format!("CAST({expr} AS TIMESTAMP) < {}", cast_to_ts(&end)));
    }
    Ok(parts.join(" AND "))
}

pub fn date_trunc(expr: &str, granularity: &str) -> Result<String, String> {
    check_member(granularity, GRANULARITIES, "TimeGranularity")?;
    Ok(format!("DATE_TRUNC('{granularity}', CAST({expr} AS TIMESTAMP))"))
}

/// `(alias.column - INTERVAL 'n unit')`; weeks are 7 days and quarters 3 months.
pub fn date_sub(alias: &str, column: &str, count: i64, granularity: &str) -> Result<String, String> {
    check_member(granularity, GRANULARITIES, "TimeGranularity")?;
    let (count, unit) = match granularity {
        "week" => (count * 7, "day"),
        "quarter" => (count * 3, "month"),
        unit => (count, unit),
    };
    Ok(format!("({alias}.{column} - INTERVAL '{count} {unit}')"))
}

/// `date + count granularities`, where `count` is an SQL expression. DataFusion cannot
/// multiply an interval by a column, so the interval is cast from text built per row
/// (weeks are 7 days, quarters 3 months; a NULL count gives NULL).
pub fn date_add(date: &str, count: &str, granularity: &str) -> Result<String, String> {
    check_member(granularity, GRANULARITIES, "TimeGranularity")?;
    let (multiplier, unit) = match granularity {
        "week" => (" * 7", "day"),
        "quarter" => (" * 3", "month"),
        unit => ("", unit),
    };
    Ok(format!(
        "CAST({date} AS TIMESTAMP) + CAST(CAST(CAST(({count}) AS BIGINT){multiplier} AS VARCHAR) || ' {unit}' AS INTERVAL)"
    ))
}

/// `date_part('part', CAST(expr AS TIMESTAMP))`; `dow` is ISO (Monday = 1 … Sunday = 7).
pub fn extract(expr: &str, part: &str) -> Result<String, String> {
    check_member(part, DATE_PARTS, "DatePart")?;
    let part = if part == "dow" { "isodow" } else { part };
    Ok(format!("date_part('{part}', CAST({expr} AS TIMESTAMP))"))
}

pub struct RenderedPercentile {
    pub sql: String,
    /// The UDAF the SQL calls, for a discrete percentile.
    pub udaf: Option<String>,
}

/// Continuous: DataFusion's `percentile_cont`. Discrete: a call to Canary's exact
/// `percentile_disc` UDAF registered under a name that carries the fraction.
pub fn percentile(expr: &str, fraction: f64, discrete: bool, approximate: bool) -> Result<RenderedPercentile, String> {
    if !(0.0..=1.0).contains(&fraction) {
        return Err(format!(
            "render_percentile_expr: percentile {fraction} is not in [0, 1]"
        ));
    }
    Ok(match (discrete, approximate) {
        (false, false) => RenderedPercentile {
            sql: format!("percentile_cont({fraction}) WITHIN GROUP (ORDER BY {expr})"),
            udaf: None,
        },
        (false, true) => RenderedPercentile {
            sql: format!("approx_percentile_cont({fraction}) WITHIN GROUP (ORDER BY {expr})"),
            udaf: None,
        },
        (true, false) => {
            let name = discrete_percentile_udaf(fraction);
            RenderedPercentile {
                sql: format!("{name}(CAST({expr} AS DOUBLE))"),
                udaf: Some(name),
            }
        }
        (true, true) => return Err("render_percentile_expr: DataFusion has no approximate discrete percentile".into()),
    })
}

/// `percentile_disc_0_99` for 0.99.
pub fn discrete_percentile_udaf(fraction: f64) -> String {
    let digits: String = fraction
        .to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("percentile_disc_{digits}")
}

fn check_member(value: &str, members: &[&str], enumeration: &str) -> Result<(), String> {
    if members.contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "`{value}` is not a {enumeration} (one of {})",
            members.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests;
