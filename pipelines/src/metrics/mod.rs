//! Every metric fangpin exports, defined in one place, and the `/metrics` HTTP endpoint.
//!
//! Labels carry topics, reasons, queues, grades, stages, indicator codes, model versions and
//! county and township codes only ([`names::LABELS`]): never a household code or an ID number.
//!
//! # Layout
//! - [`names`]: every metric and label name (the dashboards' tests check against it).
//! - this file: the [`Metrics`] registry and what each family means.
//! - `observe`: what the pipeline reports after each step, as methods on [`Metrics`].
//! - [`source`]: consumer lag of a replayed directory.
//! - `http`: the `/metrics` endpoint ([`serve`]).

mod http;
pub mod names;
mod observe;
pub mod source;

use prometheus::core::{Collector, Desc};
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

pub use http::serve;
pub use observe::{state_bytes_estimate, RecordOutcome};

/// Micro-batch stages, the values of the `stage` label.
pub const STAGES: [&str; 6] = ["decode", "state", "claims", "sql", "grading", "fanout"];

/// The pipeline's metrics, registered in their own registry. Cheap to clone: every field is a
/// handle on the same underlying values.
#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    /// What was registered, for tests: a labelled family with no values yet is absent from
    /// `registry.gather()`, but never from here.
    descs: Vec<Desc>,
    /// Records read, per topic and [`RecordOutcome`].
    pub records_in: IntCounterVec,
    /// Records written, per output topic.
    pub records_out: IntCounterVec,
    /// Records rejected, per input topic and reason.
    pub dead_letters: IntCounterVec,
    /// Household records older than the newest month seen, per topic.
    pub late_records: IntCounterVec,
    /// Bytes not yet read, per topic and partition.
    pub consumer_lag_bytes: IntGaugeVec,
    /// Newest event time minus the oldest event time of the last batch, per topic.
    pub event_time_lag: GaugeVec,
    /// Newest event time seen, per topic.
    pub newest_event_time: GaugeVec,
    /// Wall-clock time of the last record read, per topic.
    pub last_record_time: GaugeVec,
    /// Seconds per micro-batch stage.
    pub batch_duration: HistogramVec,
    /// Seconds from reading a batch to writing the alerts it caused, per queue.
    pub alert_latency: HistogramVec,
    /// Scores of the alerts raised, per grade.
    pub alert_score: HistogramVec,
    /// Alerts raised, per queue, grade and county.
    pub alerts: IntCounterVec,
    /// Indicator hits, per indicator and county.
    pub indicator_hits: IntCounterVec,
    /// Households per current grade, county and township.
    pub graded_households: IntGaugeVec,
    /// Verification outcomes, per grade of the alert answered (`unknown` if not known), outcome
    /// and county.
    pub verification_outcomes: IntCounterVec,
    /// Open alerts, per queue and county.
    pub open_alerts: IntGaugeVec,
    /// When the oldest open alert was raised, per queue and county.
    pub oldest_open_alert: GaugeVec,
    /// The grader in use: model, version, feature version.
    pub model_info: IntGaugeVec,
    pub feature_psi: GaugeVec,
    /// Households held in state.
    pub state_households: IntGauge,
    /// Household records held in state.
    pub state_records: IntGauge,
    /// Records waiting for a roster entry or a settlement.
    pub state_waiting_records: IntGauge,
    /// Estimated bytes held by state.
    pub state_bytes: IntGauge,
}

/// Registers collectors and remembers their descriptors.
struct Registrar {
    registry: Registry,
    descs: Vec<Desc>,
}

impl Registrar {
    fn add<C: Collector + Clone + 'static>(&mut self, collector: C) -> C {
        self.descs.extend(collector.desc().into_iter().cloned());
        self.registry.register(Box::new(collector.clone())).expect("metric registered once");
        collector
    }

    fn counter(&mut self, name: &str, labels: &[&str]) -> IntCounterVec {
        self.add(IntCounterVec::new(Opts::new(name, help(name)), labels).expect("valid metric definition"))
    }

    fn int_gauge(&mut self, name: &str, labels: &[&str]) -> IntGaugeVec {
        self.add(IntGaugeVec::new(Opts::new(name, help(name)), labels).expect("valid metric definition"))
    }

    fn gauge(&mut self, name: &str, labels: &[&str]) -> GaugeVec {
        self.add(GaugeVec::new(Opts::new(name, help(name)), labels).expect("valid metric definition"))
    }

    fn scalar(&mut self, name: &str) -> IntGauge {
        self.add(IntGauge::new(name, help(name)).expect("valid metric definition"))
    }

    fn histogram(&mut self, name: &str, labels: &[&str], buckets: Vec<f64>) -> HistogramVec {
        let opts = HistogramOpts::new(name, help(name)).buckets(buckets);
        self.add(HistogramVec::new(opts, labels).expect("valid metric definition"))
    }
}

