//! From validated events to alerts: per-household monthly state, indicators in DataFusion
//! SQL, grading and routing to the verification queues.
//!
//! # Layout
//! - [`ledger`]: what each of one household's records contributes, kept by the hash of its
//!   natural key (duplicates, corrections, reversals), and its monthly figures.
//! - [`state`]: every household, the retained window, what needs re-evaluation, records
//!   waiting for their household's roster entry and reversals waiting for their settlement.
//! - [`table`]: the `household_months` Arrow table the SQL reads.
//! - [`trailing`]: the trailing 3- and 12-month windows each row of that table carries.
//! - [`indicators`]: the SQL files (`indicators/*.sql`, `sql/household_features.sql`) and the
//!   engine that runs them with one reused DataFusion context.
//! - [`features`]: the model's versioned feature vector per household-month.
//! - [`alerts`]: the alert record, deterministic ids, routing, the follow-up policy.
//! - [`registry`]: model versions on disk, promotion, and the hot-reloading grader source.
//! - [`snapshot`]: feature snapshots to Parquet, partitioned by month.
//! - [`training`]: snapshots joined with labels in SQL, for training and evaluation.
//! - [`pipeline`]: the micro-batch loop tying it together; its `grading` (served and shadow
//!   graders, then the alert book), `checkpoints` (what changed, checkpoint, restore) and
//!   `outbox` (alerts held until a checkpoint books them).
//! - [`kafka`] (feature `kafka`): the consume → process → checkpoint → commit loop against
//!   Kafka, and the restore of owned households from the changelog.
//! - [`assemble`]: a deployment's pipeline from its settings (indicators, grader, shadow,
//!   snapshots, claims), for the file replay and the Kafka loop alike.
//! - [`stats`]: what a run has done so far, for summaries and tests.
//! - [`checkpoint`]: one household's state as a versioned binary changelog record, written and
//!   restored so that a deployment can move households between instances.
//! - [`metrics`]: every Prometheus metric and the `/metrics` endpoint.
//! - [`error`]: the crate's error type.

pub mod alerts;
pub mod assemble;
pub mod checkpoint;
pub mod error;
pub mod features;
pub mod indicators;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod ledger;
pub mod metrics;
pub mod pipeline;
pub mod registry;
pub mod snapshot;
pub mod state;
pub mod stats;
pub mod table;
pub mod trailing;
pub mod training;

pub use alerts::Alert;
pub use assemble::Assembly;
pub use error::PipelineError;
pub use metrics::Metrics;
pub use pipeline::{Pipeline, PipelineConfig, RunStats};
