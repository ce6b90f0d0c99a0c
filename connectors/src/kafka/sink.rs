//! The producer behind [`Sink`]: queues, alerts, dead letters and changelog records.
//!
//! Sending only queues a message in librdkafka; [`Sink::flush`] waits until the broker has
//! acknowledged everything queued and fails if any message could not be delivered, so that the
//! caller never commits input offsets for outputs that were lost.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext, PurgeConfig};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Message};

use super::{kafka_error, KafkaSettings};
use crate::dead_letter::DeadLetter;
use crate::file_source::Position;
use crate::topic::output;
use crate::{ConnectorError, Sink};

/// How often a flush that is still waiting for acknowledgements says so.
const FLUSH_REPORT: Duration = Duration::from_secs(30);

/// How long a flush still waits once the process is asked to stop: enough for a live broker to
/// acknowledge a batch, bounded for one that is gone.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// How often a waiting flush checks whether it was asked to give up.
const FLUSH_STEP: Duration = Duration::from_millis(500);

/// Counts failed deliveries and keeps the first failure.
#[derive(Default)]
pub struct Deliveries {
    failed: AtomicU64,
    first_failure: Mutex<Option<String>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {}
            // Purged on purpose (see `KafkaSink::flush_unless`): their records are read again.
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::PurgeQueue | RDKafkaErrorCode::PurgeInflight), _)) => {}
            Err((e, message)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                let mut first = self.first_failure.lock().unwrap_or_else(|p| p.into_inner());
                first.get_or_insert_with(|| format!("delivery to {} failed: {e}", message.topic()));
            }
        }
    }
}

/// A Kafka producer writing fangpin's outputs under their configured names.
pub struct KafkaSink {
    producer: BaseProducer<Deliveries>,
    settings: KafkaSettings,
    /// Raised when the process is asked to stop: a flush then gives up instead of waiting for a
    /// broker that may never come back.
    abandon: Arc<AtomicBool>,
}

impl KafkaSink {
    /// A producer for `settings`. Idempotence keeps retries from writing a message twice, and
    /// the murmur2 partitioner is the Java clients' default, so keys land where they would
    /// from any other producer. Batches are lz4-compressed unless the configuration says
    /// otherwise: checkpoints are JSON and shrink about fivefold, and changelog writes were what
    /// held a broker back.
    pub fn new(settings: &KafkaSettings) -> Result<KafkaSink, ConnectorError> {
        let mut config = settings.client_config();
        if !settings.properties.contains_key("compression.type") {
            config.set("compression.type", "lz4");
        }
        let producer = config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("partitioner", "murmur2_random")
            .set("linger.ms", "20")
            .create_with_context(Deliveries::default())
            .map_err(|e| kafka_error("creating the producer", e))?;
        Ok(KafkaSink { producer, settings: settings.clone(), abandon: Arc::new(AtomicBool::new(false)) })
    }

    /// Makes flushes give up once `flag` is raised (SIGTERM), failing with what was not
    /// acknowledged, so that a stop is bounded even when the broker is gone.
    pub fn abandon_on(&mut self, flag: Arc<AtomicBool>) {
        self.abandon = flag;
    }

