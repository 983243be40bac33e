//! What changed between two versions of a data-product contract, and whom it breaks.
//!
//! [`diff`] compares two raw contracts ([`ProductSpec`]) and classifies every difference as
//! [`Severity::Breaking`] (a consumer may fail or silently compute something else) or
//! [`Severity::Compatible`] (existing consumers keep working). Columns, entities, partitions
//! aside, items are matched by name: reordering columns, entities, dimensions or measures is
//! no change, because Parquet is read by column name. A removed and an added column of the
//! same type at the same position in `columns` are one rename. Pure: no I/O, nothing executed.

mod affected;
mod source;

pub use affected::{ImpactReport, Impacted, impact, impact_of};
pub use source::{ContractSource, read_contract};

use std::collections::HashSet;

use datafusion::arrow::datatypes::DataType;
use indexmap::IndexMap;
use serde::Serialize;

use crate::model::{parse_type, type_name};
use crate::spec::{AggKind, ColumnSpec, EntitySpec, MeasureSpec, NonAdditiveSpec, NonAdditiveWindow, ProductSpec};

/// Whether consumers of the old contract keep working under the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A consumer may fail, or silently compute something else.
    Breaking,
    /// Existing consumers keep working unchanged.
    Compatible,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Breaking => "breaking",
            Severity::Compatible => "compatible",
        }
    }
}

/// What kind of difference a [`Change`] is. Each kind has one [`Severity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    ColumnRemoved,
    /// A removed and an added column with the same type at the same position.
    ColumnRenamed,
    ColumnAdded,
    /// Numeric, and some old values no longer fit exactly.
    TypeNarrowed,
    /// Numeric, and every old value fits exactly.
    TypeWidened,
    /// Any other type change, or a type name that is not known.
    TypeChanged,
    /// Nullable before, not nullable now.
    NullabilityTightened,
    /// Not nullable before, nullable now: consumers may see nulls.
    NullabilityRelaxed,
    /// An entity added or removed, or its type or column changed.
    EntityChanged,
    TenantColumnChanged,
    PartitionsChanged,
    LocationMoved,
    TimeDimensionChanged,
    ValidityChanged,
    DimensionRemoved,
    /// Its type, expression, granularity or partition flag changed.
    DimensionChanged,
    DimensionAdded,
    MeasureRemoved,
    /// Its aggregation, expression, percentile, time dimension or non-additive settings changed.
    MeasureChanged,
    MeasureAdded,
    ProductRenamed,
    /// Description, owner, version, sources, or a column, dimension or measure description.
    Documentation,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::ColumnRemoved => "column_removed",
            ChangeKind::ColumnRenamed => "column_renamed",
            ChangeKind::ColumnAdded => "column_added",
            ChangeKind::TypeNarrowed => "type_narrowed",
            ChangeKind::TypeWidened => "type_widened",
            ChangeKind::TypeChanged => "type_changed",
            ChangeKind::NullabilityTightened => "nullability_tightened",
            ChangeKind::NullabilityRelaxed => "nullability_relaxed",
            ChangeKind::EntityChanged => "entity_changed",
            ChangeKind::TenantColumnChanged => "tenant_column_changed",
            ChangeKind::PartitionsChanged => "partitions_changed",
            ChangeKind::LocationMoved => "location_moved",
            ChangeKind::TimeDimensionChanged => "time_dimension_changed",
            ChangeKind::ValidityChanged => "validity_changed",
            ChangeKind::DimensionRemoved => "dimension_removed",
            ChangeKind::DimensionChanged => "dimension_changed",
            ChangeKind::DimensionAdded => "dimension_added",
            ChangeKind::MeasureRemoved => "measure_removed",
            ChangeKind::MeasureChanged => "measure_changed",
            ChangeKind::MeasureAdded => "measure_added",
            ChangeKind::ProductRenamed => "product_renamed",
            ChangeKind::Documentation => "documentation",
        }
    }

    /// The severity of every change of this kind.
    pub fn severity(self) -> Severity {
        match self {
            ChangeKind::ColumnAdded
            | ChangeKind::TypeWidened
            | ChangeKind::NullabilityRelaxed
            | ChangeKind::DimensionAdded
            | ChangeKind::MeasureAdded
            | ChangeKind::Documentation => Severity::Compatible,
            _ => Severity::Breaking,
        }
    }
}

