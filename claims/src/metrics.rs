//! The insurance side's metrics, registered in the pipeline's registry so that one `/metrics`
//! serves both. Labels are coverages, county codes and index codes: never a household or a
//! person. Money here is for dashboards only (Prometheus has floats); the claims themselves are
//! exact in `claims.triggered` and the ledger.

use prometheus::core::{Collector, Desc};
use prometheus::{CounterVec, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

use crate::book::ClaimEvent;
use crate::coverage::CoverageKind;
use crate::premium::CountyPremium;

/// Every metric name of the insurance side, defined here only.
pub mod names {
    pub const CLAIM_EVENTS: &str = "fangpin_claims_events_total";
    pub const CLAIMED_YUAN: &str = "fangpin_claims_adjustments_yuan_total";
    pub const TRIGGER_SECONDS: &str = "fangpin_claims_trigger_to_event_seconds";
    pub const CAP_USED: &str = "fangpin_claims_cap_used_ratio";
    pub const INDEX_MONTHS: &str = "fangpin_claims_index_fired_months";
    pub const PREMIUM_YUAN: &str = "fangpin_claims_premium_yuan";
    pub const ALL: [&str; 6] = [CLAIM_EVENTS, CLAIMED_YUAN, TRIGGER_SECONDS, CAP_USED, INDEX_MONTHS, PREMIUM_YUAN];
    /// Labels the insurance side uses.
    pub const LABELS: [&str; 6] = ["coverage", "county", "kind", "direction", "index", "part"];
}

/// Handles on the insurance side's metric families.
#[derive(Clone)]
pub struct ClaimsMetrics {
    descs: Vec<Desc>,
    /// Claim events, by coverage, county and kind (`new`, `restated`, `withdrawn`).
    pub events: IntCounterVec,
    /// Yuan added (`paid`) and taken back (`reduced`) by claim events, by coverage and county.
    pub adjustments: CounterVec,
    /// Seconds from reading the batch with the triggering record to writing the claim event.
    pub trigger_seconds: HistogramVec,
    /// Share of the unit's yearly cap used after each claim event, by coverage.
    pub cap_used: HistogramVec,
    /// Months each index fired in, by county.
    pub index_months: IntGaugeVec,
    /// Premiums of the insured, by county and part (`premium`, `subsidy`, `households`, `reserve`).
    pub premium: GaugeVec,
}

impl ClaimsMetrics {
    /// Creates the families and registers them in `registry`.
    pub fn register(registry: &Registry) -> ClaimsMetrics {
        use names::*;
        let mut descs = Vec::new();
        let mut add = |c: Box<dyn Collector>| {
            descs.extend(c.desc().into_iter().cloned());
            registry.register(c).expect("claims metric names are unique");
        };
        let events = IntCounterVec::new(Opts::new(CLAIM_EVENTS, "Claim events written, by coverage, county and kind (new, restated, withdrawn)."), &["coverage", "county", "kind"]).expect("valid metric");
        let adjustments = CounterVec::new(Opts::new(CLAIMED_YUAN, "Yuan added (direction=paid) or taken back (direction=reduced) by claim events, by coverage and county."), &["coverage", "county", "direction"]).expect("valid metric");
        let trigger_seconds = HistogramVec::new(
            HistogramOpts::new(TRIGGER_SECONDS, "Seconds from reading the batch holding the triggering record to writing the claim event, by coverage.")
                .buckets(prometheus::exponential_buckets(0.01, 2.5, 12).expect("valid buckets")),
            &["coverage"],
        )
        .expect("valid metric");
        let cap_used = HistogramVec::new(
            HistogramOpts::new(CAP_USED, "Share of the insured unit's yearly cap used after each claim event, by coverage.")
                .buckets(vec![0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0]),
            &["coverage"],
        )
        .expect("valid metric");
        let index_months = IntGaugeVec::new(Opts::new(INDEX_MONTHS, "Months in which each index trigger fired, by county."), &["index", "county"]).expect("valid metric");
        let premium = GaugeVec::new(Opts::new(PREMIUM_YUAN, "Yearly premiums of the insured households in yuan, by county and part (premium, subsidy, households, reserve)."), &["county", "part"]).expect("valid metric");
        add(Box::new(events.clone()));
        add(Box::new(adjustments.clone()));
        add(Box::new(trigger_seconds.clone()));
        add(Box::new(cap_used.clone()));
        add(Box::new(index_months.clone()));
        add(Box::new(premium.clone()));
        for c in CoverageKind::ALL {
            trigger_seconds.with_label_values(&[c.code()]);
            cap_used.with_label_values(&[c.code()]);
        }
        ClaimsMetrics { descs, events, adjustments, trigger_seconds, cap_used, index_months, premium }
    }

    /// Descriptors of every family, whether or not it has values yet.
    pub fn descriptors(&self) -> &[Desc] {
        &self.descs
    }

    pub(crate) fn claim_written(&self, e: &ClaimEvent, seconds: f64) {
        let coverage = e.coverage.code();
        let kind = if e.revision == 1 { "new" } else if e.amount.is_zero() { "withdrawn" } else { "restated" };
        self.events.with_label_values(&[coverage, &e.county_code, kind]).inc();
        let yuan = f64::try_from(e.adjustment).unwrap_or(0.0);
        let direction = if yuan >= 0.0 { "paid" } else { "reduced" };
        self.adjustments.with_label_values(&[coverage, &e.county_code, direction]).inc_by(yuan.abs());
        self.trigger_seconds.with_label_values(&[coverage]).observe(seconds);
        if !e.cap.is_zero() {
            let used = f64::try_from((e.cap - e.cap_left) / e.cap).unwrap_or(0.0);
            self.cap_used.with_label_values(&[coverage]).observe(used);
        }
    }

    pub(crate) fn set_premiums<'a>(&self, premiums: impl IntoIterator<Item = (&'a String, &'a CountyPremium)>) {
        // A county with no insured household left reports nothing rather than its old figures.
        self.premium.reset();
        for (county, p) in premiums {
            for (part, v) in [("premium", p.premium), ("subsidy", p.subsidy), ("households", p.households_pay), ("reserve", p.reserve)] {
                self.premium.with_label_values(&[county, part]).set(f64::try_from(v).unwrap_or(0.0));
            }
        }
    }
}
