//! Alerts: what a verification queue receives, with deterministic ids, and the follow-up policy
//! that keeps cadres from being sent to the same household every month for the same reasons.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use fangpin_connectors::event::{HouseholdCode, Month};
use fangpin_connectors::topic::output;
use fangpin_models::{Assessment, Grade, Reason};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Which grader made a grade.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GraderStamp {
    pub name: String,
    pub version: String,
}

/// A household-month that needs verification, as written to a queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Same household, month and reason set → same id, on every replay.
    pub alert_id: String,
    pub household_code: String,
    pub county_code: String,
    pub township_code: String,
    pub village_code: String,
    /// The household's roster category (`marginal`, ...), for the cadre who visits; empty in
    /// queues written before it was added.
    #[serde(default)]
    pub category: String,
    /// Month of the risk, `YYYY-MM`.
    pub month: String,
    pub grade: Grade,
    pub score: f64,
    pub reasons: Vec<Reason>,
    pub grader: GraderStamp,
    /// The queue it was routed to: door visit for high, phone for medium and low.
    pub queue: String,
    /// Wall-clock time fangpin raised it (RFC 3339, UTC+8).
    pub detected_at: String,
    /// An earlier alert for the same household this one replaces (new reasons or a higher grade).
    pub supersedes: Option<String>,
}

/// The queue a grade goes to.
pub fn queue_for(grade: Grade) -> &'static str {
    match grade {
        Grade::High => output::DOOR_VISIT,
        Grade::Medium | Grade::Low => output::PHONE,
    }
}

/// The deterministic id of an alert: a hash of household, month and sorted reason codes,
/// written `xxxxxxxx-xxxxxxxx-xxxxxxxx`.
pub fn alert_id(household: &str, month: Month, codes: &[&str]) -> String {
    let mut codes = codes.to_vec();
    codes.sort_unstable();
    codes.dedup();
    let mut h = Sha256::new();
    h.update(household.as_bytes());
    h.update(b"|");
    h.update(month.to_string().as_bytes());
    for c in codes {
        h.update(b"|");
        h.update(c.as_bytes());
    }
    // Groups of 8 hex digits, each ending in a letter: even with the dashes (a separator ID
    // numbers are written with) an id can never look like a resident ID number, which the
    // privacy checks on every output look for.
    let digest = h.finalize();
    digest[..12].chunks(4).map(fangpin_connectors::pseudonym::hex_without_digit_runs).collect::<Vec<_>>().join("-")
}

/// The last alert raised for a household.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Raised {
    id: String,
    month: Month,
    grade: Grade,
    codes: Vec<String>,
}

/// Months during which an alert covers its household for the same or fewer reasons.
const FOLLOW_UP_MONTHS: i32 = 3;

/// Decides which assessments become alerts.
///
/// A household is alerted again only when a reason appears that its last alert did not have,
/// its grade rises, or the risk month is [`FOLLOW_UP_MONTHS`] or more after the last alert's.
/// Re-evaluating a month that was already alerted for the same reasons yields no new alert,
/// so replays and late records do not repeat alerts.
///
/// The book also remembers what the monitoring centre's dashboards need: each household's
/// current grade, and the alerts raised so that verification outcomes can be joined to them.
#[derive(Default)]
pub struct AlertBook {
    last: HashMap<HouseholdCode, Raised>,
    issued: IssuedAlerts,
    /// Households per (county, township, current grade). Entries stay, at zero, once created,
    /// so that a gauge falls to zero instead of vanishing.
    graded: BTreeMap<(String, String, Grade), i64>,
    /// Households whose part of the book changed since the last [`AlertBook::take_changed`].
    changed: HashSet<HouseholdCode>,
}

