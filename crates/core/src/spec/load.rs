//! Reading YAML into the raw mirror while keeping where every value came from.

use std::collections::HashMap;
use std::sync::Arc;

use marked_yaml::{LoadError, LoaderOptions, Node};
use serde::de::DeserializeOwned;

use crate::diagnostic::{Code, Diagnostic, Location};

/// A spec file as read: its path as shown to users, and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path relative to the project folder, with `/` separators.
    pub display: String,
    pub text: String,
}

/// The 1-based line and column of every value in a file, by path (`kpis.2.measure`).
#[derive(Debug, Default)]
pub struct SpanIndex {
    file: String,
    spans: HashMap<String, (usize, usize)>,
}

impl SpanIndex {
    /// An index for a spec that has no text of its own (made by an importer): every
    /// location is line 1, column 1 of `file`.
    pub fn detached(file: &str) -> Self {
        SpanIndex {
            file: file.to_owned(),
            spans: HashMap::new(),
        }
    }

    fn build(file: &str, root: &Node) -> Self {
        let mut index = SpanIndex {
            file: file.to_owned(),
            spans: HashMap::new(),
        };
        index.walk(String::new(), root);
        index
    }

    fn walk(&mut self, path: String, node: &Node) {
        if let Some(m) = node.span().start() {
            self.spans.entry(path.clone()).or_insert((m.line(), m.column()));
        }
        let join = |key: &str| {
            if path.is_empty() {
                key.to_owned()
            } else {
                format!("{path}.{key}")
            }
        };
        match node {
            Node::Mapping(map) => {
                for (key, value) in map.iter() {
                    let child = join(key.as_str());
                    // A key's own position, for "unknown key" and as a fallback for values.
                    if let Some(m) = key.span().start() {
                        self.spans.insert(format!("{child}#key"), (m.line(), m.column()));
                    }
                    self.walk(child, value);
                }
            }
            Node::Sequence(seq) => {
                for (i, value) in seq.iter().enumerate() {
                    self.walk(join(&i.to_string()), value);
                }
            }
            Node::Scalar(_) => {}
        }
    }

    /// The location of the value at `path`, or of the nearest enclosing value that has one.
    pub fn locate(&self, path: &str) -> Location {
        let mut p = path;
        loop {
            if let Some(&(line, column)) = self.spans.get(p) {
                return self.at(line, column);
            }
            if let Some(&(line, column)) = self.spans.get(&format!("{p}#key")) {
                return self.at(line, column);
            }
            match p.rfind('.') {
                Some(i) => p = &p[..i],
                None if !p.is_empty() => p = "",
                None => return self.at(1, 1),
            }
        }
    }

    /// The location of the key at `path` (falls back to its value).
    pub fn locate_key(&self, path: &str) -> Location {
        match self.spans.get(&format!("{path}#key")) {
            Some(&(line, column)) => self.at(line, column),
            None => self.locate(path),
        }
    }

    fn at(&self, line: usize, column: usize) -> Location {
        Location {
            file: self.file.clone(),
            line,
            column,
        }
    }

    pub fn file(&self) -> &str {
        &self.file
    }
}

/// A deserialized spec with the spans of the file it came from.
#[derive(Debug, Clone)]
pub struct Located<T> {
    pub value: T,
    pub spans: Arc<SpanIndex>,
    /// Path of `value` inside the file (`""` for the whole document, `kpis.3` for one KPI).
    pub path: String,
}

impl<T> Located<T> {
    /// A spec made in memory, reported as coming from `file`.
    pub fn detached(value: T, file: &str) -> Located<T> {
        Located {
            value,
            spans: Arc::new(SpanIndex::detached(file)),
            path: String::new(),
        }
    }

    /// The location of a field of this value, e.g. `at("measure")`.
    pub fn at(&self, field: &str) -> Location {
        self.spans.locate(&self.child(field))
    }

    /// The path of a field of this value, for nested lookups.
    pub fn child(&self, field: &str) -> String {
        match (self.path.is_empty(), field.is_empty()) {
            (_, true) => self.path.clone(),
            (true, false) => field.to_owned(),
            (false, false) => format!("{}.{field}", self.path),
        }
    }

    /// This value's own location.
    pub fn here(&self) -> Location {
        self.spans.locate(&self.path)
    }

    pub fn map<U>(&self, path: String, value: U) -> Located<U> {
        Located {
            value,
            spans: Arc::clone(&self.spans),
            path,
        }
    }
}

