//! Running the pipeline over files: the simulator step and the replay loop, with progress.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use fangpin_connectors::event::HouseholdCode;
use fangpin_connectors::topic::output;
use fangpin_connectors::{Decoder, DecoderConfig, DirSink, FileSource, Pseudonymiser};
use fangpin_claims::Ledger;
use fangpin_pipelines::registry::GraderSource;
use fangpin_pipelines::{metrics, Metrics, Pipeline, RunStats};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Settings;

/// The claims ledger's file name beside a replay's queues.
pub const LEDGER_FILE: &str = "claims-ledger.ndjson";

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

/// The pipeline of these settings, pseudonymising with `pseudonymiser`, serving metrics at
/// `metrics_addr` if given.
pub fn build_pipeline(settings: &Settings, metrics_addr: Option<SocketAddr>, pseudonymiser: Pseudonymiser) -> Result<Pipeline> {
    let assembly = settings.assembly()?;
    let grader = assembly.grader()?;
    if let GraderSource::Promoted(p) = &grader {
        eprintln!("grading with model {} from {}", p.serving().unwrap_or("?"), settings.models_dir.display());
    }
    let metrics = Metrics::new();
    if let Some(addr) = metrics_addr {
        let (bound, _thread) = metrics::serve(metrics.clone(), addr)?;
        eprintln!("serving metrics at http://{bound}/metrics");
    }
    Ok(assembly.build(grader, pseudonymiser, metrics)?)
}

/// How a replay runs beyond the settings.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReplayOptions {
    pub metrics_addr: Option<SocketAddr>,
    /// Note the size of the final state as checkpoints and how long a fresh pipeline takes to
    /// restore it.
    pub measure_state: bool,
    /// Let records arrive at this steady rate (records/s) instead of as fast as they can be
    /// read, and note the alert latency: a stream's behaviour, measured without a broker.
    pub rate: Option<f64>,
}

/// Replays `from_dir` through the pipeline, writing queues and dead letters under `out`.
pub async fn run(settings: &Settings, from_dir: &Path, out: &Path, options: ReplayOptions) -> Result<Report> {
    let key = settings.pseudonymiser(false)?;
    // A replay is bounded by its files: the alert lists it keeps for scoring are too.
    let mut pipeline = build_pipeline(settings, options.metrics_addr, key.clone())?.keep_alert_lists();
    let mut source = FileSource::open(from_dir)?;
    let mut lag = metrics::source::SourceLag::new(pipeline.metrics(), from_dir, &source.topics());
    for ignored in source.ignored_files() {
        tracing::debug!("not a contract topic, skipped: {}", ignored.display());
    }
    let mut sink = DirSink::create(out, &[output::DOOR_VISIT, output::PHONE, output::DEAD_LETTER, output::CLAIMS])?;
    if let Some(claims) = pipeline.claims_mut() {
        claims.check_triggers().await?;
        // Replaced like the queues: a replay raises every claim again from revision 1.
        let ledger = out.join(LEDGER_FILE);
        claims.set_ledger(Ledger::create(&ledger)?);
    }
    let bar = ProgressBar::new(source.progress().1).with_style(
        ProgressStyle::with_template("replaying {bar:30} {percent:>3}% {binary_bytes}/{binary_total_bytes} {msg} ({elapsed})")
            .expect("valid progress template"),
    );
    let started = Instant::now();
    let mut pace = options.rate.map(|rate| Pace { rate, started, arrived: 0, latencies: Vec::new() });
    loop {
        let wanted = match &mut pace {
            Some(pace) => pace.due(settings.batch_size).await,
            None => settings.batch_size,
        };
        let Some(batch) = source.next_batch(wanted)? else { break };
        lag.observe(&batch);
        let oldest_arrival = pace.as_mut().map(|p| p.arrive(batch.len()));
        let alerts = pipeline.process(batch, &mut sink).await?;
        if let (Some(pace), Some(arrival)) = (&mut pace, oldest_arrival) {
            let latency = arrival.elapsed();
            pace.latencies.extend(std::iter::repeat_n(latency, alerts.len()));
        }
        bar.set_position(source.progress().0);
        bar.set_message(format!("{} alerts", pipeline.stats().alerts.values().sum::<u64>()));
    }
    lag.finish();
    pipeline.finish(&mut sink)?;
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    let mut notes = Vec::new();
    if let Some(pace) = pace {
        notes.push(pace.summary(elapsed));
    }
    if options.measure_state {
        notes.push(measure_checkpoints(settings, &mut pipeline, &key)?);
    }
    Ok(Report { stats: pipeline.stats().clone(), elapsed, out: out.display().to_string(), notes })
}

/// Records arriving at a steady rate: record `i` arrives `i / rate` seconds after the start.
struct Pace {
    rate: f64,
    started: Instant,
    arrived: u64,
    /// Per alert, from the arrival of the oldest record of the micro-batch that raised it to the
    /// alert's write: an upper bound on the time from the record that caused it.
    latencies: Vec<Duration>,
}

