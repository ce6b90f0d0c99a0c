//! Alerts: what a verification queue receives.
//!
//! An alert is one household's risk in one month, and its id is a hash of the two: whichever
//! batch happened to compute it, the same household-month has the same id. When a later batch
//! judges the month again (a late or corrected record arrived, or the month closed and its
//! income is no longer filled in) and the alert's content changes, the same id is sent again
//! with the next revision number and what changed; when its risk went away it is sent once
//! more, withdrawn. Queues and the cadres' inbox update by id instead of adding a task.
//!
//! The follow-up policy keeps cadres from being sent to the same household every month for the
//! same reasons. It is a function of each judged month's latest assessment, applied in month
//! order, never of the order in which months happened to be judged: at the end of a replay the
//! alerts standing are the same whatever the batch sizes were.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use fangpin_connectors::compact::month as compact_month;
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

/// Where an alert id stands after this message.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// The first content sent under the id.
    #[default]
    Raised,
    /// New content for an id already sent: other figures, reasons or grade, or raised again
    /// after a withdrawal.
    Revised,
    /// The risk is gone (or another month's alert now covers it): nothing to verify.
    Withdrawn,
}

/// One message about a household-month that needs verification, as written to a queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Household and risk month, hashed: the same on every replay and every batching.
    pub alert_id: String,
    /// 1 for the first content sent under the id, one more for each change.
    #[serde(default = "first_revision")]
    pub revision: u32,
    #[serde(default)]
    pub status: AlertStatus,
    /// What changed since the previous revision, in words and figures; empty on the first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
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
    /// Empty on a withdrawal.
    pub reasons: Vec<Reason>,
    pub grader: GraderStamp,
    /// The queue it was routed to: door visit for high, phone for medium and low.
    pub queue: String,
    /// The queue the previous revision went to, when the grade moved the alert to another one;
    /// the revision is written to both, so that the old queue's reader sees it leave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<String>,
    /// Wall-clock time fangpin sent this revision (RFC 3339, UTC+8).
    pub detected_at: String,
    /// The household's earlier alert this one replaces (new reasons or a higher grade).
    pub supersedes: Option<String>,
}

fn first_revision() -> u32 {
    1
}

/// The queue a grade goes to.
pub fn queue_for(grade: Grade) -> &'static str {
    match grade {
        Grade::High => output::DOOR_VISIT,
        Grade::Medium | Grade::Low => output::PHONE,
    }
}

/// The id of a household's alert for a month: a hash of the two, written
/// `xxxxxxxx-xxxxxxxx-xxxxxxxx`.
pub fn alert_id(household: &str, month: Month) -> String {
    let mut h = Sha256::new();
    h.update(household.as_bytes());
    h.update(b"|");
    h.update(month.to_string().as_bytes());
    // Groups of 8 hex digits, each ending in a letter: even with the dashes (a separator ID
    // numbers are written with) an id can never look like a resident ID number, which the
    // privacy checks on every output look for.
    let digest = h.finalize();
    digest[..12].chunks(4).map(fangpin_connectors::pseudonym::hex_without_digit_runs).collect::<Vec<_>>().join("-")
}

/// Months during which an alert covers its household for the same or fewer reasons.
const FOLLOW_UP_MONTHS: i32 = 3;

/// An alert standing for a household: what the follow-up policy compares the next months with.
/// Its id is the household's and the month's ([`alert_id`]).
///
/// The book's types are written into checkpoints with postcard, which has no field names: no
/// field may be skipped or flattened, and months are written with [`compact_month`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Raised {
    #[serde(with = "compact_month")]
    month: Month,
    grade: Grade,
    codes: Vec<String>,
}

impl Raised {
    /// Whether this alert, raised earlier, already covers `month`'s assessment: no new reason,
    /// no higher grade, and fewer than [`FOLLOW_UP_MONTHS`] later.
    fn covers(&self, month: Month, a: &Assessed) -> bool {
        a.codes().all(|c| self.codes.iter().any(|k| k == c))
            && month.index() - self.month.index() < FOLLOW_UP_MONTHS
            && a.grade <= self.grade
    }
}

/// A month's latest assessment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Assessed {
    grade: Grade,
    score: f64,
    reasons: Vec<Reason>,
}

impl Assessed {
    fn codes(&self) -> impl Iterator<Item = &str> {
        self.reasons.iter().map(|r| r.code.as_str())
    }