/// Parse one YAML document into `T`, or explain precisely why not.
pub fn load_yaml<T: DeserializeOwned>(file: &SourceFile) -> Result<Located<T>, Diagnostic> {
    // The YAML reader reads the first document only: a second one would be ignored
    // without a word.
    if let Some(line) = second_document(&file.text) {
        return Err(Diagnostic::new(
            Code::InvalidValue,
            Location {
                file: file.display.clone(),
                line,
                column: 1,
            },
            "a second YAML document starts here; a spec file holds one document",
        )
        .with_hint("move each document into a file of its own"));
    }
    let options = LoaderOptions::default().error_on_duplicate_keys(true);
    let node =
        marked_yaml::parse_yaml_with_options(0, &file.text, options).map_err(|e| load_error(&file.display, e))?;
    let spans = Arc::new(SpanIndex::build(&file.display, &node));
    match marked_yaml::from_node::<T>(&node) {
        Ok(value) => Ok(Located {
            value,
            spans,
            path: String::new(),
        }),
        Err(err) => {
            let path = err.path().map(str::to_owned);
            let inner = err.into_inner();
            let message = inner.to_string();
            let (code, message) = classify(&message);
            let location = match (inner.start_mark(), &path) {
                (Some(m), _) => Location {
                    file: file.display.clone(),
                    line: m.line(),
                    column: m.column(),
                },
                (None, Some(p)) => spans.locate(p),
                (None, None) => spans.locate(""),
            };
            let hint = match code {
                Code::UnknownKey => Some("remove the key or check its spelling"),
                Code::MissingKey => Some("add the key; see docs/spec.md"),
                _ => None,
            };
            let mut d = Diagnostic::new(code, location, message);
            if let Some(h) = hint {
                d = d.with_hint(h);
            }
            Err(d)
        }
    }
}

/// The line (1-based) where a second document starts: a `---` marker in the first column
/// after content, or content after a `...` end marker.
fn second_document(text: &str) -> Option<usize> {
    let marker = |l: &str, m: &str| {
        l.strip_prefix(m)
            .is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t']))
    };
    let (mut content, mut ended) = (false, false);
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_end();
        if marker(trimmed, "---") {
            if content {
                return Some(i + 1);
            }
            continue;
        }
        if marker(trimmed, "...") {
            ended = content;
            continue;
        }
        let blank = trimmed.trim_start().is_empty() || trimmed.trim_start().starts_with('#');
        if !blank {
            if ended {
                return Some(i + 1);
            }
            content = true;
        }
    }
    None
}

fn classify(message: &str) -> (Code, String) {
    let lower = message.to_ascii_lowercase();
    if lower.starts_with("unknown field") {
        (Code::UnknownKey, message.to_owned())
    } else if lower.starts_with("missing field") {
        (Code::MissingKey, message.to_owned())
    } else {
        (Code::InvalidValue, message.to_owned())
    }
}

fn load_error(file: &str, err: LoadError) -> Diagnostic {
    let (mark, message) = match &err {
        LoadError::TopLevelMustBeMapping(m) => (*m, "the file must be a YAML mapping".to_owned()),
        LoadError::TopLevelMustBeSequence(m) => (*m, "the file must be a YAML list".to_owned()),
        LoadError::UnexpectedAnchor(m) => (*m, "YAML anchors and aliases are not supported".to_owned()),
        LoadError::MappingKeyMustBeScalar(m) => (*m, "mapping keys must be plain strings".to_owned()),
        LoadError::UnexpectedTag(m) => (*m, "YAML tags are not supported".to_owned()),
        LoadError::ScanError(m, e) => (*m, format!("invalid YAML: {}", e.info())),
        LoadError::DuplicateKey(inner) => {
            let first = inner
                .prev_key
                .span()
                .start()
                .map(|m| format!(" (first at line {})", m.line()))
                .unwrap_or_default();
            let m = inner
                .key
                .span()
                .start()
                .copied()
                .unwrap_or_else(|| marked_yaml::Marker::new(0, 0, 1, 1));
            (m, format!("duplicate key `{}`{first}", inner.key.as_str()))
        }
    };
    Diagnostic::new(
        Code::YamlSyntax,
        Location {
            file: file.to_owned(),
            line: mark.line().max(1),
            column: mark.column().max(1),
        },
        message,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::spec::KpiFile;

    fn file(text: &str) -> SourceFile {
        SourceFile {
            display: "kpis/a.yaml".into(),
            text: text.into(),
        }
    }

    #[test]
    fn unknown_key_points_at_the_key() {
        let err = load_yaml::<KpiFile>(&file(
            "kpis:\n  - id: a\n    version: 1.0.0\n    type: simple\n    mesure: x.y\n",
        ))
        .unwrap_err();
        assert_eq!(err.code, Code::UnknownKey);
        assert_eq!(err.location.to_string(), "kpis/a.yaml:5:5");
        assert!(err.message.contains("`mesure`"), "{}", err.message);
    }

    #[test]
    fn spans_locate_nested_values() {
        let loaded = load_yaml::<KpiFile>(&file(
            "kpis:\n  - id: a\n    version: 1.0.0\n    type: simple\n    measure: x.y\n",
        ))
        .unwrap();
        assert_eq!(loaded.spans.locate("kpis.0.measure").to_string(), "kpis/a.yaml:5:14");
        assert_eq!(loaded.spans.locate("kpis.0.nope").line, 2);
    }

    #[test]
    fn syntax_error_has_a_location() {
        let err = load_yaml::<KpiFile>(&file("kpis:\n  - id: [a\n")).unwrap_err();
        assert_eq!(err.code, Code::YamlSyntax);
        assert_eq!(err.location.file, "kpis/a.yaml");
        assert!(err.location.line >= 2, "{}", err.location);
    }
}
