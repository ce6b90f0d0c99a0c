//! Grading: the served grader (and a shadow, when one runs beside it) over each evaluated
//! household-month, then the alert book, which raises, revises or withdraws alerts.

use std::collections::HashMap;

use fangpin_connectors::event::{china_time, HouseholdCode, Month};
use fangpin_models::drift::DriftMonitor;
use fangpin_models::{Assessment, GradingInput, IndicatorHit};
use rayon::prelude::*;
use rust_decimal::Decimal;

use super::Pipeline;
use crate::alerts::{Alert, AlertStatus, GraderStamp};
use crate::error::PipelineError;
use crate::features::{self, FeatureRow, FeatureSet};
use crate::indicators::Evaluation;
use crate::ledger::Household;
use crate::snapshot::SnapshotRow;
use crate::stats::{stand, tally};
use crate::table;

impl Pipeline {
    pub(super) fn grade(&mut self, evaluation: &Evaluation) -> Result<Vec<Alert>, PipelineError> {
        let grader = self.grader.current();
        let stamp = GraderStamp { name: grader.name().to_owned(), version: grader.version().to_owned() };
        let serving = format!("{} {}", stamp.name, stamp.version);
        if serving != self.stats.grader {
            // A newly promoted model: the info metric names it from this batch on.
            self.metrics.set_model(&stamp.name, &stamp.version, self.features.version());
            self.stats.grader = serving;
            self.drift = DriftMonitor::new(grader.drift_references());
        }
        let detected_at = chrono::Utc::now().with_timezone(&china_time()).to_rfc3339();
        let mut grouped: HashMap<(&str, Month), Vec<IndicatorHit>> = HashMap::new();
        for hit in &evaluation.hits {
            *self.stats.indicator_hits.entry(hit.code.clone()).or_default() += 1;
            self.metrics.indicator_hit(&hit.code, &hit.household_code);
            grouped
                .entry((&hit.household_code, hit.month))
                .or_default()
                .push(IndicatorHit { code: hit.code.clone(), detail: hit.detail.clone() });
        }
        // Rules only look at hits; a model, a shadow or a snapshot needs every household-month.
        let every_row = grader.grades_without_hits() || self.shadow.is_some() || self.snapshots.is_some();
        let judged_from = self.state.judged_from();
        // Grading a household-month reads only its own figures: both cores grade, one part of
        // the households each; the books are then brought up to date in household order.
        let households: Vec<&[(String, Month)]> = evaluation.evaluated.chunk_by(|a, b| a.0 == b.0).collect();
        let per_part = crate::indicators::per_partition(households.len());
        let (state, shadow, poverty_line, grouped) = (&self.state, self.shadow.as_ref(), self.poverty_line, &grouped);
        let (drift, snapshots, feature_set) = (&self.drift, self.snapshots.is_some(), &self.features);
        let parts: Vec<(DriftMonitor, Vec<Graded>)> = households
            .par_chunks(per_part)
            .map(|part| {
                let mut drift = drift.empty_like();
                let graded = part.iter().filter_map(|months| {
                    let household = HouseholdCode::parse(&months[0].0)?;
                    let h = state.household(&household)?;
                    let mut g = Graded {
                        category: h.profile.category.code().to_owned(),
                        household,
                        served: Vec::with_capacity(months.len()),
                        shadowed: Vec::new(),
                        snapshot_rows: Vec::new(),
                    };
                    for (code, month) in *months {
                        let hits = grouped.get(&(code.as_str(), *month)).cloned().unwrap_or_default();
                        if hits.is_empty() && !every_row {
                            g.served.push((*month, None));
                            continue;
                        }
                        let Some(row) = evaluation.feature_rows.get(&(code.clone(), *month)) else { continue };
                        let before = evaluation.feature_rows.get(&(code.clone(), month.plus(-table::LOOKBACK)));
                        let input = grading_input(feature_set, &g.household, h, row, before, hits, poverty_line);
                        let assessment = grader.grade(&input);
                        let mut rules_grade = assessment.as_ref().map(|a| a.grade).filter(|_| grader.name() == "rules");
                        if let Some(shadow) = shadow {
                            let a = shadow.grader.grade(&input);
                            if let Some(a) = &a {
                                rules_grade = Some(a.grade);
                            }
                            g.shadowed.push((*month, a));
                        }
                        drift.observe(&input.features);
                        if snapshots {
                            let household_code = g.household.as_str().to_owned();
                            g.snapshot_rows.push(SnapshotRow { household_code, month: *month, rules_grade, features: input.features });
                        }
                        g.served.push((*month, assessment));
                    }
                    Some(g)
                });
                let graded: Vec<Graded> = graded.collect();
                (drift, graded)
            })
            .collect();
        let mut alerts = Vec::new();
        for (drift, graded) in parts {
            self.drift.add(&drift);
            alerts.extend(self.book_graded(graded, judged_from, &stamp, &detected_at));
        }
        if let Some(snapshots) = &mut self.snapshots {
            snapshots.flush()?;
        }
        self.metrics.set_drift(&self.drift.psi());
        Ok(alerts)
    }