    fn sorted_codes(&self) -> Vec<String> {
        let mut codes: Vec<String> = self.codes().map(str::to_owned).collect();
        codes.sort_unstable();
        codes.dedup();
        codes
    }

    /// A hash of what a cadre would see: grade, score, reasons and the alert replaced, written
    /// as alert ids are (never a run of digits an ID-number check would stop at).
    fn digest(&self, supersedes: Option<&str>) -> String {
        let mut h = Sha256::new();
        h.update(self.grade.code().as_bytes());
        h.update(self.score.to_bits().to_le_bytes());
        for r in &self.reasons {
            h.update(b"\0");
            h.update(r.code.as_bytes());
            h.update(b"\0");
            h.update(r.text.as_bytes());
        }
        h.update(b"\x01");
        h.update(supersedes.unwrap_or("").as_bytes());
        let digest = h.finalize();
        digest[..8].chunks(4).map(fangpin_connectors::pseudonym::hex_without_digit_runs).collect::<Vec<_>>().join("-")
    }
}

/// What was last sent under a month's alert id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Sent {
    revision: u32,
    grade: Grade,
    score: f64,
    codes: Vec<String>,
    digest: String,
    withdrawn: bool,
}

/// One judged month of a household.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct MonthEntry {
    #[serde(with = "compact_month")]
    month: Month,
    /// `None` when the grader found no risk.
    assessed: Option<Assessed>,
    sent: Option<Sent>,
}

impl MonthEntry {
    fn standing(&self) -> Option<&Sent> {
        self.sent.as_ref().filter(|s| !s.withdrawn)
    }
}

/// One household's part of the policy: the last alert standing among the months that can no
/// longer be judged, and every month that still can be.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Policy {
    settled: Option<Raised>,
    months: Vec<MonthEntry>,
}

impl Policy {
    /// The household's current grade: its latest standing alert's.
    fn current_grade(&self) -> Option<Grade> {
        self.months.iter().rev().find_map(|m| m.standing().map(|s| s.grade)).or(self.settled.as_ref().map(|r| r.grade))
    }

    /// Folds the months before `judged_from`, which no batch will judge again, into `settled`.
    fn settle_before(&mut self, judged_from: Month) {
        let keep = self.months.partition_point(|m| m.month < judged_from);
        for m in self.months.drain(..keep) {
            if let Some(s) = m.standing() {
                self.settled = Some(Raised { month: m.month, grade: s.grade, codes: s.codes.clone() });
            }
        }
    }

    /// Records a month's latest assessment.
    fn assess(&mut self, month: Month, assessed: Option<Assessed>) {
        match self.months.binary_search_by_key(&month, |m| m.month) {
            Ok(i) => self.months[i].assessed = assessed,
            Err(i) if assessed.is_some() => self.months.insert(i, MonthEntry { month, assessed, sent: None }),
            Err(_) => {}
        }
    }
}

/// Compares what `policy`'s months should have standing now with what was sent, month by month
/// in order, and returns the messages that bring the queues up to date, each with its month and
/// the grade its id stood at before (`None`: it was not standing).
fn reconcile(
    policy: &mut Policy,
    household: &HouseholdCode,
    category: &str,
    grader: &GraderStamp,
    detected_at: &str,
) -> Vec<(Month, Alert, Option<Grade>)> {
    let mut last = policy.settled.clone();
    let mut out = Vec::new();
    for MonthEntry { month, assessed, sent } in &mut policy.months {
        let covered_by = match (assessed.as_ref(), last.as_ref()) {
            (Some(a), Some(p)) if p.covers(*month, a) => Some(p.month),
            _ => None,
        };
        let wanted = assessed.as_ref().filter(|_| covered_by.is_none());
        let stood_at = sent.as_ref().filter(|s| !s.withdrawn).map(|s| s.grade);
        let base = |grade| blank_alert(household, category, *month, grade, grader, detected_at);
        match (wanted, sent.as_ref()) {
            (Some(a), previous) => {
                let supersedes = last.as_ref().map(|p| alert_id(household.as_str(), p.month));
                let digest = a.digest(supersedes.as_deref());
                let codes = a.sorted_codes();
                if previous.is_none_or(|s| s.withdrawn || s.digest != digest) {
                    let (revision, status, changes, moved_from) = match previous {
                        None => (1, AlertStatus::Raised, Vec::new(), None),
                        Some(s) => {
                            let old_queue = queue_for(s.grade);
                            let moved = (old_queue != queue_for(a.grade)).then(|| old_queue.to_owned());
                            (s.revision + 1, AlertStatus::Revised, changes(s, a), moved)
                        }
                    };
                    let alert = Alert {
                        revision,
                        status,
                        changes,
                        score: a.score,
                        reasons: a.reasons.clone(),
                        moved_from,
                        supersedes,
                        ..base(a.grade)
                    };
                    out.push((*month, alert, stood_at));
                    *sent = Some(Sent { revision, grade: a.grade, score: a.score, codes: codes.clone(), digest, withdrawn: false });
                }
                last = Some(Raised { month: *month, grade: a.grade, codes });
            }
            (None, Some(s)) if !s.withdrawn => {
                let why = match covered_by {
                    Some(m) => format!("withdrawn: the alert for {m} now covers this month"),
                    None => "withdrawn: no risk found any more".to_owned(),
                };
                let alert = Alert {
                    revision: s.revision + 1,
                    status: AlertStatus::Withdrawn,
                    changes: vec![why],
                    score: s.score,
                    ..base(s.grade)
                };
                out.push((*month, alert, stood_at));
                *sent = Some(Sent { revision: s.revision + 1, withdrawn: true, ..s.clone() });
            }
            (None, _) => {}
        }
    }
    policy.months.retain(|m| m.assessed.is_some() || m.sent.is_some());
    out
}

