//! Kafka: department topics in, queues, alerts, dead letters and the state changelog out.
//!
//! Built on rdkafka with librdkafka compiled from source (Debian's is too old). Household topics
//! are keyed by household code and read by one consumer group, so that every household's records
//! reach one instance; prices and weather are small and read in full by every instance.
//!
//! - [`settings`]: the `[kafka]` configuration: brokers, group, topic names, librdkafka options.
//! - [`admin`]: creates missing topics and checks that household topics are co-partitioned.
//! - [`source`]: the group consumer plus the broadcast consumer, batching and offset commits.
//! - [`sink`]: the producer behind [`crate::Sink`], with delivery tracking and dead-letter headers.
//! - [`changelog`]: reads a changelog partition back when its partition is assigned.

pub mod admin;
pub mod changelog;
pub mod settings;
pub mod sink;
pub mod source;

pub use settings::{KafkaSettings, StaticInstance, TopicNames};
pub use sink::KafkaSink;
pub use source::{KafkaSource, Polled};

use crate::ConnectorError;

fn kafka_error(what: &str, e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Kafka(format!("{what}: {e}"))
}

const METADATA_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The earliest (`Offset::Beginning`) or the end (`Offset::End`) offset of each partition, in
/// one ListOffsets request: a watermark query per partition took ~0.6 s against tansu.
fn list_offsets<C: rdkafka::consumer::ConsumerContext>(
    consumer: &rdkafka::consumer::BaseConsumer<C>,
    partitions: &[(String, i32)],
    which: rdkafka::Offset,
) -> Result<std::collections::HashMap<(String, i32), i64>, ConnectorError> {
    use rdkafka::consumer::Consumer;
    let mut tpl = rdkafka::TopicPartitionList::new();
    for (topic, p) in partitions {
        tpl.add_partition_offset(topic, *p, which).map_err(|e| kafka_error("listing partitions", e))?;
    }
    let found = consumer.offsets_for_times(tpl, METADATA_TIMEOUT).map_err(|e| kafka_error("listing offsets", e))?;
    let mut offsets = std::collections::HashMap::new();
    for e in found.elements() {
        e.error().map_err(|err| kafka_error(&format!("listing the offsets of {}/{}", e.topic(), e.partition()), err))?;
        let rdkafka::Offset::Offset(offset) = e.offset() else {
            return Err(ConnectorError::Kafka(format!("no offset for {}/{}: {:?}", e.topic(), e.partition(), e.offset())));
        };
        offsets.insert((e.topic().to_owned(), e.partition()), offset);
    }
    Ok(offsets)
}

/// Partition count of `topic`, or `None` when it does not exist.
fn partition_count<C: rdkafka::ClientContext>(
    client: &rdkafka::client::Client<C>,
    topic: &str,
) -> Result<Option<usize>, ConnectorError> {
    let metadata = client
        .fetch_metadata(Some(topic), METADATA_TIMEOUT)
        .map_err(|e| kafka_error(&format!("reading metadata of {topic}"), e))?;
    Ok(metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty())
        .map(|t| t.partitions().len()))
}

/// The message key a contract gives a record: the household code, `county_code:commodity` for
/// prices, the station for weather. `None` when the payload is not JSON or lacks the fields
/// (the record is still published, unkeyed, and fangpin dead-letters it).
pub fn contract_key(topic: crate::Topic, payload: &[u8]) -> Option<String> {
    use crate::Topic;
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let field = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    match topic {
        Topic::Prices => Some(format!("{}:{}", field("county_code")?, field("commodity")?)),
        Topic::Weather => field("station_id"),
        _ => field("household_code"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Topic;

    #[test]
    fn keys_follow_the_contracts() {
        let key = |t, s: &str| contract_key(t, s.as_bytes());
        assert_eq!(key(Topic::Medical, r#"{"household_code":"420902001001-0001"}"#).as_deref(), Some("420902001001-0001"));
        assert_eq!(key(Topic::Prices, r#"{"county_code":"420902","commodity":"tea"}"#).as_deref(), Some("420902:tea"));
        assert_eq!(key(Topic::Weather, r#"{"station_id":"57482"}"#).as_deref(), Some("57482"));
        assert_eq!(key(Topic::Roster, "not json"), None);
    }
}
