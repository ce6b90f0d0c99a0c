//! One error type for the insurance side, classified by who must act.

use std::path::{Path, PathBuf};

/// What went wrong, and so who must act.
#[derive(Debug, thiserror::Error)]
pub enum ClaimsError {
    /// The operator must fix the coverage file or a trigger's entry in it.
    #[error("coverage: {0}")]
    Config(String),
    /// The analyst must fix a trigger's SQL: it does not run, or returns the wrong columns.
    #[error("index trigger {code}: {message}")]
    Trigger { code: String, message: String },
    /// The claims ledger does not verify: someone or something changed it after it was written.
    #[error("claims ledger {}: entry {line} is broken: {reason}", path.display())]
    Tampered { path: PathBuf, line: u64, reason: String },
    /// A file could not be read or written: the operator looks at the disk.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// A bug: an amount or a table this code built is not what it should be.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ClaimsError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> ClaimsError {
        ClaimsError::Io { path: path.to_path_buf(), source }
    }
}

impl From<datafusion::error::DataFusionError> for ClaimsError {
    fn from(e: datafusion::error::DataFusionError) -> ClaimsError {
        ClaimsError::Internal(format!("DataFusion: {e}"))
    }
}

impl From<datafusion::arrow::error::ArrowError> for ClaimsError {
    fn from(e: datafusion::arrow::error::ArrowError) -> ClaimsError {
        ClaimsError::Internal(format!("Arrow: {e}"))
    }
}