/// An alert for `household`'s `month` with no content yet: first revision, no reasons.
fn blank_alert(
    household: &HouseholdCode,
    category: &str,
    month: Month,
    grade: Grade,
    grader: &GraderStamp,
    detected_at: &str,
) -> Alert {
    Alert {
        alert_id: alert_id(household.as_str(), month),
        revision: 1,
        status: AlertStatus::Raised,
        changes: Vec::new(),
        household_code: household.as_str().to_owned(),
        county_code: household.county().to_owned(),
        township_code: household.township().to_owned(),
        village_code: household.village().to_owned(),
        category: category.to_owned(),
        month: month.to_string(),
        grade,
        score: 0.0,
        reasons: Vec::new(),
        grader: grader.clone(),
        queue: queue_for(grade).to_owned(),
        moved_from: None,
        detected_at: detected_at.to_owned(),
        supersedes: None,
    }
}

/// What changed between the last content sent and the new one, for the cadre reading it.
fn changes(before: &Sent, now: &Assessed) -> Vec<String> {
    let mut changes = Vec::new();
    if before.withdrawn {
        changes.push("raised again after a withdrawal".to_owned());
    }
    if before.grade != now.grade {
        changes.push(format!("grade {} → {}", before.grade.code(), now.grade.code()));
    }
    let codes = now.sorted_codes();
    changes.extend(codes.iter().filter(|c| !before.codes.contains(c)).map(|c| format!("new reason {c}")));
    changes.extend(before.codes.iter().filter(|c| !codes.contains(c)).map(|c| format!("reason {c} no longer holds")));
    if (before.score - now.score).abs() >= 0.0005 {
        changes.push(format!("score {:.3} → {:.3}", before.score, now.score));
    }
    if changes.is_empty() {
        changes.push("figures updated".to_owned());
    }
    changes
}

/// Decides which assessments become alerts, and keeps what the monitoring centre's dashboards
/// and the verification outcomes need: each household's current grade and the alerts sent.
///
/// A month's assessment becomes an alert unless the household's previous standing alert covers
/// it: no reason the earlier alert did not have, no higher grade, and fewer than
/// [`FOLLOW_UP_MONTHS`] months later.
#[derive(Default)]
pub struct AlertBook {
    policies: HashMap<HouseholdCode, Policy>,
    issued: IssuedAlerts,
    /// Households per (county, township, current grade). Entries stay, at zero, once created,
    /// so that a gauge falls to zero instead of vanishing.
    graded: BTreeMap<(String, String, Grade), i64>,
    /// Households whose part of the book changed since the last [`AlertBook::take_changed`].
    changed: HashSet<HouseholdCode>,
}

