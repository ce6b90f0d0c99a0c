//! Grading with a trained model, and how rules and model combine.
//!
//! The model's probability of falling below the line within three months decides the grade
//! through the artifact's thresholds. Rules still speak: every indicator that fired is listed
//! among the reasons, and the plan's statutory rules (the health and industry rules) always
//! yield at least a low-grade alert, so a programme rule is never silenced by the model.

use crate::artifact::ModelArtifact;
use crate::error::ModelError;
use crate::grade::{Assessment, Grade, Grader, GradingInput, Reason};

/// How many features a model reason names.
const TOP_FEATURES: usize = 3;

/// A [`Grader`] backed by a trained [`ModelArtifact`].
#[derive(Clone, Debug)]
pub struct ModelGrader {
    artifact: ModelArtifact,
    labels: Vec<String>,
}

impl ModelGrader {
    /// A grader for a pipeline computing `names` under `version`; `labels` are the features'
    /// human names (same order) used in reasons. Refuses a model trained on other features, or
    /// one whose parts do not fit together.
    pub fn new(artifact: ModelArtifact, names: &[String], version: &str, labels: Vec<String>) -> Result<Self, ModelError> {
        artifact.check_features(names, version)?;
        artifact.check_shape()?;
        if labels.len() != names.len() {
            return Err(ModelError::Config(format!("{} labels for {} features", labels.len(), names.len())));
        }
        Ok(ModelGrader { artifact, labels })
    }

    /// The artifact served.
    pub fn artifact(&self) -> &ModelArtifact {
        &self.artifact
    }
}

impl Grader for ModelGrader {
    fn name(&self) -> &str {
        "model"
    }

    fn version(&self) -> &str {
        &self.artifact.version
    }

    fn drift_references(&self) -> &[crate::drift::DriftReference] {
        &self.artifact.drift
    }

    fn grade(&self, input: &GradingInput) -> Option<Assessment> {
        let p = self.artifact.probability(&input.features);
        let t = &self.artifact.thresholds;
        let statutory = input.hits.iter().any(|h| self.artifact.statutory_rules.contains(&h.code));
        let grade = if p >= t.high {
            Grade::High
        } else if p >= t.medium {
            Grade::Medium
        } else if p >= t.low || statutory {
            Grade::Low
        } else {
            return None;
        };
        let factors: Vec<String> = self
            .artifact
            .contributions(&input.features)
            .into_iter()
            .filter(|(_, c)| *c > 0.0)
            .take(TOP_FEATURES)
            .map(|(i, _)| format!("{}（{:.2}）", self.labels[i], input.features[i]))
            .collect();
        let mut text = format!("模型 {} 评估三个月内跌破监测线的概率 {:.0}%", self.artifact.version, p * 100.0);
        if !factors.is_empty() {
            text.push_str("；主要因素：");
            text.push_str(&factors.join("、"));
        }
        let mut reasons = vec![Reason { code: "model".into(), text }];
        let mut hits: Vec<_> = input.hits.iter().collect();
        hits.sort_by(|a, b| a.code.cmp(&b.code));
        reasons.extend(hits.into_iter().map(|h| Reason { code: h.code.clone(), text: h.detail.clone() }));
        Some(Assessment { grade, score: (p * 1000.0).round() / 1000.0, reasons })
    }
}
