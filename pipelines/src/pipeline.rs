//! The micro-batch loop: decode → state → indicators (SQL) → grading → fan-out.
//!
//! Where a batch ends changes no alert: when a record moves the newest month on, the window is
//! pruned at once and the month that closed is judged again for every household, the touched
//! ones from their earliest touched month (households touched in a month that the new window
//! would judge differently, its trends cut short or the month out of reach, are judged before
//! the record). The alert book then revises or withdraws each household-month's alert under
//! its one id ([`crate::alerts`]).
//!
//! Every record read ends in exactly one place: applied to state, counted as a duplicate, or
//! dead-lettered with its reason. Records for households not on the roster wait for their
//! roster entry; at the end of a replay ([`Pipeline::finish`]) those still waiting, and
//! reversals whose settlement never came, are dead-lettered too.
//!
//! A deployment that spreads households over several instances checkpoints what changed after
//! each batch and restores it elsewhere: [`Pipeline::take_changed`], [`Pipeline::checkpoint`],
//! [`Pipeline::clear_state`], [`Pipeline::restore`] (format in [`crate::checkpoint`]).

mod checkpoints;
mod grading;
mod outbox;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use fangpin_connectors::event::{china_time, Event, HouseholdCode, Month};
use fangpin_connectors::topic::output;
use fangpin_connectors::{masked_copy_within, DeadLetter, Decoder, RejectReason, Rejection, Sink, SourceRecord};
use fangpin_claims::{Claims, ClaimsMetrics};
use fangpin_models::drift::DriftMonitor;
use fangpin_models::Grader;
use rayon::prelude::*;
use rust_decimal::Decimal;

pub use grading::grading_input;
pub use crate::stats::{ClaimTotals, RunStats};

use crate::alerts::{Alert, AlertBook};
use crate::features::FeatureSet;
use crate::error::PipelineError;
use crate::indicators::{self, Engine, Evaluation, Hit, Indicator};
use crate::ledger::Applied;
use crate::metrics::{Metrics, RecordOutcome};
use crate::registry::GraderSource;
use crate::snapshot::SnapshotWriter;
use crate::state::{Outcome, Provenance, State, Touched};
use crate::table::{self, MonthRow};

/// Fewest records a core decodes at a time: below that, sharing the work costs more than it saves.
const DECODE_CHUNK: usize = 2_048;

/// Most households judged at once.
const JUDGE_CHUNK: usize = 10_000;

/// Fewest households a core assesses for claims at a time.
const CLAIMS_CHUNK: usize = 256;

/// How the pipeline judges households.
#[derive(Clone)]
pub struct PipelineConfig {
    /// Monitoring line, yuan per person per year.
    pub poverty_line: Decimal,
    /// Months of history before the newest month that state keeps: the longest trailing window
    /// (12 months, so 11 before the month judged) plus how far back a late record or a batch
    /// spanning months may reach and still be judged on a whole window (4 months).
    pub history_months: i32,
    /// The indicator SQL files to run.
    pub indicators: Vec<Indicator>,
    /// How long a record may wait for its household's roster entry (wall clock) before it is
    /// dead-lettered as `unknown_household`.
    pub max_wait: std::time::Duration,
    /// The first month the department feeds cover, before which the income measure uses last
    /// year's income; by default the oldest month of any record seen.
    pub feeds_start: Option<Month>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            poverty_line: Decimal::from(8_000),
            history_months: 15,
            indicators: crate::indicators::builtin(),
            max_wait: std::time::Duration::from_secs(30 * 86_400),
            feeds_start: None,
        }
    }
}

/// A second grader run beside the served one, for comparison: its alerts are only counted.
struct Shadow {
    grader: Arc<dyn Grader>,
    book: AlertBook,
}

/// The embedded pipeline: owns the state, the SQL engine and the grader.
pub struct Pipeline {
    decoder: Decoder,
    state: State,
    engine: Engine,
    grader: GraderSource,
    shadow: Option<Shadow>,
    snapshots: Option<SnapshotWriter>,
    /// The features graded, from the indicators run.
    features: FeatureSet,
    book: AlertBook,
    metrics: Metrics,
    stats: RunStats,
    poverty_line: Decimal,
    feeds_start: Option<Month>,
    last_hits: Vec<Hit>,
    /// The pseudonym key's fingerprint, which every checkpoint carries and every restore checks.
    key_fingerprint: String,
    /// The insurance side, when claims are computed.
    claims: Option<Claims>,
    /// Claims of years before this one are final and forgotten.
    claims_final_before: Option<i32>,
    /// Whether [`RunStats::alerted`] and [`RunStats::shadow_alerted`] are filled.
    keep_alert_lists: bool,
    /// [`PipelineConfig::max_wait`], in seconds.
    max_wait_seconds: i64,
    /// The roster changed (an entry applied, households restored or dropped) since premiums
    /// were last computed.
    roster_changed: bool,
    /// The rows graded by the served model, against its training rows.
    drift: DriftMonitor,
    /// Alerts waiting for the checkpoint that books them, when they are held.
    outbox: outbox::Outbox,
}