impl AlertBook {
    /// Takes the latest assessments of some of `household`'s months (`None`: no risk found)
    /// and returns what to send: new alerts, revisions and withdrawals, each with the grade its
    /// id stood at before (`None`: it was not standing). `judged_from` is the first month a
    /// batch may still judge; the months before it are final.
    pub fn update(
        &mut self,
        household: &HouseholdCode,
        category: &str,
        judged: Vec<(Month, Option<Assessment>)>,
        judged_from: Option<Month>,
        grader: &GraderStamp,
        detected_at: &str,
    ) -> Vec<(Alert, Option<Grade>)> {
        let policy = self.policies.entry(household.clone()).or_default();
        let before = policy.clone();
        if let Some(from) = judged_from {
            policy.settle_before(from);
        }
        for (month, a) in judged {
            policy.assess(month, a.map(|a| Assessed { grade: a.grade, score: a.score, reasons: a.reasons }));
        }
        let sent = reconcile(policy, household, category, grader, detected_at);
        let (grade_before, grade_after) = (before.current_grade(), policy.current_grade());
        if *policy != before {
            self.changed.insert(household.clone());
        }
        if policy.settled.is_none() && policy.months.is_empty() {
            self.policies.remove(household);
        }
        if grade_before != grade_after {
            self.regrade(household, grade_before, grade_after);
        }
        sent.into_iter()
            .map(|(month, alert, stood_at)| {
                self.track(household, month, &alert);
                (alert, stood_at)
            })
            .collect()
    }

