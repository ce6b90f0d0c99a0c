//! The audit log: every change to a task, a case or an account, and every refused access, as
//! one appended row whose hash covers the previous row's hash. Changing, removing or reordering
//! any row breaks the chain from that row on, and [`verify`] names the first row that breaks.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use crate::store::{now_text, Store};
use crate::Result;

/// The previous hash of the first row.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of one row: its fields, separated so that no two rows can be spelled alike.
fn row_hash(
    prev: &str,
    seq: i64,
    at: &str,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [prev, &seq.to_string(), at, actor, action, subject, detail] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Appends one entry inside the caller's writing transaction ([`Store::begin`]).
pub async fn append(
    tx: &mut AnyConnection,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &serde_json::Value,
) -> Result<()> {
    let last = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *tx)
        .await?;
    let (seq, prev) = match last {
        Some(row) => (row.try_get::<i64, _>(0)? + 1, row.try_get::<String, _>(1)?),
        None => (1, GENESIS.to_owned()),
    };
    let at = now_text();
    let detail = detail.to_string();
    let hash = row_hash(&prev, seq, &at, actor, action, subject, &detail);
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor, action, subject, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(seq)
    .bind(at)
    .bind(actor.to_owned())
    .bind(action.to_owned())
    .bind(subject.to_owned())
    .bind(detail)
    .bind(prev)
    .bind(hash)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Appends one entry in a transaction of its own (refused accesses, which change nothing else).
pub async fn record(
    store: &Store,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &serde_json::Value,
) -> Result<()> {
    let mut tx = store.begin().await?;
    append(&mut tx, actor, action, subject, detail).await?;
    tx.commit().await?;
    Ok(())
}

/// What [`verify`] found.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// Rows read.
    pub rows: u64,
    /// The first row that breaks the chain and why, if one does.
    pub broken: Option<(i64, String)>,
}

/// Recomputes the chain from the first row and stops at the first that does not hold.
pub async fn verify(store: &Store) -> Result<AuditReport> {
    let rows = sqlx::query("SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit_log ORDER BY seq")
        .fetch_all(store.pool())
        .await?;
    let mut prev = GENESIS.to_owned();
    let mut expected_seq = 1;
    for (n, row) in rows.iter().enumerate() {
        let seq: i64 = row.try_get(0)?;
        let field = |i: usize| row.try_get::<String, _>(i);
        let (at, actor, action, subject, detail, prev_hash, hash) = (
            field(1)?,
            field(2)?,
            field(3)?,
            field(4)?,
            field(5)?,
            field(6)?,
            field(7)?,
        );
        let broken = if seq != expected_seq {
            Some(format!("row {expected_seq} is missing (found {seq} next)"))
        } else if prev_hash != prev {
            Some("its previous-hash does not match the row before it".to_owned())
        } else if row_hash(&prev, seq, &at, &actor, &action, &subject, &detail) != hash {
            Some("its contents do not match its hash".to_owned())
        } else {
            None
        };
        if let Some(why) = broken {
            return Ok(AuditReport {
                rows: n as u64 + 1,
                broken: Some((seq, why)),
            });
        }
        prev = hash;
        expected_seq += 1;
    }
    Ok(AuditReport {
        rows: rows.len() as u64,
        broken: None,
    })
}