impl AlertBook {
    /// The alert to raise for this assessment, if the policy calls for one.
    pub fn raise(
        &mut self,
        household: &HouseholdCode,
        category: &str,
        month: Month,
        assessment: Assessment,
        grader: &GraderStamp,
        detected_at: &str,
    ) -> Option<Alert> {
        let mut codes: Vec<String> = assessment.reasons.iter().map(|r| r.code.clone()).collect();
        codes.sort_unstable();
        codes.dedup();
        let previous = self.last.get(household);
        if let Some(p) = previous {
            let covered = codes.iter().all(|c| p.codes.contains(c));
            let recent = (month.index() - p.month.index()).abs() < FOLLOW_UP_MONTHS;
            if covered && recent && assessment.grade <= p.grade {
                return None;
            }
        }
        let refs: Vec<&str> = codes.iter().map(String::as_str).collect();
        let id = alert_id(household.as_str(), month, &refs);
        let supersedes = previous.filter(|p| p.id != id).map(|p| p.id.clone());
        if previous.is_some_and(|p| p.id == id) {
            return None;
        }
        let grade = assessment.grade;
        let previous_grade = previous.map(|p| p.grade);
        self.track(household, previous_grade, supersedes.as_deref(), &id, grade);
        self.last.insert(household.clone(), Raised { id: id.clone(), month, grade, codes });
        self.changed.insert(household.clone());
        Some(Alert {
            alert_id: id,
            household_code: household.as_str().to_owned(),
            county_code: household.county().to_owned(),
            township_code: household.township().to_owned(),
            village_code: household.village().to_owned(),
            category: category.to_owned(),
            month: month.to_string(),
            grade,
            score: assessment.score,
            reasons: assessment.reasons,
            grader: grader.clone(),
            queue: queue_for(grade).to_owned(),
            detected_at: detected_at.to_owned(),
            supersedes,
        })
    }

    /// Books a new alert: the household's current grade, the alert it replaces, the alert itself.
    fn track(
        &mut self,
        household: &HouseholdCode,
        before: Option<Grade>,
        supersedes: Option<&str>,
        id: &str,
        grade: Grade,
    ) {
        self.regrade(household, before, Some(grade));
        if let Some(old) = supersedes.and_then(|old| self.issued.by_id.get_mut(old)) {
            old.superseded = true;
        }
        let raised_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let issued = Issued { household: household.clone(), grade, raised_at, verified: false, superseded: false };
        let forgotten = self.issued.insert(id, issued);
        self.changed.extend(forgotten);
    }

    /// Moves a household from one current grade to another in the per-township counts.
    fn regrade(&mut self, household: &HouseholdCode, before: Option<Grade>, after: Option<Grade>) {
        let place = |g| (household.county().to_owned(), household.township().to_owned(), g);
        if let Some(b) = before {
            *self.graded.entry(place(b)).or_default() -= 1;
        }
        if let Some(a) = after {
            *self.graded.entry(place(a)).or_default() += 1;
        }
    }

    /// A verification outcome for `alert_id` arrived: what it answers.
    pub fn answer(&mut self, alert_id: &str) -> Answer {
        match self.issued.by_id.get_mut(alert_id) {
            None => Answer::Unknown,
            Some(i) if i.verified => Answer::Repeat,
            Some(i) => {
                i.verified = true;
                self.changed.insert(i.household.clone());
                Answer::First { grade: i.grade, county: i.household.county().to_owned() }
            }
        }
    }

    /// Households per county, township and current grade (their latest alert's), with zeros
    /// for combinations that had households before.
    pub fn graded_households(&self) -> impl Iterator<Item = (&str, &str, Grade, i64)> {
        self.graded.iter().map(|((c, t, g), n)| (c.as_str(), t.as_str(), *g, *n))
    }

