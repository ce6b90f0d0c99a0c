//! Configuration: a TOML file (optional), then environment variables, then command-line
//! options, each overriding the one before. Unknown keys are refused so typos do not pass.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use fangpin_connectors::event::Month;
use fangpin_connectors::Pseudonymiser;
use rust_decimal::Decimal;
use serde::Deserialize;

/// The configuration file's shape.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    pipeline: PipelineSection,
    #[serde(default)]
    privacy: PrivacySection,
    /// Read by the Kafka runner (`fangpin_connectors::kafka::KafkaSettings`) when built with Kafka.
    kafka: Option<toml::Table>,
    /// The cadres' service (`fangpin cases`): deadlines and sessions.
    #[serde(default)]
    cases: fangpin_cases::CasesConfig,
    /// The insurance side: the product and where claims are kept.
    #[serde(default)]
    claims: ClaimsSection,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ClaimsSection {
    /// The coverage file (default: the built-in `claims/coverage.toml`).
    coverage_file: Option<PathBuf>,
    /// Directory of index-trigger `.sql` files (default: the built-in ones).
    triggers_dir: Option<PathBuf>,
    /// The hash-chained claims ledger a Kafka instance appends to (a replay writes
    /// `claims-ledger.ndjson` beside its queues).
    ledger_file: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PipelineSection {
    /// Monitoring line, yuan per person per year, as a string ("8000").
    poverty_line: Option<Decimal>,
    /// Months of history kept before the newest month.
    history_months: Option<i32>,
    /// Records per micro-batch.
    batch_size: Option<usize>,
    /// Days a record may wait for its household's roster entry before it is dead-lettered.
    max_wait_days: Option<u64>,
    /// First month the department feeds cover ("YYYY-MM"); default: the oldest month seen.
    feeds_start: Option<String>,
    /// Directory of indicator `.sql` files replacing the built-in set.
    indicators_dir: Option<PathBuf>,
    /// The model registry (default `models/registry`).
    models_dir: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PrivacySection {
    /// File holding the pseudonymisation key (the key itself never goes in the config).
    pseudonym_key_file: Option<PathBuf>,
}

/// Command-line overrides.
#[derive(Default)]
pub struct Overrides {
    pub batch_size: Option<usize>,
    pub indicators: Option<PathBuf>,
    pub models: Option<PathBuf>,
    pub rules_only: bool,
    pub features_out: Option<PathBuf>,
    pub coverage: Option<PathBuf>,
    pub triggers: Option<PathBuf>,
}

/// The effective settings of a run.
pub struct Settings {
    pub poverty_line: Decimal,
    pub history_months: i32,
    pub batch_size: usize,
    /// Days a record may wait for its household's roster entry.
    pub max_wait_days: u64,
    /// First month the department feeds cover, if configured.
    pub feeds_start: Option<Month>,
    pub indicators_dir: Option<PathBuf>,
    pub pseudonym_key_file: Option<PathBuf>,
    /// The model registry whose promoted model grades.
    pub models_dir: PathBuf,
    /// Grade with the rules only, even when a model is promoted.
    pub rules_only: bool,
    /// Where to write feature snapshots (Parquet), if anywhere.
    pub features_out: Option<PathBuf>,
    /// The `[kafka]` section, not yet interpreted; only a build with Kafka reads it.
    #[cfg_attr(not(feature = "kafka"), allow(dead_code))]
    pub kafka: Option<toml::Table>,
    /// The `[cases]` section.
    pub cases: fangpin_cases::CasesConfig,
    /// The insurance product claims are computed with.
    pub coverage: fangpin_claims::Coverage,
    /// Where a Kafka instance keeps its claims ledger.
    #[cfg_attr(not(feature = "kafka"), allow(dead_code))]
    pub claims_ledger: Option<PathBuf>,
}

impl Settings {
    /// Reads `path` (if any), then `FANGPIN_POVERTY_LINE` and `FANGPIN_BATCH_SIZE`, then `overrides`.
    pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<Settings> {
        let file: File = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).with_context(|| format!("reading configuration {}", p.display()))?;
                toml::from_str(&text).with_context(|| format!("in configuration {}", p.display()))?
            }
            None => File::default(),
        };
        let defaults = fangpin_pipelines::PipelineConfig::default();
        let mut s = Settings {
            poverty_line: file.pipeline.poverty_line.unwrap_or(defaults.poverty_line),
            history_months: file.pipeline.history_months.unwrap_or(defaults.history_months),
            // Each micro-batch re-evaluates every household it touched, so a replay is cheapest
            // in large batches: 250,000 records replay the default world in ~130 s, 100,000 in ~200 s.
            batch_size: file.pipeline.batch_size.unwrap_or(250_000),
            max_wait_days: file.pipeline.max_wait_days.unwrap_or(defaults.max_wait.as_secs() / 86_400),
            feeds_start: match &file.pipeline.feeds_start {
                Some(m) => Some(Month::parse_dashed(m).with_context(|| format!("pipeline.feeds_start is {m:?}: write it as YYYY-MM"))?),
                None => None,
            },
            indicators_dir: file.pipeline.indicators_dir,
            pseudonym_key_file: file.privacy.pseudonym_key_file,
            models_dir: file.pipeline.models_dir.unwrap_or_else(|| PathBuf::from("models/registry")),
            rules_only: overrides.rules_only,
            features_out: overrides.features_out.clone(),
            kafka: file.kafka,
            cases: file.cases,
            coverage: fangpin_claims::Coverage::builtin(),
            claims_ledger: file.claims.ledger_file,
        };
        let coverage_file = overrides.coverage.clone().or(file.claims.coverage_file);
        let triggers_dir = overrides.triggers.clone().or(file.claims.triggers_dir);
        s.coverage = match coverage_file {
            Some(path) => fangpin_claims::Coverage::load(&path, triggers_dir.as_deref())?,
            None => {
                let mut c = fangpin_claims::Coverage::builtin();
                c.triggers_dir = triggers_dir;
                c
            }
        };
        if let Ok(v) = std::env::var("FANGPIN_POVERTY_LINE") {
            s.poverty_line = v.parse().with_context(|| format!("FANGPIN_POVERTY_LINE={v} is not a number"))?;
        }
        if let Ok(v) = std::env::var("FANGPIN_BATCH_SIZE") {
            s.batch_size = v.parse().with_context(|| format!("FANGPIN_BATCH_SIZE={v} is not a whole number"))?;
        }
        if let Some(b) = overrides.batch_size {
            s.batch_size = b;
        }
        if let Some(d) = &overrides.indicators {
            s.indicators_dir = Some(d.clone());
        }
        if let Some(d) = &overrides.models {
            s.models_dir = d.clone();
        }
        if s.poverty_line <= Decimal::ZERO {
            bail!("poverty_line must be positive, got {}", s.poverty_line);
        }
        if !(1..=36).contains(&s.history_months) {
            bail!("history_months must be between 1 and 36, got {}", s.history_months);
        }
        if s.batch_size == 0 {
            bail!("batch_size must be at least 1");
        }
        if !(1..=365).contains(&s.max_wait_days) {
            bail!("max_wait_days must be between 1 and 365, got {}", s.max_wait_days);
        }
        Ok(s)
    }
}

