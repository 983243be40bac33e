//! Data-product contracts.

use std::path::Path;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::DFSchema;
use datafusion::logical_expr::ExprSchemable;
use indexmap::IndexMap;

use super::Origins;
use crate::diagnostic::{Code, Diagnostic, Location, did_you_mean};
use crate::expr::{ExprError, parse_expr};
use crate::model::declared_schema;
use crate::model::{
    AggKind, Column, Dimension, DimensionKind, Entity, Grain, Measure, NonAdditive, Product, Project, Scope, Source,
    parse_type, type_name,
};
use crate::spec::{Located, MeasureSpec, ProductSpec};

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

/// The names a contract's fields may refer to: its columns and partition keys.
struct ColumnNames<'a> {
    columns: Vec<&'a str>,
    partitions: Vec<&'a str>,
}

impl ColumnNames<'_> {
    fn contains(&self, n: &str) -> bool {
        self.columns.contains(&n) || self.partitions.contains(&n)
    }

    fn unknown(&self, name: &str, at: Location, what: &str) -> Diagnostic {
        Diagnostic::new(
            Code::UnknownColumn,
            at,
            format!("{what} `{name}` is not a column of the contract"),
        )
        .with_hint(did_you_mean(
            name,
            self.columns.iter().copied().chain(self.partitions.iter().copied()),
        ))
    }
}

/// The time dimensions of a contract, which its time settings must name.
struct TimeDimensions<'a> {
    product: &'a str,
    names: Vec<&'a str>,
}

impl TimeDimensions<'_> {
    fn check(&self, name: &str, at: Location, diags: &mut Vec<Diagnostic>) {
        if !self.names.contains(&name) {
            diags.push(
                Diagnostic::new(
                    Code::UnknownDimension,
                    at,
                    format!("`{name}` is not a time dimension of `{}`", self.product),
                )
                .with_hint(did_you_mean(name, self.names.iter().copied())),
            );
        }
    }
}

/// A data-product contract checked section by section: names, columns, entities,
/// dimensions, time settings, measures, sources. Every problem goes to `diags`; the product
/// only when there is none.
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
    let partitions = partitions(spec, diags);
    let columns = columns(spec, diags);
    let names = ColumnNames {
        columns: p.columns.iter().map(|c| c.name.as_str()).collect(),
        partitions: partitions.iter().map(|(n, _)| n.as_str()).collect(),
    };
    if let Some(t) = &p.tenant_column
        && !names.contains(t)
    {
        diags.push(names.unknown(t, spec.at("tenant_column"), "tenant column"));
    }
    let own = own_schema(&p.product, &partitions, &columns);
    let entities = entities(spec, &names, own.as_ref(), diags);
    let mut dimensions = IndexMap::new();
    for (i, d) in p.dimensions.iter().enumerate() {
        if let Some(dim) = dimension(spec, i, own.as_ref(), &dimensions, diags) {
            dimensions.insert(d.name.clone(), dim);
        }
    }
    let time = TimeDimensions {
        product: &p.product,
        names: dimensions
            .iter()
            .filter(|(_, d)| d.kind == DimensionKind::Time)
            .map(|(n, _)| n.as_str())
            .collect(),
    };
    check_time_settings(spec, &time, diags);
    let mut measures = IndexMap::new();
    for (i, m) in p.measures.iter().enumerate() {
        let context = MeasureContext {
            names: &names,
            own: own.as_ref(),
            time: &time,
            entities: &entities,
        };
        if let Some(measure) = measure(spec, i, &context, &measures, diags) {
            measures.insert(m.name.clone(), measure);
        }
    }
    let sources = sources(spec, &names, diags);

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

fn partitions(spec: &Located<ProductSpec>, diags: &mut Vec<Diagnostic>) -> Vec<(String, DataType)> {
    let mut partitions = Vec::new();
    for (i, part) in spec.value.partitions.iter().enumerate() {
        match parse_type(&part.data_type) {
            Ok(t) => partitions.push((part.name.clone(), t)),
            Err(e) => diags.push(Diagnostic::new(
                Code::UnknownType,
                spec.at(&format!("partitions.{i}.type")),
                e,
            )),
        }
    }
    partitions
}

