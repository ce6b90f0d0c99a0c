//! The `[kafka]` section of the configuration file, with environment overrides.

use std::collections::BTreeMap;

use rdkafka::ClientConfig;
use serde::Deserialize;

use crate::topic::{output, Topic};
use crate::ConnectorError;

/// How fangpin talks to Kafka. Every field has a default that suits a local broker.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSettings {
    /// Bootstrap brokers, `host:port[,host:port...]`.
    pub brokers: String,
    /// Consumer group of the household topics: instances with the same id share the work.
    pub group_id: String,
    /// Whether fangpin creates the topics it needs when they are missing. Off where topics
    /// are managed by the cluster's operators: a missing topic then stops the start with its
    /// name and the partition count it needs.
    pub create_topics: bool,
    /// Partitions of the topics fangpin creates when they are missing.
    pub partitions: i32,
    /// Replication factor of the topics fangpin creates.
    pub replication: i32,
    /// Longest wait, in milliseconds, to fill a micro-batch before processing what arrived.
    pub linger_ms: u64,
    /// A micro-batch also ends when nothing arrives for this long, in milliseconds: the
    /// instance is caught up, and processes and commits what it has.
    pub idle_ms: u64,
    /// How often, in milliseconds, outputs are flushed, state checkpointed and offsets committed.
    pub commit_interval_ms: u64,
    /// Static assignment, `"N/M"`: this instance is number N (from 0) of M, and reads the
    /// household partitions whose number modulo M is N, with no consumer-group coordination.
    /// Unset (the default), the consumer group shares the partitions out and moves them when
    /// instances come and go. Static assignment is for brokers whose group coordinator cannot be
    /// trusted to hand a dead member's partitions on (tansu 0.6: see README), and for
    /// orchestrators that restart a crashed instance at once under the same number, which then
    /// takes over without waiting for a session to expire. The orchestrator must then run at
    /// most one instance per number: the broker no longer keeps two from sharing partitions.
    pub instance: Option<StaticInstance>,
    /// Topic names.
    pub topics: TopicNames,
    /// librdkafka options passed through as they are, e.g. `"security.protocol" = "SASL_SSL"`,
    /// `"sasl.mechanisms" = "SCRAM-SHA-512"`, `"ssl.ca.location" = "/etc/ssl/kafka-ca.pem"`.
    /// Secrets are better given as `FANGPIN_RDKAFKA_SASL_PASSWORD` (see [`KafkaSettings::apply_env`]).
    pub properties: BTreeMap<String, String>,
}

/// Topic names; inputs default to the contract names.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopicNames {
    /// Contract topic name → the topic it is actually published on, for clusters that prefix names.
    pub inputs: BTreeMap<String, String>,
    pub door_visit: String,
    pub phone: String,
    pub alerts: String,
    pub dead_letter: String,
    pub claims: String,
    /// Where each instance checkpoints household state, keyed by household code, partitioned
    /// like the household topics, compacted. Default `<group_id>-state-changelog`: one per
    /// group, as the state belongs to the group's progress.
    pub changelog: Option<String>,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        KafkaSettings {
            brokers: "127.0.0.1:9092".into(),
            group_id: "fangpin".into(),
            create_topics: true,
            partitions: 4,
            replication: 1,
            linger_ms: 500,
            idle_ms: 100,
            commit_interval_ms: 5_000,
            instance: None,
            topics: TopicNames::default(),
            properties: BTreeMap::new(),
        }
    }
}

impl Default for TopicNames {
    fn default() -> Self {
        TopicNames {
            inputs: BTreeMap::new(),
            door_visit: output::DOOR_VISIT.into(),
            phone: output::PHONE.into(),
            alerts: output::ALERTS.into(),
            dead_letter: output::DEAD_LETTER.into(),
            claims: output::CLAIMS.into(),
            changelog: None,
        }
    }
}

/// Instance N of M under static assignment (see [`KafkaSettings::instance`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct StaticInstance {
    pub number: i32,
    pub of: i32,
}

impl TryFrom<String> for StaticInstance {
    type Error = String;

    fn try_from(text: String) -> Result<StaticInstance, String> {
        let parsed = text.split_once('/').and_then(|(n, m)| Some((n.trim().parse::<i32>().ok()?, m.trim().parse::<i32>().ok()?)));
        match parsed {
            Some((number, of)) if of >= 1 && (0..of).contains(&number) => Ok(StaticInstance { number, of }),
            _ => Err(format!("kafka.instance must be \"N/M\", this instance's number N from 0 to M - 1 of M instances; got {text:?}")),
        }
    }
}

impl StaticInstance {
    /// Whether partition `p` of a household topic is this instance's.
    pub fn owns(&self, p: i32) -> bool {
        p % self.of == self.number
    }
}

/// Topics keyed by household: read by the consumer group, partition by partition.
pub fn is_household_topic(topic: Topic) -> bool {
    !matches!(topic, Topic::Prices | Topic::Weather)
}

