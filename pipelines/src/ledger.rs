//! Per-household state: the roster profile and every household record still inside the window,
//! kept by its natural key so that duplicates, corrections and reversals are exact.
//!
//! Monthly figures are not kept as running totals: they are recomputed from the records when a
//! household is re-evaluated ([`Household::months`]). That keeps corrections and reversals
//! trivially right, at the cost of a pass over one household's records per evaluation.

use std::collections::{HashMap, HashSet};

use fangpin_connectors::event::{
    AssistanceKind, EmploymentStatus, Event, HouseDamage, Month, PersonKey, RosterEntry,
    SettlementStatus, VisitType,
};
use rust_decimal::Decimal;

/// What applying one record did.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// New information: the record's month must be re-evaluated.
    Changed(Month),
    /// A later record replaced an earlier one with the same key.
    Corrected(Month),
    /// The same record again: nothing changed.
    Duplicate,
    /// A reversal for a settlement not seen (yet); kept until the settlement arrives.
    ReversalParked,
    /// Not a household record (prices, weather, outcomes): nothing to do here.
    NotHousehold,
}

/// The natural key of a household record: a later record with the same key replaces it.
/// Ordered so that a checkpoint lists the records in the same order every time.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum EntryKey {
    Settlement(String),
    Employment(PersonKey, Month),
    Farm(String),
    Payment(String),
    Disaster(String),
    School(PersonKey, String),
}

/// One household: who it is and its records inside the window.
#[derive(Debug)]
pub struct Household {
    /// The latest roster record.
    pub profile: RosterEntry,
    entries: HashMap<EntryKey, Event>,
    reversed: HashSet<String>,
}

/// Sums for one household and calendar month, in yuan (areas in mu). Deserialisable so golden
/// tests can write rows by hand, with absent fields zero.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct MonthFigures {
    pub wages: Decimal,
    /// Wages a worker normally earned (his last employed month) lost to unemployment.
    pub wage_loss: Decimal,
    pub farm_expected: Decimal,
    pub farm_actual: Decimal,
    pub planted_mu: Decimal,
    pub disaster_mu: Decimal,
    /// Every civil-affairs transfer.
    pub transfers: Decimal,
    /// Temporary assistance only: extra help on top of last year's income.
    pub temp_assistance: Decimal,
    pub medical_oop: Decimal,
    pub inpatient_bills: i32,
    pub education_fees: Decimal,
    pub education_aid: Decimal,
    pub disaster_loss: Decimal,
    /// Worst house damage: 0 none, 1 minor, 2 severe, 3 collapsed.
    pub house_damage: i32,
    pub unemployed_workers: i32,
    /// Members the employment feed reported on this month, whatever their status.
    pub workers_reported: i32,
}

impl Household {
    /// A household as the roster describes it, with no records yet.
    pub fn new(profile: RosterEntry) -> Household {
        Household { profile, entries: HashMap::new(), reversed: HashSet::new() }
    }

    /// Applies one validated household record.
    pub fn apply(&mut self, event: Event) -> Applied {
        if let Event::Medical(m) = &event {
            if m.status == SettlementStatus::Reversed {
                return self.reverse(&m.settlement_id);
            }
        }
        let Some(key) = entry_key(&event) else {
            return Applied::NotHousehold;
        };
        let month = event.month();
        let old_month = match self.entries.get(&key) {
            Some(old) if *old == event => return Applied::Duplicate,
            Some(old) => Some(old.month()),
            None => None,
        };
        self.entries.insert(key, event);
        match old_month {
            // A correction may move a record to another month: both months change.
            Some(old) => Applied::Corrected(old.min(month)),
            None => Applied::Changed(month),
        }
    }

    /// Cancels a settlement exactly; a reversal that comes first waits for its settlement.
    fn reverse(&mut self, settlement_id: &str) -> Applied {
        if !self.reversed.insert(settlement_id.to_owned()) {
            return Applied::Duplicate;
        }
        match self.entries.get(&EntryKey::Settlement(settlement_id.to_owned())) {
            Some(settled) => Applied::Changed(settled.month()),
            None => Applied::ReversalParked,
        }
    }

    /// Whether a reversal of the settlement has been seen.
    pub fn is_reversed(&self, settlement_id: &str) -> bool {
        self.reversed.contains(settlement_id)
    }

    /// Forgets a reversal whose settlement never came (and now never can).
    pub fn forget_reversal(&mut self, settlement_id: &str) {
        if !self.has_settlement(settlement_id) {
            self.reversed.remove(settlement_id);
        }
    }

    /// Whether the settlement has been seen.
    pub fn has_settlement(&self, settlement_id: &str) -> bool {
        self.entries.contains_key(&EntryKey::Settlement(settlement_id.to_owned()))
    }

    /// The records that count: every record held except the settlements reversed.
    pub fn live_records(&self) -> impl Iterator<Item = &Event> {
        self.entries.iter().filter_map(|(key, e)| match key {
            EntryKey::Settlement(id) if self.reversed.contains(id) => None,
            _ => Some(e),
        })
    }

    /// Number of records held, for the state-size metric.
    pub fn record_count(&self) -> usize {
        self.entries.len()
    }

    /// Forgets records of months before `oldest`: the indicators never look that far back.
    /// Returns whether anything was forgotten.
    pub fn prune(&mut self, oldest: Month) -> bool {
        let before = self.entries.len();
        let reversed = &mut self.reversed;
        self.entries.retain(|key, e| {
            let keep = e.month() >= oldest;
            if let (false, EntryKey::Settlement(id)) = (keep, key) {
                reversed.remove(id);
            }
            keep
        });
        self.entries.len() != before
    }

