//! Measuring a model, and the model card that records it.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::artifact::ModelArtifact;
use crate::grade::Grade;
use crate::train::{Example, TrainConfig};

/// Alerts of one grade on the evaluation rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradeMetrics {
    pub grade: String,
    pub alerts: u64,
    pub true_alerts: u64,
    /// Share of this grade's alerts whose household was at risk.
    pub precision: f64,
    /// Share of the at-risk rows graded this grade or higher.
    pub recall_at_or_above: f64,
}

/// Rows by truth (at risk or not) and grade given (high, medium, low, none).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    pub at_risk: [u64; 4],
    pub not_at_risk: [u64; 4],
}

/// How well one grader did on the evaluation rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    pub rows: u64,
    pub at_risk: u64,
    pub per_grade: Vec<GradeMetrics>,
    pub confusion: Confusion,
    /// Precision of high and medium alerts together (the ones that must catch every fall).
    pub precision: f64,
    /// Share of at-risk rows with a high or medium alert.
    pub recall: f64,
    pub f1: f64,
}

/// Predicted probability against observed rate, in ten bins.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    pub from: f64,
    pub to: f64,
    pub rows: u64,
    pub mean_probability: f64,
    pub observed_rate: f64,
}

/// How the model did on one group of rows (a county, a category, a month).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupQuality {
    pub group: String,
    pub rows: u64,
    pub at_risk: u64,
    /// High-grade alerts and the share of them at risk.
    pub high_alerts: u64,
    pub high_precision: f64,
    /// Precision and recall of high and medium alerts together.
    pub precision: f64,
    pub recall: f64,
}

/// A model and the rules-only grader measured on the same rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub model: Quality,
    pub rules: Quality,
    /// Reliability table: predicted probability against the observed rate.
    pub calibration: Vec<CalibrationBin>,
    /// Mean squared difference between the probability and the label (0 is perfect).
    pub brier: f64,
    pub per_county: Vec<GroupQuality>,
    pub per_category: Vec<GroupQuality>,
    pub per_month: Vec<GroupQuality>,
}

/// The served model measured on a world it was not trained on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorldEvaluation {
    /// The world: its size, months, seed and knobs, as its `world.json` says.
    pub world: String,
    pub evaluation: Evaluation,
}

/// Cadres' answers to the alerts of one grade: the precision the grade has in the field, where
/// no simulator's truth exists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerifiedGrade {
    pub grade: String,
    /// Alerts of the grade a cadre answered with risk confirmed or not.
    pub answered: u64,
    pub confirmed: u64,
    pub precision: f64,
}

/// Precision per grade from cadres' answers, given as (the alert's grade, risk confirmed);
/// nothing when there are none.
pub fn verified(answers: &[(Grade, bool)]) -> Vec<VerifiedGrade> {
    if answers.is_empty() {
        return Vec::new();
    }
    Grade::ALL
        .iter()
        .map(|grade| {
            let of: Vec<bool> = answers.iter().filter(|(g, _)| g == grade).map(|(_, c)| *c).collect();
            let confirmed = of.iter().filter(|c| **c).count() as u64;
            VerifiedGrade { grade: grade.code().to_owned(), answered: of.len() as u64, confirmed, precision: ratio(confirmed, of.len() as u64) }
        })
        .collect()
}

/// The grade the artifact gives a row, ignoring statutory rules (not part of the features).
pub fn grade_of(artifact: &ModelArtifact, features: &[f64]) -> (f64, Option<Grade>) {
    let p = artifact.probability(features);
    let t = &artifact.thresholds;
    let g = if p >= t.high {
        Some(Grade::High)
    } else if p >= t.medium {
        Some(Grade::Medium)
    } else if p >= t.low {
        Some(Grade::Low)
    } else {
        None
    };
    (p, g)
}

