//! The model registry on disk, and the grader the pipeline serves from it.
//!
//! ```text
//! models/registry/
//!   PROMOTED            the version the pipelines serve, e.g. `v2`
//!   v1/model.json       the artifact (serde)
//!   v1/card.json        the model card; card.md for people
//! ```
//!
//! A running pipeline re-reads `PROMOTED` before every micro-batch and switches to a newly
//! promoted version without a restart. A version that cannot be served (unreadable, features
//! that differ from the pipeline's) is refused with an error and the current grader stays.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fangpin_models::card::ModelCard;
use fangpin_models::train::Trained;
use fangpin_models::{Grader, ModelArtifact, ModelGrader, RulesGrader};

use crate::error::PipelineError;
use crate::features::FeatureSet;
use crate::indicators::{self, Indicator};

/// File naming the promoted version.
const PROMOTED: &str = "PROMOTED";

/// A directory of model versions, read by a deployment with a given set of indicators.
#[derive(Clone, Debug)]
pub struct Registry {
    dir: PathBuf,
    /// The features the deployment computes: a model trained on others is refused.
    features: FeatureSet,
    /// What grades while no model is promoted.
    rules: Arc<RulesGrader>,
}

impl Registry {
    /// The registry at `dir` (which may not exist yet), for the shipped indicators.
    pub fn open(dir: &Path) -> Registry {
        Registry::for_indicators(dir, &indicators::builtin())
    }

    /// The registry at `dir`, for a deployment running `indicators`.
    pub fn for_indicators(dir: &Path, indicators: &[Indicator]) -> Registry {
        Registry {
            dir: dir.to_owned(),
            features: FeatureSet::new(indicators),
            rules: Arc::new(indicators::rules_grader(indicators)),
        }
    }

