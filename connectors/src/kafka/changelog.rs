//! The state changelog: writing checkpoints with who wrote them, and reading them back, every
//! record of some partitions, oldest first, up to the end offsets seen when the restore began.
//! Later records for a key replace earlier ones, so the caller applies them in order; an empty
//! payload is a tombstone.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::{Message, Offset, TopicPartitionList};

use super::{kafka_error, list_offsets, KafkaSettings, KafkaSink};
use crate::ConnectorError;

/// Writes checkpoints with who wrote them in the headers: `writer`, the host and process, and
/// `assignment`, the assignment it held (counted by the process from 1). An operator reading a
/// changelog can tell instances and rebalances apart, and the fencing test checks that no
/// record of a lost assignment arrives after it was lost.
pub struct Writer {
    topic: String,
    process: String,
    assignment: String,
}

impl Writer {
    pub fn new(settings: &KafkaSettings, assignment: u64) -> Writer {
        // Read once per process, not at every checkpoint.
        static PROCESS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let process = PROCESS.get_or_init(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
            format!("{}:{}", host.trim(), std::process::id())
        });
        Writer { topic: settings.changelog_topic(), process: process.clone(), assignment: assignment.to_string() }
    }

    /// Queues `household`'s checkpoint (`None`: a tombstone) to `partition`, else by key.
    pub fn write(&self, sink: &mut KafkaSink, partition: Option<i32>, household: &str, state: Option<&[u8]>) -> Result<(), ConnectorError> {
        let headers = OwnedHeaders::new()
            .insert(Header { key: "writer", value: Some(self.process.as_str()) })
            .insert(Header { key: "assignment", value: Some(self.assignment.as_str()) });
        sink.produce(&self.topic, partition, household, state, Some(headers))
    }
}

/// How long one poll waits, and how long a restore waits in all for a broker that sends
/// nothing while partitions are still behind: a busy broker is waited for (saying so), a gone
/// one stops the restore.
const TIMEOUT: Duration = Duration::from_secs(30);
const PATIENCE: u32 = 10;

/// Reads partitions `partitions` of the changelog and calls `apply(partition, offset, key,
/// payload)` for each record in offset order. Returns the number of records read.
pub fn read<E: std::fmt::Display>(
    settings: &KafkaSettings,
    partitions: &[i32],
    mut apply: impl FnMut(i32, i64, &str, &[u8]) -> Result<(), E>,
) -> Result<u64, ConnectorError> {
    let topic = &settings.changelog_topic();
    let consumer: BaseConsumer = settings
        .consumer_config(&format!("{}-restore", settings.group_id))
        .create()
        .map_err(|e| kafka_error("creating the changelog reader", e))?;
    let owned: Vec<(String, i32)> = partitions.iter().map(|p| (topic.clone(), *p)).collect();
    let starts = list_offsets(&consumer, &owned, Offset::Beginning)?;
    let ends = list_offsets(&consumer, &owned, Offset::End)?;
    let mut remaining: HashMap<i32, i64> = HashMap::new();
    let mut tpl = TopicPartitionList::new();
    for key @ (_, p) in &owned {
        let (low, high) = (starts.get(key).copied().unwrap_or(0), ends.get(key).copied().unwrap_or(0));
        if high > low {
            remaining.insert(*p, high);
            tpl.add_partition_offset(topic, *p, Offset::Beginning).map_err(|e| kafka_error("assigning", e))?;
        }
    }
    if remaining.is_empty() {
        return Ok(0);
    }
    consumer.assign(&tpl).map_err(|e| kafka_error(&format!("assigning {topic}"), e))?;
    let mut read = 0;
    let mut silent = 0;
    while !remaining.is_empty() {
        match consumer.poll(TIMEOUT) {
            Some(Ok(m)) => {
                read += 1;
                silent = 0;
                let key = m.key().and_then(|k| std::str::from_utf8(k).ok()).unwrap_or_default();
                apply(m.partition(), m.offset(), key, m.payload().unwrap_or_default())
                    .map_err(|e| ConnectorError::Kafka(format!("restoring {topic}/{} offset {}: {e}", m.partition(), m.offset())))?;
                if remaining.get(&m.partition()).is_some_and(|end| m.offset() + 1 >= *end) {
                    remaining.remove(&m.partition());
                }
            }
            Some(Err(e)) => return Err(kafka_error(&format!("reading {topic}"), e)),
            None if silent + 1 < PATIENCE => {
                silent += 1;
                tracing::warn!("reading {topic}: nothing arrived for {} s, partitions {:?} still behind; waiting", TIMEOUT.as_secs() * u64::from(silent), remaining.keys().collect::<Vec<_>>());
            }
            None => {
                return Err(ConnectorError::Kafka(format!(
                    "reading {topic}: nothing arrived for {} s while partitions {:?} were still behind",
                    TIMEOUT.as_secs() * u64::from(PATIENCE),
                    remaining.keys().collect::<Vec<_>>()
                )))
            }
        }
    }
    Ok(read)
}