    /// The records held, in key order, for a checkpoint: the same state gives the same bytes.
    pub fn records(&self) -> Vec<&Event> {
        let mut keyed: Vec<_> = self.entries.iter().collect();
        keyed.sort_unstable_by(|a, b| a.0.cmp(b.0));
        keyed.into_iter().map(|(_, e)| e).collect()
    }

    /// The ids of the settlements reversed, sorted, for a checkpoint.
    pub fn reversed(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.reversed.iter().map(String::as_str).collect();
        ids.sort_unstable();
        ids
    }

    /// A household rebuilt from a checkpoint of its [`Household::records`] and
    /// [`Household::reversed`]; `Err` describes a record a household never holds.
    pub fn restore(profile: RosterEntry, records: Vec<Event>, reversed: Vec<String>) -> Result<Household, String> {
        let mut entries = HashMap::with_capacity(records.len());
        for event in records {
            let key = entry_key(&event).ok_or_else(|| format!("a household does not hold records like {event:?}"))?;
            entries.insert(key, event);
        }
        Ok(Household { profile, entries, reversed: reversed.into_iter().collect() })
    }

    /// Figures for every month from `first` to `last` inclusive (index 0 is `first`).
    pub fn months(&self, first: Month, last: Month) -> Vec<MonthFigures> {
        let span = (last.index() - first.index() + 1).max(0) as usize;
        let mut out = vec![MonthFigures::default(); span];
        let slot = |m: Month| -> Option<usize> {
            let i = m.index() - first.index();
            (i >= 0 && (i as usize) < span).then_some(i as usize)
        };
        // Each worker's months in order, to know what an unemployed worker normally earned.
        let mut work: Vec<(&PersonKey, Month, EmploymentStatus, Decimal)> = Vec::new();
        for (key, event) in &self.entries {
            match event {
                Event::Employment(e) => work.push((&e.worker, e.month, e.status, e.wage)),
                Event::Medical(m) => {
                    if let (Some(i), false) = (slot(m.month), self.reversed.contains(&m.settlement_id)) {
                        out[i].medical_oop += m.out_of_pocket;
                        out[i].inpatient_bills += i32::from(m.visit_type == VisitType::Inpatient);
                    }
                }
                Event::Farm(f) => {
                    if let Some(i) = slot(f.month) {
                        out[i].farm_expected += f.expected_income;
                        out[i].farm_actual += f.actual_income;
                        out[i].planted_mu += f.planted_mu;
                        out[i].disaster_mu += f.disaster_mu;
                    }
                }
                Event::Assistance(a) => {
                    if let Some(i) = slot(a.month) {
                        out[i].transfers += a.amount;
                        if a.kind == AssistanceKind::Temporary {
                            out[i].temp_assistance += a.amount;
                        }
                    }
                }
                Event::Disaster(d) => {
                    if let Some(i) = slot(d.month) {
                        out[i].disaster_loss += d.direct_loss;
                        out[i].house_damage = out[i].house_damage.max(damage_level(d.house_damage));
                    }
                }
                Event::School(s) => {
                    if let Some(i) = slot(s.month) {
                        out[i].education_fees += s.fees;
                        out[i].education_aid += s.aid;
                    }
                }
                _ => debug_assert!(false, "unexpected record under {key:?}"),
            }
        }
        work.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let mut normal_wage: Option<(&PersonKey, Decimal)> = None;
        for (worker, month, status, wage) in work {
            if normal_wage.is_some_and(|(w, _)| w != worker) {
                normal_wage = None;
            }
            let employed = matches!(status, EmploymentStatus::Employed | EmploymentStatus::MigrantEmployed);
            if let Some(i) = slot(month) {
                out[i].wages += wage;
                out[i].workers_reported += 1;
                if status == EmploymentStatus::Unemployed {
                    out[i].unemployed_workers += 1;
                    out[i].wage_loss += normal_wage.map_or(Decimal::ZERO, |(_, w)| w);
                }
            }
            if employed && wage > Decimal::ZERO {
                normal_wage = Some((worker, wage));
            }
        }
        out
    }
}

/// The key a record is held under; `None` for records a household does not hold: reversals
/// (they only mark their settlement) and records that are not about a household's figures.
fn entry_key(event: &Event) -> Option<EntryKey> {
    Some(match event {
        Event::Medical(m) if m.status == SettlementStatus::Reversed => return None,
        Event::Medical(m) => EntryKey::Settlement(m.settlement_id.clone()),
        Event::Employment(e) => EntryKey::Employment(e.worker.clone(), e.month),
        Event::Farm(f) => EntryKey::Farm(f.report_id.clone()),
        Event::Assistance(a) => EntryKey::Payment(a.payment_id.clone()),
        Event::Disaster(d) => EntryKey::Disaster(d.event_id.clone()),
        Event::School(s) => EntryKey::School(s.student.clone(), s.term.clone()),
        Event::Roster(_) | Event::Price(_) | Event::Weather(_) | Event::Outcome(_) => return None,
    })
}

/// House damage as a number the SQL can compare.
fn damage_level(d: HouseDamage) -> i32 {
    match d {
        HouseDamage::None => 0,
        HouseDamage::Minor => 1,
        HouseDamage::Severe => 2,
        HouseDamage::Collapsed => 3,
    }
}
