//! Arrival order: turns a topic's records into the file a Kafka consumer would have seen.
//!
//! Records are collected per topic with the month they belong to (their bucket). On writing:
//! - `late_share` (~2%) of household records arrive 1–4 months late (moved to a later bucket; kind `late`);
//! - followers (reversals, corrections) arrive no earlier than the record they follow and, in
//!   the same bucket, after it;
//! - each bucket is shuffled: records within a month come in any order;
//! - extra lines are slipped in: exact duplicates (after their original, same bucket; kind
//!   `duplicate`) and corrupted copies from `dirty.rs` (anywhere in the bucket);
//! - every special or extra line is listed in the manifest with its 1-based line number.

use crate::dirty::Corrupter;
use crate::topic::Topic;
use crate::SimError;
use rand::seq::SliceRandom;
use rand::Rng;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// Share of plain records that are delivered twice.
const DUPLICATE_RATE: f64 = 0.003;
/// No record follows another.
const NONE: u32 = u32::MAX;

/// What a record is besides an ordinary event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    /// An ordinary record.
    Plain,
    /// Cancels an earlier medical settlement (same id, status `reversed`).
    Reversal,
    /// Replaces an earlier agri report or roster record.
    Correction,
}

#[derive(Clone, Copy, Debug)]
struct Rec {
    start: usize,
    end: usize,
    bucket: u32,
    follows: u32,
    special: Special,
    has_follower: bool,
}

/// The records of one topic, in generation order, waiting to be written in arrival order.
pub struct Stream {
    /// The topic.
    pub topic: Topic,
    buf: String,
    recs: Vec<Rec>,
}

impl Stream {
    /// An empty stream.
    pub fn new(topic: Topic) -> Self {
        Stream {
            topic,
            buf: String::new(),
            recs: Vec::new(),
        }
    }

    /// Appends a record of month index `bucket` whose JSON text `write` produces; returns its id.
    pub fn push(&mut self, bucket: u32, write: impl FnOnce(&mut String)) -> u32 {
        let start = self.buf.len();
        write(&mut self.buf);
        self.recs.push(Rec {
            start,
            end: self.buf.len(),
            bucket,
            follows: NONE,
            special: Special::Plain,
            has_follower: false,
        });
        (self.recs.len() - 1) as u32
    }

    /// Appends a record that must arrive after record `original`.
    pub fn push_follower(
        &mut self,
        bucket: u32,
        original: u32,
        special: Special,
        write: impl FnOnce(&mut String),
    ) -> u32 {
        let id = self.push(bucket, write);
        let rec = &mut self.recs[id as usize];
        rec.follows = original;
        rec.special = special;
        self.recs[original as usize].has_follower = true;
        id
    }

    fn text(&self, id: u32) -> &str {
        let r = &self.recs[id as usize];
        &self.buf[r.start..r.end]
    }

    /// Orders the records into arrival buckets: lateness, shuffling, followers after originals.
    fn arrange<R: Rng>(
        &self,
        months: u32,
        late_rate: f64,
        rng: &mut R,
    ) -> (Vec<Vec<u32>>, Vec<bool>) {
        let last = months.saturating_sub(1);
        let may_be_late = self.topic.per_household() && self.topic != Topic::Roster;
        let mut arrival = vec![0u32; self.recs.len()];
        let mut late = vec![false; self.recs.len()];
        for (i, r) in self.recs.iter().enumerate() {
            arrival[i] = if r.follows == NONE {
                let mut b = r.bucket;
                if may_be_late && rng.random_bool(late_rate) {
                    let moved = (b + rng.random_range(1..=4)).min(last);
                    if moved > b {
                        b = moved;
                        late[i] = true;
                    }
                }
                b
            } else {
                // Originals are always pushed before their followers.
                r.bucket.max(arrival[r.follows as usize])
            };
        }
        let mut buckets: Vec<Vec<u32>> = vec![Vec::new(); months as usize];
        for (i, &b) in arrival.iter().enumerate() {
            buckets[b as usize].push(i as u32);
        }
        let mut pos = vec![0u32; self.recs.len()];
        for bucket in &mut buckets {
            bucket.shuffle(rng);
            for (j, &id) in bucket.iter().enumerate() {
                pos[id as usize] = j as u32;
            }
        }
        for (f, r) in self.recs.iter().enumerate() {
            let o = r.follows;
            if o != NONE && arrival[f] == arrival[o as usize] && pos[f] < pos[o as usize] {
                let bucket = &mut buckets[arrival[f] as usize];
                bucket.swap(pos[f] as usize, pos[o as usize] as usize);
                pos.swap(f, o as usize);
            }
        }
        (buckets, late)
    }
}

/// An extra line slipped into a bucket.
enum Extra {
    Duplicate(u32),
    Dirty {
        kind: &'static str,
        reason: &'static str,
        text: String,
    },
}