    /// Queues a message to a topic given by its real name, to `partition` if given, else by key;
    /// `payload` `None` is a tombstone.
    pub fn produce(
        &mut self,
        topic: &str,
        partition: Option<i32>,
        key: &str,
        payload: Option<&[u8]>,
        headers: Option<OwnedHeaders>,
    ) -> Result<(), ConnectorError> {
        let mut record = BaseRecord::<str, [u8]>::to(topic).key(key);
        if let Some(p) = payload {
            record = record.payload(p);
        }
        if let Some(p) = partition {
            record = record.partition(p);
        }
        if let Some(h) = headers {
            record = record.headers(h);
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                // librdkafka's queue is full: serve delivery reports to make room, then retry.
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    self.producer.poll(Duration::from_millis(50));
                }
                Err((e, _)) => return Err(kafka_error(&format!("producing to {topic}"), e)),
            }
        }
    }

    /// As [`Sink::flush`], unless `give_up` turns true while it waits: then what has not been
    /// acknowledged is purged, so that it does not reach the broker later, and the answer is
    /// `false`. The checkpoint gives up so when the instance loses its partitions, whose new
    /// owner must not find this instance's late changelog writes over its own.
    pub fn flush_unless(&mut self, give_up: impl Fn() -> bool) -> Result<bool, ConnectorError> {
        let (mut waited, mut stopping) = (Duration::ZERO, Duration::ZERO);
        while let Err(e) = self.producer.flush(FLUSH_STEP) {
            if give_up() {
                self.producer.purge(PurgeConfig::default().queue().inflight());
                // Serves the purged messages' reports, which say nothing went wrong.
                let _ = self.producer.flush(FLUSH_STEP);
                return Ok(false);
            }
            let waiting = self.producer.in_flight_count();
            if waiting == 0 {
                return Err(kafka_error("waiting for the broker to acknowledge outputs", e));
            }
            if self.abandon.load(Ordering::Relaxed) {
                stopping += FLUSH_STEP;
                if stopping >= STOP_GRACE {
                    return Err(ConnectorError::Kafka(format!(
                        "stopped while {waiting} messages still waited for the broker's acknowledgement"
                    )));
                }
            }
            waited += FLUSH_STEP;
            if waited >= FLUSH_REPORT {
                waited = Duration::ZERO;
                tracing::warn!("{waiting} messages still wait for the broker's acknowledgement");
            }
        }
        let context = self.producer.context();
        if context.failed.load(Ordering::Relaxed) > 0 {
            let first = context.first_failure.lock().unwrap_or_else(|p| p.into_inner()).clone();
            return Err(ConnectorError::Kafka(first.unwrap_or_else(|| "a delivery failed".into())));
        }
        Ok(true)
    }
}

impl Sink for KafkaSink {
    fn send(&mut self, topic: &str, key: &str, payload: &[u8]) -> Result<(), ConnectorError> {
        let name = self.settings.output_name(topic).to_owned();
        self.produce(&name, None, key, Some(payload), None)
    }

    /// Waits for every message queued so far. A slow or absent broker only delays it: a message
    /// that cannot be delivered within librdkafka's `message.timeout.ms` fails, and the flush
    /// with it.
    fn flush(&mut self) -> Result<(), ConnectorError> {
        self.flush_unless(|| false).map(|_| ())
    }

    /// The dead letter as JSON, with its origin in headers so that tools can route it unparsed.
    fn send_dead_letter(&mut self, letter: &DeadLetter) -> Result<(), ConnectorError> {
        let json = serde_json::to_vec(letter).map_err(|e| ConnectorError::Internal(e.to_string()))?;
        // A Kafka source is `topic/partition`; a file source has no partition.
        let partition = letter.source.rsplit_once('/').map_or("", |(_, p)| p);
        let partition = if partition.parse::<i32>().is_ok() { partition } else { "" };
        let (position_header, n) = match letter.position {
            Position::Offset(n) => ("source_offset", n),
            Position::Line(n) => ("source_line", n),
        };
        let n = n.to_string();
        let headers = OwnedHeaders::new()
            .insert(Header { key: "source_topic", value: Some(letter.topic.as_str()) })
            .insert(Header { key: "source_partition", value: Some(partition) })
            .insert(Header { key: position_header, value: Some(n.as_str()) })
            .insert(Header { key: "reason", value: Some(letter.reason.as_str()) });
        // Keyed by where it came from: a dead letter read twice (after a restart) has the same key.
        let key = format!("{}:{}", letter.source, letter.position.number());
        let topic = self.settings.output_name(output::DEAD_LETTER).to_owned();
        self.produce(&topic, None, &key, Some(&json), Some(headers))
    }
}
