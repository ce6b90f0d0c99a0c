//! Replays a directory of `<topic>.ndjson` files as if they were arriving live.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::ConnectorError;
use crate::topic::Topic;

/// Read buffer per file.
const READ_BUFFER: usize = 64 * 1024;
/// Batch vectors are pre-allocated up to this many records, whatever `max_records` says.
const MAX_PREALLOCATED: usize = 64 * 1024;

/// Where a record is in its source, named for what it is: written as `"line": n` or
/// `"offset": n` in dead letters and checkpoints.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Position {
    /// A file's line, counted from 1 as editors do.
    Line(u64),
    /// A Kafka partition's offset, counted from 0.
    Offset(u64),
}

impl Position {
    /// The number, whichever kind it is.
    pub fn number(self) -> u64 {
        match self {
            Position::Line(n) | Position::Offset(n) => n,
        }
    }
}

/// One raw record from a source (a replayed file or a Kafka partition), not yet decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceRecord {
    /// The contract topic of the file.
    pub topic: Topic,
    /// The file path, or the Kafka `topic/partition`, shared by all records of the source.
    pub source: Arc<str>,
    /// Where the record is in its source.
    pub position: Position,
    /// The line without its line ending; not necessarily UTF-8 (the decoder rejects that).
    pub payload: Vec<u8>,
}

/// One topic file being replayed.
#[derive(Debug)]
struct Lane {
    topic: Topic,
    path: Arc<str>,
    reader: BufReader<File>,
    size: u64,
    read: u64,
    line: u64,
    done: bool,
    /// Capacity for the next payload buffer: the last line's length, to avoid regrowing.
    capacity_hint: usize,
    /// The next record, read ahead to know its month, the bytes it took and its event month
    /// (parsed once: the lane is asked for it every time any lane gives out a record).
    peeked: Option<SourceRecord>,
    peeked_bytes: u64,
    peeked_month: Option<i32>,
    /// The latest event month (`year * 12 + month − 1`) this lane has given out: the lane's
    /// arrival clock. A late record (an older month) does not move it back.
    clock: i32,
}

impl Lane {
    /// The month the lane's next record arrives in, reading it ahead if needed; `None` at the end.
    fn next_month(&mut self) -> Result<Option<i32>, ConnectorError> {
        if self.peeked.is_none() {
            let before = self.read;
            self.peeked = self.read_record()?;
            self.peeked_bytes = self.read - before;
            self.peeked_month = self.peeked.as_ref().and_then(|r| event_month(r.topic, &r.payload));
        }
        // A month far past the clock is a wrong date, not a year of silence: it must not hold
        // back the rest of its file.
        let clock = self.clock;
        let month = |m: i32| if clock != i32::MIN && m > clock.saturating_add(12) { clock } else { m.max(clock) };
        Ok(self.peeked.as_ref().map(|_| self.peeked_month.map_or(clock, month)))
    }

    /// The next record, advancing the lane's clock.
    fn next_record(&mut self) -> Result<Option<SourceRecord>, ConnectorError> {
        if let Some(m) = self.next_month()? {
            self.clock = m;
        }
        self.peeked_bytes = 0;
        Ok(self.peeked.take())
    }

    /// The next non-blank line, or `None` at the end of the file.
    fn read_record(&mut self) -> Result<Option<SourceRecord>, ConnectorError> {
        if self.done {
            return Ok(None);
        }
        let mut buf = Vec::with_capacity(self.capacity_hint);
        loop {
            buf.clear();
            let n = self.reader.read_until(b'\n', &mut buf).map_err(|e| ConnectorError::io(&*self.path, e))?;
            if n == 0 {
                self.done = true;
                return Ok(None);
            }
            self.read += n as u64;
            self.line += 1;
            if buf.last() == Some(&b'\n') {
                buf.pop();
                if buf.last() == Some(&b'\r') {
                    buf.pop();
                }
            }
            // Blank lines (editors, concatenated files) carry no record: skip them, but they
            // still count so that line numbers match what an editor shows.
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            self.capacity_hint = n;
            return Ok(Some(SourceRecord {
                topic: self.topic,
                source: Arc::clone(&self.path),
                position: Position::Line(self.line),
                payload: buf,
            }));
        }
    }

    /// Bytes of the records given out (not the one read ahead).
    fn consumed(&self) -> u64 {
        self.read - self.peeked_bytes
    }

    /// Whether this lane has given out a smaller fraction of its file than `other` (exact integers).
    fn behind(&self, other: &Lane) -> bool {
        u128::from(self.consumed()) * u128::from(other.size.max(1)) < u128::from(other.consumed()) * u128::from(self.size.max(1))
    }
}