/// Measures `artifact` and the rules-only grades on `rows`.
pub fn evaluate(artifact: &ModelArtifact, rows: &[Example]) -> Evaluation {
    let graded: Vec<(f64, Option<Grade>)> = rows.iter().map(|e| grade_of(artifact, &e.features)).collect();
    let model = quality(rows, graded.iter().map(|g| g.1));
    let rules = quality(rows, rows.iter().map(|e| e.rules_grade));
    let mut calibration = Vec::new();
    for b in 0..10 {
        let (from, to) = (b as f64 / 10.0, (b + 1) as f64 / 10.0);
        let inside: Vec<usize> =
            (0..rows.len()).filter(|&i| graded[i].0 >= from && (graded[i].0 < to || (b == 9 && graded[i].0 <= 1.0))).collect();
        let n = inside.len() as f64;
        calibration.push(CalibrationBin {
            from,
            to,
            rows: inside.len() as u64,
            mean_probability: if n > 0.0 { inside.iter().map(|&i| graded[i].0).sum::<f64>() / n } else { 0.0 },
            observed_rate: if n > 0.0 { inside.iter().filter(|&&i| rows[i].label).count() as f64 / n } else { 0.0 },
        });
    }
    let brier = if rows.is_empty() {
        0.0
    } else {
        rows.iter().zip(&graded).map(|(e, g)| (g.0 - f64::from(u8::from(e.label))).powi(2)).sum::<f64>() / rows.len() as f64
    };
    let grades: Vec<Option<Grade>> = graded.iter().map(|g| g.1).collect();
    Evaluation {
        model,
        rules,
        calibration,
        brier,
        per_county: groups(rows, &grades, |e| e.county.clone()),
        per_category: groups(rows, &grades, |e| e.category.clone()),
        per_month: groups(rows, &grades, |e| month_name(e.month_idx)),
    }
}

/// [`GroupQuality`] of each value of `key`, in key order.
fn groups(rows: &[Example], grades: &[Option<Grade>], key: impl Fn(&Example) -> String) -> Vec<GroupQuality> {
    let mut by: std::collections::BTreeMap<String, Vec<usize>> = std::collections::BTreeMap::new();
    for (i, e) in rows.iter().enumerate() {
        by.entry(key(e)).or_default().push(i);
    }
    by.into_iter()
        .map(|(group, idx)| {
            let sub: Vec<Example> = idx.iter().map(|&i| rows[i].clone()).collect();
            let q = quality(&sub, idx.iter().map(|&i| grades[i]));
            GroupQuality {
                group,
                rows: q.rows,
                at_risk: q.at_risk,
                high_alerts: q.per_grade[0].alerts,
                high_precision: q.per_grade[0].precision,
                precision: q.precision,
                recall: q.recall,
            }
        })
        .collect()
}