impl Settings {
    /// What the pipeline is built from: the indicators read now, so that a bad SQL file stops
    /// the start.
    pub fn assembly(&self) -> Result<fangpin_pipelines::Assembly> {
        let indicators = fangpin_pipelines::indicators::load(self.indicators_dir.as_deref())?;
        let config = fangpin_pipelines::PipelineConfig {
            poverty_line: self.poverty_line,
            history_months: self.history_months,
            indicators,
            max_wait: std::time::Duration::from_secs(self.max_wait_days * 86_400),
            feeds_start: self.feeds_start,
        };
        Ok(fangpin_pipelines::Assembly {
            config,
            models_dir: self.models_dir.clone(),
            rules_only: self.rules_only,
            features_out: self.features_out.clone(),
            coverage: self.coverage.clone(),
        })
    }

    /// The pseudonymisation key: a key file from the configuration, else
    /// `FANGPIN_PSEUDONYM_KEY`, else (`required` false: replays and demos) a random key for
    /// this run only. Both hold the key the same way: hex digits, at least 32 (16 bytes), as
    /// `openssl rand -hex 32` prints.
    pub fn pseudonymiser(&self, required: bool) -> Result<Pseudonymiser> {
        if let Some(path) = &self.pseudonym_key_file {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading pseudonym key file {}", path.display()))?;
            return Pseudonymiser::from_hex(&text).with_context(|| format!("pseudonym key file {}", path.display()));
        }
        if let Some(p) = Pseudonymiser::from_env()? {
            return Ok(p);
        }
        if required {
            bail!(
                "no pseudonym key: set privacy.pseudonym_key_file or FANGPIN_PSEUDONYM_KEY (hex, e.g. from \
                 `openssl rand -hex 32`). State kept across restarts needs the same key every time, or the same \
                 person gets a new pseudonym and is counted twice"
            );
        }
        tracing::warn!("no pseudonym key configured (FANGPIN_PSEUDONYM_KEY or privacy.pseudonym_key_file): using a random key for this run");
        Ok(Pseudonymiser::ephemeral())
    }
}

/// The Kafka settings: the `[kafka]` section, then environment variables, then `brokers`.
#[cfg(feature = "kafka")]
pub fn kafka_settings(settings: &Settings, brokers: Option<&str>) -> Result<fangpin_connectors::kafka::KafkaSettings> {
    let mut kafka: fangpin_connectors::kafka::KafkaSettings = match &settings.kafka {
        Some(table) => table.clone().try_into().context("in the [kafka] section of the configuration")?,
        None => Default::default(),
    };
    kafka.apply_env()?;
    if let Some(b) = brokers {
        kafka.brokers = b.to_owned();
    }
    kafka.check()?;
    Ok(kafka)
}