    /// Brings the alert books up to date with graded households, in order.
    fn book_graded(&mut self, graded: Vec<Graded>, judged_from: Option<Month>, stamp: &GraderStamp, detected_at: &str) -> Vec<Alert> {
        let mut alerts = Vec::new();
        for g in graded {
            if let Some(snapshots) = &mut self.snapshots {
                g.snapshot_rows.into_iter().for_each(|row| snapshots.push(row));
            }
            let (household, category) = (&g.household, &g.category);
            for (alert, stood_at) in self.book.update(household, category, g.served, judged_from, stamp, detected_at) {
                tally(&mut self.stats, &alert, stood_at, self.keep_alert_lists);
                if alert.status == AlertStatus::Raised {
                    self.metrics.alerts.with_label_values(&[&alert.queue, alert.grade.code(), &alert.county_code]).inc();
                }
                alerts.push(alert);
            }
            if let Some(shadow) = &mut self.shadow {
                let stamp = GraderStamp { name: shadow.grader.name().to_owned(), version: shadow.grader.version().to_owned() };
                for (alert, _) in shadow.book.update(household, category, g.shadowed, judged_from, &stamp, detected_at) {
                    if self.keep_alert_lists {
                        stand(&mut self.stats.shadow_alerted, &alert);
                    }
                }
            }
        }
        alerts
    }
}

/// One household's judged months, graded: what the books are then updated with.
struct Graded {
    household: HouseholdCode,
    category: String,
    served: Vec<(Month, Option<Assessment>)>,
    shadowed: Vec<(Month, Option<Assessment>)>,
    /// Each graded month's features, when snapshots are written.
    snapshot_rows: Vec<SnapshotRow>,
}

/// What a grader sees of one household-month: its profile, its features (`row`, and `before`
/// from three months earlier) and the indicators that fired.
pub fn grading_input(
    feature_set: &FeatureSet,
    household: &HouseholdCode,
    h: &Household,
    row: &FeatureRow,
    before: Option<&FeatureRow>,
    hits: Vec<IndicatorHit>,
    poverty_line: Decimal,
) -> GradingInput {
    let p = &h.profile;
    let codes: Vec<&str> = hits.iter().map(|h| h.code.as_str()).collect();
    let line = f64::try_from(poverty_line).expect("the monitoring line, a yuan amount, is a float too");
    let features = features::vector(feature_set, row, before, h, household.county(), &codes, line);
    GradingInput {
        county_code: household.county().to_owned(),
        category: p.category.code().to_owned(),
        members: p.members,
        labor_count: p.labor_count,
        chronic_patients: p.chronic_patients,
        disabled_members: p.disabled_members,
        baseline_income: p.baseline_income,
        per_capita_income: row.per_capita_income.unwrap_or(p.baseline_income / Decimal::from(p.members.max(1))),
        poverty_line,
        hits,
        features,
    }
}
