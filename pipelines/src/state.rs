//! All households' state, bounded to the months the indicators need, and the bookkeeping of
//! what must be re-evaluated: a record, late or not, marks its household from its month on.
//!
//! State also notes which households' held state changed (records, waiting records, pruning),
//! so that a deployment can checkpoint just those ([`crate::checkpoint`]).

use std::collections::{HashMap, HashSet};

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
    /// The household is not on the roster and already has [`MAX_PARKED_PER_HOUSEHOLD`] records
    /// waiting: this one is not kept.
    TooManyWaiting,
    /// A reversal of a settlement not seen, when the household already has
    /// [`MAX_WAITING_REVERSALS_PER_HOUSEHOLD`] such reversals waiting: this one is not kept.
    TooManyReversals,
}

/// Most records one household may have waiting for its roster entry; later ones are
/// dead-lettered at once, so that one unknown household cannot grow state (or a checkpoint
/// beyond what a broker accepts) without bound.
pub const MAX_PARKED_PER_HOUSEHOLD: usize = 200;

/// Most reversals one household may have waiting for their settlements; later ones are
/// dead-lettered at once, for the same reason.
pub const MAX_WAITING_REVERSALS_PER_HOUSEHOLD: usize = 200;

/// Bytes of a waiting record's masked payload kept for its dead letter (the record itself is
/// kept decoded). With the caps above, what waits for one household stays under a megabyte in
/// its checkpoint, the default largest message of a Kafka broker.
pub const MAX_WAITING_PAYLOAD_BYTES: usize = 2 * 1024;

/// Where a waiting record came from, with its payload already masked, so that it can still be
/// dead-lettered if its household never appears.
#[derive(Clone, Debug, PartialEq)]
pub struct Provenance {
    pub topic: &'static str,
    pub source: std::sync::Arc<str>,
    pub position: fangpin_connectors::Position,
    pub masked_payload: String,
    /// When it began to wait (unix seconds, wall clock): a record whose roster entry does not
    /// come within the pipeline's `max_wait` is dead-lettered.
    pub waiting_since: i64,
}

/// A reversal that arrived before its settlement. It waits until the settlement comes (then
/// the household's ledger cancels it), until its month leaves the window (no settlement that
/// old can be accepted any more: it is dead-lettered), or until a replay ends.
#[derive(Clone, Debug, PartialEq)]
pub struct WaitingReversal {
    pub settlement_id: String,
    /// The reversal's own month; `None` from checkpoints written before it was kept (such a
    /// reversal waits until its settlement comes or a replay ends).
    pub month: Option<Month>,
    pub provenance: Provenance,
}

/// A household to judge again ([`State::take_touched`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Touched {
    pub code: HouseholdCode,
    /// The first month to report on.
    pub from: Month,
    /// Its own records or roster entry changed; otherwise only a month closed, which changes
    /// its judgements (the closed month's income is no longer filled in) but not its claims.
    pub changed: bool,
}

/// Per-household state of the embedded pipeline.
pub struct State {
    households: HashMap<HouseholdCode, Household>,
    parked: HashMap<HouseholdCode, Vec<(Provenance, Event)>>,
    waiting_reversals: HashMap<HouseholdCode, Vec<WaitingReversal>>,
    /// Households touched since the last evaluation, with the earliest month touched.
    touched: HashMap<HouseholdCode, Month>,
    /// Every household is to be judged again from this month on: the newest month moved on
    /// (the month that was open is closed, its income no longer filled in) or the oldest moved
    /// back (the feeds begin earlier).
    touch_all_from: Option<Month>,
    /// Households whose held state changed since the last [`State::take_changed`].
    changed: HashSet<HouseholdCode>,
    newest: Option<Month>,
    oldest: Option<Month>,
    /// The window start and newest month of the last [`State::prune`]: nothing held is older,
    /// and no waiting reversal is, so until the newest month moves on (or a restore brings
    /// records from elsewhere) a prune has nothing to do.
    pruned_for: Option<(Month, Month)>,
    /// How many months before the newest the indicators may look back (trailing sums).
    history_months: i32,
}

