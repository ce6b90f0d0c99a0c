//! Errors of the models crate.

/// What went wrong in grading, and who must act.
#[derive(thiserror::Error, Debug)]
pub enum ModelError {
    /// The grader's parameters are wrong: whoever configured it must fix them.
    #[error("invalid grader configuration: {0}")]
    Config(String),
}