impl Pipeline {
    /// A pipeline with empty state.
    pub fn new(
        config: PipelineConfig,
        decoder: Decoder,
        grader: GraderSource,
        metrics: Metrics,
    ) -> Result<Pipeline, PipelineError> {
        let mut grader = grader;
        let serving = grader.current();
        let features = FeatureSet::new(&config.indicators);
        metrics.set_model(serving.name(), serving.version(), features.version());
        let drift = DriftMonitor::new(serving.drift_references());
        Ok(Pipeline {
            drift,
            key_fingerprint: decoder.key_fingerprint(),
            decoder,
            state: State::new(config.history_months),
            engine: Engine::new(config.indicators, config.poverty_line)?,
            grader,
            shadow: None,
            snapshots: None,
            features,
            book: AlertBook::default(),
            metrics,
            stats: RunStats::default(),
            poverty_line: config.poverty_line,
            feeds_start: config.feeds_start,
            last_hits: Vec::new(),
            claims: None,
            claims_final_before: None,
            keep_alert_lists: false,
            max_wait_seconds: i64::try_from(config.max_wait.as_secs()).unwrap_or(i64::MAX),
            roster_changed: false,
            outbox: outbox::Outbox::default(),
        })
    }

    /// Lists every alert raised in [`RunStats::alerted`] (and the shadow's), for scoring a
    /// bounded replay against ground truth. Not for continuous runs: the lists only grow.
    pub fn keep_alert_lists(mut self) -> Pipeline {
        self.keep_alert_lists = true;
        self
    }

    /// Also computes insurance claims on the same stream, reporting to this pipeline's
    /// metrics and writing claim events to [`output::CLAIMS`].
    pub fn with_claims(mut self, claims: Claims) -> Pipeline {
        self.claims = Some(claims.with_metrics(ClaimsMetrics::register(&self.metrics.registry)));
        self
    }

    /// The insurance side, when claims are computed.
    pub fn claims(&self) -> Option<&Claims> {
        self.claims.as_ref()
    }

    /// The insurance side, e.g. to give it a ledger.
    pub fn claims_mut(&mut self) -> Option<&mut Claims> {
        self.claims.as_mut()
    }

    /// Also grades with `grader`, counting its alerts in [`RunStats::shadow_alerted`] only.
    pub fn with_shadow(mut self, grader: Arc<dyn Grader>) -> Pipeline {
        self.shadow = Some(Shadow { grader, book: AlertBook::default() });
        self
    }

    /// Writes every graded household-month's features to Parquet under `dir`.
    pub fn with_snapshots(mut self, dir: &std::path::Path) -> Result<Pipeline, PipelineError> {
        self.snapshots = Some(SnapshotWriter::create(dir, &self.features)?);
        Ok(self)
    }

    /// Counts so far.
    pub fn stats(&self) -> &RunStats {
        &self.stats
    }

    /// What the indicators found in the last batch's re-evaluation (fired now, not history).
    pub fn last_hits(&self) -> &[Hit] {
        &self.last_hits
    }

