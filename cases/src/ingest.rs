//! Reads the verification queues into tasks. In the embedded mode the queues are the
//! pipeline's `verify.door_visit.ndjson` and `verify.phone.ndjson`; each is read from where the
//! last read stopped (kept in the store, so a restart does not start over), complete lines only.
//! A file whose bytes before the position changed (a new run rewrote it) is read again from the
//! start: alert ids make that harmless, since an id already held is a task already held.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use fangpin_connectors::topic::output;
use fangpin_pipelines::Alert;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::config::CasesConfig;
use crate::store::{now_china, Store};
use crate::tasks::{apply_alert, Applied};
use crate::{CasesError, Result};

/// What one read of the queues did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ingested {
    pub created: u64,
    pub revised: u64,
    pub unchanged: u64,
    /// Lines that are not alerts (logged with their line number, never stored).
    pub rejected: u64,
}

impl Ingested {
    /// Applies one queue message inside the caller's transaction and counts what it did. A
    /// message that is not an alert is logged by where it came from (never its contents) and
    /// counted.
    pub(crate) async fn apply(
        &mut self,
        tx: &mut sqlx::AnyConnection,
        payload: &[u8],
        received: chrono::DateTime<chrono::FixedOffset>,
        config: &CasesConfig,
        origin: &(dyn std::fmt::Display + Sync),
    ) -> Result<()> {
        match serde_json::from_slice::<Alert>(payload) {
            Ok(alert) => match apply_alert(tx, &alert, received, config).await? {
                Applied::Created => self.created += 1,
                Applied::Revised => self.revised += 1,
                Applied::Unchanged => self.unchanged += 1,
            },
            Err(e) => {
                tracing::warn!(%origin, error = %json_error(&e), "a queue message is not an alert; skipped");
                self.rejected += 1;
            }
        }
        Ok(())
    }
}

/// Lines applied per transaction.
const CHUNK: usize = 500;

/// Reads what is new in both queue files of `dir`.
pub async fn read_queues(store: &Store, dir: &Path, config: &CasesConfig) -> Result<Ingested> {
    let mut total = Ingested::default();
    for topic in [output::DOOR_VISIT, output::PHONE] {
        let path = dir.join(format!("{topic}.ndjson"));
        if path.exists() {
            read_file(store, &path, topic, config, &mut total).await?;
        }
    }
    Ok(total)
}

async fn read_file(
    store: &Store,
    path: &Path,
    topic: &str,
    config: &CasesConfig,
    total: &mut Ingested,
) -> Result<()> {
    let source = format!("file:{topic}");
    let stored = sqlx::query("SELECT position, tail_hash FROM queue_positions WHERE source = $1")
        .bind(source.clone())
        .fetch_optional(store.pool())
        .await?;
    let mut file = std::fs::File::open(path).map_err(|e| CasesError::io(path, e))?;
    let len = file.metadata().map_err(|e| CasesError::io(path, e))?.len();
    let mut start = 0;
    if let Some(row) = stored {
        let (position, hash): (i64, String) = (row.try_get(0)?, row.try_get(1)?);
        let position = position.max(0) as u64;
        if position <= len && tail_hash(&mut file, path, position)? == hash {
            start = position;
        } else {
            tracing::info!(file = %path.display(), "queue file was rewritten since it was read: reading it again");
        }
    }
    if start == len {
        return Ok(());
    }
    let bytes = read_range(&mut file, path, start, len)?;
    // Only complete lines: the pipeline may be writing the last one.
    let Some(end) = bytes.iter().rposition(|&b| b == b'\n').map(|i| i + 1) else {
        return Ok(());
    };
    let lines: Vec<&[u8]> = bytes[..end]
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let received = now_china();
    for chunk in lines.chunks(CHUNK) {
        let mut tx = store.begin().await?;
        for line in chunk {
            total.apply(&mut tx, line, received, config, &path.display()).await?;
        }
        tx.commit().await?;
    }
    let position = start + end as u64;
    // The tail is in memory unless this read was shorter than it.
    let hash = if end >= TAIL {
        hex::encode(Sha256::digest(&bytes[end - TAIL..end]))
    } else {
        tail_hash(&mut file, path, position)?
    };
    sqlx::query(
        "INSERT INTO queue_positions (source, position, tail_hash) VALUES ($1, $2, $3) \
         ON CONFLICT (source) DO UPDATE SET position = excluded.position, tail_hash = excluded.tail_hash",
    )
    .bind(source)
    .bind(position as i64)
    .bind(hash)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// Bytes hashed before a read position to notice a rewritten file.
const TAIL: usize = 4096;

/// Bytes `from..to` of the file.
fn read_range(file: &mut std::fs::File, path: &Path, from: u64, to: u64) -> Result<Vec<u8>> {
    file.seek(SeekFrom::Start(from)).map_err(|e| CasesError::io(path, e))?;
    let mut bytes = Vec::with_capacity((to - from) as usize);
    file.by_ref().take(to - from).read_to_end(&mut bytes).map_err(|e| CasesError::io(path, e))?;
    Ok(bytes)
}

/// SHA-256 of the (up to) [`TAIL`] bytes before `position`: a rewritten file differs there.
fn tail_hash(file: &mut std::fs::File, path: &Path, position: u64) -> Result<String> {
    let tail = read_range(file, path, position.saturating_sub(TAIL as u64), position)?;
    Ok(hex::encode(Sha256::digest(&tail)))
}

/// A serde_json error's kind and position, without quoting the input (which may hold anything).
pub(crate) fn json_error(e: &serde_json::Error) -> String {
    format!("{:?} error at column {}", e.classify(), e.column())
}
