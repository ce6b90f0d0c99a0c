//! Risk grading: turn what the indicators found about a household-month into a grade, and
//! train the model that does it best.
//!
//! Pure code: no I/O, no async. The pipeline calls a [`Grader`] and never knows which one, so
//! the rules grader and a trained model are interchangeable.
//!
//! # Layout
//! - [`grade`]: grades, the grading input (profile, figures, indicator hits, feature vector)
//!   and the assessment a grader returns.
//! - [`plan`]: the plan's thresholds shared with the pipeline's features (key counties, near the line).
//! - [`rules`]: the rules-based grader: weighted indicator evidence, documented thresholds.
//! - [`artifact`]: a trained model as plain serde data (scaler, classifier, thresholds,
//!   feature list and version).
//! - [`model_grader`]: grading with an artifact; how model and rules combine.
//! - [`train`]: time-split training of linfa candidates and threshold choice.
//! - [`card`]: measuring a model against truth and the rules; the model card.
//! - [`drift`]: how far the rows graded have moved from the training rows (PSI per feature).
//! - [`error`]: the crate's error type.

pub mod artifact;
pub mod card;
pub mod drift;
pub mod error;
pub mod grade;
pub mod model_grader;
pub mod plan;
pub mod rules;
pub mod train;

pub use artifact::ModelArtifact;
pub use error::ModelError;
pub use grade::{Assessment, Grade, Grader, GradingInput, IndicatorHit, Reason};
pub use model_grader::ModelGrader;
pub use rules::RulesGrader;
