//! Reading the contract topics: a consumer group for the household topics, and a broadcast
//! consumer that reads prices and weather in full on every instance.
//!
//! Offsets are never committed automatically: the caller marks a batch processed once its
//! outputs have been produced, and commits once they are acknowledged and the state they changed
//! is checkpointed ([`KafkaSource::commit`]). After any rebalance every record polled since the
//! last commit is dropped and the caller rebuilds state from the changelog, so an instance only
//! ever holds state that matches the committed offsets of the partitions it owns.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::BorrowedMessage;
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};

use super::settings::is_household_topic;
use super::{kafka_error, list_offsets, partition_count, KafkaSettings, METADATA_TIMEOUT};
use crate::file_source::{Position, SourceRecord};
use crate::topic::Topic;
use crate::ConnectorError;

/// Notes every assignment change; the consumer's own thread calls it from inside `poll`.
#[derive(Default)]
pub struct Assignment {
    generation: AtomicU64,
    partitions: Mutex<Vec<(String, i32)>>,
}

impl Assignment {
    fn assigned(&self, tpl: &TopicPartitionList) {
        let mut partitions = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
        *partitions = tpl.elements().iter().map(|e| (e.topic().to_owned(), e.partition())).collect();
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

impl ClientContext for Assignment {}

impl ConsumerContext for Assignment {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => return self.assigned(tpl),
            Rebalance::Revoke(_) => self.partitions.lock().unwrap_or_else(|p| p.into_inner()).clear(),
            Rebalance::Error(e) => tracing::warn!("consumer group rebalance failed: {e}"),
        }
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

/// What one poll brought.
pub struct Polled {
    pub records: Vec<SourceRecord>,
    /// The last poll found nothing more to read: the instance is caught up.
    pub idle: bool,
}

/// Offsets: (topic name, partition) → the next offset to read.
pub type Positions = HashMap<(String, i32), i64>;

/// The same within a batch, by contract topic: no allocation per message.
type Progress = HashMap<(Topic, i32), i64>;

/// The contract topics of one instance.
pub struct KafkaSource {
    group: BaseConsumer<Assignment>,
    broadcast: BaseConsumer,
    topics: HashMap<String, Topic>,
    sources: HashMap<(Topic, i32), Arc<str>>,
    /// Next offsets after the records handed out in the current batch.
    polled: Progress,
    /// Next offsets after records processed but not yet committed.
    processed: Progress,
    /// The partition each household's records arrive on, from the message keys.
    household_partitions: HashMap<String, i32>,
    generation: u64,
    idle: Duration,
    /// When the group consumer last returned from a poll, and `max.poll.interval.ms`: past it,
    /// librdkafka has left the group and the partitions may have moved on.
    polled_at: Instant,
    poll_interval: Duration,
}

impl KafkaSource {
    /// Subscribes to the household topics in the group and assigns every partition of the
    /// broadcast topics from their beginning.
    pub fn new(settings: &KafkaSettings) -> Result<KafkaSource, ConnectorError> {
        let group: BaseConsumer<Assignment> = settings
            .consumer_config(&settings.group_id)
            .set("auto.offset.reset", "earliest")
            // Range gives partition N of every household topic to the same instance.
            .set("partition.assignment.strategy", "range")
            .create_with_context(Assignment::default())
            .map_err(|e| kafka_error("creating the group consumer", e))?;
        let topics: HashMap<String, Topic> = Topic::ALL.iter().map(|t| (settings.input_name(*t).to_owned(), *t)).collect();
        let household: Vec<&str> =
            Topic::ALL.iter().filter(|t| is_household_topic(**t)).map(|t| settings.input_name(*t)).collect();
        match settings.instance {
            None => group.subscribe(&household).map_err(|e| kafka_error("subscribing to the household topics", e))?,
            Some(instance) => {
                // From the group's committed offsets (earliest where there are none), as a
                // group member would start; `poll` then reports the assignment once.
                let mut tpl = TopicPartitionList::new();
                for name in &household {
                    let count = partitions(&group, name)?;
                    if count == 0 {
                        return Err(ConnectorError::Kafka(format!("topic {name} does not exist: create it, or let fangpin create it")));
                    }
                    for p in (0..count).filter(|p| instance.owns(*p)) {
                        tpl.add_partition_offset(name, p, Offset::Stored).map_err(|e| kafka_error("assigning", e))?;
                    }
                }
                group.assign(&tpl).map_err(|e| kafka_error("assigning the household partitions", e))?;
                group.context().assigned(&tpl);
            }
        }

        let broadcast: BaseConsumer = settings
            .consumer_config(&format!("{}-broadcast", settings.group_id))
            .create()
            .map_err(|e| kafka_error("creating the broadcast consumer", e))?;
        let mut tpl = TopicPartitionList::new();
        for topic in Topic::ALL.iter().filter(|t| !is_household_topic(**t)) {
            let name = settings.input_name(*topic);
            for p in 0..partitions(&broadcast, name)? {
                tpl.add_partition_offset(name, p, Offset::Beginning).map_err(|e| kafka_error("assigning", e))?;
            }
        }
        broadcast.assign(&tpl).map_err(|e| kafka_error("assigning the broadcast topics", e))?;
        // A static assignment is made already: the first poll must not take it for a change
        // and drop what it fetched (the loop still restores state for it, from generation 0).
        let generation = group.context().generation.load(Ordering::SeqCst);
        Ok(KafkaSource {
            group,
            broadcast,
            topics,
            sources: HashMap::new(),
            polled: HashMap::new(),
            processed: HashMap::new(),
            household_partitions: HashMap::new(),
            generation,
            idle: Duration::from_millis(settings.idle_ms.max(1)),
            polled_at: Instant::now(),
            poll_interval: Duration::from_millis(
                settings.properties.get("max.poll.interval.ms").and_then(|v| v.parse().ok()).unwrap_or(300_000),
            ),
        })
    }

    /// Counts assignment changes; when it moves, the caller must rebuild state.
    pub fn generation(&self) -> u64 {
        self.group.context().generation.load(Ordering::SeqCst)
    }

    /// Whether this instance still owns the partitions of its last assignment: not once the
    /// session expired or a heartbeat found the member fenced (librdkafka marks the assignment
    /// lost at once, from its own thread), nor once `max.poll.interval.ms` passed without a
    /// poll (librdkafka then leaves the group), nor once a rebalance was served.
    ///
    /// Changelog writes and commits are made only while it holds. An instance that stalled past
    /// its poll interval (a slow disk, a paused VM) has been replaced by then, and what it
    /// would write would overwrite the new owner's checkpoints. A rebalance that is only
    /// pending does not end ownership: in the Kafka protocol the partitions move on only after
    /// this member rejoins, which it does in its next poll, or after it is timed out.
    pub fn owns_assignment(&self) -> bool {
        // librdkafka leaves the group once the poll interval is exceeded without always marking
        // the assignment lost (not when a rebalance was already pending), so the interval is
        // also watched here, with a tenth of it to spare for what is in flight.
        let polled_recently = self.polled_at.elapsed() < self.poll_interval.mul_f64(0.9);
        self.generation() == self.generation && !self.group.assignment_lost() && polled_recently
    }

    /// Partition numbers of the household topics assigned to this instance.
    pub fn assigned_partitions(&self) -> Vec<i32> {
        let partitions = self.group.context().partitions.lock().unwrap_or_else(|p| p.into_inner());
        let mut numbers: Vec<i32> = partitions.iter().map(|(_, p)| *p).collect();
        numbers.sort_unstable();
        numbers.dedup();
        numbers
    }

    /// The partition a household's records arrive on, if any was seen or restored.
    pub fn household_partition(&self, household: &str) -> Option<i32> {
        self.household_partitions.get(household).copied()
    }

    /// Remembers a household's partition (from the changelog, when restoring).
    pub fn note_household_partition(&mut self, household: &str, partition: i32) {
        self.household_partitions.insert(household.to_owned(), partition);
    }

    /// Polls until `max` records, `linger`, or nothing more to read (no record for `idle_ms`). When the assignment
    /// changes meanwhile, household records polled in this batch are dropped: they are read
    /// again from the committed offsets.
    pub fn poll(&mut self, max: usize, linger: Duration) -> Result<Polled, ConnectorError> {
        let deadline = Instant::now() + linger;
        let mut records = Vec::new();
        let mut idle = false;
        loop {
            while records.len() < max {
                match self.broadcast.poll(Duration::ZERO) {
                    Some(Ok(m)) => {
                        records.extend(to_record(&self.topics, &mut self.sources, &m));
                    }
                    Some(Err(e)) => tracing::warn!("reading the broadcast topics: {e}"),
                    None => break,
                }
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if records.len() >= max || remaining.is_zero() {
                break;
            }
            let polled = self.group.poll(remaining.min(self.idle));
            self.polled_at = Instant::now();
            match polled {
                Some(Ok(m)) => {
                    if let Some(record) = to_record(&self.topics, &mut self.sources, &m) {
                        if let Some(key) = m.key().and_then(|k| std::str::from_utf8(k).ok()) {
                            if !self.household_partitions.contains_key(key) {
                                self.household_partitions.insert(key.to_owned(), m.partition());
                            }
                        }
                        self.polled.insert((record.topic, m.partition()), m.offset() + 1);
                        records.push(record);
                    }
                }
                Some(Err(e)) => tracing::warn!("reading the household topics: {e}"),
                None => {
                    idle = true;
                    break;
                }
            }
            if self.generation() != self.generation {
                break;
            }
        }
        if self.generation() != self.generation {
            self.generation = self.generation();
            self.polled.clear();
            self.processed.clear();
            records.retain(|r| !is_household_topic(r.topic));
            idle = false;
        }
        Ok(Polled { records, idle })
    }

    /// The records handed out by the last [`KafkaSource::poll`] have been processed.
    pub fn mark_processed(&mut self) {
        for (tp, next) in self.polled.drain() {
            let entry = self.processed.entry(tp).or_insert(next);
            *entry = (*entry).max(next);
        }
    }

    /// Processed records wait for a commit.
    pub fn has_uncommitted(&self) -> bool {
        !self.processed.is_empty()
    }

    /// Commits the offsets of processed records, synchronously. Call only once their outputs
    /// are acknowledged and their state is checkpointed. On failure (a rebalance, the broker
    /// away) the offsets stay pending and the records are read again by whoever owns them next.
    pub fn commit(&mut self) -> Result<(), ConnectorError> {
        if self.processed.is_empty() {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), next) in &self.processed {
            let name = self.topics.iter().find(|(_, t)| *t == topic).map_or(topic.name(), |(n, _)| n.as_str());
            tpl.add_partition_offset(name, *partition, Offset::Offset(*next)).map_err(|e| kafka_error("committing", e))?;
        }
        self.group.commit(&tpl, CommitMode::Sync).map_err(|e| kafka_error("committing offsets", e))?;
        self.processed.clear();
        Ok(())
    }

    /// The end offset of every partition of every input topic now: with
    /// [`KafkaSource::drained`], what `--stop-at-end` waits for.
    pub fn end_offsets(&self) -> Result<Positions, ConnectorError> {
        // One metadata request for every topic: each took ~0.4 s against tansu.
        let metadata = self
            .broadcast
            .fetch_metadata(None, METADATA_TIMEOUT)
            .map_err(|e| kafka_error("reading the topics' metadata", e))?;
        let partitions: Vec<(String, i32)> = metadata
            .topics()
            .iter()
            .filter(|t| self.topics.contains_key(t.name()))
            .flat_map(|t| t.partitions().iter().map(|p| (t.name().to_owned(), p.id())))
            .collect();
        list_offsets(&self.broadcast, &partitions, Offset::End)
    }

    /// Whether the group has committed every household partition up to `ends` and this
    /// instance has read the broadcast topics up to theirs.
    pub fn drained(&self, ends: &Positions) -> Result<bool, ConnectorError> {
        let mut group_tpl = TopicPartitionList::new();
        for ((topic, partition), _) in ends.iter().filter(|((t, _), _)| self.is_household(t)) {
            group_tpl.add_partition(topic, *partition);
        }
        let committed = self
            .group
            .committed_offsets(group_tpl, METADATA_TIMEOUT)
            .map_err(|e| kafka_error("reading the group's committed offsets", e))?;
        let broadcast = self.broadcast.position().map_err(|e| kafka_error("reading broadcast positions", e))?;
        let reached = |tpl: &TopicPartitionList, topic: &str, partition: i32, end: i64| {
            let at = match tpl.find_partition(topic, partition).map(|e| e.offset()) {
                Some(Offset::Offset(n)) => n,
                _ => 0,
            };
            at >= end
        };
        Ok(ends.iter().all(|((topic, partition), end)| {
            let tpl = if self.is_household(topic) { &committed } else { &broadcast };
            reached(tpl, topic, *partition, *end)
        }))
    }

    fn is_household(&self, topic: &str) -> bool {
        self.topics.get(topic).is_some_and(|t| is_household_topic(*t))
    }

}

/// The record of message `m`, with its source named `topic/partition`.
fn to_record(
    topics: &HashMap<String, Topic>,
    sources: &mut HashMap<(Topic, i32), Arc<str>>,
    m: &BorrowedMessage<'_>,
) -> Option<SourceRecord> {
    let Some(topic) = topics.get(m.topic()).copied() else {
        tracing::warn!("message from unexpected topic {}", m.topic());
        return None;
    };
    let source = sources
        .entry((topic, m.partition()))
        .or_insert_with(|| Arc::from(format!("{}/{}", m.topic(), m.partition())))
        .clone();
    Some(SourceRecord {
        topic,
        source,
        position: Position::Offset(u64::try_from(m.offset()).unwrap_or(0)),
        payload: m.payload().unwrap_or_default().to_vec(),
    })
}

/// Partition count of `topic` (0 when it does not exist).
fn partitions<C: ConsumerContext>(consumer: &BaseConsumer<C>, topic: &str) -> Result<i32, ConnectorError> {
    Ok(partition_count(consumer.client(), topic)?.unwrap_or(0) as i32)
}
