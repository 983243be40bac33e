//! Data-product contracts.

use std::path::Path;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::DFSchema;
use datafusion::logical_expr::ExprSchemable;
use indexmap::IndexMap;

use super::Origins;
use crate::diagnostic::{Code, Diagnostic, Location, did_you_mean};
use crate::expr::{ExprError, parse_expr};
use crate::model::{
    AggKind, Column, Dimension, DimensionKind, Entity, Grain, Measure, NonAdditive, Product, Project, Scope, Source,
    parse_type, type_name,
};
use crate::plan::declared_schema;
use crate::spec::{Located, ProductSpec};

pub(super) fn parse_version(v: &str, at: Location, diags: &mut Vec<Diagnostic>) -> Option<semver::Version> {
    match semver::Version::parse(v) {
        Ok(v) => Some(v),
        Err(e) => {
            diags.push(
                Diagnostic::new(
                    Code::InvalidVersion,
                    at,
                    format!("`{v}` is not a semantic version: {e}"),
                )
                .with_hint("write MAJOR.MINOR.PATCH, e.g. 1.0.0"),
            );
            None
        }
    }
}

/// Whether `name` is a valid identifier: `[a-z][a-z0-9_]*`.
pub(super) fn check_name(name: &str, what: &str, at: Location, diags: &mut Vec<Diagnostic>) -> bool {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        diags.push(
            Diagnostic::new(Code::InvalidName, at, format!("{what} name `{name}` is not valid"))
                .with_hint("use lower-case letters, digits and `_`, starting with a letter"),
        );
    }
    ok
}

/// Report an expression problem at `at`.
pub(super) fn expr_diag(err: ExprError, at: Location, what: &str) -> Diagnostic {
    match err {
        ExprError::Invalid(m) => Diagnostic::new(Code::InvalidExpression, at, format!("{what}: {m}")),
        ExprError::Disallowed(m) => {
            Diagnostic::new(Code::DisallowedExpression, at, format!("{what}: {m}")).with_hint(format!(
                "expressions may use columns, literals, operators, CASE, CAST and these functions: {}",
                crate::expr::ALLOWED_FUNCTIONS.join(", ")
            ))
        }
        ExprError::Ambiguous(m) => Diagnostic::new(Code::AmbiguousReference, at, format!("{what}: {m}"))
            .with_hint("declare the entity on one path only, or model the other path as a separate product"),
        ExprError::UnknownColumn { name, valid } => {
            let bare = name.rsplit('.').next().unwrap_or(&name).to_owned();
            let valid_bare: Vec<&str> = valid.iter().map(String::as_str).collect();
            Diagnostic::new(Code::UnknownColumn, at, format!("{what}: unknown column `{name}`"))
                .with_hint(did_you_mean(&bare, valid_bare))
        }
    }
}