fn columns(spec: &Located<ProductSpec>, diags: &mut Vec<Diagnostic>) -> IndexMap<String, Column> {
    let mut columns = IndexMap::new();
    for (i, c) in spec.value.columns.iter().enumerate() {
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
    columns
}

fn entities(
    spec: &Located<ProductSpec>,
    names: &ColumnNames<'_>,
    own: Option<&DFSchema>,
    diags: &mut Vec<Diagnostic>,
) -> IndexMap<String, Entity> {
    let mut entities = IndexMap::new();
    for (i, e) in spec.value.entities.iter().enumerate() {
        check_name(&e.name, "entity", spec.at(&format!("entities.{i}.name")), diags);
        let column = e.column.clone().unwrap_or_else(|| e.name.clone());
        if e.expr.is_some() && e.column.is_some() {
            diags.push(Diagnostic::new(
                Code::InvalidValue,
                spec.at(&format!("entities.{i}.expr")),
                format!("entity `{}` has both `column` and `expr`; give one", e.name),
            ));
        } else if let (Some(sql), Some(own)) = (&e.expr, own)
            && let Err(err) = parse_expr(sql, own)
        {
            let at = spec.at(&format!("entities.{i}.expr"));
            diags.push(expr_diag(err, at, &format!("entity `{}`", e.name)));
        } else if e.expr.is_none() && !names.contains(&column) {
            let field = if e.column.is_some() { "column" } else { "name" };
            diags.push(names.unknown(&column, spec.at(&format!("entities.{i}.{field}")), "entity column"));
        }
        let entity = Entity {
            kind: e.kind,
            column,
            expr: e.expr.clone(),
        };
        if entities.insert(e.name.clone(), entity).is_some() {
            diags.push(Diagnostic::new(
                Code::DuplicateId,
                spec.at(&format!("entities.{i}.name")),
                format!("entity `{}` is declared twice", e.name),
            ));
        }
    }
    entities
}

/// The schema the product's own expressions are parsed against: its columns and
/// partitions, qualified by the product's id.
fn own_schema(id: &str, partitions: &[(String, DataType)], columns: &IndexMap<String, Column>) -> Option<DFSchema> {
    let probe = Product {
        id: id.to_owned(),
        version: semver::Version::new(0, 0, 0),
        owner: String::new(),
        description: None,
        location: String::new(),
        location_written: String::new(),
        partitions: partitions.to_vec(),
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
    DFSchema::try_from_qualified_schema(id, &declared_schema(&probe)).ok()
}

/// Dimension `i` of the contract; `None` when it repeats an earlier one's name.
fn dimension(
    spec: &Located<ProductSpec>,
    i: usize,
    own: Option<&DFSchema>,
    earlier: &IndexMap<String, Dimension>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Dimension> {
    let d = &spec.value.dimensions[i];
    let at = |f: &str| spec.at(&format!("dimensions.{i}.{f}"));
    check_name(&d.name, "dimension", at("name"), diags);
    if earlier.contains_key(&d.name) {
        diags.push(Diagnostic::new(
            Code::DuplicateId,
            at("name"),
            format!("dimension `{}` is declared twice", d.name),
        ));
        return None;
    }
    let expr = d.expr.clone().unwrap_or_else(|| d.name.clone());
    let mut data_type = None;
    if let Some(own) = own {
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
    Some(Dimension {
        kind: d.kind,
        expr,
        granularity,
        partition: d.partition,
        description: d.description.clone(),
    })
}

/// `time_dimension` and `validity` name time dimensions; a natural key needs `validity`.
fn check_time_settings(spec: &Located<ProductSpec>, time: &TimeDimensions<'_>, diags: &mut Vec<Diagnostic>) {
    let p = &spec.value;
    if let Some(t) = &p.time_dimension {
        time.check(t, spec.at("time_dimension"), diags);
    }
    if let Some(v) = &p.validity {
        time.check(&v.start, spec.at("validity.start"), diags);
        time.check(&v.end, spec.at("validity.end"), diags);
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
}

/// What a measure's fields are checked against.
struct MeasureContext<'a> {
    names: &'a ColumnNames<'a>,
    own: Option<&'a DFSchema>,
    time: &'a TimeDimensions<'a>,
    entities: &'a IndexMap<String, Entity>,
}

/// Measure `i` of the contract; `None` when it repeats an earlier one's name.
fn measure(
    spec: &Located<ProductSpec>,
    i: usize,
    cx: &MeasureContext<'_>,
    earlier: &IndexMap<String, Measure>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Measure> {
    let m = &spec.value.measures[i];
    let at = |f: &str| spec.at(&format!("measures.{i}.{f}"));
    check_name(&m.name, "measure", at("name"), diags);
    if earlier.contains_key(&m.name) {
        diags.push(Diagnostic::new(
            Code::DuplicateId,
            at("name"),
            format!("measure `{}` is declared twice", m.name),
        ));
        return None;
    }
    let expr = measure_expr(m, cx, at("name"), diags);
    if let (Some(e), Some(own)) = (&expr, cx.own) {
        let field = if m.expr.is_some() { "expr" } else { "name" };
        match parse_expr(e, own) {
            Ok(parsed) => {
                if let Ok(t) = parsed.get_type(own) {
                    check_agg_type(m.agg, &t, at(field), &m.name, diags);
                }
            }
            Err(err) => diags.push(expr_diag(err, at(field), &format!("measure `{}`", m.name))),
        }
    }
    let percentile = percentile(m, &at, diags);
    if let Some(t) = &m.time_dimension {
        cx.time.check(t, at("time_dimension"), diags);
    }
    let non_additive = m.non_additive.as_ref().map(|na| {
        cx.time.check(&na.dimension, at("non_additive.dimension"), diags);
        for (k, e) in na.per.iter().enumerate() {
            if !cx.entities.contains_key(e) {
                diags.push(
                    Diagnostic::new(
                        Code::UnknownEntity,
                        at(&format!("non_additive.per.{k}")),
                        format!("`{e}` is not an entity of `{}`", spec.value.product),
                    )
                    .with_hint(did_you_mean(e, cx.entities.keys().map(String::as_str))),
                );
            }
        }
        NonAdditive {
            dimension: na.dimension.clone(),
            window: na.window,
            per: na.per.clone(),
        }
    });
    Some(Measure {
        agg: m.agg,
        expr,
        percentile,
        time_dimension: m.time_dimension.clone(),
        non_additive,
        description: m.description.clone(),
    })
}

/// The expression a measure aggregates: its `expr`, the column of its name, or none for a
/// `count` of rows.
fn measure_expr(m: &MeasureSpec, cx: &MeasureContext<'_>, at: Location, diags: &mut Vec<Diagnostic>) -> Option<String> {
    match (&m.expr, m.agg) {
        (Some(e), _) => Some(e.clone()),
        (None, AggKind::Count) => None,
        (None, _) if cx.names.contains(&m.name) => Some(m.name.clone()),
        (None, agg) => {
            diags.push(
                Diagnostic::new(
                    Code::InvalidAggregation,
                    at,
                    format!("measure `{}` ({agg:?}) needs an `expr`", m.name),
                )
                .with_hint("add `expr:` with a column or expression, or name the measure after a column"),
            );
            None
        }
    }
}

/// The fraction of a percentile measure, which only those have.
fn percentile(m: &MeasureSpec, at: &dyn Fn(&str) -> Location, diags: &mut Vec<Diagnostic>) -> Option<f64> {
    match (m.agg, m.percentile) {
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
    }
}

fn sources(spec: &Located<ProductSpec>, names: &ColumnNames<'_>, diags: &mut Vec<Diagnostic>) -> Vec<Source> {
    let mut sources = Vec::new();
    for (i, s) in spec.value.sources.iter().enumerate() {
        for (col, _) in &s.columns {
            if !names.contains(col) {
                diags.push(names.unknown(
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
    sources
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

/// The type of an entity's key: its column's, or its computed key's (`None` when the
/// expression does not parse; that is reported on the entity itself).
fn key_type(product: &Product, column: &str, expr: Option<&str>) -> Option<DataType> {
    let Some(sql) = expr else {
        return product.columns.get(column).map(|c| c.data_type.clone());
    };
    let own = DFSchema::try_from_qualified_schema(product.id.as_str(), &declared_schema(product)).ok()?;
    parse_expr(sql, &own).ok()?.get_type(&own).ok()
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
                key_type(parent, &join.left_column, join.left_expr.as_deref()),
                key_type(child, &join.right_column, join.right_expr.as_deref()),
            ) else {
                continue;
            };
            let comparable = type_name(&l) == type_name(&r) || (l.is_integer() && r.is_integer());
            if !comparable && member.depth == 1 {
                let index = product.entities.get_index_of(&join.entity).unwrap_or(0);
                diags.push(Diagnostic::new(
                    Code::TypeMismatch,
                    origins.product(id, &format!("entities.{index}")),
                    format!(
                        "entity `{}` is {} in `{id}` but {} in `{}`; the join keys must have one type",
                        join.entity,
                        type_name(&l),
                        type_name(&r),
                        member.product
                    ),
                ));
            }
        }
    }
}
