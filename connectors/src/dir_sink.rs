//! Output topics as files: `<out_dir>/<topic>.ndjson`, one payload per line.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::dead_letter::DeadLetter;
use crate::error::ConnectorError;
use crate::topic::output;

/// Where output messages go: a directory of files now, a Kafka producer later.
pub trait Sink {
    /// Queues one message; `key` is the Kafka message key (files do not use it).
    fn send(&mut self, topic: &str, key: &str, payload: &[u8]) -> Result<(), ConnectorError>;
    /// Makes everything sent so far durable (written out, or acknowledged by the broker).
    fn flush(&mut self) -> Result<(), ConnectorError>;

    /// Queues a dead letter on the dead-letter topic, keyed by its source topic. A Kafka sink
    /// also puts where it came from and why in the message headers.
    fn send_dead_letter(&mut self, letter: &DeadLetter) -> Result<(), ConnectorError> {
        let json = serde_json::to_vec(letter).map_err(|e| ConnectorError::Internal(e.to_string()))?;
        self.send(output::DEAD_LETTER, &letter.topic, &json)
    }
}

/// Writes each topic to `<out_dir>/<topic>.ndjson`; call [`Sink::flush`] before dropping it,
/// since errors while flushing on drop are lost.
#[derive(Debug)]
pub struct DirSink {
    dir: PathBuf,
    files: HashMap<String, TopicFile>,
}

#[derive(Debug)]
struct TopicFile {
    path: PathBuf,
    writer: BufWriter<File>,
}

/// A topic name usable as a file stem: no path separators, not `.`/`..`, not empty.
fn check_topic(topic: &str) -> Result<(), ConnectorError> {
    let ok = !topic.is_empty() && topic != "." && topic != ".." && !topic.contains(['/', '\\', '\0']);
    if ok {
        Ok(())
    } else {
        Err(ConnectorError::Config(format!(
            "{topic:?} cannot be an output topic name: it must be usable as a file name"
        )))
    }
}

impl DirSink {
    /// Creates `out_dir` if needed and creates (or truncates) `<topic>.ndjson` for each of
    /// `topics`, so that an empty queue is an empty file rather than a missing one.
    pub fn create(out_dir: &Path, topics: &[&str]) -> Result<DirSink, ConnectorError> {
        std::fs::create_dir_all(out_dir).map_err(|e| ConnectorError::io(out_dir, e))?;
        let mut sink = DirSink { dir: out_dir.to_path_buf(), files: HashMap::new() };
        for topic in topics {
            sink.open(topic)?;
        }
        Ok(sink)
    }

    /// The output directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file a topic is written to.
    pub fn path_of(&self, topic: &str) -> PathBuf {
        self.dir.join(format!("{topic}.ndjson"))
    }

    /// Creates or truncates the topic's file: each run rewrites its outputs from scratch.
    fn open(&mut self, topic: &str) -> Result<&mut TopicFile, ConnectorError> {
        check_topic(topic)?;
        let path = self.path_of(topic);
        let file = File::create(&path).map_err(|e| ConnectorError::io(&path, e))?;
        let entry = TopicFile { path, writer: BufWriter::with_capacity(64 * 1024, file) };
        Ok(self.files.entry(topic.to_owned()).or_insert(entry))
    }
}

impl Sink for DirSink {
    fn send(&mut self, topic: &str, _key: &str, payload: &[u8]) -> Result<(), ConnectorError> {
        // A newline inside a payload would split it into two broken records on replay.
        if payload.contains(&b'\n') {
            return Err(ConnectorError::Input(format!(
                "a message for {topic} contains a newline and cannot be written as one NDJSON line; \
                 serialise payloads as compact JSON"
            )));
        }
        let file = match self.files.get_mut(topic) {
            Some(f) => f,
            None => self.open(topic)?,
        };
        let w = &mut file.writer;
        w.write_all(payload).and_then(|()| w.write_all(b"\n")).map_err(|e| ConnectorError::io(&file.path, e))
    }

    fn flush(&mut self) -> Result<(), ConnectorError> {
        for f in self.files.values_mut() {
            f.writer.flush().map_err(|e| ConnectorError::io(&f.path, e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn files_are_created_up_front_and_lazily_and_lines_written() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out/nested");
        let mut sink = DirSink::create(&out, &["verify.door_visit", "verify.phone"]).unwrap();
        assert_eq!(read(&out.join("verify.door_visit.ndjson")), "");
        assert_eq!(read(&out.join("verify.phone.ndjson")), "");
        assert!(!out.join("dead_letter.ndjson").exists());

        sink.send("verify.door_visit", "420922101201-0042", br#"{"a":1}"#).unwrap();
        sink.send("dead_letter", "k", br#"{"reason":"malformed_json"}"#).unwrap();
        sink.send("verify.door_visit", "420922101201-0043", br#"{"a":2}"#).unwrap();
        sink.flush().unwrap();
        assert_eq!(read(&out.join("verify.door_visit.ndjson")), "{\"a\":1}\n{\"a\":2}\n");
        assert_eq!(read(&out.join("dead_letter.ndjson")), "{\"reason\":\"malformed_json\"}\n");
        assert_eq!(read(&out.join("verify.phone.ndjson")), "");
        assert_eq!(sink.path_of("verify.phone"), out.join("verify.phone.ndjson"));
    }

    #[test]
    fn a_new_sink_truncates_the_previous_run() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("verify.phone.ndjson"), "old\n").unwrap();
        std::fs::write(tmp.path().join("dead_letter.ndjson"), "old\n").unwrap();
        let mut sink = DirSink::create(tmp.path(), &["verify.phone"]).unwrap();
        assert_eq!(read(&tmp.path().join("verify.phone.ndjson")), "");
        sink.send("dead_letter", "", b"new").unwrap();
        sink.flush().unwrap();
        assert_eq!(read(&tmp.path().join("dead_letter.ndjson")), "new\n");
    }

    #[test]
    fn bad_names_and_multi_line_payloads_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(DirSink::create(tmp.path(), &["../escape"]), Err(ConnectorError::Config(_))));
        let mut sink = DirSink::create(tmp.path(), &[]).unwrap();
        assert!(matches!(sink.send("", "", b"x"), Err(ConnectorError::Config(_))));
        assert!(matches!(sink.send("t", "", b"a\nb"), Err(ConnectorError::Input(_))));
        let blocked = tmp.path().join("file");
        std::fs::write(&blocked, "").unwrap();
        assert!(matches!(DirSink::create(&blocked, &["t"]), Err(ConnectorError::Io { .. })));
    }
}
