//! Checkpoints: a deployment writes each changed household's state to a changelog topic after
//! each batch, and an instance given households rebuilds their state from it (format in
//! [`crate::checkpoint`]).

use fangpin_connectors::event::HouseholdCode;
use rayon::prelude::*;

use super::Pipeline;
use crate::checkpoint;
use crate::error::PipelineError;

/// Checkpoints read at once, by both cores, before they are applied.
const RESTORE_CHUNK: usize = 256;

impl Pipeline {
    /// Households whose checkpoint may have changed since the last call (records applied,
    /// waiting or pruned, alerts raised or verified, waiting records taken by
    /// [`Pipeline::finish`]), sorted. Call it after [`Pipeline::process`] or
    /// [`Pipeline::finish`] and checkpoint each one.
    pub fn take_changed(&mut self) -> Vec<HouseholdCode> {
        let mut changed = self.state.take_changed();
        changed.extend(self.book.take_changed());
        changed.extend(self.outbox.take_sent());
        if let Some(claims) = &mut self.claims {
            changed.extend(claims.book_mut().take_changed());
        }
        if let Some(shadow) = &mut self.shadow {
            changed.extend(shadow.book.take_changed());
        }
        let mut changed: Vec<_> = changed.into_iter().collect();
        changed.sort_unstable();
        changed
    }

    /// Everything the pipeline holds for `household`, serialised (see [`crate::checkpoint`]);
    /// `None` when it holds nothing any more, to be written as a tombstone.
    pub fn checkpoint(&self, household: &HouseholdCode) -> Result<Option<Vec<u8>>, PipelineError> {
        let shadow_alerts = self.shadow.as_ref().map(|s| s.book.entry(household)).unwrap_or_default();
        let claims = self.claims.as_ref().map(|c| c.book().entry(household)).unwrap_or_default();
        let books = checkpoint::Books {
            alerts: self.book.entry(household),
            shadow_alerts,
            claims,
            outbox: self.outbox.waiting_for(household),
        };
        checkpoint::encode(household, &self.key_fingerprint, &self.state, books)
    }

    /// Forgets every household: state, waiting records and the alert books, as
    /// [`Pipeline::new`] left them. The engine, graders, metrics and counts stay.
    pub fn clear_state(&mut self) {
        self.state.clear();
        self.roster_changed = true;
        self.book.clear();
        self.outbox.clear();
        if let Some(shadow) = &mut self.shadow {
            shadow.book.clear();
        }
        if let Some(claims) = &mut self.claims {
            claims.book_mut().clear();
        }
        self.last_hits.clear();
    }

    /// Replaces `household`'s state with a checkpoint; an empty `snapshot` is a tombstone and
    /// forgets the household. Feed a changelog's records in order: a later one for a household
    /// replaces an earlier one. Restored households are not re-evaluated, and not reported by
    /// [`Pipeline::take_changed`] until the alerts their checkpoints held are sent again by
    /// [`Pipeline::deliver_held`]. A snapshot that cannot be read changes nothing.
    pub fn restore(&mut self, household: &HouseholdCode, snapshot: &[u8]) -> Result<(), PipelineError> {
        self.restore_all(&[(household.clone(), snapshot)]).pop().expect("one result per checkpoint")
    }

    /// [`Pipeline::restore`] for many checkpoints in changelog order, one result each. Reading
    /// a checkpoint is most of a restore's time and needs no state, so both cores read; the
    /// checkpoints are then applied in their order. A few at a time: what is read is applied
    /// while it is still in the cache (all of 20,000 read first took 1.7 times as long).
    pub fn restore_all(&mut self, snapshots: &[(HouseholdCode, &[u8])]) -> Vec<Result<(), PipelineError>> {
        self.roster_changed = true;
        let mut results = Vec::with_capacity(snapshots.len());
        for chunk in snapshots.chunks(RESTORE_CHUNK) {
            let key = self.key_fingerprint.as_str();
            let decoded: Vec<Option<Result<checkpoint::Restored, PipelineError>>> = chunk
                .par_iter()
                .map(|(household, snapshot)| (!snapshot.is_empty()).then(|| checkpoint::decode(household, key, snapshot)))
                .collect();
            for ((household, _), decoded) in chunk.iter().zip(decoded) {
                results.push(match decoded {
                    None => {
                        self.forget(household);
                        Ok(())
                    }
                    Some(Ok(r)) => {
                        self.apply_restored(household, r);
                        Ok(())
                    }
                    Some(Err(e)) => Err(e),
                });
            }
        }
        results
    }

    /// Forgets `household` everywhere, as a tombstone does.
    fn forget(&mut self, household: &HouseholdCode) {
        self.state.forget(household);
        self.book.forget(household);
        self.outbox.forget(household);
        if let Some(shadow) = &mut self.shadow {
            shadow.book.forget(household);
        }
        if let Some(claims) = &mut self.claims {
            claims.book_mut().forget(household);
        }
    }

    fn apply_restored(&mut self, household: &HouseholdCode, r: checkpoint::Restored) {
        self.state.restore(household.clone(), r.household, r.parked, r.waiting_reversals, &r.seen);
        self.book.restore(household, r.alerts);
        self.outbox.restore(household, r.outbox);
        if let Some(shadow) = &mut self.shadow {
            shadow.book.restore(household, r.shadow_alerts);
        }
        if let Some(claims) = &mut self.claims {
            claims.book_mut().restore(household, r.claims);
        }
    }

    /// Sets the state-size and alert-book metrics from what is held now, e.g. after restoring.
    pub fn refresh_state_metrics(&self) {
        self.metrics.observe_state(&self.state, self.state.waiting_reversal_count());
        self.metrics.observe_alert_book(&self.book);
    }
}
