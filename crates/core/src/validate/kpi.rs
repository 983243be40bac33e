//! KPI specs.

use std::collections::{BTreeMap, BTreeSet};

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::DFSchema;

use super::Origins;
use super::product::{check_name, expr_diag, parse_version};
use crate::diagnostic::{Code, Diagnostic, Location, did_you_mean};
use crate::expr::{ExprError, parse_expr};
use crate::model::{
    CalendarDuration, CumulativeWindow, DerivedInput, Direction, Grain, Kpi, KpiBody, MeasureInput, Offset, Project,
};
use crate::model::{ScopeSchema, declared_schema};
use crate::spec::{ConversionSpec, KpiSpec, KpiType, Located, MeasureRef};

/// A KPI checked section by section: names and shape, thresholds, then the body of its
/// kind. Every problem goes to `diags`; the KPI only when there is none.
pub(super) fn validate_kpi(
    spec: &Located<KpiSpec>,
    project: &Project,
    known_kpis: &[String],
    diags: &mut Vec<Diagnostic>,
) -> Option<Kpi> {
    let before = diags.len();
    let k = &spec.value;
    check_name(&k.id, "KPI", spec.at("id"), diags);
    let version = parse_version(&k.version, spec.at("version"), diags);
    check_shape(spec, diags);
    let (warn, critical) = thresholds(spec, diags);
    let body = match k.kind {
        KpiType::Simple => k
            .measure
            .as_ref()
            .and_then(|m| measure_input(project, spec, "measure", m, k.filter.as_deref(), "filter", diags))
            .map(|measure| KpiBody::Simple { measure }),
        KpiType::Ratio => {
            let num = k
                .numerator
                .as_ref()
                .and_then(|r| measure_ref(project, spec, "numerator", r, diags));
            let den = k
                .denominator
                .as_ref()
                .and_then(|r| measure_ref(project, spec, "denominator", r, diags));
            match (num, den) {
                (Some(numerator), Some(denominator)) => Some(KpiBody::Ratio { numerator, denominator }),
                _ => None,
            }
        }
        KpiType::Derived => derived(spec, project, known_kpis, diags),
        KpiType::Cumulative => cumulative(spec, project, diags),
        KpiType::Conversion => k.conversion.as_ref().and_then(|c| conversion(spec, project, c, diags)),
    };
    if diags.len() > before {
        return None;
    }
    Some(Kpi {
        id: k.id.clone(),
        version: version?,
        name: k.name.clone(),
        description: k.description.clone(),
        owner: k.owner.clone(),
        unit: k.unit.clone(),
        direction: k.direction,
        target: k.target,
        warn,
        critical,
        tags: k.tags.clone(),
        every_period: k.every_period,
        body: body?,
        file: spec.spans.file().to_owned(),
    })
}

/// `(warn, critical)`: on the bad side of each other for the KPI's direction, and only
/// with a direction.
fn thresholds(spec: &Located<KpiSpec>, diags: &mut Vec<Diagnostic>) -> (Option<f64>, Option<f64>) {
    let k = &spec.value;
    let (warn, critical) = k
        .thresholds
        .as_ref()
        .map(|t| (t.warn, t.critical))
        .unwrap_or((None, None));
    if let (Some(w), Some(c)) = (warn, critical) {
        let contradicts = match k.direction {
            Direction::HigherIsBetter => c > w,
            Direction::LowerIsBetter => c < w,
            Direction::Neutral => false,
        };
        if contradicts {
            diags.push(
                Diagnostic::new(
                    Code::InvalidThresholds,
                    spec.at("thresholds.critical"),
                    format!(
                        "critical ({c}) is on the good side of warn ({w}) for a {} KPI",
                        if k.direction == Direction::HigherIsBetter {
                            "higher_is_better"
                        } else {
                            "lower_is_better"
                        }
                    ),
                )
                .with_hint("with higher_is_better, critical <= warn; with lower_is_better, critical >= warn"),
            );
        }
    }
    if k.direction == Direction::Neutral && (warn.is_some() || critical.is_some()) {
        diags.push(
            Diagnostic::new(
                Code::InvalidThresholds,
                spec.at("thresholds"),
                "thresholds need a direction",
            )
            .with_hint("set `direction: higher_is_better` or `lower_is_better`"),
        );
    }
    (warn, critical)
}

