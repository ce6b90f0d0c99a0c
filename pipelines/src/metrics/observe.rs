//! What the pipeline reports, step by step: each method turns one thing the pipeline knows into
//! metric values, so that the pipeline's code says *when* and this file says *how*.

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use fangpin_connectors::event::{china_time, Event, Month};
use fangpin_connectors::SourceRecord;

use super::Metrics;
use crate::alerts::{Alert, AlertBook, Answer};
use crate::ledger::Household;
use crate::state::State;

/// What became of a record read: the `outcome` label of `fangpin_records_in_total`.
///
/// Every record is counted once, when it is read; summed over outcomes, the family counts the
/// records read. A `waiting` record that is dead-lettered at the end of a replay shows up in
/// `fangpin_dead_letters_total`, not again here.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RecordOutcome {
    /// New information applied to state (or a record with nothing to apply: prices, weather,
    /// verification outcomes).
    Applied,
    /// The same record again.
    Duplicate,
    /// Replaced an earlier record with the same key.
    Correction,
    /// Rejected with a reason.
    DeadLetter,
    /// Waiting for its household's roster entry or for the settlement it reverses.
    Waiting,
}

impl RecordOutcome {
    /// Every outcome.
    pub const ALL: [RecordOutcome; 5] = [
        RecordOutcome::Applied,
        RecordOutcome::Duplicate,
        RecordOutcome::Correction,
        RecordOutcome::DeadLetter,
        RecordOutcome::Waiting,
    ];

    /// The label value.
    pub fn code(self) -> &'static str {
        match self {
            RecordOutcome::Applied => "applied",
            RecordOutcome::Duplicate => "duplicate",
            RecordOutcome::Correction => "correction",
            RecordOutcome::DeadLetter => "dead_letter",
            RecordOutcome::Waiting => "waiting",
        }
    }
}

impl Metrics {
    /// Counts one record read, by what became of it.
    pub fn record_in(&self, topic: &str, outcome: RecordOutcome) {
        self.records_in.with_label_values(&[topic, outcome.code()]).inc();
    }

    /// A batch was read: stamps the wall-clock time of the last record of each topic in it.
    pub fn observe_read(&self, records: &[SourceRecord]) {
        let now = unix_now();
        let mut seen: Vec<&str> = records.iter().map(|r| r.topic.name()).collect();
        seen.sort_unstable();
        seen.dedup();
        for topic in seen {
            self.last_record_time.with_label_values(&[topic]).set(now);
        }
    }