    /// The features its models must have been trained on.
    pub fn features(&self) -> &FeatureSet {
        &self.features
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn io(&self, path: PathBuf) -> impl FnOnce(std::io::Error) -> PipelineError {
        move |source| PipelineError::Io { path, source }
    }

    /// Versions present, oldest first (`v2` before `v10`).
    pub fn versions(&self) -> Result<Vec<String>, PipelineError> {
        if !self.dir.exists() {
            return Ok(Vec::new());
        }
        let mut versions = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(self.io(self.dir.clone()))? {
            let path = entry.map_err(self.io(self.dir.clone()))?.path();
            if path.join("model.json").exists() {
                versions.push(path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned());
            }
        }
        versions.sort_by_key(|v| (v.trim_start_matches('v').parse::<u64>().unwrap_or(u64::MAX), v.clone()));
        Ok(versions)
    }

    /// The next free version name.
    pub fn next_version(&self) -> Result<String, PipelineError> {
        let n = self.versions()?.iter().filter_map(|v| v.trim_start_matches('v').parse::<u64>().ok()).max().unwrap_or(0);
        Ok(format!("v{}", n + 1))
    }

    /// Reads a version's artifact.
    pub fn load(&self, version: &str) -> Result<ModelArtifact, PipelineError> {
        let path = self.dir.join(version).join("model.json");
        let text = std::fs::read_to_string(&path).map_err(self.io(path.clone()))?;
        serde_json::from_str(&text).map_err(|e| PipelineError::Config(format!("{}: not a model artifact: {e}", path.display())))
    }

    /// Reads a version's card.
    pub fn card(&self, version: &str) -> Result<ModelCard, PipelineError> {
        let path = self.dir.join(version).join("card.json");
        let text = std::fs::read_to_string(&path).map_err(self.io(path.clone()))?;
        serde_json::from_str(&text).map_err(|e| PipelineError::Config(format!("{}: not a model card: {e}", path.display())))
    }

    /// Writes a trained model as a new version directory.
    pub fn save(&self, trained: &Trained) -> Result<PathBuf, PipelineError> {
        let dir = self.dir.join(&trained.artifact.version);
        if dir.exists() {
            return Err(PipelineError::Config(format!("{} exists already: versions are never overwritten", dir.display())));
        }
        std::fs::create_dir_all(&dir).map_err(self.io(dir.clone()))?;
        let json = |e: serde_json::Error| PipelineError::Internal(format!("model data does not serialise: {e}"));
        for (name, text) in [
            ("model.json", serde_json::to_string_pretty(&trained.artifact).map_err(json)?),
            ("card.json", serde_json::to_string_pretty(&trained.card).map_err(json)?),
            ("card.md", trained.card.to_markdown()),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(self.io(path.clone()))?;
        }
        Ok(dir)
    }

    /// The promoted version, if any.
    pub fn promoted(&self) -> Result<Option<String>, PipelineError> {
        let path = self.dir.join(PROMOTED);
        match std::fs::read_to_string(&path) {
            Ok(v) if !v.trim().is_empty() => Ok(Some(v.trim().to_owned())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(PipelineError::Io { path, source }),
        }
    }

    /// Marks `version` as the one to serve (written atomically: readers see old or new).
    pub fn promote(&self, version: &str) -> Result<(), PipelineError> {
        self.grader(version)?;
        let tmp = self.dir.join(format!(".{PROMOTED}.tmp"));
        std::fs::write(&tmp, format!("{version}\n")).map_err(self.io(tmp.clone()))?;
        let path = self.dir.join(PROMOTED);
        std::fs::rename(&tmp, &path).map_err(self.io(path))
    }

    /// A grader for `version`, refused when its features differ from this pipeline's.
    pub fn grader(&self, version: &str) -> Result<ModelGrader, PipelineError> {
        let artifact = self.load(version)?;
        ModelGrader::new(artifact, self.features.names(), self.features.version(), self.features.labels().to_vec())
            .map_err(|e| PipelineError::Config(e.to_string()))
    }
}

/// Where the pipeline's grader comes from.
pub enum GraderSource {
    /// Always the same grader.
    Fixed(Arc<dyn Grader>),
    /// The promoted model of a registry, followed as promotions happen.
    Promoted(PromotedModel),
}

impl GraderSource {
    /// The grader to use for the next batch.
    pub fn current(&mut self) -> Arc<dyn Grader> {
        match self {
            GraderSource::Fixed(g) => g.clone(),
            GraderSource::Promoted(p) => p.current(),
        }
    }
}

/// Follows a registry's promoted version.
pub struct PromotedModel {
    registry: Registry,
    serving: Option<String>,
    grader: Arc<dyn Grader>,
}

impl PromotedModel {
    /// Serves the registry's promoted model; fails if it cannot be served. With no promoted
    /// version the rules grader serves until one is promoted.
    pub fn open(registry: Registry) -> Result<PromotedModel, PipelineError> {
        let rules = registry.rules.clone();
        let mut p = PromotedModel { registry, serving: None, grader: rules };
        if let Some(version) = p.registry.promoted()? {
            p.grader = Arc::new(p.registry.grader(&version)?);
            p.serving = Some(version);
        }
        Ok(p)
    }

    /// The version served, if a model is.
    pub fn serving(&self) -> Option<&str> {
        self.serving.as_deref()
    }

    fn current(&mut self) -> Arc<dyn Grader> {
        match self.registry.promoted() {
            Ok(Some(v)) if Some(&v) != self.serving.as_ref() => match self.registry.grader(&v) {
                Ok(g) => {
                    tracing::info!("serving newly promoted model {v}");
                    self.grader = Arc::new(g);
                    self.serving = Some(v);
                }
                Err(e) => tracing::error!("promoted model {v} cannot be served, keeping {:?}: {e}", self.serving),
            },
            Ok(_) => {}
            Err(e) => tracing::error!("cannot read the promoted model version, keeping {:?}: {e}", self.serving),
        }
        self.grader.clone()
    }
}
