//! The hash-chained claims ledger: every claim event, one JSON line each, chained so that a
//! changed, removed or reordered entry is found.
//!
//! ```text
//! {"seq":1,"prev":"000…0","hash":"9c1f…","claim":{..claim event..}}
//! ```
//!
//! `hash` is SHA-256 of `prev`, a newline and the claim event's JSON exactly as written, in hex
//! with every 8th character a letter (`hex_without_digit_runs`: no output of fangpin holds a
//! run of digits an ID number could hide in); `prev` is the entry before's `hash` (that of 32
//! zero bytes for the first). [`verify`] recomputes the chain and names the first entry that
//! does not hold.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use fangpin_connectors::pseudonym::hex_without_digit_runs;
use sha2::{Digest, Sha256};

use crate::book::ClaimEvent;
use crate::error::ClaimsError;


#[derive(Serialize)]
struct EntryOut<'a> {
    seq: u64,
    prev: &'a str,
    hash: &'a str,
    claim: &'a RawValue,
}

#[derive(Deserialize)]
struct EntryIn<'a> {
    seq: u64,
    prev: String,
    hash: String,
    #[serde(borrow)]
    claim: &'a RawValue,
}

/// An open ledger, appending.
pub struct Ledger {
    path: PathBuf,
    out: BufWriter<File>,
    seq: u64,
    last: String,
}

impl Ledger {
    /// A new, empty ledger at `path` (an existing file is replaced: a replay starts over).
    pub fn create(path: &Path) -> Result<Ledger, ClaimsError> {
        let file = File::create(path).map_err(|e| ClaimsError::io(path, e))?;
        Ok(Ledger { path: path.to_owned(), out: BufWriter::new(file), seq: 0, last: genesis() })
    }

    /// The ledger at `path`, verified, to append to; created when absent. A broken ledger is
    /// refused: appending would chain new entries to a tampered history.
    pub fn append_to(path: &Path) -> Result<Ledger, ClaimsError> {
        let (seq, last) = if path.exists() {
            let report = verify(path)?;
            (report.entries, report.last_hash)
        } else {
            (0, genesis())
        };
        let file = OpenOptions::new().create(true).append(true).open(path).map_err(|e| ClaimsError::io(path, e))?;
        Ok(Ledger { path: path.to_owned(), out: BufWriter::new(file), seq, last })
    }

    /// Appends one claim event.
    pub fn append(&mut self, claim: &ClaimEvent) -> Result<(), ClaimsError> {
        let json = serde_json::to_string(claim).map_err(|e| ClaimsError::Internal(e.to_string()))?;
        let hash = chain(&self.last, &json);
        self.seq += 1;
        let raw = RawValue::from_string(json).map_err(|e| ClaimsError::Internal(e.to_string()))?;
        let line = serde_json::to_string(&EntryOut { seq: self.seq, prev: &self.last, hash: &hash, claim: &raw })
            .map_err(|e| ClaimsError::Internal(e.to_string()))?;
        writeln!(self.out, "{line}").map_err(|e| ClaimsError::io(&self.path, e))?;
        self.last = hash;
        Ok(())
    }

    /// Writes out what was appended and syncs it to disk.
    pub fn flush(&mut self) -> Result<(), ClaimsError> {
        self.out.flush().map_err(|e| ClaimsError::io(&self.path, e))?;
        self.out.get_ref().sync_data().map_err(|e| ClaimsError::io(&self.path, e))
    }
}

/// What a verified ledger holds.
#[derive(Debug, PartialEq)]
pub struct Verified {
    pub entries: u64,
    pub last_hash: String,
}

/// Recomputes the chain of the ledger at `path`; the error names the first broken entry (its
/// line number, counted from 1) and what is wrong with it.
pub fn verify(path: &Path) -> Result<Verified, ClaimsError> {
    let file = File::open(path).map_err(|e| ClaimsError::io(path, e))?;
    let broken = |line: u64, reason: String| ClaimsError::Tampered { path: path.to_owned(), line, reason };
    let mut last = genesis();
    let mut entries = 0;
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let n = i as u64 + 1;
        let line = line.map_err(|e| ClaimsError::io(path, e))?;
        let entry: EntryIn = serde_json::from_str(&line).map_err(|e| broken(n, format!("not a ledger entry: {e}")))?;
        if entry.seq != n {
            return Err(broken(n, format!("sequence number {} where {n} was due (an entry removed or moved)", entry.seq)));
        }
        if entry.prev != last {
            return Err(broken(n, "it does not follow the entry before it (prev differs)".into()));
        }
        if chain(&entry.prev, entry.claim.get()) != entry.hash {
            return Err(broken(n, "its claim does not match its hash (the claim was changed)".into()));
        }
        serde_json::from_str::<ClaimEvent>(entry.claim.get()).map_err(|e| broken(n, format!("not a claim event: {e}")))?;
        last = entry.hash;
        entries = n;
    }
    Ok(Verified { entries, last_hash: last })
}

fn chain(prev: &str, claim_json: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(claim_json.as_bytes());
    hex_without_digit_runs(&h.finalize())
}

/// The `prev` of the first entry.
fn genesis() -> String {
    hex_without_digit_runs(&[0; 32])
}
