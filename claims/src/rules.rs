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

use fangpin_connectors::compact::{money, month};
use fangpin_connectors::event::{
    Event, Hazard, HouseDamage, HouseholdCode, Month, PersonKey, RosterEntry, SchoolStage, SettlementStatus, VisitType,
};
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

/// A household record the rules count, with the ids and figures a claim's basis shows. The
/// household's ledger keeps these (and of every other record only what it adds to the monthly
/// figures), so they also carry what the monthly figures read of them (`planted_mu`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Countable {
    /// A settled inpatient bill; outpatient bills count for no claim.
    Inpatient {
        settlement_id: String,
        patient: PersonKey,
        #[serde(with = "month")] month: Month,
        #[serde(with = "money")] total_cost: Decimal,
        #[serde(with = "money")] fund_paid: Decimal,
        #[serde(with = "money")] critical_illness_paid: Decimal,
        #[serde(with = "money")] assistance_paid: Decimal,
        #[serde(with = "money")] out_of_pocket: Decimal,
    },
    School { student: PersonKey, term: String, #[serde(with = "month")] month: Month, stage: SchoolStage, #[serde(with = "money")] fees: Decimal, #[serde(with = "money")] aid: Decimal },
    Disaster { event_id: String, #[serde(with = "month")] month: Month, hazard: Hazard, house_damage: HouseDamage, #[serde(with = "money")] direct_loss: Decimal },
    Farm {
        report_id: String,
        #[serde(with = "month")] month: Month,
        #[serde(with = "money")] planted_mu: Decimal,
        #[serde(with = "money")] disaster_mu: Decimal,
        #[serde(with = "money")] expected_income: Decimal,
        #[serde(with = "money")] actual_income: Decimal,
    },
}

impl Countable {
    /// What the rules count of `event`, if anything.
    pub fn of(event: &Event) -> Option<Countable> {
        Some(match event {
            Event::Medical(m) if m.status == SettlementStatus::Settled && m.visit_type == VisitType::Inpatient => {
                Countable::Inpatient {
                    settlement_id: m.settlement_id.clone(),
                    patient: m.patient.clone(),
                    month: m.month,
                    total_cost: m.total_cost,
                    fund_paid: m.fund_paid,
                    critical_illness_paid: m.critical_illness_paid,
                    assistance_paid: m.assistance_paid,
                    out_of_pocket: m.out_of_pocket,
                }
            }
            Event::School(s) => Countable::School {
                student: s.student.clone(),
                term: s.term.clone(),
                month: s.month,
                stage: s.stage,
                fees: s.fees,
                aid: s.aid,
            },
            Event::Disaster(d) => Countable::Disaster {
                event_id: d.event_id.clone(),
                month: d.month,
                hazard: d.hazard,
                house_damage: d.house_damage,
                direct_loss: d.direct_loss,
            },
            Event::Farm(f) => Countable::Farm {
                report_id: f.report_id.clone(),
                month: f.month,
                planted_mu: f.planted_mu,
                disaster_mu: f.disaster_mu,
                expected_income: f.expected_income,
                actual_income: f.actual_income,
            },
            _ => return None,
        })
    }

    /// The record's month.
    pub fn month(&self) -> Month {
        match self {
            Countable::Inpatient { month, .. }
            | Countable::School { month, .. }
            | Countable::Disaster { month, .. }
            | Countable::Farm { month, .. } => *month,
        }
    }
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
/// nothing. `records` are what the rules count of the household's records held, reversed
/// settlements left out.
pub fn assess<'a>(
    household: &HouseholdCode,
    profile: &RosterEntry,
    records: impl IntoIterator<Item = &'a Countable>,
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
    // (report id, disaster mu, expected income, actual income) of each month's reports.
    let mut farm_months: BTreeMap<Month, Vec<(&str, Decimal, Decimal, Decimal)>> = BTreeMap::new();
    for record in records {
        match record {
            Countable::Inpatient {
                settlement_id,
                patient,
                month,
                total_cost,
                fund_paid,
                critical_illness_paid,
                assistance_paid,
                out_of_pocket,
            } => {
                let figures = figures([
                    ("total_cost", *total_cost),
                    ("fund_paid", *fund_paid),
                    ("critical_illness_paid", *critical_illness_paid),
                    ("assistance_paid", *assistance_paid),
                    ("out_of_pocket", *out_of_pocket),
                ]);
                let item = BasisItem { kind: "settlement".into(), id: settlement_id.clone(), figures, counted: *out_of_pocket };
                add(CoverageKind::Medical, &patient.0, *month, item);
            }
            Countable::School { student, term, month, stage, fees, aid } => {
                let net = (*fees - *aid).max(Decimal::ZERO);
                let mut figures = figures([("fees", *fees), ("aid", *aid)]);
                figures.insert("stage".into(), stage.code().into());
                let item = BasisItem { kind: "school_term".into(), id: term.clone(), figures, counted: net };
                add(CoverageKind::Education, &student.0, *month, item);
            }
            Countable::Disaster { event_id, month, hazard, house_damage, direct_loss } => {
                let share = coverage.disaster_share(*house_damage);
                let mut figures = figures([("direct_loss", *direct_loss), ("share_of_loss", share)]);
                figures.insert("house_damage".into(), house_damage.code().into());
                figures.insert("hazard".into(), hazard.code().into());
                let item =
                    BasisItem { kind: "disaster_report".into(), id: event_id.clone(), figures, counted: fen(*direct_loss * share) };
                add(CoverageKind::Disaster, HOUSEHOLD_UNIT, *month, item);
            }
            Countable::Farm { report_id, month, disaster_mu, expected_income, actual_income, .. } => {
                farm_months.entry(*month).or_default().push((report_id, *disaster_mu, *expected_income, *actual_income))
            }
        }
    }
    let rule = &coverage.industry;
    for (month, mut reports) in farm_months {
        reports.sort_by(|a, b| a.0.cmp(b.0));
        let (disaster_mu, expected, actual) = reports
            .iter()
            .fold((Decimal::ZERO, Decimal::ZERO, Decimal::ZERO), |(d, e, a), r| (d + r.1, e + r.2, a + r.3));
        let hit = disaster_mu > rule.disaster_mu_above
            && expected > Decimal::ZERO
            && actual <= expected * (Decimal::ONE - rule.income_drop_at_least);
        if hit {
            let figures = figures([("disaster_mu", disaster_mu), ("expected_income", expected), ("actual_income", actual)]);
            let ids = reports.iter().map(|r| r.0).collect::<Vec<_>>().join(",");
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