    /// Event times of a batch's decoded records, in reading order: moves each topic's newest
    /// event time and sets its lag to the largest gap between the newest time seen so far and
    /// a record of this batch.
    ///
    /// The feeds give months, so the event time of a record is the start of its month in China
    /// time, and the lag moves in whole months. This is lag *within* the stream (how far back
    /// the records being processed reach behind the newest one), not wall clock minus event
    /// time, which would be meaningless for a replay of 2024.
    pub fn observe_event_times<'a>(&self, events: impl IntoIterator<Item = (&'a str, Month)>) {
        let mut per_topic: BTreeMap<&str, (prometheus::Gauge, f64)> = BTreeMap::new();
        for (topic, month) in events {
            let (newest, lag) = per_topic
                .entry(topic)
                .or_insert_with(|| (self.newest_event_time.with_label_values(&[topic]), 0.0));
            let t = month_start(month);
            if t > newest.get() {
                newest.set(t);
            }
            *lag = lag.max(newest.get() - t);
        }
        for (topic, (_, lag)) in per_topic {
            self.event_time_lag.with_label_values(&[topic]).set(lag);
        }
    }

    /// Counts `event` as late when it is a household record about a month before `newest`, the
    /// newest month state had seen when it arrived. Roster entries and verification outcomes
    /// are not about a month of the ledger and are never late.
    pub fn observe_lateness(&self, topic: &str, event: &Event, newest: Option<Month>) {
        let ledger_record = event.household().is_some() && !matches!(event, Event::Roster(_) | Event::Outcome(_));
        if ledger_record && newest.is_some_and(|n| event.month() < n) {
            self.late_records.with_label_values(&[topic]).inc();
        }
    }

    /// State size after a batch; `waiting_reversals` are the reversals the pipeline holds.
    pub fn observe_state(&self, state: &State, waiting_reversals: usize) {
        let households = state.household_count();
        let records = state.record_count();
        let waiting = state.waiting_count() + waiting_reversals;
        self.state_households.set(households as i64);
        self.state_records.set(records as i64);
        self.state_waiting_records.set(waiting as i64);
        self.state_bytes.set(state_bytes_estimate(households, records, waiting) as i64);
    }

    /// One indicator hit for `household_code`'s county.
    pub fn indicator_hit(&self, indicator: &str, household_code: &str) {
        // Only the county prefix (6 digits) of the code becomes a label, never the code.
        let county = household_code.get(..6).filter(|c| c.bytes().all(|b| b.is_ascii_digit())).unwrap_or("unknown");
        self.indicator_hits.with_label_values(&[indicator, county]).inc();
    }

    /// An alert was written to its queue; `read_at` is when its batch started, i.e. just after
    /// the records that caused it were read.
    pub fn alert_written(&self, alert: &Alert, read_at: Instant) {
        self.alert_latency.with_label_values(&[&alert.queue]).observe(read_at.elapsed().as_secs_f64());
        self.alert_score.with_label_values(&[alert.grade.code()]).observe(alert.score);
    }

    /// A verification outcome arrived; `county` is its household's county. Outcomes for alerts
    /// the book does not know count under grade `unknown`; repeats of an answered alert are
    /// not counted again, so precision is per alert, not per report.
    pub fn verification_outcome(&self, answer: &Answer, county: &str, outcome: &str) {
        match answer {
            // The alert's own county: the same as the household's, unless the code was mistyped.
            Answer::First { grade, county: alert_county } => {
                self.verification_outcomes.with_label_values(&[grade.code(), outcome, alert_county]).inc();
            }
            Answer::Unknown => {
                self.verification_outcomes.with_label_values(&["unknown", outcome, county]).inc();
            }
            Answer::Repeat => {}
        }
    }

    /// Households by current grade and the verification backlog, from the alert book.
    pub fn observe_alert_book(&self, book: &AlertBook) {
        for (county, township, grade, n) in book.graded_households() {
            self.graded_households.with_label_values(&[county, township, grade.code()]).set(n);
        }
        let open = book.open_alerts();
        // A queue and county whose backlog emptied keeps its count (now 0) but loses its
        // oldest-alert time: there is no oldest open alert.
        for ((queue, county), (count, oldest)) in &open {
            self.open_alerts.with_label_values(&[queue, county]).set(*count);
            match oldest {
                Some(t) => self.oldest_open_alert.with_label_values(&[queue, county]).set(*t as f64),
                None => {
                    let _ = self.oldest_open_alert.remove_label_values(&[queue, county]);
                }
            }
        }
    }

    /// The grader in use: replaces the previous model's series, so exactly one has value 1.
    /// The drift of each watched feature; a grader without references leaves none.
    pub fn set_drift(&self, psi: &[(&str, f64)]) {
        self.feature_psi.reset();
        for (feature, value) in psi {
            self.feature_psi.with_label_values(&[feature]).set(*value);
        }
    }

    pub fn set_model(&self, grader_name: &str, version: &str, feature_version: &str) {
        self.model_info.reset();
        self.model_info.with_label_values(&[grader_name, version, feature_version]).set(1);
    }
}

/// Bytes held by state, estimated from counts alone so that it costs nothing per batch: each
/// household, record and waiting record is charged its in-memory size plus a fixed allowance
/// for map overhead and the strings it owns (codes, ids, pseudonyms; a waiting record also
/// keeps its masked payload). An order of magnitude to watch for growth, not an exact figure.
pub fn state_bytes_estimate(households: usize, records: usize, waiting: usize) -> usize {
    const HOUSEHOLD_EXTRA: usize = 160;
    const RECORD_EXTRA: usize = 160;
    const WAITING_EXTRA: usize = 400;
    let event = std::mem::size_of::<Event>();
    households * (std::mem::size_of::<Household>() + HOUSEHOLD_EXTRA)
        + records * (event + RECORD_EXTRA)
        + waiting * (event + WAITING_EXTRA)
}

/// Unix time of the first instant of `month` in China time.
fn month_start(month: Month) -> f64 {
    chrono::NaiveDate::from_ymd_opt(month.year(), month.month(), 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|t| t.and_local_timezone(china_time()).single())
        .map_or(0.0, |t| t.timestamp() as f64)
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}