/// One difference between two versions of a contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub kind: ChangeKind,
    pub severity: Severity,
    /// Contract columns whose consumers this change affects (old names; an added column's
    /// new name), e.g. `["amount"]`; empty when the change is about the product as a whole.
    pub columns: Vec<String>,
    /// Dimensions of the product this change touches (old names): the dimension changed, or
    /// those that are a changed column itself (no `expr`, or an `expr` that is the column's
    /// name). Dimensions that merely use the column in an expression are not listed.
    pub dimensions: Vec<String>,
    /// Measures of the product this change touches, by the same rule as `dimensions`.
    pub measures: Vec<String>,
    /// Whether every consumer of the product is affected.
    pub whole_product: bool,
    /// One line for people, e.g. "column `amount`: type narrowed from float64 to float32".
    pub detail: String,
}

impl Change {
    fn new(kind: ChangeKind, detail: String) -> Change {
        Change {
            kind,
            severity: kind.severity(),
            columns: Vec::new(),
            dimensions: Vec::new(),
            measures: Vec::new(),
            whole_product: false,
            detail,
        }
    }

    fn with_columns<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Change {
        push_unique(&mut self.columns, names);
        self
    }

    fn with_dimensions<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Change {
        push_unique(&mut self.dimensions, names);
        self
    }

    fn with_measures<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Change {
        push_unique(&mut self.measures, names);
        self
    }

    fn whole(mut self) -> Change {
        self.whole_product = true;
        self
    }
}

fn push_unique<'a>(list: &mut Vec<String>, names: impl IntoIterator<Item = &'a str>) {
    for name in names {
        if !list.iter().any(|n| n == name) {
            list.push(name.to_owned());
        }
    }
}

/// Every difference from `old` to `new`: breaking changes first, each group in contract order
/// (product fields, columns, entities, dimensions, measures, time dimension, validity, sources).
pub fn diff(old: &ProductSpec, new: &ProductSpec) -> Vec<Change> {
    let mut out = Vec::new();
    product_fields(old, new, &mut out);
    columns(old, new, &mut out);
    entities(old, new, &mut out);
    dimensions(old, new, &mut out);
    measures(old, new, &mut out);
    time_fields(old, new, &mut out);
    sources(old, new, &mut out);
    out.sort_by_key(|c| c.severity);
    out
}

fn product_fields(old: &ProductSpec, new: &ProductSpec, out: &mut Vec<Change>) {
    if old.product.trim() != new.product.trim() {
        let detail = format!("product `{}` renamed to `{}`", old.product, new.product);
        out.push(Change::new(ChangeKind::ProductRenamed, detail).whole());
    }
    if old.version.trim() != new.version.trim() {
        let detail = format!("version changed from {} to {}", old.version, new.version);
        out.push(Change::new(ChangeKind::Documentation, detail));
    }
    if old.owner.trim() != new.owner.trim() {
        let detail = format!("owner changed from `{}` to `{}`", old.owner, new.owner);
        out.push(Change::new(ChangeKind::Documentation, detail));
    }
    if text(&old.description) != text(&new.description) {
        out.push(Change::new(ChangeKind::Documentation, "description changed".into()));
    }
    if old.location.trim() != new.location.trim() {
        let detail = format!("location moved from `{}` to `{}`", old.location, new.location);
        out.push(Change::new(ChangeKind::LocationMoved, detail).whole());
    }

    let parts = |p: &ProductSpec| -> Vec<(String, String)> {
        p.partitions
            .iter()
            .map(|x| (x.name.trim().to_owned(), type_key(&x.data_type)))
            .collect()
    };
    let (before, after) = (parts(old), parts(new));
    if before != after {
        let mut touched: Vec<&str> = before
            .iter()
            .chain(&after)
            .filter(|x| !before.contains(x) || !after.contains(x))
            .map(|(name, _)| name.as_str())
            .collect();
        if touched.is_empty() {
            // Only the order changed, which changes the folder layout of every partition.
            touched = before.iter().map(|(name, _)| name.as_str()).collect();
        }
        let show = |p: &[(String, String)]| {
            let items: Vec<String> = p.iter().map(|(n, t)| format!("{n}: {t}")).collect();
            format!("[{}]", items.join(", "))
        };
        let detail = format!("partitions changed from {} to {}", show(&before), show(&after));
        out.push(
            Change::new(ChangeKind::PartitionsChanged, detail)
                .with_columns(touched)
                .whole(),
        );
    }

    let (before, after) = (present(&old.tenant_column), present(&new.tenant_column));
    if before != after {
        let detail = match (before, after) {
            (Some(b), None) => format!("tenant column `{b}` dropped: scans are no longer restricted to one tenant"),
            (None, Some(a)) => format!("tenant column `{a}` added: every scan is now restricted to one tenant"),
            _ => format!("tenant column changed from {} to {}", quoted(before), quoted(after)),
        };
        let change = Change::new(ChangeKind::TenantColumnChanged, detail);
        out.push(change.with_columns(before.into_iter().chain(after)).whole());
    }
}

