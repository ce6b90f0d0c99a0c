//! The insurance side of fangpin: the poverty-prevention insurance product as configuration,
//! premiums per county, index triggers written in SQL, claims in exact money computed on the
//! same stream as the alerts, and a hash-chained claims ledger.
//!
//! # Layout
//! - [`coverage`]: the product (`coverage.toml`): caps, deductibles, shares, premiums, indices.
//! - [`premium`]: premiums, subsidies and the risk reserve per county.
//! - [`series`]: the daily price and weather observations the indices read.
//! - [`triggers`]: index triggers as SQL files (`triggers/<code>.sql`) over those series.
//! - [`rules`]: what a household is owed, per coverage, insured unit and month.
//! - [`book`]: claims issued, deterministic claim ids, restatements with revisions.
//! - [`ledger`]: the hash-chained ledger of claim events and its verification.
//! - [`metrics`]: claims, amounts, cap use, trigger time and premiums for the centre.
//! - [`error`]: the crate's error type.
//!
//! [`Claims`] ties them together; the pipeline calls it after applying each micro-batch.

pub mod book;
pub mod coverage;
pub mod error;
pub mod ledger;
pub mod metrics;
pub mod premium;
pub mod rules;
pub mod series;
pub mod triggers;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use chrono::Datelike;

use fangpin_connectors::event::{Event, HouseholdCode, RosterEntry};

pub use book::{BookEntry, ClaimBook, ClaimEvent};
pub use coverage::{Coverage, CoverageKind};
pub use error::ClaimsError;
pub use ledger::Ledger;
pub use metrics::ClaimsMetrics;
pub use premium::CountyPremium;
pub use rules::Countable;
pub use triggers::Fired;

/// What one household is owed for some years ([`Claims::owed`]), to be settled.
pub struct Owed {
    household: HouseholdCode,
    years: BTreeSet<i32>,
    entitlements: Vec<rules::Entitlement>,
}

/// The insurance side's state and rules, fed by the pipeline.
pub struct Claims {
    coverage: Coverage,
    series: series::Series,
    engine: triggers::TriggerEngine,
    fired: BTreeSet<Fired>,
    book: ClaimBook,
    ledger: Option<Ledger>,
    metrics: Option<ClaimsMetrics>,
}

impl Claims {
    /// The insurance side of `coverage`, with no observations or claims yet.
    pub fn new(coverage: Coverage) -> Result<Claims, ClaimsError> {
        let engine = triggers::TriggerEngine::new(&coverage)?;
        Ok(Claims {
            coverage,
            series: series::Series::default(),
            engine,
            fired: BTreeSet::new(),
            book: ClaimBook::default(),
            ledger: None,
            metrics: None,
        })
    }

    /// Appends every claim event from now on to `ledger`.
    pub fn set_ledger(&mut self, ledger: Ledger) {
        self.ledger = Some(ledger);
    }

    /// Reports to `metrics`.
    pub fn with_metrics(mut self, metrics: ClaimsMetrics) -> Claims {
        self.metrics = Some(metrics);
        self
    }

    /// Keeps a price or weather observation for the indices.
    pub fn observe(&mut self, event: &Event) {
        self.series.observe(event);
    }

    /// Re-runs the index triggers when the series changed since the last call. Returns the
    /// counties and industries whose fired index months changed: their insured households
    /// must be assessed again.
    pub async fn refresh_triggers(&mut self) -> Result<BTreeSet<(String, String)>, ClaimsError> {
        if !self.series.take_changed() {
            return Ok(BTreeSet::new());
        }
        let Some(fired) = self.engine.evaluate(&self.series).await? else {
            return Ok(BTreeSet::new());
        };
        let industry_of: BTreeMap<&str, &str> = self.engine.entries().map(|e| (e.code.as_str(), e.industry.as_str())).collect();
        let changed = fired
            .symmetric_difference(&self.fired)
            .map(|f| (f.county_code.clone(), industry_of[f.code.as_str()].to_owned()))
            .collect();
        if let Some(m) = &self.metrics {
            m.index_months.reset();
            for f in &fired {
                m.index_months.with_label_values(&[&f.code, &f.county_code]).inc();
            }
        }
        self.fired = fired;
        Ok(changed)
    }

    /// Runs every trigger once over empty series, so that a trigger whose SQL does not parse,
    /// names a column that does not exist or returns the wrong columns is refused before the
    /// first record instead of stopping the stream at the first price.
    pub async fn check_triggers(&self) -> Result<(), ClaimsError> {
        let empty = series::Series::default();
        self.engine.evaluate_all(empty.price_days()?, empty.weather_days()?).await.map(|_| ())
    }

    /// The index months that fired so far.
    pub fn fired(&self) -> &BTreeSet<Fired> {
        &self.fired
    }

    /// What `household` is owed for `years`, from its records held (reversed settlements left
    /// out). It reads nothing but the household and the fired index months, so several
    /// households may be assessed at once; [`Claims::settle`] then issues the claims.
    pub fn owed<'a>(
        &self,
        household: &HouseholdCode,
        profile: &RosterEntry,
        records: impl IntoIterator<Item = &'a rules::Countable>,
        years: &BTreeSet<i32>,
    ) -> Owed {
        // The roster says whether the household is insured from its entry's year on; of earlier
        // years it says nothing, so an uninsured entry leaves their claims as they are.
        let from = profile.effective_date.year();
        let years: BTreeSet<i32> = years.iter().copied().filter(|y| profile.insured || *y >= from).collect();
        let entitlements = rules::assess(household, profile, records, &self.fired, &self.coverage, &years);
        Owed { household: household.clone(), years, entitlements }
    }

    /// Returns the claim events that bring a household's claims up to what it is `owed`; they
    /// are in the ledger already when one is kept. `read_at` is when the batch with the
    /// triggering record was read; `now` the time stamped on the events (RFC 3339, China time).
    pub fn settle(&mut self, owed: Owed, read_at: Instant, now: &str) -> Result<Vec<ClaimEvent>, ClaimsError> {
        let events = self.book.reconcile(&owed.household, &owed.years, owed.entitlements, now);
        for e in &events {
            if let Some(ledger) = &mut self.ledger {
                ledger.append(e)?;
            }
            if let Some(m) = &self.metrics {
                m.claim_written(e, read_at.elapsed().as_secs_f64());
            }
        }
        Ok(events)
    }

    /// Makes the ledger durable.
    pub fn flush(&mut self) -> Result<(), ClaimsError> {
        match &mut self.ledger {
            Some(l) => l.flush(),
            None => Ok(()),
        }
    }

    /// Premiums per county of the insured households in `roster`; also sets the premium metrics.
    pub fn premiums<'a>(
        &self,
        roster: impl IntoIterator<Item = (&'a HouseholdCode, &'a RosterEntry)>,
    ) -> BTreeMap<String, CountyPremium> {
        let premiums = premium::by_county(roster, &self.coverage);
        if let Some(m) = &self.metrics {
            m.set_premiums(&premiums);
        }
        premiums
    }

    /// The issued claims, for checkpoints and summaries.
    pub fn book(&self) -> &ClaimBook {
        &self.book
    }

    /// The issued claims, to restore or forget households.
    pub fn book_mut(&mut self) -> &mut ClaimBook {
        &mut self.book
    }
}