    /// The metrics registry this pipeline reports to.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Processes one micro-batch and writes its alerts (unless they are held, see
    /// [`Pipeline::hold_alerts`]) and dead letters to `sink`; returns its alerts.
    pub async fn process(&mut self, records: Vec<SourceRecord>, sink: &mut dyn Sink) -> Result<Vec<Alert>, PipelineError> {
        let read_at = Instant::now();
        self.metrics.observe_read(&records);
        let clock = read_at;
        let latest_allowed = Month::of_instant(&chrono::Utc::now().with_timezone(&china_time())).plus(1);
        // Decoding and pseudonymising are the same work for every record and need no state: both
        // cores share it, and the results are taken in the records' own order.
        let decoder = &self.decoder;
        let decoded: Vec<_> =
            records.par_iter().with_min_len(DECODE_CHUNK).map(|r| decoder.decode(r.topic, &r.payload)).collect();
        let mut events = Vec::with_capacity(records.len());
        for (record, decoded) in records.into_iter().zip(decoded) {
            let topic = record.topic.name();
            *self.stats.records_in.entry(topic.to_owned()).or_default() += 1;
            match decoded {
                Ok(event) if event.month() > latest_allowed => {
                    let rejection = Rejection::whole(RejectReason::InvalidValue, "the record's month lies in the future");
                    self.dead_letter(sink, &record, &rejection)?;
                }
                Ok(event) => events.push((record, event)),
                Err(rejection) => self.dead_letter(sink, &record, &rejection)?,
            }
        }
        self.metrics.observe_event_times(events.iter().map(|(r, e)| (r.topic.name(), e.month())));
        self.observe("decode", clock);

        let mut clock = Instant::now();
        let mut judged = Judged::default();
        for (record, event) in events {
            if let Some(before) = self.state.judge_first(&event) {
                // Judge what would be judged otherwise once the record is applied: then every
                // month is judged last the same way, wherever the batch boundaries fall.
                self.observe("state", clock);
                self.judge_pending(&mut judged, Some(before)).await?;
                clock = Instant::now();
            }
            self.apply(sink, record, event)?;
            // At once, not at the end of the batch: what a month's figures are computed from
            // (an unemployed worker's last wage, for one) must not depend on when the batch
            // that moved the window on ended. A no-op until the window moves.
            self.prune(sink)?;
        }
        self.expire_waiting(chrono::Utc::now().timestamp(), sink)?;
        self.prune(sink)?;
        self.metrics.observe_state(&self.state, self.state.waiting_reversal_count());
        self.observe("state", clock);
        self.judge_pending(&mut judged, None).await?;

        let clock = Instant::now();
        let touched: Vec<_> = judged.touched.into_iter().collect();
        self.assess_claims(&touched, read_at, sink).await?;
        self.observe("claims", clock);

        self.last_hits = judged.hits;
        self.metrics.observe_alert_book(&self.book);
        let clock = Instant::now();
        for alert in &judged.alerts {
            if self.outbox.hold {
                self.outbox.push(alert.clone(), read_at);
            } else {
                self.send_alert(sink, alert, read_at)?;
            }
        }
        self.observe("fanout", clock);
        Ok(judged.alerts)
    }

    /// Evaluates and grades the households touched since the last call (with `before`, those
    /// touched before that month), adding to `judged`.
    async fn judge_pending(&mut self, judged: &mut Judged, before: Option<Month>) -> Result<(), PipelineError> {
        // Until some record has named a month (a batch of roster entries alone), there is no
        // window to evaluate: touched households wait for the batch that brings one.
        if self.state.newest().is_none() || !self.state.has_touched() {
            return Ok(());
        }
        let touched = self.state.take_touched(before);
        for t in touched.iter().filter(|t| t.changed) {
            let m = judged.touched.entry(t.code.clone()).or_insert(t.from);
            *m = (*m).min(t.from);
        }
        // A part of the households at a time: what is judged of one household depends on it
        // alone, and the rows, features and grades of every household at once (when a month
        // closes) would hold gigabytes for a moment.
        for part in touched.chunks(JUDGE_CHUNK) {
            let clock = Instant::now();
            let evaluation = self.evaluate(part).await?;
            self.observe("sql", clock);
            let clock = Instant::now();
            judged.alerts.extend(self.grade(&evaluation)?);
            judged.hits.extend(evaluation.hits);
            self.observe("grading", clock);
        }
        Ok(())
    }

    /// Drops what is older than the window, dead-lettering the reversals that waited for a
    /// settlement now too old to be accepted.
    fn prune(&mut self, sink: &mut dyn Sink) -> Result<(), PipelineError> {
        for provenance in self.state.prune() {
            let rejection = Rejection::new(
                RejectReason::OrphanReversal,
                "settlement_id",
                "no settlement with this id was received while one could still be accepted (it would now be older than the window)",
            );
            self.dead_letter_parked(sink, &provenance, &rejection)?;
        }
        Ok(())
    }

    /// Ends a replay: records still waiting can no longer be matched and are dead-lettered.
    pub fn finish(&mut self, sink: &mut dyn Sink) -> Result<(), PipelineError> {
        for provenance in self.state.take_parked() {
            let rejection =
                Rejection::new(RejectReason::UnknownHousehold, "household_code", "the household is not on the roster");
            self.dead_letter_parked(sink, &provenance, &rejection)?;
        }
        for provenance in self.state.take_orphan_reversals() {
            let rejection =
                Rejection::new(RejectReason::OrphanReversal, "settlement_id", "no settlement with this id was received");
            self.dead_letter_parked(sink, &provenance, &rejection)?;
        }
        self.metrics.observe_state(&self.state, self.state.waiting_reversal_count());
        self.flush(sink)
    }

