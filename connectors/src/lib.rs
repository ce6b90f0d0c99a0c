//! Department feeds in, queues and dead letters out.
//!
//! # Layout
//! - [`topic`]: the contract topics and the output topics.
//! - [`event`]: the internal event model every contract record is normalised into.
//! - [`compact`]: months and amounts as binary state writes them, exactly.
//! - [`decode`]: one decoder per contract topic; validates every field, rejects with a reason.
//! - [`pseudonym`]: resident ID numbers: check character, keyed-HMAC pseudonyms.
//! - [`id_like`]: resident ID numbers in text, in any spelling: found and masked.
//! - [`dead_letter`]: the dead-letter record and the masking of ID numbers in payloads.
//! - [`file_source`]: replays a directory of `<topic>.ndjson` files in arrival order.
//! - [`dir_sink`]: writes output topics as `<topic>.ndjson` files; the [`Sink`] trait.
//! - `kafka` (feature `kafka`): consumer group and broadcast sources, the producer sink, topic
//!   preparation and the state changelog reader, on rdkafka.
//! - [`error`]: the crate's error type.

pub mod compact;
pub mod dead_letter;
pub mod decode;
pub mod dir_sink;
pub mod error;
pub mod event;
pub mod file_source;
pub mod id_like;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod pseudonym;
pub mod topic;

pub use dead_letter::{mask_id_numbers, masked_copy, masked_copy_within, DeadLetter};
pub use decode::{Decoder, DecoderConfig, RejectReason, Rejection};
pub use dir_sink::{DirSink, Sink};
pub use error::ConnectorError;
pub use event::Event;
pub use file_source::{FileSource, Position, SourceRecord};
pub use pseudonym::Pseudonymiser;
pub use topic::Topic;
