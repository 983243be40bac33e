//! Diagnostics: what is wrong with a project, where, and how to fix it.

use std::fmt;

use serde::Serialize;

/// A stable code per class of problem, so tools and tests can match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    /// The file is not valid YAML.
    YamlSyntax,
    /// A key the format does not know.
    UnknownKey,
    /// A required key is missing.
    MissingKey,
    /// A value of the wrong shape or type.
    InvalidValue,
    /// No file matched, or a file could not be read.
    FileNotFound,
    /// Two definitions share an id.
    DuplicateId,
    /// A name does not follow `[a-z][a-z0-9_]*`.
    InvalidName,
    /// A version is not `MAJOR.MINOR.PATCH`.
    InvalidVersion,
    /// A reference to a product that does not exist.
    UnknownProduct,
    /// A reference to a measure that does not exist.
    UnknownMeasure,
    /// A reference to a KPI that does not exist.
    UnknownKpi,
    /// A reference to a dimension that does not exist or cannot be reached.
    UnknownDimension,
    /// A reference to a column that is not in the contract.
    UnknownColumn,
    /// A reference to an entity that does not exist.
    UnknownEntity,
    /// Derived KPIs that depend on each other in a loop.
    Cycle,
    /// A granularity that is unknown or finer than the data allows.
    InvalidGrain,
    /// An expression that does not parse or type-check.
    InvalidExpression,
    /// An expression that uses something not allowed (subqueries, unknown functions, …).
    DisallowedExpression,
    /// A join that would repeat rows of a measure.
    FanOutJoin,
    /// A field that does not belong to the KPI's type, or a missing one that does.
    KpiShape,
    /// An aggregation option that is missing or out of range.
    InvalidAggregation,
    /// A contract column whose type differs from the data.
    TypeMismatch,
    /// A contract column the data does not have.
    MissingColumn,
    /// No data at a product's location.
    MissingData,
    /// A data file that does not fit the contract's layout: outside the partition folders,
    /// or with two columns of one name.
    DataLayout,
    /// A type name the contract format does not know.
    UnknownType,
    /// A window or offset that does not parse.
    InvalidDuration,
    /// Thresholds that contradict the KPI's direction.
    InvalidThresholds,
    /// A time dimension is needed but missing.
    MissingTimeDimension,
    /// Two dimensions reachable by different paths share a name.
    AmbiguousReference,
}

