//! The grading interface shared by every grader.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Risk grade of a household-month; decides the verification queue.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Grade {
    Low,
    Medium,
    High,
}

impl Grade {
    /// Every grade, most urgent first.
    pub const ALL: [Grade; 3] = [Grade::High, Grade::Medium, Grade::Low];

    /// Lower-case name used in alerts and metrics.
    pub fn code(self) -> &'static str {
        match self {
            Grade::High => "high",
            Grade::Medium => "medium",
            Grade::Low => "low",
        }
    }

    /// The grade a [`Grade::code`] names.
    pub fn from_code(code: &str) -> Option<Grade> {
        Grade::ALL.into_iter().find(|g| g.code() == code)
    }
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One indicator that fired for a household-month, as the indicator SQL reported it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndicatorHit {
    /// Stable code: the indicator's SQL file name, e.g. `health_two_months`.
    pub code: String,
    /// The sentence with the figures, in Chinese, for the cadre who verifies.
    pub detail: String,
}

/// Everything a grader may look at for one household-month.
#[derive(Clone, Debug, PartialEq)]
pub struct GradingInput {
    /// County code (6 digits), for the plan's key-county rule.
    pub county_code: String,
    /// Roster category code, e.g. `marginal`.
    pub category: String,
    pub members: u32,
    pub labor_count: u32,
    pub chronic_patients: u32,
    pub disabled_members: u32,
    /// Net income of the last full year, yuan.
    pub baseline_income: Decimal,
    /// Estimated per-capita disposable income over the last 12 months, yuan per person per year.
    pub per_capita_income: Decimal,
    /// The monitoring line, yuan per person per year.
    pub poverty_line: Decimal,
    /// Indicators that fired for this household-month.
    pub hits: Vec<IndicatorHit>,
    /// The pipeline's feature vector for this household-month (see the pipeline's feature list).
    pub features: Vec<f64>,
}

/// A reason attached to an alert: a stable code and a sentence with figures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    pub text: String,
}

/// What a grader concluded about one household-month.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Assessment {
    pub grade: Grade,
    /// Risk score in [0, 1]; higher is riskier.
    pub score: f64,
    /// The reasons, most important first.
    pub reasons: Vec<Reason>,
}

/// Grades household-months. Implementations are plain values, shareable across threads.
pub trait Grader: Send + Sync {
    /// Short name stamped on every alert, e.g. `rules`.
    fn name(&self) -> &str;
    /// Version stamped on every alert, so a grade can be traced to the grader that made it.
    fn version(&self) -> &str;
    /// The assessment, or `None` when the household-month needs no verification.
    fn grade(&self, input: &GradingInput) -> Option<Assessment>;

    /// Whether it may alert on a household-month where no indicator fired; when not, the
    /// pipeline skips building features for those rows.
    fn grades_without_hits(&self) -> bool {
        true
    }

    /// The training distribution of the features to watch for drift; none for the rules.
    fn drift_references(&self) -> &[crate::drift::DriftReference] {
        &[]
    }
}
