//! What a run has done so far: records, dead letters, alerts standing, claims and the time
//! each stage took, kept by the batch loop for summaries and tests.

use std::collections::BTreeMap;

use fangpin_claims::CountyPremium;
use fangpin_models::Grade;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::alerts::{Alert, AlertStatus};

/// What a run has done so far, for summaries and tests.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunStats {
    pub records_in: BTreeMap<String, u64>,
    pub dead_letters: BTreeMap<String, u64>,
    pub duplicates: u64,
    pub corrections: u64,
    /// Alerts standing (raised and not withdrawn), by county and latest grade.
    pub alerts: BTreeMap<(String, Grade), u64>,
    /// Messages that changed an alert already sent (other figures, reasons or grade).
    pub alert_revisions: u64,
    /// Messages that withdrew an alert.
    pub alert_withdrawals: u64,
    pub indicator_hits: BTreeMap<String, u64>,
    /// Household and risk month of every alert standing, with its latest grade, for scoring
    /// against ground truth; kept only when asked for ([`crate::Pipeline::keep_alert_lists`]), since a
    /// continuous run would grow it for ever.
    pub alerted: BTreeMap<(String, String), Grade>,
    /// The same for the shadow grader's alerts, which are recorded but never sent.
    pub shadow_alerted: BTreeMap<(String, String), Grade>,
    /// Grader name and version stamped on the last alerts.
    pub grader: String,
    /// Seconds spent in each stage of the micro-batch loop (decode, state, claims, sql, grading, fanout).
    pub stage_seconds: BTreeMap<&'static str, f64>,
    /// Claim events by coverage: claims raised, restatements, withdrawals, and what the claims
    /// pay now (the sum of every event's adjustment).
    pub claims: BTreeMap<String, ClaimTotals>,
    /// Premiums of the insured households by county, as of the end of the run.
    pub premiums: BTreeMap<String, CountyPremium>,
}

/// One coverage's claim events in a run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ClaimTotals {
    pub claims: u64,
    pub restatements: u64,
    pub withdrawals: u64,
    pub amount: Decimal,
}

/// Keeps the run's counts up to date with one message: alerts standing per county and grade,
/// revisions, withdrawals, and (when kept) the list of alerts standing.
pub(crate) fn tally(stats: &mut RunStats, alert: &Alert, stood_at: Option<Grade>, keep_list: bool) {
    if let Some(g) = stood_at {
        if let Some(n) = stats.alerts.get_mut(&(alert.county_code.clone(), g)) {
            *n = n.saturating_sub(1);
        }
    }
    match alert.status {
        AlertStatus::Withdrawn => stats.alert_withdrawals += 1,
        status => {
            *stats.alerts.entry((alert.county_code.clone(), alert.grade)).or_default() += 1;
            stats.alert_revisions += u64::from(status == AlertStatus::Revised);
        }
    }
    if keep_list {
        stand(&mut stats.alerted, alert);
    }
}

/// Updates a list of alerts standing with one message.
pub(crate) fn stand(standing: &mut BTreeMap<(String, String), Grade>, alert: &Alert) {
    let key = (alert.household_code.clone(), alert.month.clone());
    if alert.status == AlertStatus::Withdrawn {
        standing.remove(&key);
    } else {
        standing.insert(key, alert.grade);
    }
}
