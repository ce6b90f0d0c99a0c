//! Errors of the pipelines crate, classified by who must act.

use std::path::PathBuf;

/// What stopped the pipeline. Bad records never do: they go to the dead letters.
#[derive(thiserror::Error, Debug)]
pub enum PipelineError {
    /// The operator must fix the configuration.
    #[error("configuration: {0}")]
    Config(String),
    /// An indicator's SQL is wrong: the analyst who wrote it must fix the file.
    #[error("indicator {code}: {message}")]
    Indicator { code: String, message: String },
    /// Reading or writing a file failed: check the path, permissions and free space.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// A source or sink failed (disk, broker): retry once it is reachable again.
    #[error(transparent)]
    Connector(#[from] fangpin_connectors::ConnectorError),
    /// The insurance side failed: its error says who must act (coverage file, trigger SQL,
    /// ledger file).
    #[error(transparent)]
    Claims(#[from] fangpin_claims::ClaimsError),
    /// DataFusion failed on a query that used to work: a bug, please report it.
    #[error("query engine: {0}")]
    Engine(#[from] datafusion::error::DataFusionError),
    /// An Arrow array could not be built: a bug, please report it.
    #[error("arrow: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// A changelog record could not be restored (damaged, another format version, or keyed by
    /// another household): the deployment's changelog topic must be repaired or rebuilt.
    #[error("checkpoint of household {household}: {message}")]
    Checkpoint { household: String, message: String },
    /// A checkpoint was written under another pseudonym key: its people would not match the
    /// records pseudonymised now (wages counted twice). The operator must start the instance
    /// with the key the changelog was written with.
    #[error(
        "the checkpoint of household {household} was written with the pseudonym key whose fingerprint is {written}, \
         this instance's key has fingerprint {ours}: configure the key the changelog was written with"
    )]
    KeyMismatch { household: String, written: String, ours: String },
    /// The Kafka loop stopped at `stage` (which says what is read again or still to send);
    /// the cause says who must act.
    #[error("{stage}: {source}")]
    Stopped { stage: String, source: Box<PipelineError> },
    /// An invariant broke: a bug, please report it.
    #[error("internal error (a bug): {0}")]
    Internal(String),
}
