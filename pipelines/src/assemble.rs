//! Assembling a deployment's pipeline: the indicators (built in, or an analyst's directory of
//! SQL files), the grader (the registry's promoted model, or the rules when asked for), the
//! rules graded beside the model for comparison, feature snapshots and the insurance side.
//! The file replay and the Kafka loop both start here, so that they grade alike.

use std::path::PathBuf;
use std::sync::Arc;

use fangpin_claims::{Claims, Coverage};
use fangpin_connectors::{Decoder, DecoderConfig, Pseudonymiser};

use crate::error::PipelineError;
use crate::indicators::rules_grader;
use crate::registry::{GraderSource, PromotedModel, Registry};
use crate::{Metrics, Pipeline, PipelineConfig};

/// Everything a pipeline is built from besides its pseudonym key and metrics.
pub struct Assembly {
    pub config: PipelineConfig,
    /// The model registry whose promoted model grades.
    pub models_dir: PathBuf,
    /// Grade with the rules only, even when a model is promoted (no shadow then).
    pub rules_only: bool,
    /// Where to write feature snapshots (Parquet), if anywhere.
    pub features_out: Option<PathBuf>,
    /// The insurance product claims are computed with.
    pub coverage: Coverage,
}

impl Assembly {
    /// The grader: the registry's promoted model, or the rules when asked for. A registry with
    /// no promoted model is refused: grading with the rules instead would raise other alerts
    /// under a success exit.
    pub fn grader(&self) -> Result<GraderSource, PipelineError> {
        if self.rules_only {
            return Ok(GraderSource::Fixed(Arc::new(rules_grader(&self.config.indicators))));
        }
        let dir = self.models_dir.display();
        let promoted = PromotedModel::open(Registry::for_indicators(&self.models_dir, &self.config.indicators))
            .map_err(|e| PipelineError::Config(format!("serving the promoted model of {dir}: {e}")))?;
        if promoted.serving().is_none() {
            return Err(PipelineError::Config(format!(
                "no model is promoted in {dir}: run fangpin where that registry is (the repository's root), point \
                 [pipeline] models_dir or --models at the registry, or grade with the rules only (--rules-only)"
            )));
        }
        Ok(GraderSource::Promoted(promoted))
    }

    /// The pipeline, grading with `grader` (see [`Assembly::grader`]) and reporting to `metrics`.
    pub fn build(&self, grader: GraderSource, pseudonymiser: Pseudonymiser, metrics: Metrics) -> Result<Pipeline, PipelineError> {
        let decoder = Decoder::new(DecoderConfig::default(), pseudonymiser);
        let mut pipeline = Pipeline::new(self.config.clone(), decoder, grader, metrics)?;
        if !self.rules_only {
            // The rules grade beside the model, so every summary and snapshot can compare them.
            pipeline = pipeline.with_shadow(Arc::new(rules_grader(&self.config.indicators)));
        }
        if let Some(dir) = &self.features_out {
            pipeline = pipeline.with_snapshots(dir)?;
        }
        Ok(pipeline.with_claims(Claims::new(self.coverage.clone())?))
    }
}