/// Replays the contract topic files of a directory in an approximation of arrival order.
#[derive(Debug)]
pub struct FileSource {
    /// One lane per topic file present, in [`Topic::ALL`] order (so the roster first).
    lanes: Vec<Lane>,
    ignored: Vec<PathBuf>,
    total: u64,
}

impl FileSource {
    /// Opens `<topic name>.ndjson` for every contract topic present in `dir`.
    ///
    /// Missing topics are fine; other files are ignored (see [`FileSource::ignored_files`]); a
    /// directory without any contract file is an [`ConnectorError::Input`] error.
    pub fn open(dir: &Path) -> Result<FileSource, ConnectorError> {
        let entries = std::fs::read_dir(dir).map_err(|e| ConnectorError::io(dir, e))?;
        let mut found: Vec<(Topic, PathBuf)> = Vec::new();
        let mut ignored = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| ConnectorError::io(dir, e))?;
            let path = entry.path();
            if !path.is_file() {
                continue;
            }
            let topic = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".ndjson"))
                .and_then(Topic::from_name);
            match topic {
                Some(topic) => found.push((topic, path)),
                None => ignored.push(path),
            }
        }
        if found.is_empty() {
            let expected: Vec<String> = Topic::ALL.iter().map(|t| format!("{t}.ndjson")).collect();
            return Err(ConnectorError::Input(format!(
                "{} holds no contract topic file; expected some of: {}",
                dir.display(),
                expected.join(", ")
            )));
        }
        found.sort();
        ignored.sort();
        let mut lanes = Vec::with_capacity(found.len());
        for (topic, path) in found {
            let file = File::open(&path).map_err(|e| ConnectorError::io(&path, e))?;
            let size = file.metadata().map_err(|e| ConnectorError::io(&path, e))?.len();
            lanes.push(Lane {
                topic,
                path: Arc::from(path.to_string_lossy().as_ref()),
                reader: BufReader::with_capacity(READ_BUFFER, file),
                size,
                read: 0,
                line: 0,
                done: false,
                capacity_hint: 256,
                peeked: None,
                peeked_bytes: 0,
                peeked_month: None,
                clock: i32::MIN,
            });
        }
        let total = lanes.iter().map(|l| l.size).sum();
        Ok(FileSource { lanes, ignored, total })
    }

    /// Files in the directory that are not contract topic files (e.g. `ground_truth.ndjson`).
    pub fn ignored_files(&self) -> &[PathBuf] {
        &self.ignored
    }

    /// The topics whose files are being replayed, roster first.
    pub fn topics(&self) -> Vec<Topic> {
        self.lanes.iter().map(|l| l.topic).collect()
    }

    /// Bytes read so far and bytes in all topic files (as sized when opened).
    pub fn progress(&self) -> (u64, u64) {
        (self.lanes.iter().map(|l| l.read).sum(), self.total)
    }

    /// The lane to read next: the roster while it lasts, then the lane whose next record
    /// arrives earliest, and of those the one furthest behind in its file.
    fn next_lane(&mut self) -> Result<Option<usize>, ConnectorError> {
        // The roster is the reference table every other feed is joined against: replaying it
        // completely first means no record is dead-lettered as `unknown_household` merely
        // because its household's roster line sits later in the file.
        if let Some(i) = self.lanes.iter().position(|l| l.topic == Topic::Roster && (!l.done || l.peeked.is_some())) {
            return Ok(Some(i));
        }
        // Each file is in arrival order, but the feeds are bursty (school terms, harvests): a
        // file read by its share of bytes would run months ahead of the others, and a month
        // would be judged before its wages arrived. So every lane keeps the month of the latest
        // record it gave out (its clock: a late record, older, does not move it), and the lane
        // whose next record is earliest goes first. Within a month, reading from the file that
        // has consumed the smallest fraction of its bytes mixes the feeds evenly; ties go to
        // the earlier topic in `Topic::ALL`.
        let mut best: Option<(usize, i32)> = None;
        for i in 0..self.lanes.len() {
            let Some(month) = self.lanes[i].next_month()? else { continue };
            let earlier = match best {
                None => true,
                Some((b, m)) => month < m || (month == m && self.lanes[i].behind(&self.lanes[b])),
            };
            if earlier {
                best = Some((i, month));
            }
        }
        Ok(best.map(|(i, _)| i))
    }

    /// Up to `max_records` records (at least one), or `None` once every file is exhausted.
    pub fn next_batch(&mut self, max_records: usize) -> Result<Option<Vec<SourceRecord>>, ConnectorError> {
        let max = max_records.max(1);
        let mut batch = Vec::with_capacity(max.min(MAX_PREALLOCATED));
        while batch.len() < max {
            let Some(i) = self.next_lane()? else { break };
            if let Some(record) = self.lanes[i].next_record()? {
                batch.push(record);
            }
        }
        Ok((!batch.is_empty()).then_some(batch))
    }
}

