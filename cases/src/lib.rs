//! The cadres' side of fangpin: alerts become verification tasks, confirmed risks become
//! identification cases that move through the national procedure, and every change is kept in
//! a hash-chained audit log. Served as HTML pages (phone browsers) and a JSON API.
//!
//! # Layout
//! - [`config`]: deadlines and service settings (`[cases]` in the configuration file).
//! - [`store`]: the database (SQLite or PostgreSQL through one schema) and its migrations.
//! - [`areas`]: names of counties, townships and villages by code.
//! - [`accounts`]: roles scoped to an area, argon2 passwords, the accounts file, sessions.
//! - [`procedure`]: the identification steps, who may take each, and their deadlines.
//! - [`workdays`]: working-day arithmetic for the deadlines.
//! - [`tasks`]: verification tasks: alerts in (an alert id is one task, revised in place),
//!   outcomes out.
//! - [`cases`]: identification cases and their steps.
//! - [`audit`]: the hash-chained audit log and its verification.
//! - [`ingest`]: reads the door-visit and phone queues into tasks.
//! - `kafka_queues` (feature `kafka`): the queues and outcomes on Kafka.
//! - [`outbox`]: publishes recorded outcomes on `verify.outcomes`, at least once.
//! - [`privacy`]: keeps ID numbers out of free text.
//! - [`metrics`]: the monitoring centre's view of the verification work.
//! - [`web`]: routes, sessions and CSRF, pages and the JSON API.
//! - [`error`]: the crate's error type.

pub mod accounts;
pub mod areas;
pub mod audit;
pub mod cases;
pub mod config;
pub mod error;
pub mod ingest;
#[cfg(feature = "kafka")]
pub mod kafka_queues;
pub mod metrics;
pub mod outbox;
pub mod privacy;
pub mod procedure;
pub mod store;
pub mod tasks;
pub mod web;
pub mod workdays;

pub use config::CasesConfig;
pub use error::{CasesError, Result};
/// The database library, for callers that query a [`Store`]'s pool directly.
pub use sqlx;
pub use store::Store;