/// Line counts of one written topic.
#[derive(Debug, Default)]
pub struct Written {
    /// Lines in the file.
    pub lines: u64,
}

/// Where and how topic files are written; shared by all topics of a run.
pub struct Sink<'a> {
    /// Output directory.
    pub out_dir: &'a Path,
    /// Number of simulated months (arrival buckets).
    pub months: u32,
    /// Share of lines that are corrupted copies.
    pub dirty_rate: f64,
    /// Share of household records (roster aside) that arrive 1–4 months late.
    pub late_rate: f64,
    /// Makes the corrupted copies.
    pub corrupter: Corrupter,
    /// The manifest being written.
    pub manifest: &'a mut dyn Write,
    /// Manifest lines per kind so far.
    pub kinds: &'a mut BTreeMap<String, u64>,
}

/// Writes `stream` to `<out_dir>/<topic>.ndjson` in arrival order and its special lines to the
/// manifest; adds the manifest kinds to `sink.kinds`.
pub fn write_stream<R: Rng>(
    stream: &Stream,
    sink: &mut Sink,
    rng: &mut R,
) -> Result<Written, SimError> {
    let Sink {
        out_dir,
        months,
        dirty_rate,
        late_rate,
        corrupter,
        manifest,
        kinds,
    } = sink;
    let (out_dir, months, dirty_rate, late_rate) = (*out_dir, *months, *dirty_rate, *late_rate);
    let path = out_dir.join(format!("{}.ndjson", stream.topic.name()));
    let io = |source| SimError::Io {
        path: path.clone(),
        source,
    };
    let file = std::fs::File::create(&path).map_err(io)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    // Chance per record of a corrupted extra copy, so that extras are ~dirty_rate of all lines.
    let dirty_p = dirty_rate / (1.0 - dirty_rate);

    let (buckets, late) = stream.arrange(months, late_rate, rng);
    let mut line: u64 = 0;
    let mut note = |line: u64, kind: &str, reason: Option<&str>, m: &mut dyn Write| {
        *kinds.entry(kind.to_string()).or_insert(0) += 1;
        let reason = reason.map_or("null".to_string(), |r| format!("\"{r}\""));
        writeln!(
            m,
            "{{\"topic\":\"{}\",\"line\":{line},\"kind\":\"{kind}\",\"expected_reason\":{reason}}}",
            stream.topic.name()
        )
    };
    let manifest_io = |source| SimError::Io {
        path: out_dir.join(crate::MANIFEST_FILE),
        source,
    };

    for bucket in &buckets {
        let mut extras: Vec<(usize, Extra)> = Vec::new();
        for (j, &id) in bucket.iter().enumerate() {
            let r = &stream.recs[id as usize];
            let x: f64 = rng.random();
            if x < DUPLICATE_RATE {
                // Records with a follower (or following one) are never duplicated: a repeat
                // arriving after the follower would undo it.
                if r.follows == NONE && !r.has_follower {
                    extras.push((rng.random_range(j + 1..=bucket.len()), Extra::Duplicate(id)));
                }
            } else if x < DUPLICATE_RATE + dirty_p {
                if let Some((kind, text)) = corrupter.corrupt(stream.topic, stream.text(id), rng) {
                    let (kind, reason) = (kind.name(), kind.reason());
                    extras.push((
                        rng.random_range(0..=bucket.len()),
                        Extra::Dirty { kind, reason, text },
                    ));
                }
            }
        }
        extras.sort_by_key(|e| e.0);
        let mut e = 0;
        for j in 0..=bucket.len() {
            while e < extras.len() && extras[e].0 == j {
                line += 1;
                match &extras[e].1 {
                    Extra::Duplicate(id) => {
                        writeln!(out, "{}", stream.text(*id)).map_err(io)?;
                        note(line, "duplicate", None, manifest).map_err(manifest_io)?;
                    }
                    Extra::Dirty { kind, reason, text } => {
                        writeln!(out, "{text}").map_err(io)?;
                        note(line, kind, Some(reason), manifest).map_err(manifest_io)?;
                    }
                }
                e += 1;
            }
            if j == bucket.len() {
                break;
            }
            let id = bucket[j];
            line += 1;
            writeln!(out, "{}", stream.text(id)).map_err(io)?;
            let r = &stream.recs[id as usize];
            let kind = match r.special {
                Special::Reversal => Some("reversal"),
                Special::Correction => Some("correction"),
                Special::Plain if late[id as usize] => Some("late"),
                Special::Plain => None,
            };
            if let Some(kind) = kind {
                note(line, kind, None, manifest).map_err(manifest_io)?;
            }
        }
    }
    out.flush().map_err(io)?;
    Ok(Written { lines: line })
}