    /// The verification backlog per (queue, county): open alerts and when the oldest was raised
    /// (unix time; `None` when none is open). Counts only the alerts still remembered.
    pub fn open_alerts(&self) -> BTreeMap<(&'static str, &str), (i64, Option<i64>)> {
        let mut backlog: BTreeMap<(&'static str, &str), (i64, Option<i64>)> = BTreeMap::new();
        for i in self.issued.by_id.values() {
            let (count, oldest) = backlog.entry((queue_for(i.grade), i.household.county())).or_default();
            if !i.verified && !i.superseded {
                *count += 1;
                *oldest = Some(oldest.map_or(i.raised_at, |o| o.min(i.raised_at)));
            }
        }
        backlog
    }
}

/// How many alerts the book remembers for verification, oldest forgotten first: more than a
/// year of alerts for the city's 100,000 households (about 100 bytes each). An outcome for a
/// forgotten alert counts under grade `unknown`.
const REMEMBERED_ALERTS: usize = 200_000;

/// What a verification outcome answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The first outcome for an alert the book remembers.
    First { grade: Grade, county: String },
    /// Another outcome for an alert already answered.
    Repeat,
    /// An alert id the book does not know (raised before this process, forgotten, or mistyped).
    Unknown,
}

/// An alert raised, as the verification side needs it.
#[derive(Clone, Debug)]
struct Issued {
    household: HouseholdCode,
    grade: Grade,
    /// Wall-clock unix time it was raised.
    raised_at: i64,
    /// An outcome for it arrived.
    verified: bool,
    /// A later alert for the same household replaced it.
    superseded: bool,
}

/// Alerts raised, by id, bounded to [`REMEMBERED_ALERTS`].
#[derive(Default)]
struct IssuedAlerts {
    by_id: HashMap<String, Issued>,
    /// Each household's alert ids, oldest first, so that its part can be checkpointed.
    by_household: HashMap<HouseholdCode, Vec<String>>,
    /// Ids oldest first, to forget the oldest. May hold ids already removed by
    /// [`IssuedAlerts::remove_household`]; those are skipped.
    order: VecDeque<String>,
}

impl IssuedAlerts {
    /// Remembers an alert; returns the households of the alerts forgotten to make room.
    fn insert(&mut self, id: &str, issued: Issued) -> Vec<HouseholdCode> {
        let household = issued.household.clone();
        if self.by_id.insert(id.to_owned(), issued).is_none() {
            self.order.push_back(id.to_owned());
            self.by_household.entry(household).or_default().push(id.to_owned());
        }
        let mut forgotten = Vec::new();
        while self.by_id.len() > REMEMBERED_ALERTS {
            let Some(oldest) = self.order.pop_front() else { break };
            let Some(gone) = self.by_id.remove(&oldest) else { continue };
            if let Some(ids) = self.by_household.get_mut(&gone.household) {
                ids.retain(|i| *i != oldest);
                if ids.is_empty() {
                    self.by_household.remove(&gone.household);
                }
            }
            forgotten.push(gone.household);
        }
        forgotten
    }

    /// Forgets every alert of one household.
    fn remove_household(&mut self, household: &HouseholdCode) {
        for id in self.by_household.remove(household).unwrap_or_default() {
            self.by_id.remove(&id);
        }
    }
}

/// One household's part of the [`AlertBook`], as a checkpoint holds it: its last alert (for
/// the follow-up policy and its current grade) and the alerts the book remembers for it (for
/// verification outcomes and the backlog).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BookEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last: Option<Raised>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    issued: Vec<IssuedEntry>,
}

impl BookEntry {
    /// Nothing is booked for the household.
    pub fn is_empty(&self) -> bool {
        self.last.is_none() && self.issued.is_empty()
    }
}

/// An [`Issued`] alert in a [`BookEntry`]; its household is the entry's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct IssuedEntry {
    id: String,
    grade: Grade,
    raised_at: i64,
    verified: bool,
    superseded: bool,
}

/// Checkpoints: one household's part of the book out and back in.
impl AlertBook {
    /// Households whose part of the book changed since the last call (an alert raised,
    /// verified, or forgotten to make room), emptied.
    pub fn take_changed(&mut self) -> HashSet<HouseholdCode> {
        std::mem::take(&mut self.changed)
    }