fn columns(old: &ProductSpec, new: &ProductSpec, out: &mut Vec<Change>) {
    let before = by_name(&old.columns, |c| &c.name);
    let after = by_name(&new.columns, |c| &c.name);
    let mut renamed_to: HashSet<&str> = HashSet::new();
    for (&name, &(i, c)) in &before {
        if let Some(&(_, n)) = after.get(name) {
            column_fields(old, c, n, &format!("column `{name}`"), out);
            continue;
        }
        // A rename: the new column at the same position is new, first of its name, same type.
        let partner = new.columns.get(i).filter(|n| {
            let n_name = n.name.trim();
            !before.contains_key(n_name)
                && after.get(n_name).is_some_and(|&(j, _)| j == i)
                && type_shift(&c.data_type, &n.data_type) == Shift::Same
        });
        match partner {
            Some(n) => {
                renamed_to.insert(n.name.trim());
                let detail = format!("column `{name}` renamed to `{}`", n.name);
                out.push(column_change(old, ChangeKind::ColumnRenamed, name, detail));
                column_fields(old, c, n, &format!("column `{name}` (now `{}`)", n.name), out);
            }
            None => {
                let detail = format!("column `{name}` removed");
                out.push(column_change(old, ChangeKind::ColumnRemoved, name, detail));
            }
        }
    }
    for (&name, &(_, n)) in &after {
        if !before.contains_key(name) && !renamed_to.contains(name) {
            let detail = format!("column `{name}` added ({})", n.data_type.trim());
            out.push(Change::new(ChangeKind::ColumnAdded, detail).with_columns([name]));
        }
    }
}

/// Type, nullability and description of a column present in both versions.
fn column_fields(spec: &ProductSpec, c: &ColumnSpec, n: &ColumnSpec, label: &str, out: &mut Vec<Change>) {
    let (from, to) = (c.data_type.trim(), n.data_type.trim());
    let typed = match type_shift(from, to) {
        Shift::Same => None,
        Shift::Widened => Some((
            ChangeKind::TypeWidened,
            format!("{label}: type widened from {from} to {to}"),
        )),
        Shift::Narrowed => Some((
            ChangeKind::TypeNarrowed,
            format!("{label}: type narrowed from {from} to {to}; some values no longer fit exactly"),
        )),
        Shift::Changed => Some((
            ChangeKind::TypeChanged,
            format!("{label}: type changed from {from} to {to}"),
        )),
        Shift::Unknown => {
            let unknown: Vec<String> = [from, to]
                .into_iter()
                .filter(|t| parse_type(t).is_err())
                .map(|t| format!("`{t}`"))
                .collect();
            let detail = format!(
                "{label}: type changed from {from} to {to}; {} is not a known type",
                unknown.join(" and ")
            );
            Some((ChangeKind::TypeChanged, detail))
        }
    };
    if let Some((kind, detail)) = typed {
        out.push(column_change(spec, kind, &c.name, detail));
    }
    if c.nullable && !n.nullable {
        let detail = format!("{label}: nullability tightened (no longer nullable); data holding nulls now breaks it");
        out.push(column_change(spec, ChangeKind::NullabilityTightened, &c.name, detail));
    }
    if !c.nullable && n.nullable {
        let detail = format!("{label}: nullability relaxed (now nullable); consumers may now see nulls");
        out.push(column_change(spec, ChangeKind::NullabilityRelaxed, &c.name, detail));
    }
    if text(&c.description) != text(&n.description) {
        let detail = format!("{label}: description changed");
        out.push(column_change(spec, ChangeKind::Documentation, &c.name, detail));
    }
}

