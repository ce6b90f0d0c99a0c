//! Claims issued so far, per household, and the events that restate them.
//!
//! A claim is identified by household, coverage, insured unit and month (never by the batch
//! it was computed in), so its id is the same in every run and every deployment. When the
//! rules later owe a different amount for it (a late bill, a correction, a reversal, a cap
//! reached earlier), the same id is sent again with the next revision, the new amount and the
//! adjustment: negative when a reversal takes back what was paid. A claim the rules no longer
//! owe anything for is restated at zero.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use fangpin_connectors::event::{HouseholdCode, Month};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use fangpin_connectors::pseudonym::hex_without_digit_runs;
use sha2::{Digest, Sha256};

use crate::coverage::CoverageKind;
use crate::rules::{Basis, ClaimKey, Entitlement};

/// One claim event, as written to `claims.triggered` and the claims ledger. Carries household
/// codes and pseudonyms only, never an ID number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClaimEvent {
    pub claim_id: String,
    /// 1 for the first event of a claim, then one more for each restatement.
    pub revision: u32,
    pub household_code: String,
    pub county_code: String,
    pub coverage: CoverageKind,
    /// `household`, or the insured person's pseudonym.
    pub insured_unit: String,
    pub month: Month,
    /// What the claim pays, in all, as of this revision.
    pub amount: Decimal,
    /// This revision's change: `amount` less the previous revision's amount.
    pub adjustment: Decimal,
    /// The unit's yearly cap and what is left of it after this month.
    pub cap: Decimal,
    pub cap_left: Decimal,
    pub basis: Basis,
    /// When fangpin raised this revision, China time.
    pub triggered_at: String,
}

/// What was issued for one claim: enough to restate it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Issued {
    pub key: ClaimKey,
    pub revision: u32,
    pub amount: Decimal,
    /// The unit's yearly cap when it was issued.
    pub cap: Decimal,
    /// Hash of the amount and the records counted last sent: a restatement is sent only when they change.
    pub digest: String,
}

/// One household's issued claims by id, for its checkpoint.
pub type BookEntry = BTreeMap<String, Issued>;

/// Every household's issued claims.
#[derive(Default)]
pub struct ClaimBook {
    households: HashMap<HouseholdCode, BookEntry>,
    changed: HashSet<HouseholdCode>,
}

