//! Topics: what fangpin needs to exist, created when missing, and the co-partitioning check.

use std::collections::BTreeMap;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use super::settings::is_household_topic;
use super::{kafka_error, partition_count, KafkaSettings, METADATA_TIMEOUT};
use crate::topic::{output, Topic};
use crate::ConnectorError;

/// A topic to have: name, partitions, topic configuration.
type Wanted<'a> = (String, i32, Vec<(&'a str, &'a str)>);

/// Admin operations on the cluster of `settings`.
pub struct Admin {
    client: AdminClient<DefaultClientContext>,
    settings: KafkaSettings,
}

impl Admin {
    pub fn new(settings: &KafkaSettings) -> Result<Admin, ConnectorError> {
        let client = settings.client_config().create().map_err(|e| kafka_error("creating the admin client", e))?;
        Ok(Admin { client, settings: settings.clone() })
    }

    /// Partition count of `topic`, or `None` when it does not exist.
    pub fn partitions(&self, topic: &str) -> Result<Option<usize>, ConnectorError> {
        partition_count(self.client.inner(), topic)
    }

    /// Creates the topics among `wanted` (name, partitions, config) that do not exist yet.
    pub async fn create_missing(&self, wanted: &[Wanted<'_>]) -> Result<(), ConnectorError> {
        let mut missing = Vec::new();
        for (name, partitions, config) in wanted {
            if self.partitions(name)?.is_none() {
                let replication = TopicReplication::Fixed(self.settings.replication);
                let mut topic = NewTopic::new(name, *partitions, replication);
                for (k, v) in config {
                    topic = topic.set(k, v);
                }
                missing.push(topic);
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        if !self.settings.create_topics {
            let names: Vec<String> = missing.iter().map(|t| format!("{} ({} partitions)", t.name, t.num_partitions)).collect();
            return Err(ConnectorError::Config(format!(
                "topics missing on {}: {}. Create them, or set kafka.create_topics = true to let fangpin create them",
                self.settings.brokers,
                names.join(", ")
            )));
        }
        let results = self
            .client
            .create_topics(&missing, &AdminOptions::new().operation_timeout(Some(METADATA_TIMEOUT)))
            .await
            .map_err(|e| kafka_error("creating topics", e))?;
        for result in results {
            match result {
                Ok(name) => tracing::info!("created topic {name}"),
                // Another instance created it first.
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => return Err(kafka_error(&format!("creating topic {name}"), code)),
            }
        }
        Ok(())
    }

    /// Makes sure every topic fangpin reads or writes exists, and returns the partition count
    /// shared by the household topics and the changelog.
    ///
    /// Household state is split by partition number, so the household topics and the changelog
    /// must have the same partition count (co-partitioning, as in Kafka Streams).
    pub async fn prepare(&self) -> Result<usize, ConnectorError> {
        let s = &self.settings;
        let mut wanted: Vec<Wanted> =
            Topic::ALL.iter().map(|t| (s.input_name(*t).to_owned(), s.partitions, vec![])).collect();
        for logical in [output::DOOR_VISIT, output::PHONE, output::ALERTS, output::DEAD_LETTER, output::CLAIMS] {
            wanted.push((s.output_name(logical).to_owned(), s.partitions, vec![]));
        }
        self.create_missing(&wanted).await?;
        let mut counts = BTreeMap::new();
        for topic in Topic::ALL.into_iter().filter(|t| is_household_topic(*t)) {
            let name = s.input_name(topic);
            let n = self.partitions(name)?.ok_or_else(|| ConnectorError::Kafka(format!("topic {name} is missing after creation")))?;
            counts.insert(name.to_owned(), n);
        }
        let n = *counts.values().next().expect("there are household topics");
        if counts.values().any(|c| *c != n) {
            return Err(ConnectorError::Config(format!(
                "household topics must have the same number of partitions (each household's records meet on one \
                 partition number); found {counts:?}: add partitions to the smaller ones"
            )));
        }
        let changelog = vec![("cleanup.policy", "compact")];
        self.create_missing(&[(s.changelog_topic(), n as i32, changelog)]).await?;
        match self.partitions(&s.changelog_topic())? {
            Some(c) if c == n => Ok(n),
            other => Err(ConnectorError::Config(format!(
                "the changelog {} must have {n} partitions like the household topics, it has {other:?}",
                s.changelog_topic()
            ))),
        }
    }
}