impl KafkaSettings {
    /// Applies `FANGPIN_KAFKA_BROKERS`, `FANGPIN_KAFKA_GROUP_ID`, and every
    /// `FANGPIN_RDKAFKA_<NAME>` as the librdkafka option `<name>` with `_` read as `.`
    /// (`FANGPIN_RDKAFKA_SASL_PASSWORD` → `sasl.password`), and `FANGPIN_KAFKA_INSTANCE` (`N/M`,
    /// see [`KafkaSettings::instance`]).
    pub fn apply_env(&mut self) -> Result<(), ConnectorError> {
        for (key, value) in std::env::vars() {
            match key.as_str() {
                "FANGPIN_KAFKA_BROKERS" => self.brokers = value,
                "FANGPIN_KAFKA_GROUP_ID" => self.group_id = value,
                // An orchestrator's ordinal, e.g. `FANGPIN_KAFKA_INSTANCE=$ORDINAL/3`.
                "FANGPIN_KAFKA_INSTANCE" => {
                    self.instance = Some(StaticInstance::try_from(value).map_err(|e| ConnectorError::Config(format!("FANGPIN_KAFKA_INSTANCE: {e}")))?);
                }
                _ => {
                    if let Some(name) = key.strip_prefix("FANGPIN_RDKAFKA_") {
                        self.properties.insert(name.to_ascii_lowercase().replace('_', "."), value);
                    }
                }
            }
        }
        Ok(())
    }

    /// Refuses settings that cannot work, naming the field.
    pub fn check(&self) -> Result<(), ConnectorError> {
        if self.brokers.trim().is_empty() {
            return Err(ConnectorError::Config("kafka.brokers is empty".into()));
        }
        if self.partitions < 1 || self.replication < 1 {
            return Err(ConnectorError::Config("kafka.partitions and kafka.replication must be at least 1".into()));
        }
        for name in self.topics.inputs.keys() {
            if Topic::from_name(name).is_none() {
                return Err(ConnectorError::Config(format!("kafka.topics.inputs: {name:?} is not a contract topic")));
            }
        }
        Ok(())
    }

    /// The Kafka topic a contract topic is read from.
    pub fn input_name(&self, topic: Topic) -> &str {
        self.topics.inputs.get(topic.name()).map_or(topic.name(), String::as_str)
    }

    /// The configured name of an output topic given by its [`output`] name.
    pub fn output_name<'a>(&'a self, logical: &'a str) -> &'a str {
        match logical {
            output::DOOR_VISIT => &self.topics.door_visit,
            output::PHONE => &self.topics.phone,
            output::ALERTS => &self.topics.alerts,
            output::DEAD_LETTER => &self.topics.dead_letter,
            output::CLAIMS => &self.topics.claims,
            other => other,
        }
    }

    /// The changelog topic of this group.
    pub fn changelog_topic(&self) -> String {
        self.topics.changelog.clone().unwrap_or_else(|| format!("{}-state-changelog", self.group_id))
    }

    /// A consumer configuration in `group_id` that never commits or stores offsets by itself:
    /// fangpin commits only what it has checkpointed, and reads some topics without a group.
    pub fn consumer_config(&self, group_id: &str) -> ClientConfig {
        let mut config = self.client_config();
        config.set("group.id", group_id).set("enable.auto.commit", "false").set("enable.auto.offset.store", "false");
        config
    }

    /// A librdkafka configuration with the brokers and the pass-through options.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        for (k, v) in &self.properties {
            config.set(k, v);
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_overrides_defaults_and_refuses_unknown_inputs() {
        let s: KafkaSettings =
            toml::from_str("brokers = \"k1:9092\"\n[topics]\ninputs = { \"dept.hr.employment\" = \"xg.hr\" }\nalerts = \"xg.alerts\"\n")
                .unwrap();
        assert_eq!(s.brokers, "k1:9092");
        assert_eq!(s.input_name(Topic::Employment), "xg.hr");
        assert_eq!(s.input_name(Topic::Medical), "dept.medical.settlements");
        assert_eq!(s.output_name(output::ALERTS), "xg.alerts");
        assert_eq!(s.output_name(output::PHONE), "verify.phone");
        s.check().unwrap();
        let bad: KafkaSettings = toml::from_str("[topics]\ninputs = { \"dept.nope\" = \"x\" }\n").unwrap();
        assert!(bad.check().is_err());
        assert!(toml::from_str::<KafkaSettings>("brokerz = \"x\"").is_err());
    }

    #[test]
    fn a_static_instance_is_n_of_m_and_owns_the_partitions_n_modulo_m() {
        let s: KafkaSettings = toml::from_str("instance = \"1/3\"").unwrap();
        let instance = s.instance.unwrap();
        assert_eq!((0..7).filter(|p| instance.owns(*p)).collect::<Vec<_>>(), [1, 4]);
        for bad in ["3/3", "-1/3", "1/0", "1", "a/b", ""] {
            let e = toml::from_str::<KafkaSettings>(&format!("instance = {bad:?}")).unwrap_err().to_string();
            assert!(e.contains("kafka.instance must be \"N/M\""), "{bad:?}: {e}");
        }
        assert_eq!(KafkaSettings::default().instance, None);
    }
}
