//! The one error type of `canary-core`.

use datafusion::error::DataFusionError;

use crate::diagnostic::Diagnostic;

/// Everything that can go wrong, split by who can fix it.
#[derive(Debug, thiserror::Error)]
pub enum CanaryError {
    /// The specs (or the data they describe) have problems; every one is listed.
    #[error("the project has {} problem{}", .0.len(), if .0.len() == 1 { "" } else { "s" })]
    Spec(Vec<Diagnostic>),

    /// The query asks for something the project cannot answer.
    #[error("{message}")]
    Query { message: String, hint: Option<String> },

    /// The data could not be read or processed; `source` is the error that said so, when
    /// there was one.
    #[error("data error: {message}")]
    Data {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// A bug in Canary.
    #[error("internal error (this is a bug, please report it): {0}")]
    Internal(String),
}

pub type Result<T, E = CanaryError> = std::result::Result<T, E>;

/// An error and its causes, `: `-separated, each cause once (also when a message already
/// quotes it): what both front doors show, so that "operation timed out" under
/// "error sending request" is never lost.
///
/// ```
/// let e = canary_core::CanaryError::Io {
///     path: "HEAD".into(),
///     source: std::io::Error::other("disk full"),
/// };
/// assert_eq!(canary_core::error::with_causes(&e), "HEAD: disk full");
/// ```
pub fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let cause = s.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
        source = s.source();
    }
    text
}

impl CanaryError {
    pub fn query(message: impl Into<String>) -> Self {
        CanaryError::Query {
            message: message.into(),
            hint: None,
        }
    }

    pub fn query_hint(message: impl Into<String>, hint: impl Into<String>) -> Self {
        CanaryError::Query {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// A data error without an underlying error.
    pub fn data(message: impl Into<String>) -> Self {
        CanaryError::Data {
            message: message.into(),
            source: None,
        }
    }

    /// A data error caused by `source`.
    pub fn data_caused(message: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        CanaryError::Data {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        CanaryError::Internal(message.into())
    }

    /// An error from DataFusion while planning a validated query is a bug.
    pub fn plan(err: DataFusionError) -> Self {
        CanaryError::Internal(format!("planning failed: {err}"))
    }

    /// An error from DataFusion while optimizing or physically planning a query. The
    /// optimizer evaluates constant expressions, so a literal that cannot be evaluated (a
    /// string cast to a number, an invalid regular expression, an overflow) fails here: a
    /// mistake in the query or a KPI's filter, not a bug. Anything else is a bug.
    pub fn optimize(err: DataFusionError) -> Self {
        match err.find_root() {
            DataFusionError::ArrowError(..) | DataFusionError::External(_) | DataFusionError::Execution(_) => {
                let root = err.find_root().to_string();
                CanaryError::query_hint(
                    format!("an expression cannot be evaluated: {root}"),
                    "check the literals of --where and of the KPIs' filters",
                )
            }
            _ => CanaryError::plan(err),
        }
    }

    /// An error from DataFusion while running a plan: reading data, memory, or a bug.
    pub fn execution(err: DataFusionError) -> Self {
        let message = match err.find_root() {
            DataFusionError::ResourcesExhausted(m) => format!("out of memory: {m}; raise `settings.memory_limit`"),
            DataFusionError::IoError(e) => e.to_string(),
            DataFusionError::ObjectStore(e) => e.to_string(),
            DataFusionError::ParquetError(e) => e.to_string(),
            DataFusionError::ArrowError(e, _) => e.to_string(),
            DataFusionError::Execution(m) => m.clone(),
            // A regular expression that parses but is too big for the regex engine is
            // reported by DataFusion as an internal error; it is the user's pattern.
            other
                if [
                    "Regular expression did not compile",
                    "Compiled regex exceeds size limit",
                ]
                .iter()
                .any(|m| other.to_string().contains(m)) =>
            {
                return CanaryError::query_hint(
                    format!("a regular expression cannot be used: {other}"),
                    "simplify the pattern (counted repetitions such as `a{1000000}` compile too big)",
                );
            }
            // A task of the plan panicked: DataFusion reports it as an error. The readers
            // it runs panic on some corrupt files (a data page's run-length integer too
            // long), so this is most often the data.
            other if other.to_string().contains("panicked with message") => {
                let text = other.to_string();
                let why = text
                    .split_once("panicked with message \"")
                    .and_then(|(_, rest)| rest.split_once('"'))
                    .map_or(text.as_str(), |(why, _)| why);
                return CanaryError::data(format!(
                    "a data file cannot be decoded (most likely corrupt; the reader stopped on: {why})"
                ));
            }
            other => return CanaryError::Internal(other.to_string()),
        };
        CanaryError::data_caused(message, err)
    }
}
