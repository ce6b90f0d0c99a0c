//! Per-household state: the roster profile and, for every household record still inside the
//! window, its natural key's hash and what it contributes, so that duplicates, corrections and
//! reversals stay exact without keeping the records themselves.
//!
//! What a record contributes is the part of it the monthly figures read: a worker's status and
//! wage for the month, a transfer's amount, an outpatient bill's out-of-pocket cost. The records
//! the claims rules count (inpatient bills, school terms, disasters, farm reports) keep the ids
//! and figures a claim shows ([`Countable`]). Keys are kept as 8 bytes of a SHA-256 of the key:
//! with some fifty records per household, two keys of one household share a hash with a
//! probability of about 10⁻¹⁵.
//!
//! Monthly figures are not kept as running totals: they are recomputed from the contributions
//! when a household is re-evaluated ([`Household::months`]). That keeps corrections and
//! reversals trivially right, at the cost of a pass over one household's contributions per
//! evaluation.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashSet};

use fangpin_claims::Countable;
use fangpin_connectors::compact::{money, month};
use fangpin_connectors::event::{
    AssistanceKind, EmploymentStatus, Event, HouseDamage, Month, RosterEntry, SettlementStatus, VisitType,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What applying one record did.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// New information: the record's month must be re-evaluated.
    Changed(Month),
    /// A later record replaced an earlier one with the same key.
    Corrected(Month),
    /// The same record again, or one that contributes the same: nothing changed.
    Duplicate,
    /// A reversal for a settlement not seen (yet); kept until the settlement arrives.
    ReversalParked,
    /// Not a household record (prices, weather, outcomes): nothing to do here.
    NotHousehold,
}

/// A record's natural key (or a worker's pseudonym), hashed: 8 bytes of a SHA-256. A later
/// record with the same key replaces the earlier one. Ordered so that a checkpoint lists the
/// contributions in the same order every time; written as 8 bytes in binary, hex in text. The
/// low nibble of the 4th and 8th bytes is always 10 to 15, so that the hex never holds a run of
/// 8 digits, which could read as part of an ID number (under 3 bits of 64 are spent on it).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyHash(u64);

impl KeyHash {
    /// The hash of `parts`, each ended by a zero byte (no key part holds one).
    fn of(parts: &[&str]) -> KeyHash {
        let mut h = Sha256::new();
        for part in parts {
            h.update(part.as_bytes());
            h.update([0]);
        }
        let mut bytes: [u8; 8] = h.finalize()[..8].try_into().expect("a SHA-256 has 32 bytes");
        for i in [3, 7] {
            bytes[i] = (bytes[i] & 0xf0) | (0x0a + (bytes[i] & 0x0f) % 6);
        }
        KeyHash(u64::from_be_bytes(bytes))
    }
}

impl Serialize for KeyHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(&format_args!("{:016x}", self.0))
        } else {
            self.0.to_be_bytes().serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for KeyHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<KeyHash, D::Error> {
        if d.is_human_readable() {
            let hex = String::deserialize(d)?;
            return u64::from_str_radix(&hex, 16).map(KeyHash).map_err(|_| serde::de::Error::custom(format!("not a key hash: {hex:?}")));
        }
        Ok(KeyHash(u64::from_be_bytes(<[u8; 8]>::deserialize(d)?)))
    }
}

/// What one employment report contributes to its worker's month.
#[derive(Copy, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Work {
    pub status: EmploymentStatus,
    #[serde(with = "money")]
    pub wage: Decimal,
}

/// What any other household record contributes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Part {
    /// A settled outpatient bill.
    Outpatient {
        #[serde(with = "month")]
        month: Month,
        #[serde(with = "money")]
        out_of_pocket: Decimal,
    },
    /// A civil-affairs transfer; `temporary` for temporary assistance.
    Transfer {
        #[serde(with = "month")]
        month: Month,
        #[serde(with = "money")]
        amount: Decimal,
        temporary: bool,
    },
    /// A record the claims rules count, with what they show of it. Boxed: the other parts
    /// are a fifth of its size, and a map's every slot takes the largest part's room.
    Counted(Box<Countable>),
}

impl Part {
    /// The month the record is about.
    pub fn month(&self) -> Month {
        match self {
            Part::Outpatient { month, .. } | Part::Transfer { month, .. } => *month,
            Part::Counted(c) => c.month(),
        }
    }

    /// Whether the record is a medical settlement (which a reversal may cancel).
    fn is_settlement(&self) -> bool {
        match self {
            Part::Outpatient { .. } => true,
            Part::Counted(c) => matches!(**c, Countable::Inpatient { .. }),
            Part::Transfer { .. } => false,
        }
    }
}