/// A cumulative KPI: a measure with a time dimension, not semi-additive, and its window.
fn cumulative(spec: &Located<KpiSpec>, project: &Project, diags: &mut Vec<Diagnostic>) -> Option<KpiBody> {
    let k = &spec.value;
    let measure = k
        .measure
        .as_ref()
        .and_then(|m| measure_input(project, spec, "measure", m, k.filter.as_deref(), "filter", diags));
    let window = cumulative_window(spec, diags);
    if let Some(m) = &measure {
        require_time(project, m, spec.at("measure"), "a cumulative KPI", diags);
        if project.products[&m.product].measures[&m.measure].non_additive.is_some() {
            diags.push(
                Diagnostic::new(
                    Code::InvalidAggregation,
                    spec.at("measure"),
                    format!(
                        "`{}.{}` is semi-additive (`non_additive`): adding it up over time has no meaning",
                        m.product, m.measure
                    ),
                )
                .with_hint("use a simple KPI for the balance at each period, or a measure without `non_additive`"),
            );
        }
    }
    Some(KpiBody::Cumulative {
        measure: measure?,
        window: window?,
        period_agg: k.cumulative.as_ref().and_then(|c| c.period_agg),
    })
}

/// A conversion KPI: base and conversion measures with time dimensions, the entity in
/// both products, the window.
fn conversion(
    spec: &Located<KpiSpec>,
    project: &Project,
    c: &ConversionSpec,
    diags: &mut Vec<Diagnostic>,
) -> Option<KpiBody> {
    let base = measure_ref(project, spec, "conversion.base", &c.base, diags);
    let conv = measure_ref(project, spec, "conversion.conversion", &c.conversion, diags);
    let window = match &c.window {
        Some(w) => Some(parse_duration(w, spec.at("conversion.window"), diags)?),
        None => None,
    };
    let (base, conversion) = (base?, conv?);
    require_time(
        project,
        &base,
        spec.at("conversion.base.measure"),
        "a conversion KPI",
        diags,
    );
    require_time(
        project,
        &conversion,
        spec.at("conversion.conversion.measure"),
        "a conversion KPI",
        diags,
    );
    let products: BTreeSet<&str> = [base.product.as_str(), conversion.product.as_str()].into();
    for id in products {
        let product = &project.products[id];
        if !product.entities.contains_key(&c.entity) {
            diags.push(
                Diagnostic::new(
                    Code::UnknownEntity,
                    spec.at("conversion.entity"),
                    format!("`{}` is not an entity of `{id}`", c.entity),
                )
                .with_hint(did_you_mean(&c.entity, product.entities.keys().map(String::as_str))),
            );
        }
    }
    Some(KpiBody::Conversion {
        base,
        conversion,
        entity: c.entity.clone(),
        window,
        calculation: c.calculation,
        constant_properties: c
            .constant_properties
            .iter()
            .map(|p| (p.base.clone(), p.conversion.clone()))
            .collect(),
    })
}

/// Fields that belong to the KPI's type must be there; others must not.
fn check_shape(spec: &Located<KpiSpec>, diags: &mut Vec<Diagnostic>) {
    let k = &spec.value;
    let present: [(&str, bool); 8] = [
        ("measure", k.measure.is_some()),
        ("filter", k.filter.is_some()),
        ("numerator", k.numerator.is_some()),
        ("denominator", k.denominator.is_some()),
        ("expr", k.expr.is_some()),
        ("inputs", !k.inputs.is_empty()),
        ("cumulative", k.cumulative.is_some()),
        ("conversion", k.conversion.is_some()),
    ];
    let (required, optional): (&[&str], &[&str]) = match k.kind {
        KpiType::Simple => (&["measure"], &["filter"]),
        KpiType::Ratio => (&["numerator", "denominator"], &[]),
        KpiType::Derived => (&["expr"], &["inputs"]),
        KpiType::Cumulative => (&["measure"], &["filter", "cumulative"]),
        KpiType::Conversion => (&["conversion"], &[]),
    };
    let type_name = format!("{:?}", k.kind).to_lowercase();
    for (field, is_there) in present {
        if is_there && !required.contains(&field) && !optional.contains(&field) {
            diags.push(
                Diagnostic::new(
                    Code::KpiShape,
                    spec.spans.locate_key(&spec.child(field)),
                    format!("`{field}` does not apply to a {type_name} KPI"),
                )
                .with_hint(format!(
                    "a {type_name} KPI takes: {}",
                    [required, optional].concat().join(", ")
                )),
            );
        }
        if !is_there && required.contains(&field) {
            diags.push(Diagnostic::new(
                Code::KpiShape,
                spec.at("type"),
                format!("a {type_name} KPI needs `{field}`"),
            ));
        }
    }
}

