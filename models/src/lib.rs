//! Risk grading: turn what the indicators found about a household-month into a grade.
//!
//! Pure code: no I/O, no async. The pipeline calls a [`Grader`] and never knows which one, so
//! the rules grader here can be replaced by a trained classifier without touching the pipeline.
//!
//! # Layout
//! - [`grade`]: grades, the grading input (household profile, month figures, indicator hits)
//!   and the assessment a grader returns.
//! - [`rules`]: the rules-based grader: weighted indicator evidence, documented thresholds.
//! - [`error`]: the crate's error type.

pub mod error;
pub mod grade;
pub mod rules;

pub use error::ModelError;
pub use grade::{Assessment, Grade, Grader, GradingInput, IndicatorHit, Reason};
pub use rules::RulesGrader;