pub(super) fn validate_product(
    spec: &Located<ProductSpec>,
    root: &Path,
    diags: &mut Vec<Diagnostic>,
) -> Option<Product> {
    let before = diags.len();
    let p = &spec.value;
    check_name(&p.product, "product", spec.at("product"), diags);
    let version = parse_version(&p.version, spec.at("version"), diags);
    let location = resolve_location(&p.location, root, spec.at("location"), diags);

    let mut partitions = Vec::new();
    for (i, part) in p.partitions.iter().enumerate() {
        match parse_type(&part.data_type) {
            Ok(t) => partitions.push((part.name.clone(), t)),
            Err(e) => diags.push(Diagnostic::new(
                Code::UnknownType,
                spec.at(&format!("partitions.{i}.type")),
                e,
            )),
        }
    }

    let mut columns = IndexMap::new();
    for (i, c) in p.columns.iter().enumerate() {
        if columns.contains_key(&c.name) {
            diags.push(Diagnostic::new(
                Code::DuplicateId,
                spec.at(&format!("columns.{i}.name")),
                format!("column `{}` is declared twice", c.name),
            ));
            continue;
        }
        match parse_type(&c.data_type) {
            Ok(t) => {
                columns.insert(
                    c.name.clone(),
                    Column {
                        data_type: t,
                        nullable: c.nullable,
                        description: c.description.clone(),
                    },
                );
            }
            Err(e) => diags.push(Diagnostic::new(
                Code::UnknownType,
                spec.at(&format!("columns.{i}.type")),
                e,
            )),
        }
    }
    let column_names: Vec<&str> = p.columns.iter().map(|c| c.name.as_str()).collect();
    let partition_names: Vec<&str> = partitions.iter().map(|(n, _)| n.as_str()).collect();
    let is_column = |n: &str| column_names.contains(&n) || partition_names.contains(&n);
    let unknown_column = |name: &str, at: Location, what: &str| {
        Diagnostic::new(
            Code::UnknownColumn,
            at,
            format!("{what} `{name}` is not a column of the contract"),
        )
        .with_hint(did_you_mean(
            name,
            column_names.iter().copied().chain(partition_names.iter().copied()),
        ))
    };

    if let Some(t) = &p.tenant_column
        && !is_column(t)
    {
        diags.push(unknown_column(t, spec.at("tenant_column"), "tenant column"));
    }

    let mut entities = IndexMap::new();
    for (i, e) in p.entities.iter().enumerate() {
        check_name(&e.name, "entity", spec.at(&format!("entities.{i}.name")), diags);
        let column = e.column.clone().unwrap_or_else(|| e.name.clone());
        if !is_column(&column) {
            let field = if e.column.is_some() { "column" } else { "name" };
            diags.push(unknown_column(
                &column,
                spec.at(&format!("entities.{i}.{field}")),
                "entity column",
            ));
        }
        if entities
            .insert(e.name.clone(), Entity { kind: e.kind, column })
            .is_some()
        {
            diags.push(Diagnostic::new(
                Code::DuplicateId,
                spec.at(&format!("entities.{i}.name")),
                format!("entity `{}` is declared twice", e.name),
            ));
        }
    }

    let own = {
        let probe = Product {
            id: p.product.clone(),
            version: semver::Version::new(0, 0, 0),
            owner: String::new(),
            description: None,
            location: String::new(),
            location_written: String::new(),
            partitions: partitions.clone(),
            tenant_column: None,
            columns: columns.clone(),
            entities: IndexMap::new(),
            dimensions: IndexMap::new(),
            measures: IndexMap::new(),
            time_dimension: None,
            validity: None,
            sources: Vec::new(),
            file: String::new(),
        };
        DFSchema::try_from_qualified_schema(p.product.as_str(), &declared_schema(&probe)).ok()
    };

    let mut dimensions = IndexMap::new();
    for (i, d) in p.dimensions.iter().enumerate() {
        let at = |f: &str| spec.at(&format!("dimensions.{i}.{f}"));
        check_name(&d.name, "dimension", at("name"), diags);
        if dimensions.contains_key(&d.name) {
            diags.push(Diagnostic::new(
                Code::DuplicateId,
                at("name"),
                format!("dimension `{}` is declared twice", d.name),
            ));
            continue;
        }
        let expr = d.expr.clone().unwrap_or_else(|| d.name.clone());
        let mut data_type = None;
        if let Some(own) = &own {
            match parse_expr(&expr, own) {
                Ok(e) => data_type = e.get_type(own).ok(),
                Err(e) => {
                    let field = if d.expr.is_some() { "expr" } else { "name" };
                    diags.push(expr_diag(e, at(field), &format!("dimension `{}`", d.name)));
                }
            }
        }
        let granularity = match (d.kind, &d.granularity) {
            (DimensionKind::Time, Some(g)) => match g.parse::<Grain>() {
                Ok(g) => Some(g),
                Err(e) => {
                    diags.push(Diagnostic::new(Code::InvalidGrain, at("granularity"), e));
                    None
                }
            },
            (DimensionKind::Time, None) => Some(Grain::Day),
            (DimensionKind::Categorical, Some(_)) => {
                diags.push(
                    Diagnostic::new(
                        Code::InvalidGrain,
                        at("granularity"),
                        "only time dimensions have a granularity",
                    )
                    .with_hint("remove `granularity`, or make the dimension `type: time`"),
                );
                None
            }
            (DimensionKind::Categorical, None) => None,
        };
        if d.kind == DimensionKind::Time
            && let Some(t) = &data_type
            && !matches!(t, DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _))
        {
            diags.push(Diagnostic::new(
                Code::TypeMismatch,
                at("type"),
                format!(
                    "time dimension `{}` is of type {}, not a date or timestamp",
                    d.name,
                    type_name(t)
                ),
            ));
        }
        dimensions.insert(
            d.name.clone(),
            Dimension {
                kind: d.kind,
                expr,
                granularity,
                partition: d.partition,
                description: d.description.clone(),
            },
        );
    }
    let time_dims: Vec<&str> = dimensions
        .iter()
        .filter(|(_, d)| d.kind == DimensionKind::Time)
        .map(|(n, _)| n.as_str())
        .collect();
    let check_time_dim = |name: &str, at: Location, diags: &mut Vec<Diagnostic>| {
        if !time_dims.contains(&name) {
            diags.push(
                Diagnostic::new(
                    Code::UnknownDimension,
                    at,
                    format!("`{name}` is not a time dimension of `{}`", p.product),
                )
                .with_hint(did_you_mean(name, time_dims.iter().copied())),
            );
        }
    };
    if let Some(t) = &p.time_dimension {
        check_time_dim(t, spec.at("time_dimension"), diags);
    }
    if let Some(v) = &p.validity {
        check_time_dim(&v.start, spec.at("validity.start"), diags);
        check_time_dim(&v.end, spec.at("validity.end"), diags);
    }
    if p.validity.is_none()
        && let Some((i, e)) = p
            .entities
            .iter()
            .enumerate()
            .find(|(_, e)| e.kind == crate::spec::EntityKind::Natural)
    {
        diags.push(
            Diagnostic::new(
                Code::InvalidValue,
                spec.at(&format!("entities.{i}.type")),
                format!("`{}` is a natural key, which needs the product's `validity`", e.name),
            )
            .with_hint("add `validity: {start: <time dimension>, end: <time dimension>}`, or use `primary`"),
        );
    }

    let mut measures = IndexMap::new();
    for (i, m) in p.measures.iter().enumerate() {
        let at = |f: &str| spec.at(&format!("measures.{i}.{f}"));
        check_name(&m.name, "measure", at("name"), diags);
        if measures.contains_key(&m.name) {
            diags.push(Diagnostic::new(
                Code::DuplicateId,
                at("name"),
                format!("measure `{}` is declared twice", m.name),
            ));
            continue;
        }
        let expr = match (&m.expr, m.agg) {
            (Some(e), _) => Some(e.clone()),
            (None, AggKind::Count) => None,
            (None, _) if is_column(&m.name) => Some(m.name.clone()),
            (None, agg) => {
                diags.push(
                    Diagnostic::new(
                        Code::InvalidAggregation,
                        at("name"),
                        format!("measure `{}` ({agg:?}) needs an `expr`", m.name),
                    )
                    .with_hint("add `expr:` with a column or expression, or name the measure after a column"),
                );
                None
            }
        };
        if let (Some(e), Some(own)) = (&expr, &own) {
            match parse_expr(e, own) {
                Ok(parsed) => {
                    if let Ok(t) = parsed.get_type(own) {
                        check_agg_type(
                            m.agg,
                            &t,
                            at(if m.expr.is_some() { "expr" } else { "name" }),
                            &m.name,
                            diags,
                        );
                    }
                }
                Err(err) => {
                    let field = if m.expr.is_some() { "expr" } else { "name" };
                    diags.push(expr_diag(err, at(field), &format!("measure `{}`", m.name)));
                }
            }
        }
        let percentile = match (m.agg, m.percentile) {
            (AggKind::Percentile | AggKind::PercentileDisc, Some(q)) if (0.0..=1.0).contains(&q) => Some(q),
            (AggKind::Percentile | AggKind::PercentileDisc, Some(q)) => {
                diags.push(
                    Diagnostic::new(
                        Code::InvalidAggregation,
                        at("percentile"),
                        format!("percentile {q} is outside [0, 1]"),
                    )
                    .with_hint("write the percentile as a fraction, e.g. 0.9 for the 90th"),
                );
                None
            }
            (AggKind::Percentile | AggKind::PercentileDisc, None) => {
                diags.push(Diagnostic::new(
                    Code::InvalidAggregation,
                    at("agg"),
                    format!("measure `{}` needs `percentile:` (a fraction in [0, 1])", m.name),
                ));
                None
            }
            (_, Some(_)) => {
                diags.push(Diagnostic::new(
                    Code::InvalidAggregation,
                    at("percentile"),
                    "`percentile` applies only to `percentile` and `percentile_disc` measures",
                ));
                None
            }
            (_, None) => None,
        };
        if let Some(t) = &m.time_dimension {
            check_time_dim(t, at("time_dimension"), diags);
        }
        let non_additive = m.non_additive.as_ref().map(|na| {
            check_time_dim(&na.dimension, at("non_additive.dimension"), diags);
            for (k, e) in na.per.iter().enumerate() {
                if !entities.contains_key(e) {
                    diags.push(
                        Diagnostic::new(
                            Code::UnknownEntity,
                            at(&format!("non_additive.per.{k}")),
                            format!("`{e}` is not an entity of `{}`", p.product),
                        )
                        .with_hint(did_you_mean(e, entities.keys().map(String::as_str))),
                    );
                }
            }
            NonAdditive {
                dimension: na.dimension.clone(),
                window: na.window,
                per: na.per.clone(),
            }
        });
        measures.insert(
            m.name.clone(),
            Measure {
                agg: m.agg,
                expr,
                percentile,
                time_dimension: m.time_dimension.clone(),
                non_additive,
                description: m.description.clone(),
            },
        );
    }

    let mut sources = Vec::new();
    for (i, s) in p.sources.iter().enumerate() {
        for (col, _) in &s.columns {
            if !is_column(col) {
                diags.push(unknown_column(
                    col,
                    spec.at(&format!("sources.{i}.columns.{col}")),
                    "source mapping column",
                ));
            }
        }
        sources.push(Source {
            name: s.name.clone(),
            columns: s.columns.clone(),
            description: s.description.clone(),
        });
    }

    if diags.len() > before {
        return None;
    }
    Some(Product {
        id: p.product.clone(),
        version: version?,
        owner: p.owner.clone(),
        description: p.description.clone(),
        location: location?,
        location_written: p.location.clone(),
        partitions,
        tenant_column: p.tenant_column.clone(),
        columns,
        entities,
        dimensions,
        measures,
        time_dimension: p.time_dimension.clone(),
        validity: p.validity.as_ref().map(|v| (v.start.clone(), v.end.clone())),
        sources,
        file: spec.spans.file().to_owned(),
    })
}