    /// What the book holds for `household`.
    pub fn entry(&self, household: &HouseholdCode) -> BookEntry {
        let ids = self.issued.by_household.get(household).map_or(&[][..], Vec::as_slice);
        let issued = ids
            .iter()
            .filter_map(|id| self.issued.by_id.get(id).map(|i| (id, i)))
            .map(|(id, i)| IssuedEntry {
                id: id.clone(),
                grade: i.grade,
                raised_at: i.raised_at,
                verified: i.verified,
                superseded: i.superseded,
            })
            .collect();
        BookEntry { last: self.last.get(household).cloned(), issued }
    }

    /// Forgets `household`, and that it changed.
    pub fn forget(&mut self, household: &HouseholdCode) {
        if let Some(old) = self.last.remove(household) {
            self.regrade(household, Some(old.grade), None);
        }
        self.issued.remove_household(household);
        self.changed.remove(household);
    }

    /// Replaces what the book holds for `household` with a checkpointed entry, without marking
    /// it changed. Its current grade moves in the per-township counts.
    pub fn restore(&mut self, household: &HouseholdCode, entry: BookEntry) {
        self.forget(household);
        for i in entry.issued {
            let issued = Issued {
                household: household.clone(),
                grade: i.grade,
                raised_at: i.raised_at,
                verified: i.verified,
                superseded: i.superseded,
            };
            let forgotten = self.issued.insert(&i.id, issued);
            self.changed.extend(forgotten);
        }
        if let Some(last) = entry.last {
            self.regrade(household, None, Some(last.grade));
            self.last.insert(household.clone(), last);
        }
    }

