//! Outcome messages leave through an outbox: the outcome and its message are written in one
//! transaction, and a publisher sends unsent messages in order and marks them sent after the
//! sink has flushed. A crash between the two sends a message again (at least once); the
//! pipeline counts a repeated outcome for an alert once.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use fangpin_connectors::{ConnectorError, Sink};
use sqlx::{AnyConnection, Row};

use crate::store::Store;
use crate::{CasesError, Result};

/// Queues one message inside the caller's transaction.
pub async fn enqueue(tx: &mut AnyConnection, topic: &str, key: &str, payload: &str) -> Result<()> {
    let seq = Store::next_seq(tx, "outbox", None).await?;
    sqlx::query(
        "INSERT INTO outbox (seq, topic, msg_key, payload, published) VALUES ($1, $2, $3, $4, 0)",
    )
    .bind(seq)
    .bind(topic.to_owned())
    .bind(key.to_owned())
    .bind(payload.to_owned())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Sends up to 500 unsent messages through the sink; returns how many were sent.
pub async fn publish(store: &Store, sink: &mut (dyn Sink + Send)) -> Result<usize> {
    let rows = sqlx::query("SELECT seq, topic, msg_key, payload FROM outbox WHERE published = 0 ORDER BY seq LIMIT 500")
        .fetch_all(store.pool())
        .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut last = 0i64;
    for row in &rows {
        let topic: String = row.try_get("topic")?;
        let key: String = row.try_get("msg_key")?;
        let payload: String = row.try_get("payload")?;
        sink.send(&topic, &key, payload.as_bytes())
            .map_err(publish_error)?;
        last = row.try_get("seq")?;
    }
    sink.flush().map_err(publish_error)?;
    sqlx::query("UPDATE outbox SET published = 1 WHERE published = 0 AND seq <= $1")
        .bind(last)
        .execute(store.pool())
        .await?;
    Ok(rows.len())
}

fn publish_error(e: ConnectorError) -> CasesError {
    CasesError::Config(format!("cannot publish outcomes: {e}"))
}

/// Appends each topic to `<dir>/<topic>.ndjson` (the embedded mode's topics), never truncating:
/// outcomes accumulate across restarts of the service.
#[derive(Debug)]
pub struct AppendDir {
    dir: PathBuf,
    pending: Vec<(String, Vec<u8>)>,
}

impl AppendDir {
    pub fn new(dir: &Path) -> Result<AppendDir> {
        std::fs::create_dir_all(dir).map_err(|e| CasesError::io(dir, e))?;
        Ok(AppendDir {
            dir: dir.to_path_buf(),
            pending: Vec::new(),
        })
    }

    pub fn path_of(&self, topic: &str) -> PathBuf {
        self.dir.join(format!("{topic}.ndjson"))
    }
}

impl Sink for AppendDir {
    fn send(&mut self, topic: &str, _key: &str, payload: &[u8]) -> Result<(), ConnectorError> {
        let mut line = payload.to_vec();
        line.push(b'\n');
        self.pending.push((topic.to_owned(), line));
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ConnectorError> {
        for (topic, line) in std::mem::take(&mut self.pending) {
            let path = self.path_of(&topic);
            let mut file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| ConnectorError::io(&path, e))?;
            file.write_all(&line)
                .map_err(|e| ConnectorError::io(&path, e))?;
            file.sync_data().map_err(|e| ConnectorError::io(&path, e))?;
        }
        Ok(())
    }
}
