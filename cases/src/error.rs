//! One error type for the cadres' service, classified by who must act.

use std::path::{Path, PathBuf};

/// What went wrong, and so who must act.
#[derive(Debug, thiserror::Error)]
pub enum CasesError {
    /// The operator must fix a file, a flag or the configuration.
    #[error("{0}")]
    Config(String),
    /// The person using the service must change the request; the message is shown to them.
    #[error("{0}")]
    Invalid(String),
    /// No such task, case or account (or not one the person may know of).
    #[error("{0} not found")]
    NotFound(String),
    /// The person is logged in but the thing belongs to another area or another role.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Not logged in, or the session expired.
    #[error("not logged in")]
    Unauthenticated,
    /// A form or API call without the session's CSRF token.
    #[error("the form is stale or forged: reload the page and try again")]
    Csrf,
    /// The database is unreachable or refused a statement: retry, or the operator looks.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A bug: the store holds something this code did not write.
    #[error("internal error: {0}")]
    Internal(String),
}

impl CasesError {
    pub fn io(path: &Path, source: std::io::Error) -> CasesError {
        CasesError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl From<sqlx::migrate::MigrateError> for CasesError {
    fn from(e: sqlx::migrate::MigrateError) -> CasesError {
        CasesError::Config(format!("database migration failed: {e}"))
    }
}

pub type Result<T, E = CasesError> = std::result::Result<T, E>;