/// A change to `column`, listing the dimensions and measures of `spec` that are that column.
fn column_change(spec: &ProductSpec, kind: ChangeKind, column: &str, detail: String) -> Change {
    let is_column = |name: &str, expr: &Option<String>| match expr {
        None => name == column,
        Some(e) => e.trim() == column,
    };
    let dims = spec
        .dimensions
        .iter()
        .filter(|d| is_column(&d.name, &d.expr))
        .map(|d| d.name.as_str());
    let measures = spec
        .measures
        .iter()
        .filter(|m| !(m.agg == AggKind::Count && m.expr.is_none()) && is_column(&m.name, &m.expr))
        .map(|m| m.name.as_str());
    Change::new(kind, detail)
        .with_columns([column])
        .with_dimensions(dims)
        .with_measures(measures)
}

fn entities(old: &ProductSpec, new: &ProductSpec, out: &mut Vec<Change>) {
    let before = by_name(&old.entities, |e| &e.name);
    let after = by_name(&new.entities, |e| &e.name);
    // The key: a computed one by its expression, else its column.
    let column = |e: &EntitySpec| {
        present(&e.expr)
            .or(present(&e.column))
            .unwrap_or(e.name.trim())
            .to_owned()
    };
    for (&name, &(_, e)) in &before {
        let col = column(e);
        let Some(&(_, n)) = after.get(name) else {
            let detail = format!("entity `{name}` removed (was {} key `{col}`)", e.kind.as_str());
            out.push(Change::new(ChangeKind::EntityChanged, detail).with_columns([col.as_str()]));
            continue;
        };
        let new_col = column(n);
        let mut parts = Vec::new();
        if e.kind != n.kind {
            parts.push(format!("type changed from {} to {}", e.kind.as_str(), n.kind.as_str()));
        }
        if col != new_col {
            parts.push(format!("column changed from `{col}` to `{new_col}`"));
        }
        if !parts.is_empty() {
            let detail = format!("entity `{name}`: {}", parts.join("; "));
            let change = Change::new(ChangeKind::EntityChanged, detail);
            out.push(change.with_columns([col.as_str(), new_col.as_str()]));
        }
    }
    for (&name, &(_, n)) in &after {
        if !before.contains_key(name) {
            let col = column(n);
            let detail = format!("entity `{name}` added ({} key `{col}`)", n.kind.as_str());
            out.push(Change::new(ChangeKind::EntityChanged, detail).with_columns([col.as_str()]));
        }
    }
}