/// One household: who it is and what its records inside the window contribute.
#[derive(Clone, Debug, PartialEq)]
pub struct Household {
    /// The latest roster record.
    pub profile: RosterEntry,
    /// Employment reports by worker and month (their natural key), in that order.
    work: BTreeMap<(KeyHash, Month), Work>,
    /// Every other record by its key's hash.
    parts: BTreeMap<KeyHash, Part>,
    /// The key hashes of the settlements reversed (seen or not yet).
    reversed: HashSet<KeyHash>,
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

/// A household's held contributions, for a checkpoint ([`Household::held`],
/// [`Household::restore`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Held {
    pub workers: Vec<Worker>,
    pub parts: Vec<(KeyHash, Part)>,
    /// Sorted.
    pub reversed: Vec<KeyHash>,
}

/// One worker's employment reports, in month order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Worker {
    pub worker: KeyHash,
    pub months: Vec<WorkMonth>,
}

/// One employment report's contribution and its month.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkMonth {
    #[serde(with = "month")]
    pub month: Month,
    pub work: Work,
}

impl Household {
    /// A household as the roster describes it, with no records yet.
    pub fn new(profile: RosterEntry) -> Household {
        Household { profile, work: BTreeMap::new(), parts: BTreeMap::new(), reversed: HashSet::new() }
    }

    /// Applies one validated household record.
    pub fn apply(&mut self, event: Event) -> Applied {
        let month = event.month();
        let key = match &event {
            Event::Medical(m) if m.status == SettlementStatus::Reversed => return self.reverse(&m.settlement_id),
            Event::Employment(e) => {
                let key = (KeyHash::of(&[&e.worker.0]), e.month);
                let work = Work { status: e.status, wage: e.wage };
                return match self.work.insert(key, work) {
                    Some(old) if old == work => Applied::Duplicate,
                    Some(_) => Applied::Corrected(month),
                    None => Applied::Changed(month),
                };
            }
            Event::Medical(m) => settlement_key(&m.settlement_id),
            Event::Assistance(a) => KeyHash::of(&["payment", &a.payment_id]),
            Event::Farm(f) => KeyHash::of(&["farm", &f.report_id]),
            Event::Disaster(d) => KeyHash::of(&["disaster", &d.event_id]),
            Event::School(s) => KeyHash::of(&["school", &s.student.0, &s.term]),
            Event::Roster(_) | Event::Price(_) | Event::Weather(_) | Event::Outcome(_) => return Applied::NotHousehold,
        };
        let part = match &event {
            Event::Medical(m) if m.visit_type == VisitType::Outpatient => Part::Outpatient { month, out_of_pocket: m.out_of_pocket },
            Event::Assistance(a) => Part::Transfer { month, amount: a.amount, temporary: a.kind == AssistanceKind::Temporary },
            // Inpatient bills, farm reports, disasters and school terms.
            _ => match Countable::of(&event) {
                Some(counted) => Part::Counted(Box::new(counted)),
                None => return Applied::NotHousehold,
            },
        };
        match self.parts.entry(key) {
            Entry::Vacant(slot) => {
                slot.insert(part);
                Applied::Changed(month)
            }
            Entry::Occupied(held) if *held.get() == part => Applied::Duplicate,
            // A correction may move a record to another month: both months change.
            Entry::Occupied(mut held) => Applied::Corrected(held.insert(part).month().min(month)),
        }
    }

    /// Cancels a settlement exactly; a reversal that comes first waits for its settlement.
    fn reverse(&mut self, settlement_id: &str) -> Applied {
        let key = settlement_key(settlement_id);
        if !self.reversed.insert(key) {
            return Applied::Duplicate;
        }
        match self.parts.get(&key) {
            Some(settled) => Applied::Changed(settled.month()),
            None => Applied::ReversalParked,
        }
    }

    /// Whether a reversal of the settlement has been seen.
    pub fn is_reversed(&self, settlement_id: &str) -> bool {
        self.reversed.contains(&settlement_key(settlement_id))
    }

    /// Forgets a reversal whose settlement never came (and now never can).
    pub fn forget_reversal(&mut self, settlement_id: &str) {
        if !self.has_settlement(settlement_id) {
            self.reversed.remove(&settlement_key(settlement_id));
        }
    }

    /// Whether the settlement has been seen.
    pub fn has_settlement(&self, settlement_id: &str) -> bool {
        self.parts.get(&settlement_key(settlement_id)).is_some_and(Part::is_settlement)
    }