impl State {
    /// Empty state keeping `history_months` months of history before the newest month.
    pub fn new(history_months: i32) -> State {
        State {
            households: HashMap::new(),
            parked: HashMap::new(),
            waiting_reversals: HashMap::new(),
            touched: HashMap::new(),
            touch_all_from: None,
            changed: HashSet::new(),
            newest: None,
            oldest: None,
            pruned_for: None,
            history_months,
        }
    }

    /// Forgets every household, as [`State::new`] does.
    pub fn clear(&mut self) {
        *self = State::new(self.history_months);
    }

    /// Offers one validated record; `provenance` is kept only if it has to wait (for its
    /// household, or a reversal for its settlement).
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
            let waiting = self.parked.entry(code.clone()).or_default();
            // Bounded, so that one unknown household cannot grow the state (or its checkpoint)
            // without bound. There is no deadline in time yet: the newest month an instance
            // has seen is not one (on Kafka it expired records whose roster entry was still on
            // its way, and differently with the partition layout).
            // The same record again (a replay after a restart from a checkpoint that already
            // held it, or a department resending it) waits once, as the ledger keeps it once.
            if waiting.iter().any(|(_, e)| *e == event) {
                return Outcome::Applied(Applied::Duplicate);
            }
            if waiting.len() >= MAX_PARKED_PER_HOUSEHOLD {
                return Outcome::TooManyWaiting;
            }
            waiting.push((provenance(), event));
            self.changed.insert(code);
            return Outcome::Parked;
        };
        let settlement_id = settlement_of(&event);
        if let Some(id) = reversal_of(&event) {
            let waiting = self.waiting_reversals.get(&code).map_or(0, Vec::len);
            if !household.has_settlement(id) && !household.is_reversed(id) && waiting >= MAX_WAITING_REVERSALS_PER_HOUSEHOLD {
                return Outcome::TooManyReversals;
            }
        }
        // Verification outcomes are labels for the data team, not household figures: the
        // household apply ignores them once it is known to exist.
        let applied = household.apply(event);
        match applied {
            Applied::Changed(m) | Applied::Corrected(m) => {
                self.see_month(m);
                if matches!(applied, Applied::Corrected(_)) {
                    // A correction may move its record to a later month: that month is seen too.
                    self.see_month(month);
                }
                self.touch(code.clone(), m);
                if let Some(id) = &settlement_id {
                    self.settlement_came(&code, id);
                }
                self.changed.insert(code);
            }
            Applied::ReversalParked => {
                let settlement_id = settlement_id.expect("only settlements are reversed");
                self.wait_for_settlement(code, settlement_id, month, provenance());
            }
            Applied::Duplicate | Applied::NotHousehold => {}
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
        // The figures of every month are computed with the current profile, so a profile change
        // re-judges every month that can still be judged (`take_touched` clips to those), not
        // only those from its effective date: otherwise a month judged before the change and
        // one judged after it would depend on where the batches fell.
        let from = self.oldest.map_or(since, |o| o.min(since));
        self.touch(code.clone(), from);
        self.changed.insert(code.clone());
        for (provenance, event) in self.parked.remove(&code).unwrap_or_default() {
            let m = event.month();
            let settlement_id = settlement_of(&event);
            let applied = self.households.get_mut(&code).map(|h| h.apply(event));
            match (applied, settlement_id) {
                // A reversal that waited for the roster now waits for its settlement.
                (Some(Applied::ReversalParked), Some(id)) => self.wait_for_settlement(code.clone(), id, m, provenance),
                (Some(Applied::Changed(_) | Applied::Corrected(_)), Some(id)) => self.settlement_came(&code, &id),
                _ => {}
            }
            self.see_month(m);
            self.touch(code.clone(), m);
        }
        Applied::Changed(since)
    }

    fn wait_for_settlement(&mut self, code: HouseholdCode, settlement_id: String, month: Month, provenance: Provenance) {
        let waiting = self.waiting_reversals.entry(code.clone()).or_default();
        // A settlement is reversed once: the same reversal again (replayed after a restart, or
        // resent) waits once.
        if waiting.iter().any(|w| w.settlement_id == settlement_id) {
            return;
        }
        waiting.push(WaitingReversal { settlement_id, month: Some(month), provenance });
        self.changed.insert(code);
    }

    /// A settlement arrived: a reversal waiting for it has found it and waits no more.
    fn settlement_came(&mut self, code: &HouseholdCode, settlement_id: &str) {
        if let Some(waiting) = self.waiting_reversals.get_mut(code) {
            waiting.retain(|w| w.settlement_id != settlement_id);
            if waiting.is_empty() {
                self.waiting_reversals.remove(code);
            }
        }
    }

    fn see_month(&mut self, m: Month) {
        match self.newest {
            Some(n) if m > n => self.touch_all(n),
            _ => {}
        }
        match self.oldest {
            Some(o) if m < o => self.touch_all(m),
            _ => {}
        }
        self.extend_watermarks(m);
    }

    /// Moves the watermarks to include `m`, judging nothing again (a restore: the months were
    /// judged before the checkpoint).
    fn extend_watermarks(&mut self, m: Month) {
        self.newest = Some(self.newest.map_or(m, |n| n.max(m)));
        self.oldest = Some(self.oldest.map_or(m, |o| o.min(m)));
    }

    fn touch_all(&mut self, from: Month) {
        self.touch_all_from = Some(self.touch_all_from.map_or(from, |f| f.min(from)));
    }

    /// The month before which what waits to be judged must be judged before `event` is applied,
    /// if any: the event moves the newest month on, and a judgement of those months made after
    /// it would differ ([`State::stable_from`]). The rest waits for the month close the event
    /// causes, which judges every household from the month that closes on (and the touched
    /// ones from their month) and is the last word on every month before the new one: judging
    /// them first, with the month still open, would only send revisions the close replaces.
    pub fn judge_first(&self, event: &Event) -> Option<Month> {
        let (Some(newest), Some(code)) = (self.newest, event.household()) else { return None };
        let next = match event {
            Event::Roster(_) => self.parked.get(code).and_then(|w| w.iter().map(|(_, e)| e.month()).max()),
            _ => Some(event.month()),
        };
        let next = next.filter(|m| *m > newest)?;
        let stable = self.stable_from(next);
        let waiting = self.touched.values().copied().chain(self.touch_all_from).min();
        waiting.filter(|w| *w < stable).map(|_| stable)
    }

    /// The first month judged the same now as once the newest month is `next`. When the window
    /// is pruned at `next`, a month is judged with the three before it, for trends: those need
    /// their whole 12-month windows, so earlier months must be judged now (or, when they are
    /// before [`State::judged_from`] at `next`, never again).
    fn stable_from(&self, next: Month) -> Month {
        self.first_whole_at(next, crate::table::LOOKBACK)
    }

    /// Whether some household waits to be judged.
    pub fn has_touched(&self) -> bool {
        !self.touched.is_empty() || self.touch_all_from.is_some()
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
        Some(self.window_start_at(self.newest?))
    }

    /// [`State::window_start`] once the newest month is `newest`.
    fn window_start_at(&self, newest: Month) -> Month {
        let floor = newest.plus(-self.history_months);
        self.oldest.map_or(floor, |o| o.max(floor))
    }

    /// The first calendar year whose records are all still held: no record of it is older than
    /// the window. Claims of earlier years are final.
    pub fn first_complete_year(&self) -> Option<i32> {
        let floor = self.newest?.plus(-self.history_months);
        Some(if floor.month() == 1 { floor.year() } else { floor.year() + 1 })
    }

    /// Every household on the roster, in no particular order.
    pub fn households(&self) -> impl Iterator<Item = (&HouseholdCode, &Household)> {
        self.households.iter()
    }

    /// The first month that can be judged: its trailing 12 months are all held. Until records
    /// have been pruned that is the window's first month; after, 11 months later. Judging an
    /// older month on a window cut short would count the pruned months as last year's income.
    pub fn judged_from(&self) -> Option<Month> {
        Some(self.first_whole_at(self.newest?, 0))
    }

    /// Once the newest month is `newest`, the first month whose trailing 12-month window, and
    /// those of the `lookback` months before it, the window holds whole.
    fn first_whole_at(&self, newest: Month, lookback: i32) -> Month {
        let start = self.window_start_at(newest);
        if self.oldest.is_some_and(|o| o < start) { start.plus(11 + lookback) } else { start }
    }

    /// Takes the households to re-evaluate, each with the first month to report on (never
    /// before [`State::judged_from`]: a late record older than that changes no judgement) and
    /// whether its own records or roster entry changed, rather than only the month closing.
    /// With `before`, only those touched before that month (all of them when every household
    /// waits from before it).
    pub fn take_touched(&mut self, before: Option<Month>) -> Vec<Touched> {
        let start = self.judged_from();
        let clip = |m: Month| start.map_or(m, |s| m.max(s));
        if let Some(before) = before.filter(|b| self.touch_all_from.is_none_or(|f| f >= *b)) {
            let mut touched: Vec<_> = self
                .touched
                .extract_if(|_, m| *m < before)
                .map(|(code, m)| Touched { from: clip(m), code, changed: true })
                .collect();
            touched.sort_unstable_by(|a, b| a.code.cmp(&b.code));
            return touched;
        }
        let mut touched: Vec<_> = self
            .touched
            .drain()
            .map(|(code, m)| Touched { from: clip(self.touch_all_from.map_or(m, |f| f.min(m))), code, changed: true })
            .collect();
        if let Some(from) = self.touch_all_from.take() {
            let changed: HashSet<&HouseholdCode> = touched.iter().map(|t| &t.code).collect();
            let others: Vec<_> = self
                .households
                .keys()
                .filter(|code| !changed.contains(code))
                .map(|code| Touched { code: code.clone(), from: clip(from), changed: false })
                .collect();
            touched.extend(others);
        }
        touched.sort_unstable_by(|a, b| a.code.cmp(&b.code));
        touched
    }

    /// One household's state.
    pub fn household(&self, code: &HouseholdCode) -> Option<&Household> {
        self.households.get(code)
    }

    /// Drops records older than the window from every household, and returns the reversals
    /// that waited for a settlement now too old to be accepted (to be dead-lettered).
    pub fn prune(&mut self) -> Vec<Provenance> {
        let Some(start) = self.window_start() else { return Vec::new() };
        let key = self.newest.map(|n| (start, n));
        if self.pruned_for == key {
            return Vec::new();
        }
        self.pruned_for = key;
        for (code, h) in &mut self.households {
            if h.prune(start) {
                self.changed.insert(code.clone());
            }
        }
        // A settlement older than the window is refused on arrival, so a reversal dated before
        // the window's first month waits in vain.
        let floor = self.newest.map(|n| n.plus(-self.history_months));
        let mut expired = Vec::new();
        for (code, waiting) in &mut self.waiting_reversals {
            let (gone, kept): (Vec<_>, Vec<_>) =
                waiting.drain(..).partition(|w| w.month.is_some_and(|m| floor.is_some_and(|f| m < f)));
            *waiting = kept;
            if gone.is_empty() {
                continue;
            }
            self.changed.insert(code.clone());
            for w in gone {
                if let Some(h) = self.households.get_mut(code) {
                    h.forget_reversal(&w.settlement_id);
                }
                expired.push(w.provenance);
            }
        }
        self.waiting_reversals.retain(|_, w| !w.is_empty());
        sort_by_origin(&mut expired);
        expired
    }

    /// Records that have waited for their roster entry since before `before` (unix seconds),
    /// taken out of the state to be dead-lettered.
    pub fn take_parked_before(&mut self, before: i64) -> Vec<Provenance> {
        let mut expired = Vec::new();
        for (code, waiting) in &mut self.parked {
            if waiting.iter().all(|(p, _)| p.waiting_since >= before) {
                continue;
            }
            let (gone, kept): (Vec<_>, Vec<_>) = waiting.drain(..).partition(|(p, _)| p.waiting_since < before);
            *waiting = kept;
            expired.extend(gone.into_iter().map(|(p, _)| p));
            self.changed.insert(code.clone());
        }
        self.parked.retain(|_, w| !w.is_empty());
        sort_by_origin(&mut expired);
        expired
    }

    /// Records still waiting for a roster entry; emptied. Called at the end of a replay, when
    /// no roster entry can come any more.
    pub fn take_parked(&mut self) -> Vec<Provenance> {
        self.changed.extend(self.parked.keys().cloned());
        let mut waiting: Vec<Provenance> = self.parked.drain().flat_map(|(_, v)| v.into_iter().map(|(p, _)| p)).collect();
        sort_by_origin(&mut waiting);
        waiting
    }

    /// Reversals whose settlement never came; every waiting reversal is emptied. Called at the
    /// end of a replay, when no settlement can come any more.
    pub fn take_orphan_reversals(&mut self) -> Vec<Provenance> {
        self.changed.extend(self.waiting_reversals.keys().cloned());
        let mut orphans = Vec::new();
        for (code, waiting) in self.waiting_reversals.drain() {
            let household = self.households.get(&code);
            for w in waiting {
                if !household.is_some_and(|h| h.has_settlement(&w.settlement_id)) {
                    orphans.push(w.provenance);
                }
            }
        }
        sort_by_origin(&mut orphans);
        orphans
    }

    /// Records waiting for their household's roster entry.
    pub fn waiting_count(&self) -> usize {
        self.parked.values().map(Vec::len).sum()
    }

    /// Reversals waiting for (or kept after) their settlement.
    pub fn waiting_reversal_count(&self) -> usize {
        self.waiting_reversals.values().map(Vec::len).sum()
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

/// Checkpoints: one household's held state out and back in.
impl State {
    /// Households whose held state changed since the last call, emptied.
    pub fn take_changed(&mut self) -> HashSet<HouseholdCode> {
        std::mem::take(&mut self.changed)
    }

    /// The oldest month any household record has been about.
    pub fn oldest(&self) -> Option<Month> {
        self.oldest
    }

    /// Records waiting for this household's roster entry, in arrival order.
    pub fn parked(&self, code: &HouseholdCode) -> &[(Provenance, Event)] {
        self.parked.get(code).map_or(&[], Vec::as_slice)
    }

    /// Reversals of this household waiting for (or kept after) their settlement, in arrival order.
    pub fn waiting_reversals(&self, code: &HouseholdCode) -> &[WaitingReversal] {
        self.waiting_reversals.get(code).map_or(&[], Vec::as_slice)
    }

    /// Forgets everything held for one household, and that it was touched or changed.
    pub fn forget(&mut self, code: &HouseholdCode) {
        self.households.remove(code);
        self.parked.remove(code);
        self.waiting_reversals.remove(code);
        self.touched.remove(code);
        self.changed.remove(code);
    }

    /// Replaces one household's state with a checkpointed one, marking it neither touched
    /// (its months were evaluated before the checkpoint: re-evaluating them would repeat
    /// alerts) nor changed (the checkpoint already holds it). `seen` are the watermarks the
    /// checkpointing pipeline had; they and the months of the household's records extend this
    /// state's own, so the window is the same as in a pipeline that never stopped.
    pub fn restore(
        &mut self,
        code: HouseholdCode,
        household: Option<Household>,
        parked: Vec<(Provenance, Event)>,
        waiting_reversals: Vec<WaitingReversal>,
        seen: &[Month],
    ) {
        self.forget(&code);
        // Its records were pruned against the writer's window, not necessarily this one's.
        self.pruned_for = None;
        for m in seen {
            self.extend_watermarks(*m);
        }
        if let Some(h) = household {
            for m in h.months_held() {
                self.extend_watermarks(m);
            }
            self.households.insert(code.clone(), h);
        }
        if !parked.is_empty() {
            self.parked.insert(code.clone(), parked);
        }
        if !waiting_reversals.is_empty() {
            self.waiting_reversals.insert(code, waiting_reversals);
        }
    }
}

/// The settlement a reversal cancels.
fn reversal_of(event: &Event) -> Option<&str> {
    match event {
        Event::Medical(m) if m.status == fangpin_connectors::event::SettlementStatus::Reversed => Some(&m.settlement_id),
        _ => None,
    }
}

/// The settlement a medical record is about.
fn settlement_of(event: &Event) -> Option<String> {
    match event {
        Event::Medical(m) => Some(m.settlement_id.clone()),
        _ => None,
    }
}

/// Sorts records by where they came from, so that end-of-replay dead letters come out in the
/// same order however the state was built (live or restored).
fn sort_by_origin(records: &mut [Provenance]) {
    records.sort_unstable_by(|a, b| (a.topic, &a.source, a.position).cmp(&(b.topic, &b.source, b.position)));
}
