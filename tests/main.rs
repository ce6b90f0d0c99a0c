//! fangpin's integration tests, compiled as one test binary (one link of DataFusion).

mod batching;
mod cases;
mod cases_browser;
mod claims;
mod e2e;
mod errors;
mod fuzz;
mod golden;
#[cfg(feature = "kafka")]
mod kafka;
mod metrics;
mod model;
mod observability;
mod pipeline;
mod soak;
mod support;
mod trailing;