/// The event month of a raw record (`year * 12 + month − 1`), read from its topic's time field
/// without decoding it; `None` when the field is missing or unreadable (the decoder will say why).
fn event_month(topic: Topic, payload: &[u8]) -> Option<i32> {
    let field: &[u8] = match topic {
        Topic::Roster => b"\"effective_date\":\"",
        Topic::Medical => b"\"settle_time\":\"",
        Topic::Employment => b"\"ym\":\"",
        Topic::Agri | Topic::Civil => b"\"month\":\"",
        Topic::Emergency => b"\"occurred_at\":\"",
        Topic::Education => b"\"term\":\"",
        Topic::Prices | Topic::Weather => b"\"date\":\"",
        Topic::Outcomes => b"\"verified_at\":\"",
    };
    let at = payload.windows(field.len()).position(|w| w == field)? + field.len();
    let value = &payload[at..payload.len().min(at + 12)];
    let digits = |r: std::ops::Range<usize>| -> Option<i32> {
        let s = std::str::from_utf8(value.get(r)?).ok()?;
        s.bytes().all(|b| b.is_ascii_digit()).then(|| s.parse().ok())?
    };
    let year = digits(0..4)?;
    let month = match value.get(4) {
        Some(b'-') if value[5..].starts_with(b"spring") => 3,
        Some(b'-') if value[5..].starts_with(b"fall") => 9,
        Some(b'-') => digits(5..7)?,
        _ => digits(4..6)?,
    };
    (1..=12).contains(&month).then_some(year * 12 + month - 1)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    /// A line of exactly 20 bytes with its newline.
    fn line(tag: &str, n: usize) -> String {
        format!("{{\"{tag}\":{n:>width$}}}\n", width = 19 - 5 - tag.len())
    }

    fn write_lines(dir: &Path, name: &str, tag: &str, n: usize) {
        fs::write(dir.join(name), (0..n).map(|i| line(tag, i)).collect::<String>()).unwrap();
    }

    fn drain(src: &mut FileSource, batch: usize) -> Vec<SourceRecord> {
        let mut all = Vec::new();
        while let Some(b) = src.next_batch(batch).unwrap() {
            assert!(!b.is_empty() && b.len() <= batch);
            all.extend(b);
        }
        all
    }

    #[test]
    fn roster_first_then_files_interleaved_by_byte_share() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        assert_eq!(line("m", 3).len(), 20);
        // Roster with a blank line, a CRLF line and a non-UTF-8 line.
        fs::write(d.join("dept.rural.roster.ndjson"), b"{\"r\":1}\n\n{\"r\":2}\r\n\xff\xfe\n  \n{\"r\":3}").unwrap();
        write_lines(d, "dept.medical.settlements.ndjson", "m", 40);
        write_lines(d, "market.prices.ndjson", "p", 10);
        write_lines(d, "ground_truth.ndjson", "g", 5);
        fs::write(d.join("README.txt"), "not data").unwrap();
        fs::create_dir(d.join("dept.hr.employment.ndjson")).unwrap(); // a directory: skipped

        let mut src = FileSource::open(d).unwrap();
        let names: Vec<_> = src.ignored_files().iter().map(|p| p.file_name().unwrap().to_str().unwrap()).collect();
        assert_eq!(names, ["README.txt", "ground_truth.ndjson"]);
        assert_eq!(src.topics(), [Topic::Roster, Topic::Medical, Topic::Prices]);
        let (read, total) = src.progress();
        assert_eq!((read, total), (0, 31 + 40 * 20 + 10 * 20));

        let all = drain(&mut src, 7);
        assert_eq!(src.progress(), (total, total));
        assert_eq!(src.next_batch(7).unwrap(), None);

        let roster: Vec<_> = all.iter().take(4).map(|r| (r.topic, r.position.number(), r.payload.clone())).collect();
        assert_eq!(
            roster,
            [
                (Topic::Roster, 1, b"{\"r\":1}".to_vec()),
                (Topic::Roster, 3, b"{\"r\":2}".to_vec()),
                (Topic::Roster, 4, b"\xff\xfe".to_vec()),
                (Topic::Roster, 6, b"{\"r\":3}".to_vec()),
            ]
        );
        assert!(all[0].source.ends_with("dept.rural.roster.ndjson"));
        let rest = &all[4..];
        assert_eq!(rest.len(), 50);
        assert!(rest.iter().all(|r| r.topic != Topic::Roster));
        // Line numbers run 1.. within each file, in file order.
        for (topic, n) in [(Topic::Medical, 40), (Topic::Prices, 10)] {
            let offsets: Vec<u64> = rest.iter().filter(|r| r.topic == topic).map(|r| r.position.number()).collect();
            assert_eq!(offsets, (1..=n).collect::<Vec<u64>>());
        }
        // Medical is 4 times the size of prices: after every prefix, both are at the same
        // fraction of their file, within one line.
        let (mut m, mut p) = (0.0, 0.0);
        for r in rest {
            if r.topic == Topic::Medical {
                m += 1.0 / 40.0
            } else {
                p += 1.0 / 10.0
            }
            assert!((m - p) <= 0.1 + 1e-9 && (p - m) <= 0.1 + 1e-9, "medical at {m}, prices at {p}");
        }
        let first: Vec<Topic> = rest.iter().take(10).map(|r| r.topic).collect();
        use Topic::{Medical as M, Prices as P};
        assert_eq!(first, [M, P, M, M, M, M, P, M, M, M]);
    }

    #[test]
    fn a_directory_without_contract_files_is_an_input_error() {
        let tmp = tempfile::tempdir().unwrap();
        write_lines(tmp.path(), "ground_truth.ndjson", "g", 2);
        let err = FileSource::open(tmp.path()).unwrap_err();
        assert!(matches!(err, ConnectorError::Input(_)), "{err}");
        assert!(err.to_string().contains("dept.rural.roster.ndjson"));
        let missing = FileSource::open(&tmp.path().join("nope")).unwrap_err();
        assert!(matches!(missing, ConnectorError::Io { .. }), "{missing}");
    }

    #[test]
    fn without_a_roster_and_with_empty_files_batches_still_fill() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("weather.observations.ndjson"), "").unwrap();
        write_lines(tmp.path(), "verify.outcomes.ndjson", "o", 5);
        let mut src = FileSource::open(tmp.path()).unwrap();
        let b = src.next_batch(0).unwrap().unwrap();
        assert_eq!((b.len(), b[0].topic, b[0].position), (1, Topic::Outcomes, Position::Line(1)));
        assert_eq!(src.next_batch(100).unwrap().unwrap().len(), 4);
        assert_eq!(src.next_batch(100).unwrap(), None);
    }

    #[test]
    fn a_bursty_feed_waits_for_the_others_to_reach_its_month() {
        let tmp = tempfile::tempdir().unwrap();
        let employment: String = (1..=3)
            .flat_map(|m| (0..10).map(move |i| format!("{{\"household_code\":\"h{i}\",\"ym\":\"20240{m}\"}}\n")))
            .collect();
        fs::write(tmp.path().join("dept.hr.employment.ndjson"), employment).unwrap();
        // School fees come in one burst, in the spring term's month; a late January harvest
        // report arrives among March's records.
        let fees: String = (0..5).map(|i| format!("{{\"household_code\":\"h{i}\",\"term\":\"2024-spring\"}}\n")).collect();
        fs::write(tmp.path().join("dept.edu.expenses.ndjson"), fees).unwrap();
        let agri = "{\"month\":\"2024-02\"}\n{\"month\":\"2024-01\"}\n{\"broken\n{\"month\":\"2024-03\"}\n";
        fs::write(tmp.path().join("dept.agri.production.ndjson"), agri).unwrap();
        let mut src = FileSource::open(tmp.path()).unwrap();
        let all = drain(&mut src, 7);
        assert_eq!(all.len(), 30 + 5 + 4);
        let months: Vec<(Topic, i32)> = all.iter().map(|r| (r.topic, event_month(r.topic, &r.payload).unwrap_or(-1))).collect();
        let first_fee = months.iter().position(|(t, _)| *t == Topic::Education).unwrap();
        let last_february = months.iter().rposition(|&(t, m)| t == Topic::Employment && m == 2024 * 12 + 1).unwrap();
        assert!(first_fee > last_february, "the spring fees ran ahead of February's wages: {months:?}");
        // The late January report and the broken line travel with their lane's clock
        // (February), ahead of March.
        let first_march = months.iter().position(|&(_, m)| m == 2024 * 12 + 2).unwrap();
        let late = months.iter().rposition(|&(t, m)| t == Topic::Agri && m == 2024 * 12).unwrap();
        let broken = months.iter().position(|&(t, m)| t == Topic::Agri && m == -1).unwrap();
        assert!(late < first_march && broken < first_march, "{months:?}");
        assert_eq!(event_month(Topic::Medical, b"{\"settle_time\":\"2024-12-31T23:00:00+08:00\"}"), Some(2024 * 12 + 11));
        assert_eq!(event_month(Topic::Education, b"{\"term\":\"2024-fall\"}"), Some(2024 * 12 + 8));
        assert_eq!(event_month(Topic::Employment, b"{\"ym\":\"202413\"}"), None);
    }
}
