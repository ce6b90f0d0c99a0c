//! The database: SQLite for one embedded instance, PostgreSQL for several instances sharing
//! one store. Both run the same schema (`cases/migrations/`, applied by sqlx's migrator at
//! start) and the same statements through sqlx's `Any` driver; the only dialect difference is
//! how a writing transaction serialises the audit chain (see [`Store::begin`]).

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::any::{install_default_drivers, AnyPoolOptions};
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{Any, AnyPool, Transaction};

use crate::{CasesError, Result};

/// The migrations, embedded at build time, in order.
const MIGRATIONS: [(i64, &str, &str); 2] = [
    (1, "tasks cases audit", include_str!("../migrations/0001_tasks_cases_audit.sql")),
    (2, "alert revisions", include_str!("../migrations/0002_alert_revisions.sql")),
];

#[derive(Debug)]
struct Embedded;

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|(v, d, sql)| {
                    Migration::new(
                        *v,
                        Cow::Borrowed(*d),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// Which database a store is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A migrated database.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connects to `url` (`sqlite://cases.db`, `postgres://user@127.0.0.1:5432/fangpin`) and
    /// applies the migrations it lacks.
    pub async fn open(url: &str) -> Result<Store> {
        install_default_drivers();
        let (backend, url) = if let Some(rest) = url.strip_prefix("sqlite://") {
            // Create the file if needed, unless the URL asks for another mode.
            let url = match rest.split_once('?') {
                Some((_, query)) if query.split('&').any(|p| p.starts_with("mode=")) => url.to_owned(),
                Some(_) => format!("{url}&mode=rwc"),
                None => format!("{url}?mode=rwc"),
            };
            (Backend::Sqlite, url)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else {
            return Err(CasesError::Config(format!(
                "database URL {url:?}: expected sqlite://FILE or postgres://USER@HOST:PORT/DB"
            )));
        };
        // One SQLite connection: writes are serialised by the database anyway, and a single
        // connection never meets SQLITE_BUSY from itself.
        let connections = if backend == Backend::Sqlite { 1 } else { 8 };
        let pool = AnyPoolOptions::new()
            .max_connections(connections)
            .connect(&url)
            .await
            .map_err(|e| {
                CasesError::Config(format!(
                    "cannot open the cases database {}: {e}",
                    redact(&url)
                ))
            })?;
        let migrator = Migrator::new(Embedded).await?;
        migrator.run(&pool).await?;
        Ok(Store { pool, backend })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A writing transaction. Every write appends to the audit chain, whose next row depends
    /// on the last; on PostgreSQL several instances write at once, so the transaction first
    /// locks the audit table against other writers (readers go on). Cadres write a few times a
    /// minute per township, so serialising writes costs nothing that matters.
    pub async fn begin(&self) -> Result<Transaction<'static, Any>> {
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// The next value of a `seq` column (`MAX + 1`), inside the caller's transaction.
    pub async fn next_seq(
        tx: &mut sqlx::AnyConnection,
        table: &str,
        filter: Option<(&str, &str)>,
    ) -> Result<i64> {
        let (sql, bind) = match filter {
            Some((column, value)) => {
                (format!("SELECT CAST(COALESCE(MAX(seq), 0) + 1 AS BIGINT) FROM {table} WHERE {column} = $1"), Some(value))
            }
            None => (format!("SELECT CAST(COALESCE(MAX(seq), 0) + 1 AS BIGINT) FROM {table}"), None),
        };
        let mut q = sqlx::query_scalar::<_, i64>(&sql);
        if let Some(v) = bind {
            q = q.bind(v.to_owned());
        }
        Ok(q.fetch_one(tx).await?)
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Seconds since the epoch, now.
pub fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Now in China time as stored: RFC 3339 to the second (`2026-12-01T10:20:00+08:00`).
pub fn now_text() -> String {
    now_china().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// Now in China time, RFC 3339 (`2026-12-01T10:20:00+08:00`).
pub fn now_china() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::Utc::now().with_timezone(&fangpin_connectors::event::china_time())
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            super::redact("postgres://u:secret@127.0.0.1:5432/db"),
            "postgres://u:***@127.0.0.1:5432/db"
        );
        assert_eq!(super::redact("sqlite://x.db"), "sqlite://x.db");
    }
}