fn measure_ref(
    project: &Project,
    spec: &Located<KpiSpec>,
    field: &str,
    r: &MeasureRef,
    diags: &mut Vec<Diagnostic>,
) -> Option<MeasureInput> {
    measure_input(
        project,
        spec,
        &format!("{field}.measure"),
        &r.measure,
        r.filter.as_deref(),
        &format!("{field}.filter"),
        diags,
    )
}

/// Resolve `product.measure` and check its filter against the product's scope.
fn measure_input(
    project: &Project,
    spec: &Located<KpiSpec>,
    field: &str,
    reference: &str,
    filter: Option<&str>,
    filter_field: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<MeasureInput> {
    let at = spec.at(field);
    let Some((product_id, measure)) = reference.split_once('.') else {
        let all: Vec<String> = project
            .products
            .values()
            .flat_map(|p| p.measures.keys().map(move |m| format!("{}.{m}", p.id)))
            .collect();
        diags.push(
            Diagnostic::new(
                Code::UnknownMeasure,
                at,
                format!("`{reference}` is not of the form `product.measure`"),
            )
            .with_hint(did_you_mean(reference, all.iter().map(String::as_str))),
        );
        return None;
    };
    let Some(product) = project.product(product_id) else {
        diags.push(
            Diagnostic::new(Code::UnknownProduct, at, format!("unknown product `{product_id}`"))
                .with_hint(did_you_mean(product_id, project.products.keys().map(String::as_str))),
        );
        return None;
    };
    if !product.measures.contains_key(measure) {
        diags.push(
            Diagnostic::new(
                Code::UnknownMeasure,
                at,
                format!("product `{product_id}` has no measure `{measure}`"),
            )
            .with_hint(did_you_mean(measure, product.measures.keys().map(String::as_str))),
        );
        return None;
    }
    if let Some(f) = filter {
        match ScopeSchema::new(project, product_id, &declared_schema) {
            Ok(scope) => {
                let mut extras = crate::model::entity_metric_columns(f);
                // `metric_time`: the time of the row, when the measure has one.
                let timed = product
                    .measures
                    .get(measure)
                    .and_then(|m| product.measure_time_dimension(m));
                if timed.is_some() && f.contains("metric_time") {
                    use datafusion::arrow::datatypes::{DataType, TimeUnit};
                    extras.push((
                        "metric_time".to_owned(),
                        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                    ));
                }
                let checked = scope.parse_with_extras(f, &extras).and_then(|e| {
                    let schema = scope.extended_schema(&extras)?;
                    crate::expr::check_boolean(&e, &schema, f)
                });
                if let Err(e) = checked {
                    diags.push(
                        fan_out_diag(project, &scope, &e, spec.at(filter_field))
                            .unwrap_or_else(|| expr_diag(e, spec.at(filter_field), "filter")),
                    );
                    return None;
                }
            }
            Err((p, d, e)) => {
                diags.push(expr_diag(
                    e,
                    spec.at(filter_field),
                    &format!("dimension `{d}` of `{p}`"),
                ));
                return None;
            }
        }
    }
    Some(MeasureInput {
        product: product_id.to_owned(),
        measure: measure.to_owned(),
        filter: filter.map(str::to_owned),
    })
}

/// An unknown column that belongs to a product joined one-to-many (a fan-out).
fn fan_out_diag(project: &Project, scope: &ScopeSchema, err: &ExprError, at: Location) -> Option<Diagnostic> {
    let ExprError::UnknownColumn { name, .. } = err else {
        return None;
    };
    let (qualifier, column) = match name.split_once('.') {
        Some((q, c)) => (Some(q), c),
        None => (None, name.as_str()),
    };
    let (product, entity) = scope.scope.fan_out.iter().find(|(p, _)| {
        qualifier.is_none_or(|q| q == p)
            && project
                .product(p)
                .is_some_and(|p| p.columns.contains_key(column) || p.dimensions.contains_key(column))
    })?;
    Some(
        Diagnostic::new(
            Code::FanOutJoin,
            at,
            format!(
                "`{name}` is in `{product}`, which holds `{entity}` as a foreign key: joining it would repeat \
                 the rows of `{}` and inflate its measures (fan-out)",
                scope.scope.root().product
            ),
        )
        .with_hint(format!(
            "define the KPI over `{product}` itself, or give `{product}` a unique key for `{entity}`"
        )),
    )
}

fn require_time(project: &Project, m: &MeasureInput, at: Location, what: &str, diags: &mut Vec<Diagnostic>) {
    let product = &project.products[&m.product];
    let measure = &product.measures[&m.measure];
    if product.measure_time_dimension(measure).is_none() {
        diags.push(
            Diagnostic::new(
                Code::MissingTimeDimension,
                at,
                format!(
                    "{what} needs a time dimension, and `{}.{}` has none",
                    m.product, m.measure
                ),
            )
            .with_hint(format!(
                "set `time_dimension:` on product `{}` or on the measure",
                m.product
            )),
        );
    }
}

fn parse_duration(s: &str, at: Location, diags: &mut Vec<Diagnostic>) -> Option<CalendarDuration> {
    s.parse()
        .map_err(|e: String| diags.push(Diagnostic::new(Code::InvalidDuration, at, e)))
        .ok()
}

fn cumulative_window(spec: &Located<KpiSpec>, diags: &mut Vec<Diagnostic>) -> Option<CumulativeWindow> {
    let Some(c) = &spec.value.cumulative else {
        return Some(CumulativeWindow::AllTime);
    };
    match (&c.window, &c.grain_to_date) {
        (Some(_), Some(_)) => {
            diags.push(Diagnostic::new(
                Code::KpiShape,
                spec.at("cumulative.grain_to_date"),
                "a cumulative KPI takes `window` or `grain_to_date`, not both",
            ));
            None
        }
        (Some(w), None) => parse_duration(w, spec.at("cumulative.window"), diags).map(CumulativeWindow::Trailing),
        (None, Some(g)) => match g.parse::<Grain>() {
            Ok(g) => Some(CumulativeWindow::GrainToDate(g)),
            Err(e) => {
                diags.push(Diagnostic::new(
                    Code::InvalidGrain,
                    spec.at("cumulative.grain_to_date"),
                    e,
                ));
                None
            }
        },
        (None, None) => Some(CumulativeWindow::AllTime),
    }
}

fn derived(
    spec: &Located<KpiSpec>,
    project: &Project,
    known_kpis: &[String],
    diags: &mut Vec<Diagnostic>,
) -> Option<KpiBody> {
    let k = &spec.value;
    let expr = k.expr.as_ref()?;
    let before = diags.len();
    let mut inputs = Vec::new();
    let mut names: BTreeSet<String> = BTreeSet::new();
    for (i, input) in k.inputs.iter().enumerate() {
        let at = |f: &str| spec.at(&format!("inputs.{i}.{f}"));
        if !known_kpis.contains(&input.kpi) {
            diags.push(
                Diagnostic::new(Code::UnknownKpi, at("kpi"), format!("unknown KPI `{}`", input.kpi))
                    .with_hint(did_you_mean(&input.kpi, known_kpis.iter().map(String::as_str))),
            );
        }
        let name = input.alias.clone().unwrap_or_else(|| input.kpi.clone());
        check_name(
            &name,
            "input",
            at(if input.alias.is_some() { "alias" } else { "kpi" }),
            diags,
        );
        if !names.insert(name.clone()) {
            diags.push(Diagnostic::new(
                Code::DuplicateId,
                at(if input.alias.is_some() { "alias" } else { "kpi" }),
                format!("input name `{name}` is used twice; give one an `alias`"),
            ));
        }
        let offset = input.offset.as_ref().and_then(|o| {
            let parsed = o.parse::<Offset>().and_then(|offset| match &offset {
                Offset::Custom(_, g) if !project.settings.custom_grains.contains(g) => {
                    // Not a custom granularity of the project: report it as the duration it
                    // was meant to be.
                    Err(o.parse::<crate::model::CalendarDuration>().err().unwrap_or_default())
                }
                _ => Ok(offset),
            });
            parsed
                .map_err(|e| diags.push(Diagnostic::new(Code::InvalidDuration, at("offset"), e)))
                .ok()
        });
        inputs.push(DerivedInput {
            name,
            kpi: input.kpi.clone(),
            offset,
        });
    }
    // Every name in the expression is an input alias or a KPI id.
    let mut fields: BTreeMap<&str, Field> = BTreeMap::new();
    for n in names
        .iter()
        .map(String::as_str)
        .chain(known_kpis.iter().map(String::as_str))
    {
        fields
            .entry(n)
            .or_insert_with(|| Field::new(n, DataType::Float64, true));
    }
    let schema = DFSchema::try_from(Schema::new(fields.into_values().collect::<Vec<_>>())).ok()?;
    match parse_expr(expr, &schema) {
        Ok(parsed) => {
            for col in parsed.column_refs() {
                if !names.contains(&col.name) {
                    names.insert(col.name.clone());
                    inputs.push(DerivedInput {
                        name: col.name.clone(),
                        kpi: col.name.clone(),
                        offset: None,
                    });
                }
            }
        }
        Err(ExprError::UnknownColumn { name, .. }) => {
            let valid: Vec<&str> = names
                .iter()
                .map(String::as_str)
                .chain(known_kpis.iter().map(String::as_str))
                .collect();
            diags.push(
                Diagnostic::new(
                    Code::UnknownKpi,
                    spec.at("expr"),
                    format!("`{name}` in the expression is not a KPI or input"),
                )
                .with_hint(did_you_mean(&name, valid)),
            );
        }
        Err(e) => diags.push(expr_diag(e, spec.at("expr"), "expression")),
    }
    inputs.sort_by(|a, b| a.name.cmp(&b.name));
    for i in &inputs {
        if i.kpi == k.id {
            diags.push(Diagnostic::new(
                Code::Cycle,
                spec.at("expr"),
                format!("KPI `{}` uses itself", k.id),
            ));
        }
        if i.offset.is_some()
            && let Some(kpi) = project.kpi(&i.kpi)
            && let KpiBody::Simple { measure } | KpiBody::Cumulative { measure, .. } = &kpi.body
        {
            require_time(project, measure, spec.at("inputs"), "an offset", diags);
        }
    }
    (diags.len() == before).then(|| KpiBody::Derived {
        expr: expr.clone(),
        inputs,
    })
}

/// Derived KPIs must not depend on themselves through other KPIs. One depth-first walk
/// (each KPI entered once, so the work grows with the number of inputs, not with the
/// number of paths): every edge back to a KPI on the walk's stack closes a cycle, reported
/// once, starting from its least id.
pub(super) fn check_cycles(project: &Project, origins: &Origins, diags: &mut Vec<Diagnostic>) {
    let edges: BTreeMap<&str, Vec<&str>> = project
        .kpis
        .values()
        .filter_map(|k| match &k.body {
            KpiBody::Derived { inputs, .. } => Some((k.id.as_str(), inputs.iter().map(|i| i.kpi.as_str()).collect())),
            _ => None,
        })
        .collect();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut reported: BTreeSet<Vec<&str>> = BTreeSet::new();
    for start in edges.keys() {
        if done.contains(start) {
            continue;
        }
        // The walk's path, each KPI with the index of its next input to follow.
        let mut path: Vec<(&str, usize)> = vec![(*start, 0)];
        while let Some((node, next)) = path.last_mut() {
            let inputs = edges.get(*node).map(Vec::as_slice).unwrap_or_default();
            let Some(input) = inputs.get(*next).copied() else {
                done.insert(*node);
                path.pop();
                continue;
            };
            *next += 1;
            if let Some(at) = path.iter().position(|(n, _)| *n == input) {
                let mut cycle: Vec<&str> = path[at..].iter().map(|(n, _)| *n).collect();
                let min = cycle
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, n)| **n)
                    .map(|(i, _)| i)
                    .unwrap_or(0);
                cycle.rotate_left(min);
                if cycle.len() > 1 && reported.insert(cycle.clone()) {
                    let first = cycle[0];
                    let text = cycle
                        .iter()
                        .chain(std::iter::once(&first))
                        .copied()
                        .collect::<Vec<_>>()
                        .join(" → ");
                    diags.push(
                        Diagnostic::new(
                            Code::Cycle,
                            origins.kpi(first, "expr"),
                            format!("derived KPIs form a cycle: {text}"),
                        )
                        .with_hint("a derived KPI cannot depend on itself through its inputs"),
                    );
                }
            } else if !done.contains(input) {
                path.push((input, 0));
            }
        }
    }
}
