//! Running against Kafka: the consume → process → produce → checkpoint → commit loop, and
//! publishing a simulated world to the contract topics.
//!
//! Delivery is at-least-once. Offsets are committed only after the outputs of the records they
//! cover are acknowledged and the state those records changed is acknowledged on the changelog.
//! Alerts are held until the checkpoint that books them is acknowledged, and the checkpoint
//! carries them until they are sent (`Pipeline::hold_alerts`): a successor therefore knows every
//! alert its predecessor may have sent, and sends again any it may not have. A crash replays
//! from the last commit: alert ids are deterministic and the ledger ignores records it already
//! holds, so a replay repeats messages but never invents different alerts.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use fangpin_connectors::event::HouseholdCode;
use fangpin_connectors::kafka::{admin::Admin, changelog, contract_key, KafkaSettings, KafkaSink, KafkaSource};
use fangpin_connectors::topic::output;
use fangpin_connectors::{mask_id_numbers, DeadLetter, FileSource, RejectReason, Rejection, Sink};
use fangpin_pipelines::{Pipeline, PipelineError};

use crate::config::Settings;
use crate::replay::{build_pipeline, Report};

/// Consumes the contract topics until stopped, or with `stop_at_end` until every input
/// partition is drained up to its end offset at start (for replays and tests).
pub async fn run(settings: &Settings, kafka: &KafkaSettings, stop_at_end: bool, metrics_addr: Option<SocketAddr>) -> Result<Report> {
    // State outlives the process here: a random per-run key would give the same person a new
    // pseudonym after a restart. Checked first, before any broker is asked anything.
    let key = settings.pseudonymiser(true)?;
    let partitions = Admin::new(kafka)?.prepare().await.with_context(|| format!("preparing topics on {}", kafka.brokers))?;
    eprintln!("consuming from {} as group {:?}: household topics have {partitions} partitions", kafka.brokers, kafka.group_id);
    // Alerts leave only once a checkpoint books them (see `Pipeline::hold_alerts`).
    let mut pipeline = build_pipeline(settings, metrics_addr, key)?.hold_alerts();
    if let Some(claims) = pipeline.claims_mut() {
        claims.check_triggers().await?;
        if let Some(path) = &settings.claims_ledger {
            claims.set_ledger(fangpin_claims::Ledger::append_to(path)?);
        }
    }
    let mut source = KafkaSource::new(kafka)?;
    let mut sink = KafkaSink::new(kafka)?;
    let ends = if stop_at_end { Some(source.end_offsets()?) } else { None };
    let linger = Duration::from_millis(kafka.linger_ms);
    let commit_interval = Duration::from_millis(kafka.commit_interval_ms);
    let mut generation = 0;
    let mut last_commit = Instant::now();
    let mut notes = Vec::new();
    let started = Instant::now();
    let stop = stop_signal();
    sink.abandon_on(stop.clone());
    while !stop.load(Ordering::Relaxed) {
        let polled = source.poll(settings.batch_size, linger)?;
        if source.generation() != generation {
            // The assignment changed: whatever was not committed is read again, so state goes
            // back to the checkpoint of the partitions now owned.
            generation = source.generation();
            let owned = source.assigned_partitions();
            let note = if owned.is_empty() {
                pipeline.clear_state();
                "partitions revoked: state dropped until the next assignment".to_owned()
            } else {
                let (households, records, damaged, took) = restore(&mut pipeline, &mut source, kafka, &owned)?;
                for letter in &damaged {
                    sink.send_dead_letter(letter)?;
                }
                // Alerts the previous owner booked and may not have sent.
                deliver(&mut pipeline, &mut sink)?;
                format!(
                    "partitions {owned:?} assigned: restored {households} households from {records} changelog records \
                     ({} damaged, dead-lettered) in {:.2} s",
                    damaged.len(),
                    took.as_secs_f64()
                )
            };
            eprintln!("{note}");
            notes.push(note);
        }
        if !polled.records.is_empty() {
            tracing::debug!("processing a batch of {} records", polled.records.len());
            pipeline.process(polled.records, &mut sink).await?;
            source.mark_processed();
        }
        if source.has_uncommitted() && (polled.idle || last_commit.elapsed() >= commit_interval) {
            let written = checkpoint(&mut pipeline, &source, &mut sink, kafka)
                .context("stopping without committing (the records since the last commit will be read again)")?;
            if !written {
                // The next poll serves the revocation: state goes back to the changelog, and
                // the alerts held, which no checkpoint books, are dropped with it.
                tracing::warn!("{LOST}");
                continue;
            }
            deliver(&mut pipeline, &mut sink)?;
            match source.commit() {
                Ok(()) => {
                    last_commit = Instant::now();
                    tracing::debug!("committed: {} records read", pipeline.stats().records_in.values().sum::<u64>());
                    if polled.idle {
                        tracing::info!("caught up: {} records read", pipeline.stats().records_in.values().sum::<u64>());
                    }
                }
                // A rebalance or an absent broker: the next poll notices the former, and the
                // offsets stay pending until a commit succeeds.
                Err(e) => tracing::warn!("{e}; will retry"),
            }
        }
        if let Some(ends) = &ends {
            if polled.idle && !source.has_uncommitted() && source.drained(ends)? {
                break;
            }
        }
    }
    if stop.load(Ordering::Relaxed) {
        // Asked to stop: what was processed is committed; waiting records stay in the state.
        eprintln!("stopping: committing processed records");
    } else {
        // A replay ends here: records still waiting for a roster entry or a settlement are
        // dead-lettered, as at the end of a file replay.
        pipeline.finish(&mut sink)?;
    }
    // Nothing is committed that the broker has not acknowledged: if it is gone, a stop ends
    // here, and the records since the last commit are read again by whoever resumes.
    if checkpoint(&mut pipeline, &source, &mut sink, kafka)
        .context("stopping without committing (the records since the last commit will be read again)")?
    {
        deliver(&mut pipeline, &mut sink)?;
        sink.flush().context("stopping with alerts unsent (the changelog holds them: whoever resumes sends them)")?;
        commit_before_stopping(&mut source)
            .context("stopping without committing (the records since the last commit will be read again)")?;
    } else {
        eprintln!("stopping: {LOST}");
    }
    let out = format!(
        "Kafka at {}: {}, {}, {}, {}",
        kafka.brokers,
        kafka.topics.door_visit,
        kafka.topics.phone,
        kafka.topics.alerts,
        kafka.topics.dead_letter
    );
    Ok(Report { stats: pipeline.stats().clone(), elapsed: started.elapsed(), out, notes })
}

