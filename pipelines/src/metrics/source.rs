//! Consumer lag of a replayed directory: bytes of each topic file not yet read.
//!
//! A file is one partition (`partition="0"`). The replay knows each file's size; bytes read are
//! counted from the records handed to the pipeline (payload plus its line ending), so blank
//! lines and `\r\n` endings make the lag slightly high until the end of the replay, when it is
//! set to exactly zero. A Kafka source will report the same family from committed offsets.

use std::collections::BTreeMap;
use std::path::Path;

use fangpin_connectors::{SourceRecord, Topic};

use super::Metrics;

/// The partition label of a replayed file.
const FILE_PARTITION: &str = "0";

/// Tracks how much of each topic file a replay has read and reports the rest as lag.
pub struct SourceLag {
    metrics: Metrics,
    /// Per topic: file size and bytes read so far.
    files: BTreeMap<Topic, (u64, u64)>,
}

impl SourceLag {
    /// Starts with every `<topic>.ndjson` file of `dir` among `topics` unread.
    pub fn new(metrics: &Metrics, dir: &Path, topics: &[Topic]) -> SourceLag {
        let mut files = BTreeMap::new();
        for &topic in topics {
            // A file that vanished since the source opened it is the source's error to report.
            let size = std::fs::metadata(dir.join(format!("{}.ndjson", topic.name()))).map_or(0, |m| m.len());
            files.insert(topic, (size, 0));
        }
        let lag = SourceLag { metrics: metrics.clone(), files };
        lag.report();
        lag
    }

    /// Counts a batch as read.
    pub fn observe(&mut self, batch: &[SourceRecord]) {
        for record in batch {
            if let Some((_, read)) = self.files.get_mut(&record.topic) {
                *read += record.payload.len() as u64 + 1;
            }
        }
        self.report();
    }

    /// The replay read every file to its end: no lag left.
    pub fn finish(&mut self) {
        for (size, read) in self.files.values_mut() {
            *read = *size;
        }
        self.report();
    }

    fn report(&self) {
        for (topic, (size, read)) in &self.files {
            let lag = size.saturating_sub(*read);
            self.metrics.consumer_lag_bytes.with_label_values(&[topic.name(), FILE_PARTITION]).set(lag as i64);
        }
    }
}
