//! All households' state, bounded to the months the indicators need, and the bookkeeping of
//! what must be re-evaluated: a record, late or not, marks its household from its month on.

use std::collections::HashMap;

use fangpin_connectors::event::{Event, HouseholdCode, Month};

use crate::ledger::{Applied, Household};

/// What happened to one record offered to the state.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Applied (new, corrected, duplicate or waiting reversal: see [`Applied`]).
    Applied(Applied),
    /// The household is not on the roster (yet): the record waits for its roster entry.
    Parked,
    /// The record is older than the window the indicators look at: it can change nothing.
    BeyondWindow,
}

/// Where a waiting record came from, with its payload already masked, so that it can still be
/// dead-lettered if its household never appears.
#[derive(Clone, Debug, PartialEq)]
pub struct Provenance {
    pub topic: &'static str,
    pub source: std::sync::Arc<str>,
    pub offset: u64,
    pub masked_payload: String,
}

/// Per-household state of the embedded pipeline.
pub struct State {
    households: HashMap<HouseholdCode, Household>,
    parked: HashMap<HouseholdCode, Vec<(Provenance, Event)>>,
    /// Households touched since the last evaluation, with the earliest month touched.
    touched: HashMap<HouseholdCode, Month>,
    newest: Option<Month>,
    oldest: Option<Month>,
    /// How many months before the newest the indicators may look back (trailing sums).
    history_months: i32,
}

impl State {
    /// Empty state keeping `history_months` months of history before the newest month.
    pub fn new(history_months: i32) -> State {
        State {
            households: HashMap::new(),
            parked: HashMap::new(),
            touched: HashMap::new(),
            newest: None,
            oldest: None,
            history_months,
        }
    }

    /// Offers one validated record; `provenance` is kept only if it has to wait for its household.
    pub fn offer(&mut self, provenance: impl FnOnce() -> Provenance, event: Event) -> Outcome {
        let Some(code) = event.household().cloned() else {
            return Outcome::Applied(Applied::NotHousehold);
        };
        if let Event::Roster(entry) = event {
            return Outcome::Applied(self.upsert_roster(code, entry));
        }
        let month = event.month();
        if self.newest.is_some_and(|n| month.index() < n.index() - self.history_months) {
            return Outcome::BeyondWindow;
        }
        let Some(household) = self.households.get_mut(&code) else {
            self.parked.entry(code).or_default().push((provenance(), event));
            return Outcome::Parked;
        };
        // Verification outcomes are labels for the data team, not household figures: the
        // household apply ignores them once it is known to exist.
        let applied = household.apply(event);
        if let Applied::Changed(m) | Applied::Corrected(m) = applied {
            self.see_month(m);
            self.touch(code, m);
        }
        Outcome::Applied(applied)
    }

    fn upsert_roster(&mut self, code: HouseholdCode, entry: fangpin_connectors::event::RosterEntry) -> Applied {
        let since = Month::of_date(entry.effective_date);
        match self.households.get_mut(&code) {
            Some(h) if h.profile == entry => return Applied::Duplicate,
            Some(h) => h.profile = entry,
            None => {
                self.households.insert(code.clone(), Household::new(entry));
            }
        }
        // A profile change alters every month's figures: re-evaluate the whole window.
        let from = self.window_start().unwrap_or(since);
        self.touch(code.clone(), from);
        for (_, event) in self.parked.remove(&code).unwrap_or_default() {
            let m = event.month();
            if let Some(h) = self.households.get_mut(&code) {
                h.apply(event);
            }
            self.see_month(m);
            self.touch(code.clone(), m);
        }
        Applied::Changed(since)
    }

    fn see_month(&mut self, m: Month) {
        self.newest = Some(self.newest.map_or(m, |n| n.max(m)));
        self.oldest = Some(self.oldest.map_or(m, |o| o.min(m)));
    }

    fn touch(&mut self, code: HouseholdCode, m: Month) {
        self.touched.entry(code).and_modify(|t| *t = (*t).min(m)).or_insert(m);
    }

    /// The newest month any household record has been about.
    pub fn newest(&self) -> Option<Month> {
        self.newest
    }

    /// First month of the retained window: `history_months` before the newest, or the oldest
    /// month seen when the stream is younger than that.
    pub fn window_start(&self) -> Option<Month> {
        let newest = self.newest?;
        let floor = newest.plus(-self.history_months);
        Some(self.oldest.map_or(floor, |o| o.max(floor)))
    }

    /// Takes the households to re-evaluate, each with the first month to report on.
    pub fn take_touched(&mut self) -> Vec<(HouseholdCode, Month)> {
        let start = self.window_start();
        let mut touched: Vec<_> = self
            .touched
            .drain()
            .map(|(code, m)| (code, start.map_or(m, |s| m.max(s))))
            .collect();
        touched.sort_unstable();
        touched
    }

    /// One household's state.
    pub fn household(&self, code: &HouseholdCode) -> Option<&Household> {
        self.households.get(code)
    }

    /// Drops records older than the window from every household.
    pub fn prune(&mut self) {
        if let Some(start) = self.window_start() {
            for h in self.households.values_mut() {
                h.prune(start);
            }
        }
    }

    /// Records still waiting for a roster entry; emptied. Called at the end of a replay, when
    /// no roster entry can come any more.
    pub fn take_parked(&mut self) -> Vec<Provenance> {
        let mut waiting: Vec<Provenance> = self.parked.drain().flat_map(|(_, v)| v.into_iter().map(|(p, _)| p)).collect();
        waiting.sort_unstable_by(|a, b| (a.topic, a.offset).cmp(&(b.topic, b.offset)));
        waiting
    }

    /// Records waiting for their household's roster entry.
    pub fn waiting_count(&self) -> usize {
        self.parked.values().map(Vec::len).sum()
    }

    /// Households on the roster.
    pub fn household_count(&self) -> usize {
        self.households.len()
    }

    /// Records held across all households.
    pub fn record_count(&self) -> usize {
        self.households.values().map(Household::record_count).sum()
    }
}