    /// Forgets every household, as a new book; the per-township counts stay, at zero, so their
    /// gauges fall to zero.
    pub fn clear(&mut self) {
        let mut graded = std::mem::take(&mut self.graded);
        graded.values_mut().for_each(|n| *n = 0);
        *self = AlertBook { graded, ..AlertBook::default() };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assessment(grade: Grade, codes: &[&str]) -> Assessment {
        Assessment {
            grade,
            score: 0.5,
            reasons: codes.iter().map(|c| Reason { code: c.to_string(), text: String::new() }).collect(),
        }
    }

    fn stamp() -> GraderStamp {
        GraderStamp { name: "rules".into(), version: "1".into() }
    }

    #[test]
    fn ids_depend_on_household_month_and_reason_set_only() {
        let m = Month::new(2024, 7).unwrap();
        assert_eq!(alert_id("420922101201-0042", m, &["a", "b"]), alert_id("420922101201-0042", m, &["b", "a"]));
        assert_ne!(alert_id("420922101201-0042", m, &["a"]), alert_id("420922101201-0042", m, &["a", "b"]));
        assert_ne!(alert_id("420922101201-0042", m, &["a"]), alert_id("420922101201-0042", m.plus(1), &["a"]));
    }

    /// A changelog once carried an alert id whose hex groups, joined by dashes, read as an ID
    /// number to the privacy sweep.
    #[test]
    fn ids_never_look_like_an_id_number() {
        let m = Month::new(2024, 7).unwrap();
        for i in 0..50_000 {
            let id = alert_id(&format!("420922101201-{:04}", i % 10_000), m.plus(i / 10_000), &["below_line"]);
            assert!(!fangpin_connectors::id_like::contains(&format!("\"{id}\"")), "{id}");
        }
    }

    #[test]
    fn follow_up_policy() {
        let h = HouseholdCode::parse("420922101201-0042").unwrap();
        let m = Month::new(2024, 6).unwrap();
        let mut book = AlertBook::default();
        let first = book.raise(&h, "marginal", m, assessment(Grade::Medium, &["health_two_months"]), &stamp(), "t").unwrap();
        assert_eq!(first.queue, output::PHONE);
        // Same reasons next month: covered.
        assert!(book.raise(&h, "marginal", m.plus(1), assessment(Grade::Medium, &["health_two_months"]), &stamp(), "t").is_none());
        // A new reason: alerted again, superseding the first.
        let second = book
            .raise(&h, "marginal", m.plus(1), assessment(Grade::High, &["below_line", "health_two_months"]), &stamp(), "t")
            .unwrap();
        assert_eq!(second.supersedes.as_deref(), Some(first.alert_id.as_str()));
        assert_eq!(second.queue, output::DOOR_VISIT);
        // Three months on, the same reasons are worth another visit.
        assert!(book.raise(&h, "marginal", m.plus(4), assessment(Grade::High, &["below_line"]), &stamp(), "t").is_some());
    }

    #[test]
    fn current_grades_and_verification_backlog() {
        let h = HouseholdCode::parse("420922101201-0042").unwrap();
        let m = Month::new(2024, 6).unwrap();
        let mut book = AlertBook::default();
        let first = book.raise(&h, "marginal", m, assessment(Grade::Medium, &["health_two_months"]), &stamp(), "t").unwrap();
        let second = book.raise(&h, "marginal", m, assessment(Grade::High, &["below_line"]), &stamp(), "t").unwrap();
        // The household moved from medium to high: one household, counted once.
        let graded: Vec<_> = book.graded_households().collect();
        assert_eq!(graded, [("420922", "420922101", Grade::Medium, 0), ("420922", "420922101", Grade::High, 1)]);
        // The superseded alert is no longer open; the new one is.
        let open = book.open_alerts();
        assert_eq!(open[&(output::PHONE, "420922")].0, 0);
        assert_eq!(open[&(output::DOOR_VISIT, "420922")].0, 1);
        assert!(open[&(output::DOOR_VISIT, "420922")].1.is_some());
        // Outcomes: the first for a known alert carries its grade, a repeat does not count,
        // an unknown id is unknown. Answering the superseded alert still tells its grade.
        assert_eq!(book.answer(&second.alert_id), Answer::First { grade: Grade::High, county: "420922".into() });
        assert_eq!(book.answer(&second.alert_id), Answer::Repeat);
        assert_eq!(book.answer("sim-000000000001"), Answer::Unknown);
        assert_eq!(book.answer(&first.alert_id), Answer::First { grade: Grade::Medium, county: "420922".into() });
        assert_eq!(book.open_alerts()[&(output::DOOR_VISIT, "420922")], (0, None));
    }

    #[test]
    fn a_household_entry_restores_its_policy_grade_and_backlog() {
        let h = HouseholdCode::parse("420922101201-0042").unwrap();
        let m = Month::new(2024, 6).unwrap();
        let mut book = AlertBook::default();
        book.raise(&h, "marginal", m, assessment(Grade::Medium, &["health_two_months"]), &stamp(), "t").unwrap();
        let high = book.raise(&h, "marginal", m, assessment(Grade::High, &["below_line"]), &stamp(), "t").unwrap();
        assert_eq!(book.take_changed(), HashSet::from([h.clone()]));

        let mut restored = AlertBook::default();
        restored.restore(&h, book.entry(&h));
        assert_eq!(restored.entry(&h), book.entry(&h));
        assert!(restored.take_changed().is_empty(), "a restore is not a change");
        assert_eq!(restored.graded_households().collect::<Vec<_>>(), [("420922", "420922101", Grade::High, 1)]);
        assert_eq!(restored.open_alerts(), book.open_alerts());
        // The follow-up policy carries on: the same reasons are covered.
        assert!(restored.raise(&h, "marginal", m.plus(1), assessment(Grade::High, &["below_line"]), &stamp(), "t").is_none());
        // A verification outcome changes the household's entry.
        assert!(matches!(restored.answer(&high.alert_id), Answer::First { .. }));
        assert_eq!(restored.take_changed(), HashSet::from([h.clone()]));

        restored.clear();
        assert!(restored.entry(&h).is_empty());
        assert_eq!(restored.graded_households().map(|g| g.3).collect::<Vec<_>>(), [0], "the gauge falls to zero");
        assert_eq!(restored.answer(&high.alert_id), Answer::Unknown);
    }
}