fn check_agg_type(agg: AggKind, t: &DataType, at: Location, name: &str, diags: &mut Vec<Diagnostic>) {
    let numeric = t.is_numeric();
    let ok = match agg {
        AggKind::Sum | AggKind::Avg | AggKind::Percentile | AggKind::PercentileDisc | AggKind::Median => numeric,
        AggKind::SumBoolean => matches!(t, DataType::Boolean),
        AggKind::Count | AggKind::CountDistinct | AggKind::Min | AggKind::Max => true,
    };
    if !ok {
        let want = if agg == AggKind::SumBoolean {
            "a boolean"
        } else {
            "a number"
        };
        diags.push(Diagnostic::new(
            Code::TypeMismatch,
            at,
            format!(
                "measure `{name}` aggregates {} values with `{}`, which needs {want}",
                type_name(t),
                agg.as_str()
            ),
        ));
    }
}

/// Turn a contract location into something DataFusion can list.
fn resolve_location(loc: &str, root: &Path, at: Location, diags: &mut Vec<Diagnostic>) -> Option<String> {
    if let Some((scheme, _)) = loc.split_once("://") {
        if matches!(scheme, "file" | "s3") {
            return Some(loc.to_owned());
        }
        diags.push(
            Diagnostic::new(
                Code::InvalidValue,
                at,
                format!("unsupported location scheme `{scheme}://`"),
            )
            .with_hint("use a path relative to the project, `file://`, or `s3://`"),
        );
        return None;
    }
    let path = root.join(loc);
    let mut s = path.to_string_lossy().into_owned();
    if path.is_dir() && !s.ends_with('/') {
        s.push('/');
    }
    Some(s)
}