fn dimensions(old: &ProductSpec, new: &ProductSpec, out: &mut Vec<Change>) {
    let before = by_name(&old.dimensions, |d| &d.name);
    let after = by_name(&new.dimensions, |d| &d.name);
    for (&name, &(_, d)) in &before {
        let Some(&(_, n)) = after.get(name) else {
            let detail = format!("dimension `{name}` removed");
            out.push(Change::new(ChangeKind::DimensionRemoved, detail).with_dimensions([name]));
            continue;
        };
        let mut parts = Vec::new();
        if d.kind != n.kind {
            parts.push(format!("type changed from {} to {}", d.kind.as_str(), n.kind.as_str()));
        }
        let (e1, e2) = (name_or(&d.expr, &d.name), name_or(&n.expr, &n.name));
        if e1 != e2 {
            parts.push(format!("expr changed from `{e1}` to `{e2}`"));
        }
        let granularity = |g: &Option<String>| present(g).map(str::to_ascii_lowercase);
        let (g1, g2) = (granularity(&d.granularity), granularity(&n.granularity));
        if g1 != g2 {
            let (g1, g2) = (g1.as_deref().unwrap_or("none"), g2.as_deref().unwrap_or("none"));
            parts.push(format!("granularity changed from {g1} to {g2}"));
        }
        if d.partition != n.partition {
            parts.push(format!("partition changed from {} to {}", d.partition, n.partition));
        }
        if !parts.is_empty() {
            let detail = format!("dimension `{name}`: {}", parts.join("; "));
            out.push(Change::new(ChangeKind::DimensionChanged, detail).with_dimensions([name]));
        }
        if text(&d.description) != text(&n.description) {
            let detail = format!("dimension `{name}`: description changed");
            out.push(Change::new(ChangeKind::Documentation, detail).with_dimensions([name]));
        }
    }
    for &name in after.keys() {
        if !before.contains_key(name) {
            let detail = format!("dimension `{name}` added");
            out.push(Change::new(ChangeKind::DimensionAdded, detail).with_dimensions([name]));
        }
    }
}

fn measures(old: &ProductSpec, new: &ProductSpec, out: &mut Vec<Change>) {
    let before = by_name(&old.measures, |m| &m.name);
    let after = by_name(&new.measures, |m| &m.name);
    for (&name, &(_, m)) in &before {
        let Some(&(_, n)) = after.get(name) else {
            let detail = format!("measure `{name}` removed");
            out.push(Change::new(ChangeKind::MeasureRemoved, detail).with_measures([name]));
            continue;
        };
        let parts = measure_parts(old, new, m, n);
        if !parts.is_empty() {
            let detail = format!("measure `{name}`: {}", parts.join("; "));
            out.push(Change::new(ChangeKind::MeasureChanged, detail).with_measures([name]));
        }
        if text(&m.description) != text(&n.description) {
            let detail = format!("measure `{name}`: description changed");
            out.push(Change::new(ChangeKind::Documentation, detail).with_measures([name]));
        }
    }
    for &name in after.keys() {
        if !before.contains_key(name) {
            let detail = format!("measure `{name}` added");
            out.push(Change::new(ChangeKind::MeasureAdded, detail).with_measures([name]));
        }
    }
}

/// What changed in a measure present in both versions, one phrase each.
fn measure_parts(old: &ProductSpec, new: &ProductSpec, m: &MeasureSpec, n: &MeasureSpec) -> Vec<String> {
    let mut parts = Vec::new();
    if m.agg != n.agg {
        parts.push(format!("agg changed from {} to {}", m.agg.as_str(), n.agg.as_str()));
    }
    // `count` without `expr` counts rows; any other measure without `expr` reads its column.
    let expr = |x: &MeasureSpec| match (x.agg, present(&x.expr)) {
        (AggKind::Count, None) => "rows (no expr)".to_owned(),
        (_, e) => format!("`{}`", e.unwrap_or(x.name.trim())),
    };
    let (e1, e2) = (expr(m), expr(n));
    if e1 != e2 {
        parts.push(format!("expr changed from {e1} to {e2}"));
    }
    if m.percentile.map(f64::to_bits) != n.percentile.map(f64::to_bits) {
        let show = |p: Option<f64>| p.map_or_else(|| "none".to_owned(), |p| p.to_string());
        parts.push(format!(
            "percentile changed from {} to {}",
            show(m.percentile),
            show(n.percentile)
        ));
    }
    // Both inheriting the product's time dimension: a change there is reported once, for the
    // product. Otherwise compare what each aggregates over.
    let (t1, t2) = (present(&m.time_dimension), present(&n.time_dimension));
    if t1 != t2 {
        let (t1, t2) = (t1.or(present(&old.time_dimension)), t2.or(present(&new.time_dimension)));
        if t1 != t2 {
            parts.push(format!("time dimension changed from {} to {}", quoted(t1), quoted(t2)));
        }
    }
    let (a1, a2) = (non_additive(&m.non_additive), non_additive(&n.non_additive));
    if a1 != a2 {
        parts.push(format!("non_additive changed from {a1} to {a2}"));
    }
    parts
}