fn column(g: Option<Grade>) -> usize {
    match g {
        Some(Grade::High) => 0,
        Some(Grade::Medium) => 1,
        Some(Grade::Low) => 2,
        None => 3,
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn quality(rows: &[Example], grades: impl Iterator<Item = Option<Grade>>) -> Quality {
    let mut confusion = Confusion { at_risk: [0; 4], not_at_risk: [0; 4] };
    for (e, g) in rows.iter().zip(grades) {
        let c = column(g);
        if e.label { confusion.at_risk[c] += 1 } else { confusion.not_at_risk[c] += 1 }
    }
    let at_risk: u64 = confusion.at_risk.iter().sum();
    let per_grade = ["high", "medium", "low"]
        .iter()
        .enumerate()
        .map(|(c, name)| {
            let alerts = confusion.at_risk[c] + confusion.not_at_risk[c];
            GradeMetrics {
                grade: name.to_string(),
                alerts,
                true_alerts: confusion.at_risk[c],
                precision: ratio(confusion.at_risk[c], alerts),
                recall_at_or_above: ratio(confusion.at_risk[..=c].iter().sum(), at_risk),
            }
        })
        .collect();
    let caught = confusion.at_risk[0] + confusion.at_risk[1];
    let raised = caught + confusion.not_at_risk[0] + confusion.not_at_risk[1];
    let (precision, recall) = (ratio(caught, raised), ratio(caught, at_risk));
    let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
    Quality { rows: rows.len() as u64, at_risk, per_grade, confusion, precision, recall, f1 }
}

/// Everything the data team needs to judge a model before promoting it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub version: String,
    pub classifier: String,
    pub feature_version: String,
    pub feature_names: Vec<String>,
    /// The world trained on (size, months, seed, knobs).
    pub train_world: String,
    pub train_months: (String, String),
    /// Months that chose the model and its thresholds.
    pub validation_months: (String, String),
    pub train_rows: u64,
    pub thresholds: crate::artifact::Thresholds,
    pub config: TrainConfig,
    pub evaluation: Evaluation,
    /// The candidate that came second on validation, and how it did.
    pub compared_with: (String, Quality),
    /// Worlds training never saw (other seeds and knobs): the figures to judge the model by.
    pub tests: Vec<WorldEvaluation>,
    /// Precision per grade of the alerts cadres answered, when training read their answers.
    #[serde(default)]
    pub verified: Vec<VerifiedGrade>,
    /// Indicators whose feature never fired in the training rows: the model ignores them.
    #[serde(default)]
    pub never_fired: Vec<String>,
}

/// `YYYY-MM` of a month index (`year * 12 + month − 1`).
pub fn month_name(index: i32) -> String {
    format!("{:04}-{:02}", index.div_euclid(12), index.rem_euclid(12) + 1)
}

impl ModelCard {
    /// A card for `artifact` trained and evaluated as described.
    pub fn new(
        artifact: &ModelArtifact,
        config: &TrainConfig,
        train_world: String,
        train_months: (i32, i32),
        validation_months: (i32, i32),
        train_rows: usize,
        evaluation: Evaluation,
        compared_with: (String, Quality),
    ) -> ModelCard {
        let classifier = match artifact.classifier {
            crate::artifact::Classifier::Logistic { .. } => "logistic_regression",
            crate::artifact::Classifier::Tree { .. } => "decision_tree",
            crate::artifact::Classifier::Stacked { .. } => "tree_then_logistic",
            crate::artifact::Classifier::Forest { .. } => "bagged_trees",
        };
        ModelCard {
            version: artifact.version.clone(),
            classifier: classifier.to_owned(),
            feature_version: artifact.feature_version.clone(),
            feature_names: artifact.feature_names.clone(),
            train_world,
            train_months: (month_name(train_months.0), month_name(train_months.1)),
            validation_months: (month_name(validation_months.0), month_name(validation_months.1)),
            train_rows: train_rows as u64,
            thresholds: artifact.thresholds.clone(),
            config: config.clone(),
            evaluation,
            compared_with,
            tests: Vec::new(),
            verified: Vec::new(),
            never_fired: Vec::new(),
        }
    }

    /// The card as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        let e = &self.evaluation;
        let _ = writeln!(md, "# Model card: {} ({})\n", self.version, self.classifier);
        let _ = writeln!(md, "- Features: {} ({} features)", self.feature_version, self.feature_names.len());
        let _ = writeln!(md, "- Training world: {}", self.train_world);
        let _ = writeln!(md, "- Trained on {} to {} ({} rows); {} months left out; model and thresholds chosen on {} to {} ({} rows, {} at risk)",
            self.train_months.0, self.train_months.1, self.train_rows, self.config.gap_months,
            self.validation_months.0, self.validation_months.1, e.model.rows, e.model.at_risk);
        let _ = writeln!(md, "- Label: the household is below the monitoring line in the month or one of the next three");
        let _ = writeln!(md, "- Thresholds on the probability: high ≥ {:.3}, medium ≥ {:.3}, low ≥ {:.3} (targets: high precision {:.2}, medium {:.2}; seed {})\n",
            self.thresholds.high, self.thresholds.medium, self.thresholds.low, self.config.high_precision, self.config.medium_precision, self.config.seed);
        if !self.never_fired.is_empty() {
            let _ = writeln!(md, "**Indicators that never fired in the training rows, which the model therefore ignores: {}.**\n", self.never_fired.join(", "));
        }
        if self.tests.is_empty() {
            let _ = writeln!(md, "**No world other than the training world was measured: the figures below are the validation months', which chose the thresholds.**\n");
        }
        for t in &self.tests {
            let _ = writeln!(md, "## On a world training never saw: {}\n", t.world);
            section(&mut md, &t.evaluation, None);
        }
        if !self.verified.is_empty() {
            let answered: u64 = self.verified.iter().map(|v| v.answered).sum();
            let _ = writeln!(md, "## Verified by cadres ({answered} answered alerts; their answers also label the rows they are about)\n");
            let _ = writeln!(md, "| alert grade | answered | risk confirmed | precision |\n|---|---|---|---|");
            for v in &self.verified {
                let _ = writeln!(md, "| {} | {} | {} | {:.3} |", v.grade, v.answered, v.confirmed, v.precision);
            }
            let _ = writeln!(md);
        }
        let _ = writeln!(md, "## On the validation months of the training world\n");
        section(&mut md, e, Some(&self.compared_with));
        let _ = writeln!(md, "## Features\n");
        for f in &self.feature_names {
            let _ = writeln!(md, "- `{f}`");
        }
        md
    }
}