    /// Books a message: the alert's grade and state for verification outcomes and the backlog,
    /// and the earlier alert it replaces.
    fn track(&mut self, household: &HouseholdCode, month: Month, alert: &Alert) {
        let withdrawn = alert.status == AlertStatus::Withdrawn;
        if let Some(old) = alert.supersedes.as_deref().filter(|_| !withdrawn).and_then(|old| self.issued.by_id.get_mut(old)) {
            old.superseded = true;
        }
        if let Some(i) = self.issued.by_id.get_mut(&alert.alert_id) {
            i.grade = alert.grade;
            i.withdrawn = withdrawn;
            return;
        }
        let raised_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let issued =
            Issued { household: household.clone(), month, grade: alert.grade, raised_at, verified: false, superseded: false, withdrawn };
        let forgotten = self.issued.insert(&alert.alert_id, issued);
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

    /// Households per county, township and current grade (their latest standing alert's), with
    /// zeros for combinations that had households before.
    pub fn graded_households(&self) -> impl Iterator<Item = (&str, &str, Grade, i64)> {
        self.graded.iter().map(|((c, t, g), n)| (c.as_str(), t.as_str(), *g, *n))
    }

    /// The verification backlog per (queue, county): open alerts and when the oldest was raised
    /// (unix time; `None` when none is open). Counts only the alerts still remembered.
    pub fn open_alerts(&self) -> BTreeMap<(&'static str, &str), (i64, Option<i64>)> {
        let mut backlog: BTreeMap<(&'static str, &str), (i64, Option<i64>)> = BTreeMap::new();
        for i in self.issued.by_id.values() {
            let (count, oldest) = backlog.entry((queue_for(i.grade), i.household.county())).or_default();
            if !i.verified && !i.superseded && !i.withdrawn {
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

/// An alert sent, as the verification side needs it.
#[derive(Clone, Debug)]
struct Issued {
    household: HouseholdCode,
    month: Month,
    /// Its latest revision's grade.
    grade: Grade,
    /// Wall-clock unix time it was first raised.
    raised_at: i64,
    /// An outcome for it arrived.
    verified: bool,
    /// A later alert for the same household replaced it.
    superseded: bool,
    /// Its latest revision withdrew it.
    withdrawn: bool,
}

/// Alerts sent, by id, bounded to [`REMEMBERED_ALERTS`].
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

/// One household's part of the [`AlertBook`], as a checkpoint holds it: its follow-up policy
/// (the last alert of the months no longer judged, and each judged month's assessment and what
/// was sent for it) and the alerts the book remembers for it (for verification outcomes and
/// the backlog).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BookEntry {
    policy: Policy,
    issued: Vec<IssuedEntry>,
}

impl BookEntry {
    /// Nothing is booked for the household.
    pub fn is_empty(&self) -> bool {
        self.policy == Policy::default() && self.issued.is_empty()
    }
}

/// An [`Issued`] alert in a [`BookEntry`]; its household is the entry's, and its id that
/// household's and `month`'s (three bytes instead of the id's 26).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct IssuedEntry {
    #[serde(with = "compact_month")]
    month: Month,
    grade: Grade,
    raised_at: i64,
    verified: bool,
    superseded: bool,
    withdrawn: bool,
}

/// Checkpoints: one household's part of the book out and back in.
impl AlertBook {
    /// Households whose part of the book changed since the last call (an alert raised,
    /// revised, verified, or forgotten to make room, or a month's assessment), emptied.
    pub fn take_changed(&mut self) -> HashSet<HouseholdCode> {
        std::mem::take(&mut self.changed)
    }

    /// What the book holds for `household`.
    pub fn entry(&self, household: &HouseholdCode) -> BookEntry {
        let ids = self.issued.by_household.get(household).map_or(&[][..], Vec::as_slice);
        let issued = ids
            .iter()
            .filter_map(|id| self.issued.by_id.get(id))
            .map(|i| IssuedEntry {
                month: i.month,
                grade: i.grade,
                raised_at: i.raised_at,
                verified: i.verified,
                superseded: i.superseded,
                withdrawn: i.withdrawn,
            })
            .collect();
        BookEntry { policy: self.policies.get(household).cloned().unwrap_or_default(), issued }
    }

    /// Forgets `household`, and that it changed.
    pub fn forget(&mut self, household: &HouseholdCode) {
        if let Some(old) = self.policies.remove(household) {
            self.regrade(household, old.current_grade(), None);
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
                month: i.month,
                grade: i.grade,
                raised_at: i.raised_at,
                verified: i.verified,
                superseded: i.superseded,
                withdrawn: i.withdrawn,
            };
            let forgotten = self.issued.insert(&alert_id(household.as_str(), i.month), issued);
            self.changed.extend(forgotten);
        }
        if entry.policy != Policy::default() {
            self.regrade(household, None, entry.policy.current_grade());
            self.policies.insert(household.clone(), entry.policy);
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

    fn assessment(grade: Grade, codes: &[&str]) -> Option<Assessment> {
        Some(Assessment {
            grade,
            score: match grade {
                Grade::High => 0.9,
                Grade::Medium => 0.6,
                Grade::Low => 0.3,
            },
            reasons: codes.iter().map(|c| Reason { code: c.to_string(), text: format!("{c} figures") }).collect(),
        })
    }

    fn stamp() -> GraderStamp {
        GraderStamp { name: "rules".into(), version: "1".into() }
    }

    fn household() -> HouseholdCode {
        HouseholdCode::parse("420922101201-0042").unwrap()
    }

    fn june() -> Month {
        Month::new(2024, 6).unwrap()
    }

    /// Judges `month` of the test household with `a`; the messages sent.
    fn judge(book: &mut AlertBook, month: Month, a: Option<Assessment>) -> Vec<Alert> {
        book.update(&household(), "marginal", vec![(month, a)], None, &stamp(), "t").into_iter().map(|(a, _)| a).collect()
    }

    /// (id, month, grade, reason codes) of every alert whose latest message leaves it standing.
    fn standing(messages: &[Alert]) -> BTreeMap<String, (String, Grade, Vec<String>)> {
        let mut latest = BTreeMap::new();
        for m in messages {
            latest.insert(m.alert_id.clone(), m.clone());
        }
        latest
            .into_values()
            .filter(|a| a.status != AlertStatus::Withdrawn)
            .map(|a| (a.alert_id, (a.month, a.grade, a.reasons.into_iter().map(|r| r.code).collect())))
            .collect()
    }

    #[test]
    fn ids_depend_on_household_and_month_only() {
        let m = june();
        assert_eq!(alert_id("420922101201-0042", m), alert_id("420922101201-0042", m));
        assert_ne!(alert_id("420922101201-0042", m), alert_id("420922101201-0042", m.plus(1)));
        assert_ne!(alert_id("420922101201-0042", m), alert_id("420922101201-0043", m));
    }

    /// A changelog once carried an alert id whose hex groups, joined by dashes, read as an ID
    /// number to the privacy sweep.
    #[test]
    fn ids_never_look_like_an_id_number() {
        let m = june();
        for i in 0..50_000 {
            let id = alert_id(&format!("420922101201-{:04}", i % 10_000), m.plus(i / 10_000));
            assert!(!fangpin_connectors::id_like::contains(&format!("\"{id}\"")), "{id}");
        }
    }

    #[test]
    fn follow_up_policy() {
        let m = june();
        let mut book = AlertBook::default();
        let first = judge(&mut book, m, assessment(Grade::Medium, &["health_two_months"]));
        assert_eq!((first.len(), first[0].queue.as_str(), first[0].revision), (1, output::PHONE, 1));
        // Same reasons next month: covered.
        assert!(judge(&mut book, m.plus(1), assessment(Grade::Medium, &["health_two_months"])).is_empty());
        // A new reason: alerted again, superseding the first.
        let second = judge(&mut book, m.plus(2), assessment(Grade::High, &["below_line", "health_two_months"]));
        assert_eq!(second[0].supersedes.as_deref(), Some(first[0].alert_id.as_str()));
        assert_eq!(second[0].queue, output::DOOR_VISIT);
        // Three months on, the same reasons are worth another visit.
        assert!(judge(&mut book, m.plus(4), assessment(Grade::High, &["below_line"])).is_empty());
        assert_eq!(judge(&mut book, m.plus(5), assessment(Grade::High, &["below_line"])).len(), 1);
    }

    #[test]
    fn a_month_judged_again_is_revised_or_withdrawn_under_its_id() {
        let m = june();
        let mut book = AlertBook::default();
        let first = judge(&mut book, m, assessment(Grade::Medium, &["health_two_months"])).remove(0);
        // The same content again (a replay, an unchanged household): nothing is sent.
        assert!(judge(&mut book, m, assessment(Grade::Medium, &["health_two_months"])).is_empty());
        // A late record raises the grade: the same id, revision 2, to both queues.
        let revised = judge(&mut book, m, assessment(Grade::High, &["below_line", "health_two_months"])).remove(0);
        assert_eq!((revised.alert_id.as_str(), revised.revision, revised.status), (first.alert_id.as_str(), 2, AlertStatus::Revised));
        assert_eq!((revised.queue.as_str(), revised.moved_from.as_deref()), (output::DOOR_VISIT, Some(output::PHONE)));
        assert_eq!(revised.changes, ["grade medium → high", "new reason below_line", "score 0.600 → 0.900"]);
        // A reversal removes the risk: withdrawn, revision 3.
        let withdrawn = judge(&mut book, m, None).remove(0);
        assert_eq!((withdrawn.revision, withdrawn.status), (3, AlertStatus::Withdrawn));
        assert!(withdrawn.reasons.is_empty());
        assert_eq!(book.open_alerts()[&(output::DOOR_VISIT, "420922")].0, 0, "a withdrawn alert is not open");
        assert!(judge(&mut book, m, None).is_empty(), "withdrawn once");
        // And back: revision 4.
        let again = judge(&mut book, m, assessment(Grade::High, &["below_line"])).remove(0);
        assert_eq!((again.revision, again.status), (4, AlertStatus::Revised));
        assert_eq!(again.changes[0], "raised again after a withdrawal");
    }

    /// An earlier month's new reason can make a later month's alert redundant: it is withdrawn,
    /// saying which alert covers it.
    #[test]
    fn an_earlier_alert_that_grows_covers_a_later_one() {
        let m = june();
        let mut book = AlertBook::default();
        judge(&mut book, m, assessment(Grade::Medium, &["health_two_months"]));
        let later = judge(&mut book, m.plus(1), assessment(Grade::Medium, &["below_line"])).remove(0);
        let sent = judge(&mut book, m, assessment(Grade::Medium, &["below_line", "health_two_months"]));
        let withdrawn = sent.iter().find(|a| a.alert_id == later.alert_id).unwrap();
        assert_eq!(withdrawn.status, AlertStatus::Withdrawn);
        assert_eq!(withdrawn.changes, ["withdrawn: the alert for 2024-06 now covers this month"]);
    }

    /// The alerts standing depend on each month's latest assessment, not on the order in which
    /// months were judged nor on what was judged in between.
    #[test]
    fn standing_alerts_do_not_depend_on_the_order_of_judgements() {
        let m = june();
        let finals = [
            (m, assessment(Grade::Medium, &["health_two_months"])),
            (m.plus(1), assessment(Grade::High, &["below_line"])),
            (m.plus(2), assessment(Grade::High, &["below_line"])),
            (m.plus(3), None),
            (m.plus(4), assessment(Grade::Low, &["below_line"])),
        ];
        let mut all_at_once = AlertBook::default();
        let reference = standing(
            &all_at_once
                .update(&household(), "marginal", finals.to_vec(), None, &stamp(), "t")
                .into_iter()
                .map(|(a, _)| a)
                .collect::<Vec<_>>(),
        );
        assert_eq!(reference.len(), 3, "{reference:?}");

        let mut piecemeal = AlertBook::default();
        let mut sent = Vec::new();
        // Interim judgements of other content, in another order, before each month's final one.
        for (month, a) in finals.iter().rev() {
            sent.extend(judge(&mut piecemeal, *month, assessment(Grade::High, &["education_burden"])));
            sent.extend(judge(&mut piecemeal, month.plus(-1), None));
            sent.extend(judge(&mut piecemeal, *month, a.clone()));
        }
        for (month, a) in &finals {
            sent.extend(judge(&mut piecemeal, *month, a.clone()));
        }
        assert_eq!(standing(&sent), reference);
        let current = |b: &AlertBook| b.graded_households().filter(|g| g.3 > 0).map(|g| g.2).collect::<Vec<_>>();
        assert_eq!(current(&piecemeal), current(&all_at_once));
    }

    #[test]
    fn current_grades_and_verification_backlog() {
        let m = june();
        let mut book = AlertBook::default();
        let first = judge(&mut book, m, assessment(Grade::Medium, &["health_two_months"])).remove(0);
        let second = judge(&mut book, m.plus(1), assessment(Grade::High, &["below_line"])).remove(0);
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
        let h = household();
        let m = june();
        let mut book = AlertBook::default();
        judge(&mut book, m, assessment(Grade::Medium, &["health_two_months"]));
        let high = judge(&mut book, m.plus(1), assessment(Grade::High, &["below_line"])).remove(0);
        assert_eq!(book.take_changed(), HashSet::from([h.clone()]));

        let mut restored = AlertBook::default();
        restored.restore(&h, book.entry(&h));
        assert_eq!(restored.entry(&h), book.entry(&h));
        assert!(restored.take_changed().is_empty(), "a restore is not a change");
        assert_eq!(restored.graded_households().collect::<Vec<_>>(), [("420922", "420922101", Grade::High, 1)]);
        assert_eq!(restored.open_alerts(), book.open_alerts());
        // The follow-up policy carries on: the same reasons are covered, a month judged again
        // is revised under its id.
        assert!(judge(&mut restored, m.plus(2), assessment(Grade::High, &["below_line"])).is_empty());
        let revised = judge(&mut restored, m.plus(1), assessment(Grade::Medium, &["below_line"])).remove(0);
        assert_eq!((revised.alert_id, revised.revision), (high.alert_id.clone(), 2));
        // A verification outcome changes the household's entry.
        restored.take_changed();
        assert!(matches!(restored.answer(&high.alert_id), Answer::First { .. }));
        assert_eq!(restored.take_changed(), HashSet::from([h.clone()]));

        restored.clear();
        assert!(restored.entry(&h).is_empty());
        assert!(restored.graded_households().all(|g| g.3 == 0), "the gauges fall to zero");
        assert_eq!(restored.answer(&high.alert_id), Answer::Unknown);
    }

    /// Months no batch can judge again are folded into the last standing alert, which the
    /// policy still compares with, also after the entry went through a checkpoint's binary form.
    #[test]
    fn final_months_are_settled_and_survive_the_binary_form() {
        let m = june();
        let mut book = AlertBook::default();
        judge(&mut book, m, assessment(Grade::High, &["below_line"]));
        let sent = book.update(&household(), "marginal", vec![(m.plus(1), assessment(Grade::High, &["below_line"]))], Some(m.plus(1)), &stamp(), "t");
        assert!(sent.is_empty(), "the settled alert still covers the next month");
        let entry = book.entry(&household());
        assert!(entry.policy.months.iter().all(|e| e.month >= m.plus(1)));
        assert_eq!(entry.policy.settled.as_ref().map(|r| r.month), Some(m));

        let bytes = postcard::to_stdvec(&entry).unwrap();
        let read: BookEntry = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(read, entry);
        let mut restored = AlertBook::default();
        restored.restore(&household(), read);
        assert_eq!(restored.entry(&household()), entry);
        assert!(judge(&mut restored, m.plus(2), assessment(Grade::High, &["below_line"])).is_empty());
        let answer = restored.answer(&alert_id(household().as_str(), m));
        assert!(matches!(answer, Answer::First { grade: Grade::High, .. }), "the issued alert is known by its id: {answer:?}");
    }
}