    /// What the claims rules count of the records held, reversed settlements left out.
    pub fn countable(&self) -> impl Iterator<Item = &Countable> {
        self.parts.iter().filter_map(|(key, part)| match part {
            Part::Counted(c) if !self.reversed.contains(key) => Some(&**c),
            _ => None,
        })
    }

    /// Number of records held, for the state-size metric.
    pub fn record_count(&self) -> usize {
        self.work.len() + self.parts.len()
    }

    /// The months of the records held.
    pub fn months_held(&self) -> impl Iterator<Item = Month> + '_ {
        self.work.keys().map(|(_, m)| *m).chain(self.parts.values().map(Part::month))
    }

    /// Forgets records of months before `oldest`: the indicators never look that far back.
    /// Returns whether anything was forgotten.
    pub fn prune(&mut self, oldest: Month) -> bool {
        let before = self.record_count();
        self.work.retain(|(_, m), _| *m >= oldest);
        let reversed = &mut self.reversed;
        self.parts.retain(|key, part| {
            let keep = part.month() >= oldest;
            if !keep && part.is_settlement() {
                reversed.remove(key);
            }
            keep
        });
        self.record_count() != before
    }

    /// What is held, in key order, for a checkpoint: the same state gives the same bytes.
    pub fn held(&self) -> Held {
        let mut workers: Vec<Worker> = Vec::new();
        for (&(worker, month), &work) in &self.work {
            let entry = WorkMonth { month, work };
            match workers.last_mut() {
                Some(last) if last.worker == worker => last.months.push(entry),
                _ => workers.push(Worker { worker, months: vec![entry] }),
            }
        }
        let mut reversed: Vec<KeyHash> = self.reversed.iter().copied().collect();
        reversed.sort_unstable();
        Held { workers, parts: self.parts.iter().map(|(k, p)| (*k, p.clone())).collect(), reversed }
    }

    /// A household rebuilt from a checkpoint of its [`Household::held`].
    pub fn restore(profile: RosterEntry, held: Held) -> Household {
        let work = held
            .workers
            .into_iter()
            .flat_map(|w| w.months.into_iter().map(move |m| ((w.worker, m.month), m.work)))
            .collect();
        Household { profile, work, parts: held.parts.into_iter().collect(), reversed: held.reversed.into_iter().collect() }
    }

    /// Figures for every month from `first` to `last` inclusive (index 0 is `first`).
    pub fn months(&self, first: Month, last: Month) -> Vec<MonthFigures> {
        let span = (last.index() - first.index() + 1).max(0) as usize;
        let mut out = vec![MonthFigures::default(); span];
        let slot = |m: Month| -> Option<usize> {
            let i = m.index() - first.index();
            (i >= 0 && (i as usize) < span).then_some(i as usize)
        };
        for (key, part) in &self.parts {
            let Some(i) = slot(part.month()) else { continue };
            match part {
                Part::Outpatient { out_of_pocket, .. } => {
                    if !self.reversed.contains(key) {
                        out[i].medical_oop += *out_of_pocket;
                    }
                }
                Part::Transfer { amount, temporary, .. } => {
                    out[i].transfers += *amount;
                    if *temporary {
                        out[i].temp_assistance += *amount;
                    }
                }
                Part::Counted(counted) => match &**counted {
                    Countable::Inpatient { out_of_pocket, .. } => {
                        if !self.reversed.contains(key) {
                            out[i].medical_oop += *out_of_pocket;
                            out[i].inpatient_bills += 1;
                        }
                    }
                    Countable::Farm { planted_mu, disaster_mu, expected_income, actual_income, .. } => {
                        out[i].farm_expected += *expected_income;
                        out[i].farm_actual += *actual_income;
                        out[i].planted_mu += *planted_mu;
                        out[i].disaster_mu += *disaster_mu;
                    }
                    Countable::Disaster { direct_loss, house_damage, .. } => {
                        out[i].disaster_loss += *direct_loss;
                        out[i].house_damage = out[i].house_damage.max(damage_level(*house_damage));
                    }
                    Countable::School { fees, aid, .. } => {
                        out[i].education_fees += *fees;
                        out[i].education_aid += *aid;
                    }
                },
            }
        }
        // Each worker's months in order (the key's order), to know what an unemployed worker
        // normally earned.
        let mut normal_wage: Option<(KeyHash, Decimal)> = None;
        for (&(worker, month), &Work { status, wage }) in &self.work {
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

/// The key a medical settlement (and its reversal) is held under.
fn settlement_key(settlement_id: &str) -> KeyHash {
    KeyHash::of(&["settlement", settlement_id])
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
