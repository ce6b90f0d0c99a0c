//! The Kafka loop: consume → process → produce → checkpoint → commit, and the restore of
//! owned households from the changelog when partitions are assigned.
//!
//! Delivery is at-least-once. Offsets are committed only after the outputs of the records they
//! cover are acknowledged and the state those records changed is acknowledged on the changelog.
//! Alerts are held until the checkpoint that books them is acknowledged, and the checkpoint
//! carries them until they are sent ([`Pipeline::hold_alerts`]): a successor therefore knows
//! every alert its predecessor may have sent, and sends again any it may not have. A crash
//! replays from the last commit: alert ids are deterministic and the ledger ignores records it
//! already holds, so a replay repeats messages but never invents different alerts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fangpin_connectors::event::HouseholdCode;
use fangpin_connectors::kafka::sink::STOP_GRACE;
use fangpin_connectors::kafka::{admin::Admin, changelog, KafkaSettings, KafkaSink, KafkaSource};
use fangpin_connectors::topic::output;
use fangpin_connectors::{mask_id_numbers, DeadLetter, RejectReason, Rejection, Sink};

use crate::{Pipeline, PipelineError, RunStats};

/// How the loop runs.
#[derive(Clone, Debug)]
pub struct LoopOptions {
    /// Most records processed in one micro-batch.
    pub batch_size: usize,
    /// Stop once every input partition is drained up to its end offset at start (replays and
    /// tests); otherwise run until `stop` is raised.
    pub stop_at_end: bool,
}

/// What a run of the loop did.
pub struct LoopReport {
    pub stats: RunStats,
    pub elapsed: Duration,
    /// One line per assignment: what was restored, or that state was dropped.
    pub notes: Vec<String>,
}

/// Why a stop leaves the offsets where they were.
const NOT_COMMITTED: &str = "stopping without committing (the records since the last commit will be read again)";

/// Runs `pipeline` against the contract topics of `kafka` until `stop` is raised (see
/// [`stop_signal`]) or, with `stop_at_end`, the inputs are drained. The pipeline is set to
/// hold its alerts until a checkpoint books them.
pub async fn run(pipeline: Pipeline, kafka: &KafkaSettings, options: LoopOptions, stop: Arc<AtomicBool>) -> Result<LoopReport, PipelineError> {
    let partitions = async { Admin::new(kafka)?.prepare().await }.await.map_err(|e| PipelineError::Stopped {
        stage: format!("preparing topics on {}", kafka.brokers),
        source: Box::new(PipelineError::from(e)),
    })?;
    tracing::info!("consuming from {} as group {:?}: household topics have {partitions} partitions", kafka.brokers, kafka.group_id);
    let mut pipeline = pipeline.hold_alerts();
    let mut source = KafkaSource::new(kafka)?;
    let mut sink = KafkaSink::new(kafka)?;
    let ends = if options.stop_at_end { Some(source.end_offsets()?) } else { None };
    let linger = Duration::from_millis(kafka.linger_ms);
    let commit_interval = Duration::from_millis(kafka.commit_interval_ms);
    let mut generation = 0;
    let mut last_commit = Instant::now();
    let mut notes = Vec::new();
    let started = Instant::now();
    let stopped = |e: PipelineError| PipelineError::Stopped { stage: NOT_COMMITTED.to_owned(), source: Box::new(e) };
    sink.abandon_on(stop.clone());
    while !stop.load(Ordering::Relaxed) {
        let polled = source.poll(options.batch_size, linger)?;
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
            tracing::info!("{note}");
            notes.push(note);
        }
        if !polled.records.is_empty() {
            tracing::debug!("processing a batch of {} records", polled.records.len());
            pipeline.process(polled.records, &mut sink).await?;
            source.mark_processed();
        }
        if source.has_uncommitted() && (polled.idle || last_commit.elapsed() >= commit_interval) {
            let written = checkpoint(&mut pipeline, &source, &mut sink, kafka).map_err(stopped)?;
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
        tracing::info!("stopping: committing processed records");
    } else {
        // A replay ends here: records still waiting for a roster entry or a settlement are
        // dead-lettered, as at the end of a file replay.
        pipeline.finish(&mut sink)?;
    }
    // Nothing is committed that the broker has not acknowledged: if it is gone, a stop ends
    // here, and the records since the last commit are read again by whoever resumes.
    if checkpoint(&mut pipeline, &source, &mut sink, kafka).map_err(stopped)? {
        deliver(&mut pipeline, &mut sink)?;
        sink.flush().map_err(|e| PipelineError::Stopped {
            stage: "stopping with alerts unsent (the changelog holds them: whoever resumes sends them)".to_owned(),
            source: Box::new(e.into()),
        })?;
        commit_before_stopping(&mut source)?;
    } else {
        tracing::warn!("stopping: {LOST}");
    }
    let report = LoopReport { stats: pipeline.stats().clone(), elapsed: started.elapsed(), notes };
    close(source, sink);
    Ok(report)
}

