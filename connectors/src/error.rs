//! The crate's error type, classified by who has to act on it.
//!
//! Rejected *records* are not errors: they become [`crate::Rejection`]s and dead letters, and the
//! run goes on. A [`ConnectorError`] stops the run because an operator must fix something first.

use std::path::{Path, PathBuf};

/// Why a connector cannot go on; each message says what the operator should do.
#[derive(thiserror::Error, Debug)]
pub enum ConnectorError {
    /// The configuration is wrong (e.g. a pseudonym key that is too short or not hex): fix it and restart.
    #[error("configuration error: {0}")]
    Config(String),
    /// A file or directory could not be read or written: check that it exists, the permissions and free disk space.
    #[error("cannot access {}: {source} (check that the path exists, its permissions and free disk space)", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The input as a whole is unusable (e.g. a replay directory holding no contract file): point the run at the right input.
    #[error("unusable input: {0}")]
    Input(String),
    /// The Kafka cluster refused or failed an operation (unreachable brokers, a failed delivery,
    /// a failed commit): check the brokers and the security settings; work not committed is
    /// read again on restart.
    #[error("Kafka: {0}")]
    Kafka(String),
    /// A bug in fangpin (e.g. a record that cannot be serialised): report it.
    #[error("internal error, please report: {0}")]
    Internal(String),
}

impl ConnectorError {
    /// An [`ConnectorError::Io`] for `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> ConnectorError {
        ConnectorError::Io { path: path.as_ref().to_path_buf(), source }
    }
}
