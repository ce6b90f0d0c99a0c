//! Every metric name and label name fangpin exports: the code, the dashboards and the alert
//! rules all use these, and a test checks that the dashboards use nothing else.
//!
//! Prometheus conventions: counters end in `_total`, durations are `_seconds`, instants are
//! `_timestamp_seconds` (unix time), sizes are `_bytes`.

/// Records read, per input topic and what became of them (see [`crate::metrics::RecordOutcome`]).
pub const RECORDS_IN: &str = "fangpin_records_in_total";
/// Records written, per output topic.
pub const RECORDS_OUT: &str = "fangpin_records_out_total";
/// Records rejected, per input topic and reason (including those rejected at the end of a replay).
pub const DEAD_LETTERS: &str = "fangpin_dead_letters_total";
/// Household records about a month older than the newest month seen when they arrived.
pub const LATE_RECORDS: &str = "fangpin_late_records_total";
/// Bytes not yet read, per topic and partition (a replayed file is partition `0`).
pub const CONSUMER_LAG_BYTES: &str = "fangpin_consumer_lag_bytes";
/// Event-time lag within the stream: newest event time seen on a topic minus the event time of
/// the oldest record of the last batch.
pub const EVENT_TIME_LAG: &str = "fangpin_event_time_lag_seconds";
/// Newest event time seen per topic (start of the record's month, UTC+8), unix time.
pub const NEWEST_EVENT_TIME: &str = "fangpin_newest_event_timestamp_seconds";
/// Wall-clock time the last record of each topic was read, unix time.
pub const LAST_RECORD_TIME: &str = "fangpin_last_record_timestamp_seconds";
/// Seconds per micro-batch stage (decode, state, sql, grading, fanout).
pub const BATCH_DURATION: &str = "fangpin_batch_duration_seconds";
/// Seconds from reading the batch that last touched a household to writing its alert.
pub const ALERT_LATENCY: &str = "fangpin_alert_latency_seconds";
/// Risk score of every alert raised, per grade.
pub const ALERT_SCORE: &str = "fangpin_alert_score";
/// Alerts raised, per queue, grade and county.
pub const ALERTS: &str = "fangpin_alerts_total";
/// Indicator hits, per indicator and county.
pub const INDICATOR_HITS: &str = "fangpin_indicator_hits_total";
/// Households per current grade (their latest alert's), county and township.
pub const GRADED_HOUSEHOLDS: &str = "fangpin_graded_households";
/// Verification outcomes reported by cadres, per grade of the alert answered, outcome and county.
pub const VERIFICATION_OUTCOMES: &str = "fangpin_verification_outcomes_total";
/// Alerts not yet answered by a verification outcome nor superseded, per queue and county.
pub const OPEN_ALERTS: &str = "fangpin_open_alerts";
/// When the oldest open alert was raised, per queue and county, unix time.
pub const OLDEST_OPEN_ALERT: &str = "fangpin_oldest_open_alert_timestamp_seconds";
/// Always 1, labelled with the grader (model) in use, its version and its feature version.
pub const MODEL_INFO: &str = "fangpin_model_info";
/// Population stability index of each watched feature of the rows the served model graded,
/// against its training rows.
pub const FEATURE_DRIFT: &str = "fangpin_feature_drift_score";
/// Households held in state.
pub const STATE_HOUSEHOLDS: &str = "fangpin_state_households";
/// Household records held in state.
pub const STATE_RECORDS: &str = "fangpin_state_records";
/// Records waiting for their household's roster entry or their settlement.
pub const STATE_WAITING_RECORDS: &str = "fangpin_state_waiting_records";
/// Estimated memory held by state, bytes (see [`crate::metrics::state_bytes_estimate`]).
pub const STATE_BYTES: &str = "fangpin_state_bytes";

/// Every metric family, in the order of this file.
pub const ALL: &[&str] = &[
    RECORDS_IN,
    RECORDS_OUT,
    DEAD_LETTERS,
    LATE_RECORDS,
    CONSUMER_LAG_BYTES,
    EVENT_TIME_LAG,
    NEWEST_EVENT_TIME,
    LAST_RECORD_TIME,
    BATCH_DURATION,
    ALERT_LATENCY,
    ALERT_SCORE,
    ALERTS,
    INDICATOR_HITS,
    GRADED_HOUSEHOLDS,
    VERIFICATION_OUTCOMES,
    OPEN_ALERTS,
    OLDEST_OPEN_ALERT,
    MODEL_INFO,
    FEATURE_DRIFT,
    STATE_HOUSEHOLDS,
    STATE_RECORDS,
    STATE_WAITING_RECORDS,
    STATE_BYTES,
];

/// Every label name a metric may carry. All are public codes of bounded cardinality: topics,
/// reasons, stages, queues, grades, GB/T 2260 county and township codes, indicator codes and
/// model versions. A household code or an ID number is never a label.
pub const LABELS: &[&str] = &[
    "topic",
    "partition",
    "outcome",
    "reason",
    "stage",
    "queue",
    "grade",
    "county",
    "township",
    "indicator",
    "model",
    "version",
    "feature_version",
    "feature",
];
