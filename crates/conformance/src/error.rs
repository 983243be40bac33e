//! Harness errors: problems with the suite, the data or this machine, not with a case.
//! Every one of them ends the run with exit code 2.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("the conformance suite is not at {0} (pass --suite DIR)")]
    SuiteMissing(PathBuf),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Suite { path: PathBuf, message: String },
    #[error("{path}: cannot write Parquet: {message}")]
    Parquet { path: PathBuf, message: String },
    #[error("DataFusion: {0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
}

impl HarnessError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        HarnessError::Io {
            path: path.into(),
            source,
        }
    }

    pub fn suite(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        HarnessError::Suite {
            path: path.into(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = HarnessError> = std::result::Result<T, E>;