/// Sends the alerts held for the checkpoint just acknowledged (or restored) to their queues
/// and to the alerts topic. They are acknowledged with the next checkpoint's flush, before any
/// checkpoint that no longer carries them is written.
fn deliver(pipeline: &mut Pipeline, sink: &mut KafkaSink) -> Result<()> {
    for alert in pipeline.deliver_held(sink)? {
        sink.send(output::ALERTS, &alert.household_code, &serde_json::to_vec(&alert)?)?;
    }
    Ok(())
}

/// The last commit: a broker that is briefly away (a coordinator moving) is waited for, as the
/// outputs' flush waits, for at most the sink's stop grace.
fn commit_before_stopping(source: &mut KafkaSource) -> Result<()> {
    let deadline = Instant::now() + fangpin_connectors::kafka::sink::STOP_GRACE;
    loop {
        match source.commit() {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() < deadline => {
                tracing::warn!("{e}; retrying");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => bail!(
                "waited for the broker to take the offsets for {} s: {e}",
                fangpin_connectors::kafka::sink::STOP_GRACE.as_secs()
            ),
        }
    }
}

/// A flag raised by SIGTERM or Ctrl-C: the loop then finishes its batch, commits and stops.
fn stop_signal() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    tokio::spawn(async move {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => return tracing::warn!("cannot listen for SIGTERM: {e}"),
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        flag.store(true, Ordering::Relaxed);
    });
    stop
}

/// What the loop says when a checkpoint found the partitions gone.
const LOST: &str = "the partitions were taken away before the checkpoint was acknowledged: \
    nothing committed, the new owner reads the records since the last commit again";

/// Waits for the outputs so far, then writes and waits for the state of every household they
/// changed, each to the changelog partition its records arrive on. Answers whether the
/// checkpoint is whole and the instance still owns its partitions: only then may the offsets
/// be committed.
///
/// Fencing: nothing is written once the partitions are lost, and a flush still waiting when
/// they are lost purges what has not left. A stall before the checkpoint (the fail point
/// `kafka::before_checkpoint` makes one in tests) therefore writes nothing over the new owner's
/// checkpoints. What remains is the flush itself: librdkafka gives up the partitions only once
/// this member has not polled for `max.poll.interval.ms` (300 s by default), so a flush that
/// ends before that is not overtaken by a new owner.
fn checkpoint(pipeline: &mut Pipeline, source: &KafkaSource, sink: &mut KafkaSink, kafka: &KafkaSettings) -> Result<bool> {
    fail::fail_point!("kafka::before_checkpoint");
    pipeline.flush(sink)?;
    if !source.owns_assignment() {
        return Ok(false);
    }
    let writer = changelog::Writer::new(kafka, source.generation());
    for household in pipeline.take_changed() {
        let state = pipeline.checkpoint(&household)?;
        writer.write(sink, source.household_partition(household.as_str()), household.as_str(), state.as_deref())?;
    }
    Ok(sink.flush_unless(|| !source.owns_assignment())? && source.owns_assignment())
}