/// Checks across products: entity joins that exist but would fan out are fine as long as
/// nothing uses them; shared entity names must have compatible key types.
pub(super) fn validate_graph(project: &Project, origins: &Origins, diags: &mut Vec<Diagnostic>) {
    for (id, product) in &project.products {
        let scope = Scope::build(project, id);
        for member in scope.members.iter().skip(1) {
            let Some(join) = &member.join else { continue };
            let parent = &project.products[&scope.members[join.parent].product];
            let child = &project.products[&member.product];
            let (Some(l), Some(r)) = (
                parent.columns.get(&join.left_column),
                child.columns.get(&join.right_column),
            ) else {
                continue;
            };
            let comparable = type_name(&l.data_type) == type_name(&r.data_type)
                || (l.data_type.is_integer() && r.data_type.is_integer());
            if !comparable && member.depth == 1 {
                let index = product.entities.get_index_of(&join.entity).unwrap_or(0);
                diags.push(Diagnostic::new(
                    Code::TypeMismatch,
                    origins.product(id, &format!("entities.{index}")),
                    format!(
                        "entity `{}` is {} in `{id}` but {} in `{}`; the join keys must have one type",
                        join.entity,
                        type_name(&l.data_type),
                        type_name(&r.data_type),
                        member.product
                    ),
                ));
            }
        }
    }
}