    /// Dead-letters the records that have waited for their roster entry longer than
    /// [`PipelineConfig::max_wait`] at `now` (unix seconds); [`Pipeline::process`] calls it
    /// with the wall clock.
    pub fn expire_waiting(&mut self, now: i64, sink: &mut dyn Sink) -> Result<(), PipelineError> {
        let days = self.max_wait_seconds / 86_400;
        for provenance in self.state.take_parked_before(now.saturating_sub(self.max_wait_seconds)) {
            let detail = format!("the household is not on the roster: no roster entry came within {days} days");
            let rejection = Rejection::new(RejectReason::UnknownHousehold, "household_code", &detail);
            self.dead_letter_parked(sink, &provenance, &rejection)?;
        }
        Ok(())
    }

    /// Makes everything written so far durable: the sink's messages and the claims ledger.
    pub fn flush(&mut self, sink: &mut dyn Sink) -> Result<(), PipelineError> {
        sink.flush()?;
        if let Some(claims) = &mut self.claims {
            claims.flush()?;
        }
        Ok(())
    }

    /// Brings the claims of every household touched in this batch up to date, and those of
    /// households whose index months changed (a price or weather record that made an index
    /// fire, or stop firing, in their county).
    async fn assess_claims(
        &mut self,
        touched: &[(HouseholdCode, Month)],
        read_at: Instant,
        sink: &mut dyn Sink,
    ) -> Result<(), PipelineError> {
        let Some(claims) = &mut self.claims else { return Ok(()) };
        let (Some(first_year), Some(newest)) = (self.state.first_complete_year(), self.state.newest()) else {
            return Ok(());
        };
        if self.claims_final_before != Some(first_year) {
            claims.book_mut().close_years_before(first_year);
            self.claims_final_before = Some(first_year);
        }
        let mut assess: BTreeMap<&HouseholdCode, i32> = touched.iter().map(|(c, m)| (c, m.year())).collect();
        let index_changed = claims.refresh_triggers().await?;
        if !index_changed.is_empty() {
            for (code, h) in self.state.households() {
                let affected = h.profile.industries.iter().any(|i| index_changed.contains(&(code.county().to_owned(), i.code().to_owned())));
                if affected {
                    assess.insert(code, first_year);
                }
            }
        }
        let now = chrono::Utc::now().with_timezone(&china_time()).to_rfc3339();
        // What each household is owed depends on it alone: both cores work it out, and the
        // claims are then issued in household order.
        let (state, rules) = (&self.state, &*claims);
        let assess: Vec<_> = assess.into_iter().collect();
        let owed: Vec<_> = assess
            .par_iter()
            .with_min_len(CLAIMS_CHUNK)
            .filter_map(|(code, from)| {
                let h = state.household(code)?;
                let years: BTreeSet<i32> = ((*from).max(first_year)..=newest.year()).collect();
                Some(rules.owed(code, &h.profile, h.countable(), &years))
            })
            .collect();
        for owed in owed {
            for event in claims.settle(owed, read_at, &now)? {
                let json = serde_json::to_vec(&event).map_err(|e| PipelineError::Internal(e.to_string()))?;
                sink.send(output::CLAIMS, &event.household_code, &json)?;
                self.metrics.records_out.with_label_values(&[output::CLAIMS]).inc();
                let totals = self.stats.claims.entry(event.coverage.code().to_owned()).or_default();
                match (event.revision, event.amount.is_zero()) {
                    (1, _) => totals.claims += 1,
                    (_, true) => totals.withdrawals += 1,
                    (_, false) => totals.restatements += 1,
                }
                totals.amount += event.adjustment;
            }
        }
        // Here rather than in `finish`, which a continuous run never reaches; only when the
        // roster changed, since it is a pass over every household.
        if std::mem::take(&mut self.roster_changed) {
            self.stats.premiums = claims.premiums(self.state.households().map(|(c, h)| (c, &h.profile)));
        }
        Ok(())
    }

