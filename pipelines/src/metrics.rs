//! Every metric fangpin exports, defined in one place, and the `/metrics` HTTP endpoint.
//!
//! Labels carry topics, reasons, queues, grades, stages and county codes only: never a
//! household code or an ID number.

use std::net::SocketAddr;
use std::thread::JoinHandle;

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

use crate::error::PipelineError;

/// Metric names, for code and for the dashboards' tests.
pub mod names {
    pub const RECORDS_IN: &str = "fangpin_records_in_total";
    pub const RECORDS_OUT: &str = "fangpin_records_out_total";
    pub const DEAD_LETTERS: &str = "fangpin_dead_letters_total";
    pub const DUPLICATES: &str = "fangpin_duplicates_total";
    pub const CORRECTIONS: &str = "fangpin_corrections_total";
    pub const ALERTS: &str = "fangpin_alerts_total";
    pub const INDICATOR_HITS: &str = "fangpin_indicator_hits_total";
    pub const BATCH_DURATION: &str = "fangpin_batch_duration_seconds";
    pub const STATE_HOUSEHOLDS: &str = "fangpin_state_households";
    pub const STATE_RECORDS: &str = "fangpin_state_records";
}

/// The pipeline's metrics, registered in their own registry.
#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    /// Records read, per input topic.
    pub records_in: IntCounterVec,
    /// Records written, per output topic.
    pub records_out: IntCounterVec,
    /// Records rejected, per input topic and reason.
    pub dead_letters: IntCounterVec,
    /// Exact repeats ignored, per input topic.
    pub duplicates: IntCounterVec,
    /// Records that replaced an earlier one with the same key, per input topic.
    pub corrections: IntCounterVec,
    /// Alerts raised, per queue, grade and county.
    pub alerts: IntCounterVec,
    /// Indicator hits, per indicator.
    pub indicator_hits: IntCounterVec,
    /// Seconds per micro-batch stage (decode, state, sql, grading, fanout).
    pub batch_duration: HistogramVec,
    /// Households held in state.
    pub state_households: IntGauge,
    /// Household records held in state.
    pub state_records: IntGauge,
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric definition");
            registry.register(Box::new(c.clone())).expect("metric registered once");
            c
        };
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid metric definition");
            registry.register(Box::new(g.clone())).expect("metric registered once");
            g
        };
        let records_in = counter(names::RECORDS_IN, "Records read, per input topic.", &["topic"]);
        let records_out = counter(names::RECORDS_OUT, "Records written, per output topic.", &["topic"]);
        let dead_letters = counter(names::DEAD_LETTERS, "Records rejected, per topic and reason.", &["topic", "reason"]);
        let duplicates = counter(names::DUPLICATES, "Exact repeats ignored, per topic.", &["topic"]);
        let corrections = counter(names::CORRECTIONS, "Records replacing an earlier one, per topic.", &["topic"]);
        let alerts = counter(names::ALERTS, "Alerts raised, per queue, grade and county.", &["queue", "grade", "county"]);
        let indicator_hits = counter(names::INDICATOR_HITS, "Indicator hits, per indicator.", &["indicator"]);
        let batch_duration = HistogramVec::new(
            HistogramOpts::new(names::BATCH_DURATION, "Seconds per micro-batch stage.")
                .buckets(prometheus::exponential_buckets(0.001, 4.0, 10).expect("valid buckets")),
            &["stage"],
        )
        .expect("valid metric definition");
        registry.register(Box::new(batch_duration.clone())).expect("metric registered once");
        let state_households = gauge(names::STATE_HOUSEHOLDS, "Households held in state.");
        let state_records = gauge(names::STATE_RECORDS, "Household records held in state.");
        Metrics {
            registry,
            records_in,
            records_out,
            dead_letters,
            duplicates,
            corrections,
            alerts,
            indicator_hits,
            batch_duration,
            state_households,
            state_records,
        }
    }

    /// The registry in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf).expect("text encoding cannot fail");
        String::from_utf8(buf).expect("the text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Serves `/metrics` on `addr` from a background thread for as long as the process runs.
/// Returns the bound address (useful with port 0) and the thread.
pub fn serve(metrics: Metrics, addr: SocketAddr) -> Result<(SocketAddr, JoinHandle<()>), PipelineError> {
    let server = tiny_http::Server::http(addr)
        .map_err(|e| PipelineError::Config(format!("cannot serve metrics on {addr}: {e}")))?;
    let bound = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| PipelineError::Internal("metrics server bound to a non-IP address".into()))?;
    let handle = std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let response = if request.url() == "/metrics" {
                let header = tiny_http::Header::from_bytes("Content-Type", "text/plain; version=0.0.4")
                    .expect("static header is valid");
                tiny_http::Response::from_string(metrics.render()).with_header(header)
            } else {
                tiny_http::Response::from_string("not found; try /metrics").with_status_code(404)
            };
            // A client that hung up is not our problem; keep serving the others.
            let _ = request.respond(response);
        }
    });
    Ok((bound, handle))
}
