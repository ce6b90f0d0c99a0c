//! Running the pipeline over files: the simulator step and the replay loop, with progress.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use fangpin_connectors::topic::output;
use fangpin_connectors::{Decoder, DecoderConfig, DirSink, FileSource, Pseudonymiser};
use fangpin_models::RulesGrader;
use fangpin_pipelines::registry::{GraderSource, PromotedModel, Registry};
use fangpin_pipelines::{indicators, metrics, Metrics, Pipeline, PipelineConfig, RunStats};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Settings;

/// What a replay did, for the summary.
pub struct Report {
    pub stats: RunStats,
    pub elapsed: Duration,
    /// Where the queues and dead letters went.
    pub out: String,
    /// Events of the run worth a line in the summary (restores after rebalances).
    pub notes: Vec<String>,
}

impl Report {
    /// Records read per second of wall time.
    pub fn records_per_second(&self) -> f64 {
        let n: u64 = self.stats.records_in.values().sum();
        n as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Simulates a world into `out`, showing progress.
pub fn simulate(world: &fangpin_simulator::WorldConfig, out: &Path) -> Result<fangpin_simulator::SimSummary> {
    let bar = spinner();
    let started = Instant::now();
    let summary = fangpin_simulator::simulate(world, out, &mut |step| bar.set_message(step.to_owned()))
        .with_context(|| format!("simulating into {}", out.display()))?;
    bar.finish_and_clear();
    eprintln!("simulated in {:.1} s", started.elapsed().as_secs_f64());
    Ok(summary)
}

/// The pipeline `settings` describe, serving metrics at `metrics_addr` if given.
pub fn build_pipeline(settings: &Settings, metrics_addr: Option<SocketAddr>) -> Result<Pipeline> {
    let pseudonymiser = pseudonymiser(settings)?;
    let indicators = match &settings.indicators_dir {
        Some(dir) => indicators::load_dir(dir)?,
        None => indicators::builtin(),
    };
    let config = PipelineConfig { poverty_line: settings.poverty_line, history_months: settings.history_months, indicators };
    let metrics = Metrics::new();
    if let Some(addr) = metrics_addr {
        let (bound, _thread) = metrics::serve(metrics.clone(), addr)?;
        eprintln!("serving metrics at http://{bound}/metrics");
    }
    let decoder = Decoder::new(DecoderConfig::default(), pseudonymiser);
    let mut pipeline = Pipeline::new(config, decoder, grader_source(settings)?, metrics)?;
    if !settings.rules_only {
        // The rules grade beside the model, so every summary and snapshot can compare them.
        pipeline = pipeline.with_shadow(Arc::new(RulesGrader::default()));
    }
    if let Some(dir) = &settings.features_out {
        pipeline = pipeline.with_snapshots(dir)?;
    }
    Ok(pipeline)
}

/// Replays `from_dir` through the pipeline, writing queues and dead letters under `out`.
pub async fn run(settings: &Settings, from_dir: &Path, out: &Path, metrics_addr: Option<SocketAddr>) -> Result<Report> {
    let mut pipeline = build_pipeline(settings, metrics_addr)?;
    let mut source = FileSource::open(from_dir)?;
    let mut lag = metrics::source::SourceLag::new(pipeline.metrics(), from_dir, &source.topics());
    for ignored in source.ignored_files() {
        tracing::debug!("not a contract topic, skipped: {}", ignored.display());
    }
    let mut sink = DirSink::create(out, &[output::DOOR_VISIT, output::PHONE, output::DEAD_LETTER])?;
    let bar = ProgressBar::new(source.progress().1).with_style(
        ProgressStyle::with_template("replaying {bar:30} {percent:>3}% {binary_bytes}/{binary_total_bytes} {msg} ({elapsed})")
            .expect("valid progress template"),
    );
    let started = Instant::now();
    while let Some(batch) = source.next_batch(settings.batch_size)? {
        lag.observe(&batch);
        let alerts = pipeline.process(batch, &mut sink).await?;
        bar.set_position(source.progress().0);
        bar.set_message(format!("{} alerts", pipeline.stats().alerted.len().max(alerts.len())));
    }
    lag.finish();
    pipeline.finish(&mut sink)?;
    bar.finish_and_clear();
    Ok(Report { stats: pipeline.stats().clone(), elapsed: started.elapsed(), out: out.display().to_string(), notes: Vec::new() })
}

/// The promoted model of the registry, or the rules when asked for or when none is promoted.
fn grader_source(settings: &Settings) -> Result<GraderSource> {
    if settings.rules_only {
        return Ok(GraderSource::Fixed(Arc::new(RulesGrader::default())));
    }
    let registry = Registry::open(&settings.models_dir);
    let promoted = PromotedModel::open(registry)
        .with_context(|| format!("serving the promoted model of {}", settings.models_dir.display()))?;
    match promoted.serving() {
        Some(v) => eprintln!("grading with model {v} from {}", settings.models_dir.display()),
        None => tracing::warn!("no model promoted in {}: grading with the rules", settings.models_dir.display()),
    }
    Ok(GraderSource::Promoted(promoted))
}

/// The pseudonymisation key: a key file from the configuration, else `FANGPIN_PSEUDONYM_KEY`,
/// else a random key for this run only (pseudonyms then differ between runs).
fn pseudonymiser(settings: &Settings) -> Result<Pseudonymiser> {
    if let Some(path) = &settings.pseudonym_key_file {
        let key = std::fs::read(path).with_context(|| format!("reading pseudonym key file {}", path.display()))?;
        return Ok(Pseudonymiser::new(trim(&key))?);
    }
    if let Some(p) = Pseudonymiser::from_env()? {
        return Ok(p);
    }
    tracing::warn!("no pseudonym key configured (FANGPIN_PSEUDONYM_KEY or privacy.pseudonym_key_file): using a random key for this run");
    Ok(Pseudonymiser::ephemeral())
}

fn trim(key: &[u8]) -> &[u8] {
    let end = key.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(0, |i| i + 1);
    &key[..end]
}

fn spinner() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// What [`parse_only`] measured.
pub struct ParseReport {
    pub records: u64,
    pub rejected: u64,
    pub elapsed: Duration,
}

/// Reads and decodes `from_dir` (JSON, validation, pseudonyms) and keeps nothing: the upper
/// bound of a replay's speed, against which the whole pipeline is measured.
pub fn parse_only(settings: &Settings, from_dir: &Path) -> Result<ParseReport> {
    let decoder = Decoder::new(DecoderConfig::default(), pseudonymiser(settings)?);
    let mut source = FileSource::open(from_dir)?;
    let started = Instant::now();
    let (mut records, mut rejected) = (0, 0);
    while let Some(batch) = source.next_batch(settings.batch_size)? {
        for record in batch {
            records += 1;
            rejected += u64::from(decoder.decode(record.topic, &record.payload).is_err());
        }
    }
    Ok(ParseReport { records, rejected, elapsed: started.elapsed() })
}