    fn apply(&mut self, sink: &mut dyn Sink, record: SourceRecord, event: Event) -> Result<(), PipelineError> {
        let topic = record.topic.name();
        let provenance = || Provenance {
            topic,
            source: record.source.clone(),
            position: record.position,
            masked_payload: masked_copy_within(&record.payload, crate::state::MAX_WAITING_PAYLOAD_BYTES),
            waiting_since: chrono::Utc::now().timestamp(),
        };
        self.metrics.observe_lateness(topic, &event, self.state.newest());
        if let (Some(claims), Event::Price(_) | Event::Weather(_)) = (&mut self.claims, &event) {
            claims.observe(&event);
        }
        if let Event::Outcome(o) = &event {
            let answer = self.book.answer(&o.alert_id);
            self.metrics.verification_outcome(&answer, o.household.county(), o.outcome.code());
        }
        self.roster_changed |= matches!(event, Event::Roster(_));
        match self.state.offer(provenance, event) {
            Outcome::Applied(Applied::Duplicate) => {
                self.stats.duplicates += 1;
                self.metrics.record_in(topic, RecordOutcome::Duplicate);
            }
            Outcome::Applied(Applied::Corrected(_)) => {
                self.stats.corrections += 1;
                self.metrics.record_in(topic, RecordOutcome::Correction);
            }
            Outcome::Applied(Applied::Changed(_) | Applied::NotHousehold) => {
                self.metrics.record_in(topic, RecordOutcome::Applied)
            }
            Outcome::Applied(Applied::ReversalParked) | Outcome::Parked => {
                self.metrics.record_in(topic, RecordOutcome::Waiting)
            }
            Outcome::BeyondWindow => {
                let rejection = Rejection::whole(
                    RejectReason::BeyondWindow,
                    "the record is older than the months the indicators look at",
                );
                self.dead_letter(sink, &record, &rejection)?;
            }
            Outcome::TooManyWaiting => {
                let rejection = Rejection::new(
                    RejectReason::UnknownHousehold,
                    "household_code",
                    "the household is not on the roster, and too many of its records wait already",
                );
                self.dead_letter(sink, &record, &rejection)?;
            }
            Outcome::TooManyReversals => {
                let rejection = Rejection::new(
                    RejectReason::OrphanReversal,
                    "settlement_id",
                    "no settlement with this id was received, and too many of the household's reversals wait already",
                );
                self.dead_letter(sink, &record, &rejection)?;
            }
        }
        Ok(())
    }

    async fn evaluate(&mut self, touched: &[Touched]) -> Result<Evaluation, PipelineError> {
        let (Some(first), Some(last), Some(feeds_start)) = (self.state.window_start(), self.state.newest(), self.feeds_start.or(self.state.oldest()))
        else {
            return Ok(Evaluation::default());
        };
        let households: Vec<_> =
            touched.iter().filter_map(|t| Some((self.state.household(&t.code)?, t.from))).collect();
        // One table partition per core, each built on its own: a household's rows stay together.
        let per_part = indicators::per_partition(households.len());
        let parts = households
            .par_chunks(per_part)
            .map(|part| {
                let rows: Vec<MonthRow> = part
                    .iter()
                    .flat_map(|(h, from)| MonthRow::for_household(h, first, last, *from, feeds_start))
                    .collect();
                table::to_batch(&rows)
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.engine.evaluate(parts).await
    }

    fn dead_letter(&mut self, sink: &mut dyn Sink, record: &SourceRecord, rejection: &Rejection) -> Result<(), PipelineError> {
        self.metrics.record_in(record.topic.name(), RecordOutcome::DeadLetter);
        let letter = DeadLetter::new(record.topic.name(), &record.source, record.position, rejection, &record.payload);
        self.send_dead_letter(sink, letter)
    }

    fn dead_letter_parked(&mut self, sink: &mut dyn Sink, p: &Provenance, rejection: &Rejection) -> Result<(), PipelineError> {
        let letter = DeadLetter::new(p.topic, &p.source, p.position, rejection, p.masked_payload.as_bytes());
        self.send_dead_letter(sink, letter)
    }

    fn send_dead_letter(&mut self, sink: &mut dyn Sink, letter: DeadLetter) -> Result<(), PipelineError> {
        *self.stats.dead_letters.entry(letter.reason.clone()).or_default() += 1;
        self.metrics.dead_letters.with_label_values(&[&letter.topic, &letter.reason]).inc();
        self.metrics.records_out.with_label_values(&[output::DEAD_LETTER]).inc();
        sink.send_dead_letter(&letter)?;
        Ok(())
    }

    fn observe(&mut self, stage: &'static str, since: Instant) {
        let seconds = since.elapsed().as_secs_f64();
        self.metrics.batch_duration.with_label_values(&[stage]).observe(seconds);
        *self.stats.stage_seconds.entry(stage).or_default() += seconds;
    }
}

/// What one batch's judgements produced, over the evaluations it ran.
#[derive(Default)]
struct Judged {
    alerts: Vec<Alert>,
    hits: Vec<Hit>,
    /// Households whose records changed, with the first month judged, for the insurance side.
    touched: BTreeMap<HouseholdCode, Month>,
}
