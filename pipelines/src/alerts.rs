//! Alerts: what a verification queue receives, with deterministic ids, and the follow-up policy
//! that keeps cadres from being sent to the same household every month for the same reasons.

use std::collections::{BTreeMap, HashMap, VecDeque};

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
    // Groups of 8 hex digits: an id can never look like a resident ID number (a run of 15+
    // digits), which the privacy checks on every output look for.
    let digest = h.finalize();
    digest[..12].chunks(4).map(hex::encode).collect::<Vec<_>>().join("-")
}

/// The last alert raised for a household.
#[derive(Clone, Debug)]
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
}

impl AlertBook {
    /// The alert to raise for this assessment, if the policy calls for one.
    pub fn raise(
        &mut self,
        household: &HouseholdCode,
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
        Some(Alert {
            alert_id: id,
            household_code: household.as_str().to_owned(),
            county_code: household.county().to_owned(),
            township_code: household.township().to_owned(),
            village_code: household.village().to_owned(),
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
        let place = |g| (household.county().to_owned(), household.township().to_owned(), g);
        if let Some(b) = before {
            *self.graded.entry(place(b)).or_default() -= 1;
        }
        *self.graded.entry(place(grade)).or_default() += 1;
        if let Some(old) = supersedes.and_then(|old| self.issued.by_id.get_mut(old)) {
            old.superseded = true;
        }
        let raised_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let county = household.county().to_owned();
        self.issued.insert(id, Issued { grade, county, raised_at, verified: false, superseded: false });
    }

    /// A verification outcome for `alert_id` arrived: what it answers.
    pub fn answer(&mut self, alert_id: &str) -> Answer {
        match self.issued.by_id.get_mut(alert_id) {
            None => Answer::Unknown,
            Some(i) if i.verified => Answer::Repeat,
            Some(i) => {
                i.verified = true;
                Answer::First { grade: i.grade, county: i.county.clone() }
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
            let (count, oldest) = backlog.entry((queue_for(i.grade), i.county.as_str())).or_default();
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
    grade: Grade,
    county: String,
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
    order: VecDeque<String>,
}

impl IssuedAlerts {
    fn insert(&mut self, id: &str, issued: Issued) {
        if self.by_id.insert(id.to_owned(), issued).is_none() {
            self.order.push_back(id.to_owned());
        }
        while self.order.len() > REMEMBERED_ALERTS {
            if let Some(oldest) = self.order.pop_front() {
                self.by_id.remove(&oldest);
            }
        }
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

    #[test]
    fn follow_up_policy() {
        let h = HouseholdCode::parse("420922101201-0042").unwrap();
        let m = Month::new(2024, 6).unwrap();
        let mut book = AlertBook::default();
        let first = book.raise(&h, m, assessment(Grade::Medium, &["health_two_months"]), &stamp(), "t").unwrap();
        assert_eq!(first.queue, output::PHONE);
        // Same reasons next month: covered.
        assert!(book.raise(&h, m.plus(1), assessment(Grade::Medium, &["health_two_months"]), &stamp(), "t").is_none());
        // A new reason: alerted again, superseding the first.
        let second = book
            .raise(&h, m.plus(1), assessment(Grade::High, &["below_line", "health_two_months"]), &stamp(), "t")
            .unwrap();
        assert_eq!(second.supersedes.as_deref(), Some(first.alert_id.as_str()));
        assert_eq!(second.queue, output::DOOR_VISIT);
        // Three months on, the same reasons are worth another visit.
        assert!(book.raise(&h, m.plus(4), assessment(Grade::High, &["below_line"]), &stamp(), "t").is_some());
    }

    #[test]
    fn current_grades_and_verification_backlog() {
        let h = HouseholdCode::parse("420922101201-0042").unwrap();
        let m = Month::new(2024, 6).unwrap();
        let mut book = AlertBook::default();
        let first = book.raise(&h, m, assessment(Grade::Medium, &["health_two_months"]), &stamp(), "t").unwrap();
        let second = book.raise(&h, m, assessment(Grade::High, &["below_line"]), &stamp(), "t").unwrap();
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
}