/// Rebuilds the pipeline's state from the changelog partitions `owned`. A record that cannot be
/// read back (a damaged checkpoint, a key that is no household code) must not stop the
/// instance on every restart: it is returned as a dead letter, the household's state is
/// dropped, and the household starts again from the records that arrive next (what the damaged
/// checkpoint held is lost, and the dead letter says where it was).
fn restore(
    pipeline: &mut Pipeline,
    source: &mut KafkaSource,
    kafka: &KafkaSettings,
    owned: &[i32],
) -> Result<(usize, u64, Vec<DeadLetter>, Duration)> {
    let started = Instant::now();
    pipeline.clear_state();
    let mut restoring = Restoring { topic: kafka.changelog_topic(), ..Restoring::default() };
    let read = changelog::read(kafka, owned, |partition, offset, key, payload| {
        source.note_household_partition(key, partition);
        restoring.chunk.push(ChangelogRecord { partition, offset, key: key.to_owned(), payload: payload.to_vec() });
        if restoring.chunk.len() < RESTORE_CHUNK {
            return Ok(());
        }
        restoring.apply(pipeline)
    });
    let records = match read {
        // A key mismatch stops the restore with its own message and position.
        Err(_) if restoring.fatal.is_some() => bail!(restoring.fatal.unwrap_or_default()),
        r => r?,
    };
    if restoring.apply(pipeline).is_err() {
        bail!(restoring.fatal.unwrap_or_default());
    }
    pipeline.refresh_state_metrics();
    Ok((restoring.households.len(), records, restoring.damaged, started.elapsed()))
}

/// Changelog records applied together (`Pipeline::restore_all` shares their decoding out).
const RESTORE_CHUNK: usize = 1_024;

struct ChangelogRecord {
    partition: i32,
    offset: i64,
    key: String,
    payload: Vec<u8>,
}

/// A restore under way: the records read and not yet applied, and what was restored so far.
#[derive(Default)]
struct Restoring {
    topic: String,
    chunk: Vec<ChangelogRecord>,
    households: std::collections::HashSet<String>,
    damaged: Vec<DeadLetter>,
    /// What stops the restore: a checkpoint written with another pseudonym key is the
    /// operator's to fix, not one damaged record.
    fatal: Option<String>,
}

impl Restoring {
    /// Applies the chunk in order; `Err` (the reason in `fatal`) stops the restore.
    fn apply(&mut self, pipeline: &mut Pipeline) -> Result<(), String> {
        let chunk = std::mem::take(&mut self.chunk);
        let codes: Vec<Option<HouseholdCode>> = chunk.iter().map(|r| HouseholdCode::parse(&r.key)).collect();
        let known: Vec<_> = chunk.iter().zip(&codes).filter_map(|(r, code)| Some((code.clone()?, r.payload.as_slice()))).collect();
        let mut results = pipeline.restore_all(&known).into_iter();
        for (r, code) in chunk.iter().zip(&codes) {
            let restored = match code {
                None => Err(format!("the key {:?} is not a household code", mask_id_numbers(&r.key))),
                Some(code) => match results.next().expect("a result per checkpoint") {
                    Ok(()) => Ok(()),
                    Err(e @ PipelineError::KeyMismatch { .. }) => {
                        self.fatal = Some(format!("restoring {}/{} offset {}: {e}", self.topic, r.partition, r.offset));
                        return Err("a checkpoint written with another pseudonym key".to_owned());
                    }
                    Err(e) => {
                        // Forget whatever an earlier record of this household restored.
                        let _ = pipeline.restore(code, b"");
                        Err(e.to_string())
                    }
                },
            };
            match restored {
                Ok(()) => {
                    self.households.insert(r.key.clone());
                }
                Err(why) => {
                    let (topic, partition, offset) = (&self.topic, r.partition, r.offset);
                    tracing::warn!("changelog {topic}/{partition} offset {offset}: {why}; dead-lettered, the household starts again");
                    let rejection = Rejection::whole(RejectReason::BadCheckpoint, why);
                    let source = format!("{topic}/{partition}");
                    let position = fangpin_connectors::Position::Offset(offset.max(0) as u64);
                    self.damaged.push(DeadLetter::new(topic, &source, position, &rejection, &r.payload));
                }
            }
        }
        Ok(())
    }
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