impl ClaimBook {
    /// Compares what the rules owe `household` in `years` with what was issued, and returns
    /// the events that bring the two together (new claims, restatements, withdrawals).
    pub fn reconcile(
        &mut self,
        household: &HouseholdCode,
        years: &BTreeSet<i32>,
        owed: Vec<Entitlement>,
        triggered_at: &str,
    ) -> Vec<ClaimEvent> {
        if owed.is_empty() && !self.households.contains_key(household) {
            return Vec::new();
        }
        let issued = self.households.entry(household.clone()).or_default();
        let mut events = Vec::new();
        let mut seen = BTreeSet::new();
        for e in &owed {
            let id = claim_id(household, &e.key);
            seen.insert(id.clone());
            let digest = digest(e);
            let previous = issued.get(&id);
            let (revision, before) = match previous {
                Some(p) if p.digest == digest => continue,
                Some(p) => (p.revision + 1, p.amount),
                // Nothing owed yet (a bill below the deductible): no claim to raise.
                None if e.amount.is_zero() => continue,
                None => (1, Decimal::ZERO),
            };
            issued.insert(id.clone(), Issued { key: e.key.clone(), revision, amount: e.amount, cap: e.cap, digest });
            let (key, basis) = (e.key.clone(), e.basis.clone());
            events.push(event(household, id, revision, key, e.amount, e.amount - before, e.cap, e.cap_left, basis, triggered_at));
        }
        // Claims of the assessed years the rules no longer know (their records reversed, the
        // household uninsured): restated at zero, once.
        let gone: Vec<String> = issued
            .iter()
            .filter(|(id, i)| years.contains(&i.key.month.year()) && !seen.contains(*id) && !i.amount.is_zero())
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            let i = issued.get_mut(&id).expect("listed above");
            let before = i.amount;
            i.revision += 1;
            i.amount = Decimal::ZERO;
            i.digest = String::from("withdrawn");
            // What the unit's year still owes by the end of the month: its latest claim before.
            let prior = owed
                .iter()
                .filter(|e| e.key.coverage == i.key.coverage && e.key.unit == i.key.unit)
                .filter(|e| e.key.month.year() == i.key.month.year() && e.key.month < i.key.month)
                .max_by_key(|e| e.key.month);
            let owed_before = prior.map_or(Decimal::ZERO, |p| p.cap - p.cap_left);
            let basis = Basis {
                items: Vec::new(),
                year_to_date: prior.map_or(Decimal::ZERO, |p| p.basis.year_to_date),
                deductible: prior.map_or(Decimal::ZERO, |p| p.basis.deductible),
                share_paid: prior.map_or(Decimal::ZERO, |p| p.basis.share_paid),
                owed_before,
            };
            let (key, cap) = (i.key.clone(), i.cap);
            events.push(event(household, id, i.revision, key, Decimal::ZERO, -before, cap, cap - owed_before, basis, triggered_at));
        }
        if !events.is_empty() {
            self.changed.insert(household.clone());
        }
        if issued.is_empty() {
            self.households.remove(household);
        }
        events
    }

    /// Forgets the claims of years before `year`: they can no longer change.
    pub fn close_years_before(&mut self, year: i32) {
        for (code, entry) in &mut self.households {
            let before = entry.len();
            entry.retain(|_, i| i.key.month.year() >= year);
            if entry.len() != before {
                self.changed.insert(code.clone());
            }
        }
        self.households.retain(|_, e| !e.is_empty());
    }

    /// `household`'s issued claims, for its checkpoint.
    pub fn entry(&self, household: &HouseholdCode) -> BookEntry {
        self.households.get(household).cloned().unwrap_or_default()
    }

    /// Replaces `household`'s issued claims with a checkpoint's.
    pub fn restore(&mut self, household: &HouseholdCode, entry: BookEntry) {
        if entry.is_empty() {
            self.households.remove(household);
        } else {
            self.households.insert(household.clone(), entry);
        }
    }

    /// Forgets `household`.
    pub fn forget(&mut self, household: &HouseholdCode) {
        self.households.remove(household);
    }

    /// Forgets every household.
    pub fn clear(&mut self) {
        self.households.clear();
        self.changed.clear();
    }

    /// Households whose issued claims changed since the last call.
    pub fn take_changed(&mut self) -> HashSet<HouseholdCode> {
        std::mem::take(&mut self.changed)
    }
}

/// The claim's id: the same household, coverage, unit and month give the same id everywhere.
pub fn claim_id(household: &HouseholdCode, key: &ClaimKey) -> String {
    let mut h = Sha256::new();
    h.update(format!("{household}|{}|{}|{}", key.coverage.code(), key.unit, key.month).as_bytes());
    // Never a run of digits, like every identifier fangpin writes: see hex_without_digit_runs.
    format!("CLM-{}", hex_without_digit_runs(&h.finalize()[..10]))
}

/// What a restatement is sent for: the amount, or the records counted and what each counts
/// for. Figures that change nothing counted (a second weather station confirming an index
/// month that already fired) are not worth a revision.
fn digest(e: &Entitlement) -> String {
    let counted: Vec<(&str, &str, &Decimal)> = e.basis.items.iter().map(|i| (i.kind.as_str(), i.id.as_str(), &i.counted)).collect();
    let json = serde_json::to_vec(&(&e.amount, counted)).expect("amounts serialise");
    hex_without_digit_runs(&Sha256::digest(&json))
}

#[allow(clippy::too_many_arguments)]
fn event(
    household: &HouseholdCode,
    claim_id: String,
    revision: u32,
    key: ClaimKey,
    amount: Decimal,
    adjustment: Decimal,
    cap: Decimal,
    cap_left: Decimal,
    basis: Basis,
    triggered_at: &str,
) -> ClaimEvent {
    // Every amount to the fen as written, so that a withdrawn claim reads 0.00 like any other.
    let fen = |mut d: Decimal| {
        d.rescale(2);
        d
    };
    let (amount, adjustment, cap, cap_left) = (fen(amount), fen(adjustment), fen(cap), fen(cap_left));
    ClaimEvent {
        claim_id,
        revision,
        household_code: household.to_string(),
        county_code: household.county().to_owned(),
        coverage: key.coverage,
        insured_unit: key.unit,
        month: key.month,
        amount,
        adjustment,
        cap,
        cap_left,
        basis,
        triggered_at: triggered_at.to_owned(),
    }
}
