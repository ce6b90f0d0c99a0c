//! Running against Kafka: the pipeline assembled from the settings, handed to the library's
//! loop ([`fangpin_pipelines::kafka`]), and publishing a simulated world to the contract topics.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use fangpin_connectors::kafka::{admin::Admin, contract_key, KafkaSettings, KafkaSink};
use fangpin_connectors::{FileSource, Sink};
use fangpin_pipelines::kafka::{self, LoopOptions};

use crate::config::Settings;
use crate::replay::{build_pipeline, Report};

/// Consumes the contract topics until stopped, or with `stop_at_end` until every input
/// partition is drained up to its end offset at start (for replays and tests).
pub async fn run(settings: &Settings, kafka: &KafkaSettings, stop_at_end: bool, metrics_addr: Option<SocketAddr>) -> Result<Report> {
    // State outlives the process here: a random per-run key would give the same person a new
    // pseudonym after a restart. Checked first, before any broker is asked anything.
    let key = settings.pseudonymiser(true)?;
    let mut pipeline = build_pipeline(settings, metrics_addr, key)?;
    if let Some(claims) = pipeline.claims_mut() {
        claims.check_triggers().await?;
        if let Some(path) = &settings.claims_ledger {
            claims.set_ledger(fangpin_claims::Ledger::append_to(path)?);
        }
    }
    let options = LoopOptions { batch_size: settings.batch_size, stop_at_end };
    let done = kafka::run(pipeline, kafka, options, kafka::stop_signal())
        .await
        .with_context(|| format!("running against Kafka at {}", kafka.brokers))?;
    let out = format!(
        "Kafka at {}: {}, {}, {}, {}",
        kafka.brokers,
        kafka.topics.door_visit,
        kafka.topics.phone,
        kafka.topics.alerts,
        kafka.topics.dead_letter
    );
    Ok(Report { stats: done.stats, elapsed: done.elapsed, out, notes: done.notes })
}

/// Publishes the contract files of `dir` to their topics, keyed as the contracts say, in the
/// order a replay reads them, at most `rate` records per second if given.
pub async fn publish(dir: &Path, kafka: &KafkaSettings, rate: Option<u32>) -> Result<u64> {
    Admin::new(kafka)?.prepare().await.with_context(|| format!("preparing topics on {}", kafka.brokers))?;
    let mut sink = KafkaSink::new(kafka)?;
    let mut source = FileSource::open(dir)?;
    let started = Instant::now();
    let mut sent = 0u64;
    let chunk = rate.map_or(10_000, |r| (r as usize / 10).max(1));
    while let Some(batch) = source.next_batch(chunk)? {
        for record in batch {
            let key = contract_key(record.topic, &record.payload).unwrap_or_default();
            sink.produce(kafka.input_name(record.topic), None, &key, Some(&record.payload), None)?;
            sent += 1;
        }
        if let Some(rate) = rate {
            let due = Duration::from_secs_f64(sent as f64 / f64::from(rate.max(1)));
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
    }
    sink.flush()?;
    Ok(sent)
}
