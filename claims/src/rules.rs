//! What a household is owed: each coverage's rule over the household's records, as pure
//! functions of the records held (duplicates, corrections and reversals already resolved by
//! the ledger) and the index months that fired.
//!
//! Every coverage pays per insured unit (a person for medical and education, the household for
//! disaster and industry) and calendar year, the same way: the unit's countable amounts are
//! summed month by month; what is owed by the end of a month is
//! `min(cap, round(max(0, year_to_date − deductible) × share_paid))`; the claim of the month is
//! what is owed by its end less what was owed by the end of the month before. So a deductible
//! spans bills and months, a cap holds across months, and a late or corrected record restates
//! only the months it changes (and later months, when it moves the cap).

use std::collections::{BTreeMap, BTreeSet};

use fangpin_connectors::event::{Event, HouseholdCode, Month, RosterEntry, SettlementStatus, VisitType};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::coverage::{Coverage, CoverageKind};
use crate::triggers::Fired;

/// The insured unit of a household-level coverage.
pub const HOUSEHOLD_UNIT: &str = "household";

/// A claim's identity: household, coverage, insured unit and month.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ClaimKey {
    pub coverage: CoverageKind,
    /// `household`, or the person's pseudonym.
    pub unit: String,
    pub month: Month,
}

/// One record or index month behind a claim, with the amount it counts for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BasisItem {
    /// `settlement`, `school_term`, `disaster_report`, `farm_reports` or `index`.
    pub kind: String,
    /// The record's id (settlement, term, event, the month's report ids, index code).
    pub id: String,
    /// The figures it was judged on, as exact decimal strings or codes.
    pub figures: BTreeMap<String, String>,
    /// What it adds to the year to date, before the deductible and the share paid.
    pub counted: Decimal,
}

/// Why a claim has its amount.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Basis {
    pub items: Vec<BasisItem>,
    /// Countable amounts of the unit's year through this month.
    pub year_to_date: Decimal,
    pub deductible: Decimal,
    pub share_paid: Decimal,
    /// Owed for the unit's year by the end of the month before.
    pub owed_before: Decimal,
}

/// What the rules say a household is owed for one claim.
#[derive(Clone, Debug, PartialEq)]
pub struct Entitlement {
    pub key: ClaimKey,
    pub amount: Decimal,
    pub cap: Decimal,
    /// The unit's yearly cap not yet used by the end of this month.
    pub cap_left: Decimal,
    pub basis: Basis,
}

