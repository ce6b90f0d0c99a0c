//! Alerts held until a checkpoint records them, for a deployment whose instances may be killed.
//!
//! An alert sent before the checkpoint that books it can outlive its instance unknown: the
//! successor restores the older book, reads the same records in other batches, may never raise
//! that alert, and so never withdraws it (a SIGKILL test found 22 such phone checks). With
//! [`Pipeline::hold_alerts`], a batch's alerts wait here instead; each household's checkpoint
//! carries its waiting alerts, and [`Pipeline::deliver_held`] sends them once the checkpoint is
//! acknowledged. A successor that restores a checkpoint sends its alerts again: the same ids
//! and revisions, which the queues' readers take as repeats. No alert is then sent that the
//! changelog does not book, and none booked is lost. Once sent, a household's alerts are
//! checkpointed away: its next checkpoint carries none, so a restore does not send them again.
//! The price is latency: an alert leaves at the next checkpoint (the commit interval) rather
//! than at the end of its batch, and an alerted household is checkpointed twice.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use fangpin_connectors::event::HouseholdCode;
use fangpin_connectors::Sink;

use super::Pipeline;
use crate::alerts::Alert;
use crate::error::PipelineError;

/// Alerts not yet sent, per household, each with when its batch was read.
#[derive(Default)]
pub(super) struct Outbox {
    /// Whether alerts wait for the checkpoint (set by [`Pipeline::hold_alerts`]).
    pub hold: bool,
    /// By household code.
    waiting: BTreeMap<String, Vec<(Alert, Instant)>>,
    /// Households whose alerts were sent since the last [`Outbox::take_sent`]: their next
    /// checkpoint no longer carries them.
    sent: HashSet<HouseholdCode>,
}

impl Outbox {
    pub fn push(&mut self, alert: Alert, read_at: Instant) {
        self.waiting.entry(alert.household_code.clone()).or_default().push((alert, read_at));
    }

    /// What `household`'s checkpoint carries.
    pub fn waiting_for(&self, household: &HouseholdCode) -> Vec<Alert> {
        self.waiting.get(household.as_str()).map(|w| w.iter().map(|(a, _)| a.clone()).collect()).unwrap_or_default()
    }

    /// Replaces `household`'s waiting alerts with a checkpoint's.
    pub fn restore(&mut self, household: &HouseholdCode, alerts: Vec<Alert>) {
        self.forget(household);
        if !alerts.is_empty() {
            let now = Instant::now();
            self.waiting.insert(household.as_str().to_owned(), alerts.into_iter().map(|a| (a, now)).collect());
        }
    }

    pub fn forget(&mut self, household: &HouseholdCode) {
        self.waiting.remove(household.as_str());
        self.sent.remove(household);
    }

    pub fn clear(&mut self) {
        *self = Outbox { hold: self.hold, ..Outbox::default() };
    }

    /// Takes every waiting alert, in household order, noting their households as sent.
    fn take_waiting(&mut self) -> Vec<(Alert, Instant)> {
        let waiting = std::mem::take(&mut self.waiting);
        self.sent.extend(waiting.keys().filter_map(|code| HouseholdCode::parse(code)));
        waiting.into_values().flatten().collect()
    }

    /// Households to checkpoint again: their alerts were sent.
    pub fn take_sent(&mut self) -> HashSet<HouseholdCode> {
        std::mem::take(&mut self.sent)
    }
}

impl Pipeline {
    /// Holds alerts until [`Pipeline::deliver_held`] instead of sending them with their batch,
    /// and writes the held ones into checkpoints (see [`self`]).
    pub fn hold_alerts(mut self) -> Pipeline {
        self.outbox.hold = true;
        self
    }

    /// Sends one alert to its queue, and to the queue it left when its grade moved it.
    pub(super) fn send_alert(&self, sink: &mut dyn Sink, alert: &Alert, read_at: Instant) -> Result<(), PipelineError> {
        let json = serde_json::to_vec(alert).map_err(|e| PipelineError::Internal(e.to_string()))?;
        for queue in std::iter::once(&alert.queue).chain(&alert.moved_from) {
            sink.send(queue, &alert.township_code, &json)?;
            self.metrics.records_out.with_label_values(&[queue]).inc();
        }
        self.metrics.alert_written(alert, read_at);
        Ok(())
    }

    /// Sends the held alerts, in household order, and returns them. Call it once the
    /// checkpoints that carry them are acknowledged, and after a restore (whose checkpoints'
    /// alerts are sent again).
    pub fn deliver_held(&mut self, sink: &mut dyn Sink) -> Result<Vec<Alert>, PipelineError> {
        let mut sent = Vec::new();
        for (alert, read_at) in self.outbox.take_waiting() {
            self.send_alert(sink, &alert, read_at)?;
            sent.push(alert);
        }
        Ok(sent)
    }
}