/// How long closing the Kafka clients may take once the loop is over.
const CLOSE_GRACE: Duration = Duration::from_secs(10);

/// Closes the clients (the consumer leaves its group), waiting at most [`CLOSE_GRACE`]. By now
/// every output is acknowledged and the offsets committed, or deliberately not; but closing a
/// consumer can wait without end on a broker that stopped answering (rust-rdkafka issue #509:
/// a drop blocked in `rd_kafka_consumer_close`; one of two runs of the fencing test here hung
/// after the loop had returned), and an instance asked to stop must stop. A consumer that has
/// not left is dropped from the group when its session expires.
fn close(source: KafkaSource, sink: KafkaSink) {
    let (closed, done) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(source);
        drop(sink);
        let _ = closed.send(());
    });
    if done.recv_timeout(CLOSE_GRACE).is_err() {
        tracing::warn!(
            "the Kafka clients did not close within {} s: stopping without them (the group drops this member when its session expires)",
            CLOSE_GRACE.as_secs()
        );
    }
}

/// Sends the alerts held for the checkpoint just acknowledged (or restored) to their queues
/// and to the alerts topic. They are acknowledged with the next checkpoint's flush, before any
/// checkpoint that no longer carries them is written.
fn deliver(pipeline: &mut Pipeline, sink: &mut KafkaSink) -> Result<(), PipelineError> {
    for alert in pipeline.deliver_held(sink)? {
        let json = serde_json::to_vec(&alert).map_err(|e| PipelineError::Internal(format!("alert {}: {e}", alert.alert_id)))?;
        sink.send(output::ALERTS, &alert.household_code, &json)?;
    }
    Ok(())
}

/// The last commit: a broker that is briefly away (a coordinator moving) is waited for, as the
/// outputs' flush waits, for at most the sink's stop grace.
fn commit_before_stopping(source: &mut KafkaSource) -> Result<(), PipelineError> {
    let deadline = Instant::now() + STOP_GRACE;
    loop {
        match source.commit() {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() < deadline => {
                tracing::warn!("{e}; retrying");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => {
                let stage = format!("{NOT_COMMITTED}: waited for the broker to take the offsets for {} s", STOP_GRACE.as_secs());
                return Err(PipelineError::Stopped { stage, source: Box::new(e.into()) });
            }
        }
    }
}

/// A flag raised by SIGTERM or Ctrl-C: the loop then finishes its batch, commits and stops.
/// Call it inside the Tokio runtime.
pub fn stop_signal() -> Arc<AtomicBool> {
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
fn checkpoint(pipeline: &mut Pipeline, source: &KafkaSource, sink: &mut KafkaSink, kafka: &KafkaSettings) -> Result<bool, PipelineError> {
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
///
/// Each checkpoint replaces the whole of its household's state, so only the last record of
/// each household is applied: the changelog holds several per household until the broker
/// compacts it (538,611 records for 110,728 households after the default world), and applying
/// every one of them was most of a restore. A damaged or foreign-key record that a later
/// checkpoint of the same household replaces is therefore neither dead-lettered nor fatal.
fn restore(
    pipeline: &mut Pipeline,
    source: &mut KafkaSource,
    kafka: &KafkaSettings,
    owned: &[i32],
) -> Result<(usize, u64, Vec<DeadLetter>, Duration), PipelineError> {
    let started = Instant::now();
    pipeline.clear_state();
    let mut restoring = Restoring { topic: kafka.changelog_topic(), ..Restoring::default() };
    let mut last: HashMap<String, ChangelogRecord> = HashMap::new();
    let records = changelog::read(kafka, owned, |partition, offset, key, payload| {
        source.note_household_partition(key, partition);
        last.insert(key.to_owned(), ChangelogRecord { partition, offset, key: key.to_owned(), payload: payload.to_vec() });
        Ok::<(), String>(())
    })?;
    let mut last: Vec<ChangelogRecord> = last.into_values().collect();
    last.sort_unstable_by_key(|r| (r.partition, r.offset));
    let mut last = last.into_iter();
    loop {
        restoring.chunk = last.by_ref().take(RESTORE_CHUNK).collect();
        if restoring.chunk.is_empty() {
            break;
        }
        // A key mismatch stops the restore with its own message and position.
        if restoring.apply(pipeline).is_err() {
            return Err(restoring.fatal.take().expect("set with the error"));
        }
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
    fatal: Option<PipelineError>,
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
                        let stage = format!("restoring {}/{} offset {}", self.topic, r.partition, r.offset);
                        self.fatal = Some(PipelineError::Stopped { stage, source: Box::new(e) });
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
