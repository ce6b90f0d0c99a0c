//! Helpers shared by the integration tests: contract records built by hand and an in-memory sink.

use std::collections::BTreeMap;
use std::sync::Arc;

use fangpin_connectors::pseudonym::id_card_check_char;
use fangpin_connectors::{ConnectorError, Decoder, DecoderConfig, Pseudonymiser, Sink, SourceRecord, Topic};
use fangpin_pipelines::registry::GraderSource;
use fangpin_pipelines::{Metrics, Pipeline, PipelineConfig};

/// A valid resident ID number for a person born on `birth` (YYYYMMDD) with sequence `seq`.
pub fn id_card(birth: &str, seq: u32) -> String {
    let first17 = format!("420922{birth}{seq:03}");
    let check = id_card_check_char(first17.as_bytes()).expect("17 digits");
    format!("{first17}{}", check as char)
}

/// A pipeline with the built-in indicators, the rules grader and a fixed pseudonym key.
pub fn pipeline() -> Pipeline {
    let decoder = Decoder::new(DecoderConfig::default(), Pseudonymiser::new(b"test key, sixteen bytes or more").unwrap());
    let rules = GraderSource::Fixed(Arc::new(fangpin_pipelines::indicators::rules_grader(&fangpin_pipelines::indicators::builtin())));
    Pipeline::new(PipelineConfig::default(), decoder, rules, Metrics::new()).unwrap()
}

/// One contract record as a source would deliver it.
pub fn record(topic: Topic, offset: u64, json: serde_json::Value) -> SourceRecord {
    SourceRecord { topic, source: Arc::from("test"), position: fangpin_connectors::Position::Line(offset), payload: json.to_string().into_bytes() }
}

/// Keeps everything sent, per topic.
#[derive(Default)]
pub struct MemorySink {
    pub topics: BTreeMap<String, Vec<serde_json::Value>>,
}

impl Sink for MemorySink {
    fn send(&mut self, topic: &str, _key: &str, payload: &[u8]) -> Result<(), ConnectorError> {
        let value = serde_json::from_slice(payload).expect("outputs are JSON");
        self.topics.entry(topic.to_owned()).or_default().push(value);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }
}

impl MemorySink {
    /// Records sent to `topic`.
    pub fn of(&self, topic: &str) -> &[serde_json::Value] {
        self.topics.get(topic).map_or(&[], Vec::as_slice)
    }
}

/// A loopback port nobody listens on now, for a server a test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The first 14 characters (region and birth date, what a cut-off record leaves) of every
/// resident ID number in the files of a simulated world: no output may hold any of them.
pub fn world_id_heads(world: &std::path::Path) -> std::collections::BTreeSet<String> {
    let id = regex::Regex::new(r"\b[0-9]{17}[0-9X]\b").unwrap();
    let mut heads = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(world).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        heads.extend(id.find_iter(&text).map(|m| m.as_str()[..14].to_owned()));
    }
    heads
}

/// The alerts standing after `messages` (as a queue reader sees them, in order): the latest
/// revision of each alert id, unless that withdrew it. A revision that moved to another queue is
/// in both queues' messages; it counts once.
pub fn standing_alerts(messages: &[serde_json::Value]) -> BTreeMap<String, serde_json::Value> {
    let mut latest: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for m in messages {
        let id = m["alert_id"].as_str().expect("an alert id").to_owned();
        let newer = latest.get(&id).is_none_or(|l| l["revision"].as_u64() <= m["revision"].as_u64());
        if newer {
            latest.insert(id, m.clone());
        }
    }
    latest.retain(|_, a| a["status"] != "withdrawn");
    latest
}