fn time_fields(old: &ProductSpec, new: &ProductSpec, out: &mut Vec<Change>) {
    let (before, after) = (present(&old.time_dimension), present(&new.time_dimension));
    if before != after {
        let detail = format!(
            "time dimension changed from {} to {}: measures without their own now aggregate over it",
            quoted(before),
            quoted(after)
        );
        let change = Change::new(ChangeKind::TimeDimensionChanged, detail);
        out.push(change.with_dimensions(before.into_iter().chain(after)).whole());
    }
    let bounds = |p: &ProductSpec| {
        p.validity
            .as_ref()
            .map(|v| (v.start.trim().to_owned(), v.end.trim().to_owned()))
    };
    let (before, after) = (bounds(old), bounds(new));
    if before != after {
        let show = |b: &Option<(String, String)>| match b {
            Some((s, e)) => format!("from `{s}` until `{e}`"),
            None => "none".to_owned(),
        };
        let detail = format!("validity changed from {} to {}", show(&before), show(&after));
        let names = [&before, &after]
            .into_iter()
            .flatten()
            .flat_map(|(s, e)| [s.as_str(), e.as_str()]);
        out.push(
            Change::new(ChangeKind::ValidityChanged, detail)
                .with_dimensions(names)
                .whole(),
        );
    }
}

fn sources(old: &ProductSpec, new: &ProductSpec, out: &mut Vec<Change>) {
    let before = by_name(&old.sources, |s| &s.name);
    let after = by_name(&new.sources, |s| &s.name);
    for (&name, &(_, s)) in &before {
        let detail = match after.get(name) {
            None => format!("source `{name}` removed"),
            Some(&(_, n)) if s.columns != n.columns || text(&s.description) != text(&n.description) => {
                format!("source `{name}` changed")
            }
            Some(_) => continue,
        };
        out.push(Change::new(ChangeKind::Documentation, detail));
    }
    for &name in after.keys() {
        if !before.contains_key(name) {
            out.push(Change::new(ChangeKind::Documentation, format!("source `{name}` added")));
        }
    }
}

/// Items by trimmed name with their position; the first of a duplicated name wins.
fn by_name<'a, T>(items: &'a [T], name: impl Fn(&'a T) -> &'a str) -> IndexMap<&'a str, (usize, &'a T)> {
    let mut map = IndexMap::new();
    for (i, item) in items.iter().enumerate() {
        map.entry(name(item).trim()).or_insert((i, item));
    }
    map
}

/// An optional name, trimmed; blank counts as absent.
fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// An optional text, trimmed; blank counts as absent.
fn text(value: &Option<String>) -> Option<&str> {
    present(value)
}

/// An optional expression, defaulting to `default` (the item's own name: its column).
fn name_or<'a>(value: &'a Option<String>, default: &'a str) -> &'a str {
    present(value).unwrap_or(default.trim())
}

fn quoted(name: Option<&str>) -> String {
    name.map_or_else(|| "none".to_owned(), |n| format!("`{n}`"))
}

fn non_additive(spec: &Option<NonAdditiveSpec>) -> String {
    match spec {
        None => "none".to_owned(),
        Some(s) => {
            let window = match s.window {
                NonAdditiveWindow::Last => "last",
                NonAdditiveWindow::First => "first",
            };
            let per: Vec<&str> = s.per.iter().map(|p| p.trim()).collect();
            format!("{window} `{}` per [{}]", s.dimension.trim(), per.join(", "))
        }
    }
}

/// A type name as compared: its canonical name when known, else the lower-cased text.
fn type_key(name: &str) -> String {
    match parse_type(name) {
        Ok(t) => type_name(&t),
        Err(_) => name.trim().to_ascii_lowercase(),
    }
}