impl Code {
    /// The short code shown to users, e.g. `C0301`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::YamlSyntax => "C0101",
            Code::UnknownKey => "C0102",
            Code::MissingKey => "C0103",
            Code::InvalidValue => "C0104",
            Code::FileNotFound => "C0105",
            Code::DuplicateId => "C0201",
            Code::InvalidName => "C0202",
            Code::InvalidVersion => "C0203",
            Code::UnknownProduct => "C0301",
            Code::UnknownMeasure => "C0302",
            Code::UnknownKpi => "C0303",
            Code::UnknownDimension => "C0304",
            Code::UnknownColumn => "C0305",
            Code::UnknownEntity => "C0306",
            Code::AmbiguousReference => "C0307",
            Code::Cycle => "C0401",
            Code::InvalidGrain => "C0402",
            Code::KpiShape => "C0403",
            Code::InvalidAggregation => "C0404",
            Code::InvalidDuration => "C0405",
            Code::InvalidThresholds => "C0406",
            Code::MissingTimeDimension => "C0407",
            Code::InvalidExpression => "C0501",
            Code::DisallowedExpression => "C0502",
            Code::FanOutJoin => "C0601",
            Code::UnknownType => "C0701",
            Code::TypeMismatch => "C0702",
            Code::MissingColumn => "C0703",
            Code::MissingData => "C0704",
            Code::DataLayout => "C0705",
        }
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a diagnostic points: a file and a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One problem found in a project.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub code: Code,
    pub location: Location,
    pub message: String,
    /// How to fix it; lists the valid names when a name is unknown.
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(code: Code, location: Location, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            location,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// How a front door highlights the parts of a message (colors in a terminal). The words
/// are the core's; a front door only decorates them. Every method returns its text
/// unchanged by default.
pub trait Highlight {
    /// A location (`file:line:column`).
    fn location(&self, s: &str) -> String {
        s.to_owned()
    }
    /// The severity word (`error`).
    fn error(&self, s: &str) -> String {
        s.to_owned()
    }
    /// The word `hint`.
    fn hint(&self, s: &str) -> String {
        s.to_owned()
    }
}

/// No highlighting.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plain;

impl Highlight for Plain {}

impl Diagnostic {
    /// The diagnostic as text (`file:line:column: error[code]: message`, then the hint on
    /// its own line), highlighted by `h`; message and hint made [`printable`].
    pub fn render(&self, h: &dyn Highlight) -> String {
        let mut s = format!(
            "{}: {}[{}]: {}",
            h.location(&printable(&self.location.to_string())),
            h.error("error"),
            self.code,
            printable(&self.message)
        );
        if let Some(hint) = &self.hint {
            s.push_str(&format!("\n  {}: {}", h.hint("hint"), printable(hint)));
        }
        s
    }
}

/// `message` safe to print on a terminal: control characters (terminal escape sequences
/// among them) written as `\u{1b}`, and a line break inside a `` `quoted` `` value (a
/// name the user gave) written as `\n`, so input can neither drive the terminal nor forge
/// a line of output. The line breaks of the message itself stay.
///
/// ```
/// use canary_core::diagnostic::printable;
/// assert_eq!(printable("unknown KPI `a\nok: 7 products`"), "unknown KPI `a\\nok: 7 products`");
/// assert_eq!(printable("tenant `\u{1b}[2Jx`\n  hint"), "tenant `\\u{1b}[2Jx`\n  hint");
/// ```
pub fn printable(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    for c in message.chars() {
        match c {
            '`' => {
                quoted = !quoted;
                out.push(c);
            }
            '\n' if quoted => out.push_str("\\n"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out
}

/// Every diagnostic on its own lines, then `N problem(s) found`.
///
/// ```
/// use canary_core::diagnostic::{Code, Diagnostic, Location, Plain, render_all};
/// let at = Location { file: "kpis/a.yaml".into(), line: 3, column: 1 };
/// let d = Diagnostic::new(Code::UnknownKey, at, "unknown key `nmae`")
///     .with_hint("did you mean `name`?");
/// assert_eq!(
///     render_all(&[d], &Plain),
///     "kpis/a.yaml:3:1: error[C0102]: unknown key `nmae`\n  hint: did you mean `name`?\n1 problem found\n"
/// );
/// ```
pub fn render_all(diags: &[Diagnostic], h: &dyn Highlight) -> String {
    let mut s = String::new();
    for d in diags {
        s.push_str(&d.render(h));
        s.push('\n');
    }
    let n = diags.len();
    s.push_str(&format!("{n} problem{} found\n", if n == 1 { "" } else { "s" }));
    s
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(&Plain))
    }
}

/// A hint naming the valid choices for an unknown name, closest first.
pub fn did_you_mean<'a>(unknown: &str, valid: impl IntoIterator<Item = &'a str>) -> String {
    let mut names: Vec<&str> = valid.into_iter().collect();
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        return "there are none defined".to_owned();
    }
    let close = names
        .iter()
        .filter(|n| edit_distance(unknown, n) <= 2.max(unknown.len() / 3))
        .min_by_key(|n| edit_distance(unknown, n));
    // A long list is cut to the names closest to the unknown one.
    let list = if names.len() > MAX_LISTED {
        let mut closest = names.clone();
        closest.sort_by_key(|n| (edit_distance(unknown, n), *n));
        closest.truncate(MAX_LISTED);
        closest.sort_unstable();
        format!("{} (the {MAX_LISTED} closest of {})", closest.join(", "), names.len())
    } else {
        names.join(", ")
    };
    match close {
        Some(c) => format!("did you mean `{c}`? valid names: {list}"),
        None => format!("valid names: {list}"),
    }
}

/// Names a hint lists at most.
const MAX_LISTED: usize = 20;

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_suggests_the_closest_name() {
        assert_eq!(
            did_you_mean("revenu", ["orders", "revenue", "margin"]),
            "did you mean `revenue`? valid names: margin, orders, revenue"
        );
        assert_eq!(did_you_mean("zzz", ["a_long_name"]), "valid names: a_long_name");
        assert_eq!(did_you_mean("x", []), "there are none defined");
        let many: Vec<String> = (0..50).map(|i| format!("metric_{i:02}")).collect();
        let hint = did_you_mean("metric_7", many.iter().map(String::as_str));
        assert!(hint.starts_with("did you mean `metric_07`? valid names: "), "{hint}");
        assert!(hint.ends_with("(the 20 closest of 50)"), "{hint}");
        assert_eq!(hint.matches("metric_").count(), 21, "{hint}");
    }
}