/// Money rounded to the fen, halves away from zero.
pub fn fen(v: Decimal) -> Decimal {
    v.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Countable amounts of one unit's year, by month.
#[derive(Default)]
struct UnitYear {
    months: BTreeMap<Month, Vec<BasisItem>>,
}

/// What `household` is owed in each of `years`, by claim. Uninsured households are owed
/// nothing. `records` are the household's records held, reversed settlements left out.
pub fn assess<'a>(
    household: &HouseholdCode,
    profile: &RosterEntry,
    records: impl IntoIterator<Item = &'a Event>,
    fired: &BTreeSet<Fired>,
    coverage: &Coverage,
    years: &BTreeSet<i32>,
) -> Vec<Entitlement> {
    if !profile.insured || years.is_empty() {
        return Vec::new();
    }
    let mut units: BTreeMap<(CoverageKind, String, i32), UnitYear> = BTreeMap::new();
    let mut add = |coverage: CoverageKind, unit: &str, month: Month, item: BasisItem| {
        if years.contains(&month.year()) {
            units.entry((coverage, unit.to_owned(), month.year())).or_default().months.entry(month).or_default().push(item);
        }
    };
    // The plan's industry rule judges a month's reports together, as the indicator does.
    let mut farm_months: BTreeMap<Month, Vec<&fangpin_connectors::event::FarmReport>> = BTreeMap::new();
    for event in records {
        match event {
            Event::Medical(m) if m.status == SettlementStatus::Settled && m.visit_type == VisitType::Inpatient => {
                let figures = figures([
                    ("total_cost", m.total_cost),
                    ("fund_paid", m.fund_paid),
                    ("critical_illness_paid", m.critical_illness_paid),
                    ("assistance_paid", m.assistance_paid),
                    ("out_of_pocket", m.out_of_pocket),
                ]);
                let item = BasisItem { kind: "settlement".into(), id: m.settlement_id.clone(), figures, counted: m.out_of_pocket };
                add(CoverageKind::Medical, &m.patient.0, m.month, item);
            }
            Event::School(s) => {
                let net = (s.fees - s.aid).max(Decimal::ZERO);
                let mut figures = figures([("fees", s.fees), ("aid", s.aid)]);
                figures.insert("stage".into(), s.stage.code().into());
                let item = BasisItem { kind: "school_term".into(), id: s.term.clone(), figures, counted: net };
                add(CoverageKind::Education, &s.student.0, s.month, item);
            }
            Event::Disaster(d) => {
                let share = coverage.disaster_share(d.house_damage);
                let mut figures = figures([("direct_loss", d.direct_loss), ("share_of_loss", share)]);
                figures.insert("house_damage".into(), d.house_damage.code().into());
                figures.insert("hazard".into(), d.hazard.code().into());
                let item = BasisItem { kind: "disaster_report".into(), id: d.event_id.clone(), figures, counted: fen(d.direct_loss * share) };
                add(CoverageKind::Disaster, HOUSEHOLD_UNIT, d.month, item);
            }
            Event::Farm(f) => farm_months.entry(f.month).or_default().push(f),
            _ => {}
        }
    }
    let rule = &coverage.industry;
    for (month, mut reports) in farm_months {
        reports.sort_by(|a, b| a.report_id.cmp(&b.report_id));
        let sum = |f: fn(&fangpin_connectors::event::FarmReport) -> Decimal| reports.iter().map(|r| f(r)).sum::<Decimal>();
        let (disaster_mu, expected, actual) = (sum(|r| r.disaster_mu), sum(|r| r.expected_income), sum(|r| r.actual_income));
        let hit = disaster_mu > rule.disaster_mu_above
            && expected > Decimal::ZERO
            && actual <= expected * (Decimal::ONE - rule.income_drop_at_least);
        if hit {
            let figures = figures([("disaster_mu", disaster_mu), ("expected_income", expected), ("actual_income", actual)]);
            let ids = reports.iter().map(|r| r.report_id.as_str()).collect::<Vec<_>>().join(",");
            let counted = fen((expected - actual) * rule.share_paid);
            add(CoverageKind::Industry, HOUSEHOLD_UNIT, month, BasisItem { kind: "farm_reports".into(), id: ids, figures, counted });
        }
    }
    for entry in coverage.index.iter().filter(|e| profile.industries.iter().any(|i| i.code() == e.industry)) {
        let kind = CoverageKind::parse(&entry.coverage).expect("checked when the coverage was loaded");
        for f in fired.iter().filter(|f| f.code == entry.code && f.county_code == household.county()) {
            let mut figures = BTreeMap::new();
            figures.insert("county_code".into(), f.county_code.clone());
            figures.insert("index_value".into(), f.index_value.clone());
            figures.insert("detail".into(), f.detail.clone());
            let item = BasisItem { kind: "index".into(), id: f.code.clone(), figures, counted: entry.amount };
            add(kind, HOUSEHOLD_UNIT, f.month, item);
        }
    }
    let members = Decimal::from(profile.members.max(1));
    let mut out = Vec::new();
    for ((kind, unit, _year), unit_year) in units {
        let (deductible, share) = match kind {
            CoverageKind::Medical => (coverage.medical.deductible, coverage.medical.share_paid),
            CoverageKind::Education => (fen(coverage.education.income_share * profile.baseline_income / members), coverage.education.share_paid),
            CoverageKind::Disaster | CoverageKind::Industry => (Decimal::ZERO, Decimal::ONE),
        };
        let cap = coverage.cap(kind);
        let (mut year_to_date, mut owed_before) = (Decimal::ZERO, Decimal::ZERO);
        for (month, mut items) in unit_year.months {
            items.sort_by(|a, b| (&a.kind, &a.id).cmp(&(&b.kind, &b.id)));
            year_to_date += items.iter().map(|i| i.counted).sum::<Decimal>();
            let owed = fen((year_to_date - deductible).max(Decimal::ZERO) * share).min(cap);
            out.push(Entitlement {
                key: ClaimKey { coverage: kind, unit: unit.clone(), month },
                amount: owed - owed_before,
                cap,
                cap_left: cap - owed,
                basis: Basis { items, year_to_date, deductible, share_paid: share, owed_before },
            });
            owed_before = owed;
        }
    }
    out
}

fn figures<const N: usize>(pairs: [(&str, Decimal); N]) -> BTreeMap<String, String> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_string())).collect()
}