/// How a declared column type moved between two versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shift {
    /// The same type, however spelled (`float64` and `double`).
    Same,
    /// Both numeric, and every value of the old type is exactly a value of the new one.
    Widened,
    /// Both numeric, and some old values do not fit exactly.
    Narrowed,
    /// Any other change (`int64` → `string`, `date` → `timestamp`, `bool` → `int8`).
    Changed,
    /// The names differ and at least one is not a known type.
    Unknown,
}

fn type_shift(old: &str, new: &str) -> Shift {
    match (parse_type(old), parse_type(new)) {
        (Ok(a), Ok(b)) => shift(&a, &b),
        _ if old.trim().eq_ignore_ascii_case(new.trim()) => Shift::Same,
        _ => Shift::Unknown,
    }
}

fn shift(old: &DataType, new: &DataType) -> Shift {
    if old == new {
        return Shift::Same;
    }
    match (Numeric::of(old), Numeric::of(new)) {
        (Some(a), Some(b)) if a.fits_in(b) => Shift::Widened,
        (Some(_), Some(_)) => Shift::Narrowed,
        _ => Shift::Changed,
    }
}

/// The value set of a numeric contract type.
#[derive(Debug, Clone, Copy)]
enum Numeric {
    Int {
        signed: bool,
        bits: u32,
    },
    /// Significand bits, the implicit one included: integers up to 2^mantissa are exact.
    Float {
        mantissa: u32,
    },
    Decimal {
        precision: u32,
        scale: u32,
    },
}

impl Numeric {
    fn of(t: &DataType) -> Option<Numeric> {
        let int = |signed, bits| Some(Numeric::Int { signed, bits });
        match t {
            DataType::Int8 => int(true, 8),
            DataType::Int16 => int(true, 16),
            DataType::Int32 => int(true, 32),
            DataType::Int64 => int(true, 64),
            DataType::UInt8 => int(false, 8),
            DataType::UInt16 => int(false, 16),
            DataType::UInt32 => int(false, 32),
            DataType::UInt64 => int(false, 64),
            DataType::Float32 => Some(Numeric::Float { mantissa: 24 }),
            DataType::Float64 => Some(Numeric::Float { mantissa: 53 }),
            DataType::Decimal128(p, s) => Some(Numeric::Decimal {
                precision: u32::from(*p),
                scale: u32::try_from(*s).ok()?,
            }),
            _ => None,
        }
    }

    /// Whether every value of `self` is exactly a value of `wider`.
    fn fits_in(self, wider: Numeric) -> bool {
        use Numeric::{Decimal, Float, Int};
        match (self, wider) {
            // Signed never fits unsigned (negatives); otherwise more bits.
            (Int { signed: s1, bits: b1 }, Int { signed: s2, bits: b2 }) => b2 > b1 && (s2 || !s1),
            (Int { .. }, Float { mantissa }) => self.int_magnitude() <= 1 << mantissa,
            (Int { .. }, Decimal { precision, scale }) => self.int_magnitude() < pow10(precision.saturating_sub(scale)),
            (Float { mantissa: m1 }, Float { mantissa: m2 }) => m2 > m1,
            // NaN, infinities and binary fractions fit no integer or decimal.
            (Float { .. }, _) => false,
            (Decimal { precision, scale }, Int { signed, bits }) => {
                scale == 0 && signed && pow10(precision) - 1 < 1 << (bits - 1)
            }
            // With a scale, 0.1 has no exact binary value.
            (Decimal { precision, scale }, Float { mantissa }) => scale == 0 && pow10(precision) - 1 <= 1 << mantissa,
            (
                Decimal {
                    precision: p1,
                    scale: s1,
                },
                Decimal {
                    precision: p2,
                    scale: s2,
                },
            ) => p2.saturating_sub(s2) >= p1.saturating_sub(s1) && s2 >= s1,
        }
    }

    /// The largest magnitude of an integer type (of its minimum, when signed).
    fn int_magnitude(self) -> u128 {
        match self {
            Numeric::Int { signed: true, bits } => 1 << (bits - 1),
            Numeric::Int { signed: false, bits } => (1 << bits) - 1,
            _ => 0,
        }
    }
}

fn pow10(exp: u32) -> u128 {
    10u128.pow(exp)
}

#[cfg(test)]
mod tests;