impl Pace {
    /// Waits until at least one record has arrived; how many have, at most `max`.
    async fn due(&self, max: usize) -> usize {
        loop {
            let due = (self.started.elapsed().as_secs_f64() * self.rate) as u64;
            if due > self.arrived {
                return (due - self.arrived).min(max as u64) as usize;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Takes `n` records; returns when the first of them arrived.
    fn arrive(&mut self, n: usize) -> Instant {
        let first = self.started + Duration::from_secs_f64(self.arrived as f64 / self.rate);
        self.arrived += n as u64;
        first
    }

    fn summary(mut self, elapsed: Duration) -> String {
        self.latencies.sort_unstable();
        let quantile = |q: f64| {
            let i = ((self.latencies.len() as f64 * q).ceil() as usize).clamp(1, self.latencies.len().max(1)) - 1;
            self.latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        format!(
            "paced at {:.0} records/s (kept {:.0}): {} alerts, latency from the oldest record of the alert's batch: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            self.rate,
            self.arrived as f64 / elapsed.as_secs_f64().max(1e-9),
            self.latencies.len(),
            quantile(0.5),
            quantile(0.99),
            quantile(1.0)
        )
    }
}

/// Writes every household's checkpoint (what a Kafka deployment keeps in its changelog) and
/// restores them all into a fresh pipeline: the state's size per household and the restore
/// time, without a broker in the way.
fn measure_checkpoints(settings: &Settings, pipeline: &mut Pipeline, key: &Pseudonymiser) -> Result<String> {
    let peak = peak_memory_mib().map_or_else(|| "unknown".to_owned(), |m| format!("{m} MiB"));
    let mut checkpoints = Vec::new();
    for household in pipeline.take_changed() {
        if let Some(bytes) = pipeline.checkpoint(&household)? {
            checkpoints.push((household, bytes));
        }
    }
    let bytes: usize = checkpoints.iter().map(|(_, b)| b.len()).sum();
    // Each checkpoint compressed alone: an upper bound of what the changelog carries.
    let compressed: usize = checkpoints.iter().map(|(_, b)| lz4_flex::block::compress(b).len()).sum();
    let carried = as_carried(&checkpoints)?;
    // The same key: a checkpoint refuses to restore under another.
    let mut fresh = build_pipeline(settings, None, key.clone())?;
    let snapshots: Vec<_> = checkpoints.iter().map(|(household, bytes)| (household.clone(), bytes.as_slice())).collect();
    let started = Instant::now();
    for restored in fresh.restore_all(&snapshots) {
        restored?;
    }
    let secs = started.elapsed().as_secs_f64();
    let n = checkpoints.len().max(1);
    Ok(format!(
        "state: {} households in {:.1} MB of checkpoints ({} bytes per household, {} with lz4 one by one, {} as the changelog producer's lz4 batches carry them); a fresh pipeline restored them in {secs:.2} s ({:.0} households/s); peak memory of the replay {peak}",
        checkpoints.len(),
        bytes as f64 / 1e6,
        bytes / n,
        compressed / n,
        carried / n,
        checkpoints.len() as f64 / secs.max(1e-9)
    ))
}

/// The bytes `checkpoints` take in the changelog's record batches: the producer (librdkafka)
/// groups records into batches of up to `batch.size` (1,000,000 bytes unless configured) and
/// compresses each batch as one lz4 frame of independent 64 KB blocks. Keys and values are
/// counted; the few bytes of framing per record are not.
fn as_carried(checkpoints: &[(HouseholdCode, Vec<u8>)]) -> Result<usize> {
    use lz4_flex::frame::{BlockMode, BlockSize, FrameEncoder, FrameInfo};
    use std::io::Write;
    const BATCH_SIZE: usize = 1_000_000;
    let compress = |batch: &[u8]| -> Result<usize> {
        let info = FrameInfo::new().block_size(BlockSize::Max64KB).block_mode(BlockMode::Independent);
        let mut frame = FrameEncoder::with_frame_info(info, Vec::new());
        frame.write_all(batch)?;
        Ok(frame.finish()?.len())
    };
    let (mut total, mut batch) = (0, Vec::with_capacity(BATCH_SIZE));
    for (household, bytes) in checkpoints {
        if !batch.is_empty() && batch.len() + household.as_str().len() + bytes.len() > BATCH_SIZE {
            total += compress(&batch)?;
            batch.clear();
        }
        batch.extend_from_slice(household.as_str().as_bytes());
        batch.extend_from_slice(bytes);
    }
    if !batch.is_empty() {
        total += compress(&batch)?;
    }
    Ok(total)
}

/// The process's peak resident memory so far (Linux `VmHWM`).
fn peak_memory_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
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
    let decoder = Decoder::new(DecoderConfig::default(), settings.pseudonymiser(false)?);
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
