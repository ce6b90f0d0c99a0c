//! The rules-based grader: each indicator is evidence with a weight, combined as independent
//! evidence (`score = 1 − Π(1 − w)`), then sharpened for the households the plan says need more
//! protection. Thresholds: score ≥ 0.8 is high, ≥ 0.5 medium, anything else that fired is low.

use rust_decimal::Decimal;

use crate::error::ModelError;
use crate::grade::{Assessment, Grade, Grader, GradingInput, Reason};

/// Weight of an indicator that the grader has no entry for (an analyst's new SQL file).
const DEFAULT_WEIGHT: f64 = 0.3;

/// Categories the national rules monitor as at risk of relapse.
const VULNERABLE_CATEGORIES: [&str; 3] = ["unstable_alleviated", "marginal", "sudden_difficulty"];

use crate::plan::{KEY_COUNTIES, NEAR_LINE};

/// Grades by weighted indicator evidence; see the module documentation.
#[derive(Clone, Debug)]
pub struct RulesGrader {
    weights: Vec<(String, f64)>,
    high: f64,
    medium: f64,
}

/// Score thresholds of the high and medium grades.
const HIGH: f64 = 0.8;
const MEDIUM: f64 = 0.5;

impl RulesGrader {
    /// A grader with the given indicator weights in [0, 1) (each indicator file gives its own)
    /// and the plan's thresholds.
    pub fn with_weights(weights: Vec<(String, f64)>) -> Result<Self, ModelError> {
        RulesGrader::new(weights, HIGH, MEDIUM)
    }

    /// A grader with the given indicator weights in [0, 1) and grade thresholds.
    pub fn new(weights: Vec<(String, f64)>, high: f64, medium: f64) -> Result<Self, ModelError> {
        if let Some((code, w)) = weights.iter().find(|(_, w)| !(0.0..1.0).contains(w)) {
            return Err(ModelError::Config(format!("weight of {code} is {w}; weights must be in [0, 1)")));
        }
        if !(0.0 < medium && medium < high && high <= 1.0) {
            return Err(ModelError::Config(format!(
                "thresholds must satisfy 0 < medium < high <= 1, got medium {medium} high {high}"
            )));
        }
        Ok(RulesGrader { weights, high, medium })
    }

    fn weight(&self, code: &str) -> f64 {
        self.weights.iter().find(|(c, _)| c == code).map_or(DEFAULT_WEIGHT, |(_, w)| *w)
    }
}

impl Grader for RulesGrader {
    fn name(&self) -> &str {
        "rules"
    }

    fn version(&self) -> &str {
        "1"
    }

    fn grades_without_hits(&self) -> bool {
        false
    }

    fn grade(&self, input: &GradingInput) -> Option<Assessment> {
        if input.hits.is_empty() {
            return None;
        }
        let mut no_risk: f64 = input.hits.iter().map(|h| 1.0 - self.weight(&h.code)).product();
        if VULNERABLE_CATEGORIES.contains(&input.category.as_str()) {
            no_risk *= 0.8;
        }
        // Within 20% of the line, a shock is more likely to push the household under it.
        if input.per_capita_income < input.poverty_line * Decimal::try_from(NEAR_LINE).expect("a small constant") {
            no_risk *= 0.6;
        }
        if KEY_COUNTIES.contains(&input.county_code.as_str()) {
            no_risk *= 0.85;
        }
        let score = 1.0 - no_risk;
        let grade = if score >= self.high {
            Grade::High
        } else if score >= self.medium {
            Grade::Medium
        } else {
            Grade::Low
        };
        let mut hits: Vec<_> = input.hits.iter().collect();
        hits.sort_by(|a, b| self.weight(&b.code).total_cmp(&self.weight(&a.code)).then(a.code.cmp(&b.code)));
        let reasons = hits.into_iter().map(|h| Reason { code: h.code.clone(), text: h.detail.clone() }).collect();
        Some(Assessment { grade, score: (score * 1000.0).round() / 1000.0, reasons })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::IndicatorHit;

    fn input(category: &str, county: &str, per_capita: i64, codes: &[&str]) -> GradingInput {
        GradingInput {
            county_code: county.into(),
            category: category.into(),
            members: 3,
            labor_count: 2,
            chronic_patients: 0,
            disabled_members: 0,
            baseline_income: Decimal::from(45_000),
            per_capita_income: Decimal::from(per_capita),
            poverty_line: Decimal::from(8_000),
            hits: codes.iter().map(|c| IndicatorHit { code: c.to_string(), detail: format!("{c} fired") }).collect(),
            features: Vec::new(),
        }
    }

    fn grader() -> RulesGrader {
        RulesGrader::with_weights(vec![("below_line".into(), 0.85), ("health_two_months".into(), 0.6)]).unwrap()
    }

    #[test]
    fn nothing_fired_needs_no_verification() {
        assert_eq!(grader().grade(&input("stable_alleviated", "420902", 15_000, &[])), None);
    }

    /// An indicator the grader has no weight for (an analyst's new file) counts as mild
    /// evidence, and reasons come strongest first.
    #[test]
    fn an_unweighted_indicator_is_mild_evidence_and_reasons_are_ordered_by_weight() {
        let a = grader().grade(&input("stable_alleviated", "420902", 15_000, &["new_rule"])).unwrap();
        assert_eq!(a.grade, Grade::Low);
        assert!((a.score - DEFAULT_WEIGHT).abs() < 1e-9);
        let a = grader().grade(&input("stable_alleviated", "420902", 15_000, &["new_rule", "below_line"])).unwrap();
        assert_eq!(a.reasons[0].code, "below_line");
    }

    #[test]
    fn bad_weights_are_refused() {
        assert!(RulesGrader::new(vec![("x".into(), 1.5)], 0.8, 0.5).is_err());
        assert!(RulesGrader::new(vec![], 0.5, 0.8).is_err());
    }
}