/// One evaluation's tables.
fn section(md: &mut String, e: &Evaluation, runner_up: Option<&(String, Quality)>) {
    let _ = writeln!(md, "| grader | high precision | precision (high+medium) | recall (high+medium) | F1 |\n|---|---|---|---|---|");
    let mut graders = vec![("this model", &e.model), ("rules only", &e.rules)];
    if let Some((name, q)) = runner_up {
        graders.push((name.as_str(), q));
    }
    for (name, q) in graders {
        let _ = writeln!(md, "| {name} | {:.3} | {:.3} | {:.3} | {:.3} |", q.per_grade[0].precision, q.precision, q.recall, q.f1);
    }
    for (name, q) in [("this model", &e.model), ("rules only", &e.rules)] {
        let _ = writeln!(md, "\nPer grade, {name}:\n\n| grade | alerts | precision | recall at or above |\n|---|---|---|---|");
        for g in &q.per_grade {
            let _ = writeln!(md, "| {} | {} | {:.3} | {:.3} |", g.grade, g.alerts, g.precision, g.recall_at_or_above);
        }
    }
    let c = &e.model.confusion;
    let _ = writeln!(md, "\nRows by truth and the model's grade:\n\n| | high | medium | low | none |\n|---|---|---|---|---|");
    let _ = writeln!(md, "| at risk | {} | {} | {} | {} |", c.at_risk[0], c.at_risk[1], c.at_risk[2], c.at_risk[3]);
    let _ = writeln!(md, "| not at risk | {} | {} | {} | {} |", c.not_at_risk[0], c.not_at_risk[1], c.not_at_risk[2], c.not_at_risk[3]);
    for (title, groups) in [("county", &e.per_county), ("category", &e.per_category), ("month", &e.per_month)] {
        let _ = writeln!(md, "\nThe model per {title}:\n\n| {title} | rows | at risk | high alerts | high precision | precision | recall |\n|---|---|---|---|---|---|---|");
        for g in groups {
            let _ = writeln!(md, "| {} | {} | {} | {} | {:.3} | {:.3} | {:.3} |", g.group, g.rows, g.at_risk, g.high_alerts, g.high_precision, g.precision, g.recall);
        }
    }
    let _ = writeln!(md, "\nCalibration (Brier score {:.4}):\n\n| probability | rows | mean predicted | observed |\n|---|---|---|---|", e.brier);
    for b in &e.calibration {
        let _ = writeln!(md, "| {:.1}–{:.1} | {} | {:.3} | {:.3} |", b.from, b.to, b.rows, b.mean_probability, b.observed_rate);
    }
    let _ = writeln!(md);
}
