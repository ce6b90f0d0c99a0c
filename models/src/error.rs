//! Errors of the models crate.

/// What went wrong in grading or training, and who must act.
#[derive(thiserror::Error, Debug)]
pub enum ModelError {
    /// The grader's parameters are wrong: whoever configured it must fix them.
    #[error("invalid grader configuration: {0}")]
    Config(String),
    /// The model was trained on other features than the pipeline computes: retrain it on the
    /// running pipeline's feature snapshots, or run the pipeline version it was trained with.
    #[error(
        "model {model} was trained on features {model_features}, but this pipeline computes \
         features {pipeline_features}: retrain the model or promote one with matching features"
    )]
    FeatureMismatch { model: String, model_features: String, pipeline_features: String },
    /// The training data cannot train a model (too few rows, one class only): the data team
    /// must provide more or other data.
    #[error("training data: {0}")]
    Data(String),
    /// linfa refused to fit: usually the data (e.g. non-finite values); a bug if it persists.
    #[error("training failed: {0}")]
    Fit(String),
}