/// The HELP text of a family, so that `/metrics` explains itself.
fn help(name: &str) -> &'static str {
    use names::*;
    match name {
        RECORDS_IN => "Records read, per topic and outcome (applied, duplicate, correction, dead_letter, waiting).",
        RECORDS_OUT => "Records written, per output topic.",
        DEAD_LETTERS => "Records rejected, per input topic and reason.",
        LATE_RECORDS => "Household records about a month older than the newest month seen when they arrived.",
        CONSUMER_LAG_BYTES => "Bytes not yet read, per topic and partition.",
        EVENT_TIME_LAG => "Newest event time seen on the topic minus the oldest event time in the last batch.",
        NEWEST_EVENT_TIME => "Newest event time seen per topic (start of the record's month, UTC+8), unix time.",
        LAST_RECORD_TIME => "Wall-clock time the last record of the topic was read, unix time.",
        BATCH_DURATION => "Seconds per micro-batch stage.",
        ALERT_LATENCY => "Seconds from reading the batch that touched a household to writing its alert.",
        ALERT_SCORE => "Risk score of the alerts raised, per grade.",
        ALERTS => "Alerts raised, per queue, grade and county.",
        INDICATOR_HITS => "Indicator hits, per indicator and county.",
        GRADED_HOUSEHOLDS => "Households per current grade (latest alert), county and township.",
        VERIFICATION_OUTCOMES => "Verification outcomes, per grade of the alert answered, outcome and county.",
        OPEN_ALERTS => "Alerts neither answered by a verification outcome nor superseded, per queue and county.",
        OLDEST_OPEN_ALERT => "When the oldest open alert was raised, per queue and county, unix time.",
        MODEL_INFO => "The grader in use (always 1): model, version and feature version.",
        FEATURE_DRIFT => "Population stability index of each watched feature graded since the served model began, against its training rows (above 0.25: retrain).",
        STATE_HOUSEHOLDS => "Households held in state.",
        STATE_RECORDS => "Household records held in state.",
        STATE_WAITING_RECORDS => "Records waiting for their household's roster entry or their settlement.",
        STATE_BYTES => "Estimated memory held by state, bytes.",
        _ => "fangpin metric.",
    }
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Metrics {
        use names::*;
        let mut r = Registrar { registry: Registry::new(), descs: Vec::new() };
        let metrics = Metrics {
            records_in: r.counter(RECORDS_IN, &["topic", "outcome"]),
            records_out: r.counter(RECORDS_OUT, &["topic"]),
            dead_letters: r.counter(DEAD_LETTERS, &["topic", "reason"]),
            late_records: r.counter(LATE_RECORDS, &["topic"]),
            consumer_lag_bytes: r.int_gauge(CONSUMER_LAG_BYTES, &["topic", "partition"]),
            event_time_lag: r.gauge(EVENT_TIME_LAG, &["topic"]),
            newest_event_time: r.gauge(NEWEST_EVENT_TIME, &["topic"]),
            last_record_time: r.gauge(LAST_RECORD_TIME, &["topic"]),
            // A micro-batch stage takes from a millisecond (decode of a few records) to minutes
            // (SQL over 100,000 records at opt-level 1).
            batch_duration: r.histogram(BATCH_DURATION, &["stage"], exponential(0.001, 4.0, 10)),
            // Processing latency today (10 ms to a few minutes); wider buckets will be needed
            // once it measures from the department's event timestamp (see README).
            alert_latency: r.histogram(ALERT_LATENCY, &["queue"], exponential(0.01, 2.5, 12)),
            alert_score: r.histogram(ALERT_SCORE, &["grade"], (1..=10).map(|i| f64::from(i) / 10.0).collect()),
            alerts: r.counter(ALERTS, &["queue", "grade", "county"]),
            indicator_hits: r.counter(INDICATOR_HITS, &["indicator", "county"]),
            graded_households: r.int_gauge(GRADED_HOUSEHOLDS, &["county", "township", "grade"]),
            verification_outcomes: r.counter(VERIFICATION_OUTCOMES, &["grade", "outcome", "county"]),
            open_alerts: r.int_gauge(OPEN_ALERTS, &["queue", "county"]),
            oldest_open_alert: r.gauge(OLDEST_OPEN_ALERT, &["queue", "county"]),
            model_info: r.int_gauge(MODEL_INFO, &["model", "version", "feature_version"]),
            feature_psi: r.gauge(FEATURE_DRIFT, &["feature"]),
            state_households: r.scalar(STATE_HOUSEHOLDS),
            state_records: r.scalar(STATE_RECORDS),
            state_waiting_records: r.scalar(STATE_WAITING_RECORDS),
            state_bytes: r.scalar(STATE_BYTES),
            registry: r.registry,
            descs: r.descs,
        };
        metrics.initialise();
        metrics
    }

    /// Creates the series every run has, at zero, so that a rate or a ratio over them exists
    /// from the first scrape instead of appearing only once something happens.
    fn initialise(&self) {
        for topic in fangpin_connectors::Topic::ALL {
            for outcome in RecordOutcome::ALL {
                self.records_in.with_label_values(&[topic.name(), outcome.code()]);
            }
            self.late_records.with_label_values(&[topic.name()]);
        }
        for stage in STAGES {
            self.batch_duration.with_label_values(&[stage]);
        }
        for grade in fangpin_models::Grade::ALL {
            let queue = crate::alerts::queue_for(grade);
            self.alert_latency.with_label_values(&[queue]);
            self.alert_score.with_label_values(&[grade.code()]);
        }
    }

    /// Descriptors of every registered family, whether or not it has values yet.
    pub fn descriptors(&self) -> &[Desc] {
        &self.descs
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

fn exponential(start: f64, factor: f64, count: usize) -> Vec<f64> {
    prometheus::exponential_buckets(start, factor, count).expect("valid buckets")
}
