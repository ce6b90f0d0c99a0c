//! Checkpoints: a deployment writes each changed household's state to a changelog topic after
//! each batch, and an instance given households rebuilds their state from it (format in
//! [`crate::checkpoint`]).

use fangpin_connectors::event::HouseholdCode;

use super::Pipeline;
use crate::checkpoint;
use crate::error::PipelineError;

impl Pipeline {
    /// Households whose checkpoint may have changed since the last call (records applied,
    /// waiting or pruned, alerts raised or verified, waiting records taken by
    /// [`Pipeline::finish`]), sorted. Call it after [`Pipeline::process`] or
    /// [`Pipeline::finish`] and checkpoint each one.
    pub fn take_changed(&mut self) -> Vec<HouseholdCode> {
        let mut changed = self.state.take_changed();
        changed.extend(self.book.take_changed());
        changed.extend(self.outbox.take_resent());
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
        self.roster_changed = true;
        if snapshot.is_empty() {
            self.state.forget(household);
            self.book.forget(household);
            self.outbox.forget(household);
            if let Some(shadow) = &mut self.shadow {
                shadow.book.forget(household);
            }
            if let Some(claims) = &mut self.claims {
                claims.book_mut().forget(household);
            }
            return Ok(());
        }
        let r = checkpoint::decode(household, &self.key_fingerprint, snapshot)?;
        self.state.restore(household.clone(), r.household, r.parked, r.waiting_reversals, &r.seen);
        self.book.restore(household, r.alerts);
        self.outbox.restore(household, r.outbox);
        if let Some(shadow) = &mut self.shadow {
            shadow.book.restore(household, r.shadow_alerts);
        }
        if let Some(claims) = &mut self.claims {
            claims.book_mut().restore(household, r.claims);
        }
        Ok(())
    }

    /// Sets the state-size and alert-book metrics from what is held now, e.g. after restoring.
    pub fn refresh_state_metrics(&self) {
        self.metrics.observe_state(&self.state, self.state.waiting_reversal_count());
        self.metrics.observe_alert_book(&self.book);
    }
}
