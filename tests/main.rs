//! fangpin's integration tests, compiled as one test binary (one link of DataFusion).

mod golden;
mod support;
