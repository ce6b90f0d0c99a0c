//! The queues on Kafka (feature `kafka`): `verify.door_visit` and `verify.phone` read by one
//! consumer group (`[cases] kafka_group`, default `fangpin-cases`), outcomes produced on the
//! pipeline's `verify.outcomes` input. Offsets are committed only after the tasks are committed
//! to the store, so a crash reads some alerts again, which an alert id makes harmless.

use std::collections::BTreeMap;
use std::time::Duration;

use fangpin_connectors::kafka::admin::Admin;
use fangpin_connectors::kafka::{KafkaSettings, KafkaSink};
use fangpin_connectors::topic::output;
use fangpin_connectors::{ConnectorError, Sink, Topic};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::config::CasesConfig;
use crate::ingest::Ingested;
use crate::store::{now_china, Store};
use crate::{CasesError, Result};

/// Most alerts applied in one round (one transaction).
const MAX_ROUND: usize = 5000;

fn kafka(what: &str, e: impl std::fmt::Display) -> CasesError {
    CasesError::Config(format!("Kafka: {what}: {e}"))
}

/// The consumer of the two verification queues.
pub struct KafkaQueues {
    consumer: BaseConsumer,
}

impl KafkaQueues {
    /// Creates the two queue topics and the outcome topic where they are missing (as the
    /// pipeline does for its own), then subscribes.
    pub async fn new(settings: &KafkaSettings, group_id: &str) -> Result<KafkaQueues> {
        let topics = [
            settings.output_name(output::DOOR_VISIT),
            settings.output_name(output::PHONE),
            settings.input_name(Topic::Outcomes),
        ];
        let wanted: Vec<_> = topics.iter().map(|t| ((*t).to_owned(), settings.partitions, vec![])).collect();
        Admin::new(settings)
            .map_err(|e| kafka("connecting", e))?
            .create_missing(&wanted)
            .await
            .map_err(|e| kafka("creating the queue and outcome topics", e))?;
        let consumer: BaseConsumer = settings
            .consumer_config(group_id)
            .set("auto.offset.reset", "earliest")
            .create()
            .map_err(|e| kafka("creating the queue consumer", e))?;
        let topics = [settings.output_name(output::DOOR_VISIT), settings.output_name(output::PHONE)];
        consumer.subscribe(&topics).map_err(|e| kafka("subscribing to the queues", e))?;
        Ok(KafkaQueues { consumer })
    }

    /// Applies what has arrived (up to [`MAX_ROUND`] alerts), then commits the offsets.
    pub async fn read(&mut self, store: &Store, config: &CasesConfig) -> Result<Ingested> {
        // librdkafka's poll blocks the thread for up to its timeout: keep it off the async
        // workers' backs.
        let polled = tokio::task::block_in_place(|| {
            let mut polled = Vec::new();
            let mut wait = Duration::from_millis(100);
            while polled.len() < MAX_ROUND {
                match self.consumer.poll(wait) {
                    None => break,
                    Some(Err(e)) => return Err(kafka("reading the queues", e)),
                    Some(Ok(m)) => {
                        let payload = m.payload().unwrap_or_default().to_vec();
                        polled.push((m.topic().to_owned(), m.partition(), m.offset(), payload));
                        wait = Duration::from_millis(10);
                    }
                }
            }
            Ok(polled)
        })?;
        let mut total = Ingested::default();
        if polled.is_empty() {
            return Ok(total);
        }
        let received = now_china();
        let mut next: BTreeMap<(String, i32), i64> = BTreeMap::new();
        let mut tx = store.begin().await?;
        for (topic, partition, offset, payload) in &polled {
            total.apply(&mut tx, payload, received, config, &format!("{topic}/{partition}@{offset}")).await?;
            next.insert((topic.clone(), *partition), offset + 1);
        }
        tx.commit().await?;
        let mut offsets = TopicPartitionList::new();
        for ((topic, partition), offset) in next {
            offsets
                .add_partition_offset(&topic, partition, Offset::Offset(offset))
                .map_err(|e| kafka("recording offsets", e))?;
        }
        tokio::task::block_in_place(|| self.consumer.commit(&offsets, CommitMode::Sync))
            .map_err(|e| kafka("committing the queue offsets", e))?;
        Ok(total)
    }
}

/// Outcomes to the topic the pipeline reads `verify.outcomes` from.
pub struct KafkaOutcomes {
    sink: KafkaSink,
    topic: String,
}

impl KafkaOutcomes {
    pub fn new(settings: &KafkaSettings) -> Result<KafkaOutcomes> {
        let sink = KafkaSink::new(settings).map_err(|e| kafka("creating the outcome producer", e))?;
        Ok(KafkaOutcomes { sink, topic: settings.input_name(Topic::Outcomes).to_owned() })
    }
}

impl Sink for KafkaOutcomes {
    fn send(&mut self, topic: &str, key: &str, payload: &[u8]) -> Result<(), ConnectorError> {
        let topic = if topic == Topic::Outcomes.name() { self.topic.as_str() } else { topic };
        self.sink.produce(topic, None, key, Some(payload), None)
    }

    fn flush(&mut self) -> Result<(), ConnectorError> {
        self.sink.flush()
    }
}
