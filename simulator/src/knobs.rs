//! Scenario knobs: what makes one simulated world differ from another, so that a model trained
//! on one world can be evaluated on others.
//!
//! The defaults are the training world (`"train"`); [`Knobs::preset`] gives two evaluation
//! worlds, `"eval-a"` (poorer, more spread, more farming, noisier wages, more of the income
//! unseen, more shocks, weighted to the key counties) and `"eval-b"` (richer, fewer farms, more
//! wages, steadier, fewer shocks, weighted to Hanchuan and Yingcheng).

use crate::geography::COUNTIES;
use crate::SimError;
use serde::{Deserialize, Serialize};

/// The names [`Knobs::preset`] knows.
pub const PRESETS: [&str; 3] = ["train", "eval-a", "eval-b"];

/// Scenario parameters of a world; `world.json` carries them under `config.knobs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Knobs {
    /// Multiplies every category's range of normal-year per-capita net income (1.0: marginal
    /// 8,300–11,000, unstable 9,000–13,000, stable 11,000–20,000, sudden 10,000–16,000, general
    /// 15,000–30,000 yuan; a household earns its draw times its members plus its expected
    /// ordinary rigid costs: schooling, chronic and ordinary care). Within 0.3..=3.
    pub income_level: f64,
    /// Scales the width of each category's income range around its midpoint (0: every
    /// household of a category has the midpoint income). Within 0..=2.
    pub income_spread: f64,
    /// Mean share of a farming household's normal-year income that comes from farming (each
    /// household draws within ±11% of it). Farm income is earned only in the harvest months of
    /// its products, so this is also how seasonal income is. Within 0..=0.9.
    pub farm_share: f64,
    /// Relative standard deviation of an employed worker's wage from month to month; the wage
    /// paid is what `wage_fen` reports. Within 0..=0.5.
    pub wage_variation: f64,
    /// This year's wages against last year's (0.05: 5% higher), so last year's income, the
    /// roster's `baseline_income`, goes stale. Within -0.3..=0.5.
    pub wage_growth: f64,
    /// Share of active workers who never appear in the employment feed (working outside the
    /// province, informal jobs); their wages are true income no feed shows. Within 0..=0.5.
    pub unreported_worker_share: f64,
    /// Share of each household's normal-year income from sources no feed reports (property
    /// income, remittances, informal work), paid evenly each month with ±5% noise. Within
    /// 0..=0.5.
    pub unreported_income_share: f64,
    /// Share of household records (all household topics but the roster) that arrive 1–4 months
    /// late. Within 0..=0.5.
    pub late_share: f64,
    /// Multiplies the yearly rates of major illness, unemployment spells, hidden shocks and house
    /// fires (not the fixed calendar of floods, drought, landslides and hail). Within 0..=5.
    pub shock_rate: f64,
    /// Relative weights of the 7 counties in `geography::COUNTIES` order for placing households
    /// (villages stay where they are); empty: the plan's mix (Xiaonan 0.13, Xiaochang 0.18,
    /// Dawu 0.20, Yunmeng 0.10, Yingcheng 0.11, Anlu 0.14, Hanchuan 0.14).
    pub county_weights: Vec<f64>,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            income_level: 1.0,
            income_spread: 1.0,
            farm_share: 0.45,
            wage_variation: 0.10,
            wage_growth: 0.05,
            unreported_worker_share: 0.03,
            unreported_income_share: 0.04,
            late_share: 0.02,
            shock_rate: 1.0,
            county_weights: Vec::new(),
        }
    }
}

impl Knobs {
    /// The knobs of a named world (see [`PRESETS`]), or `None` for an unknown name.
    pub fn preset(name: &str) -> Option<Knobs> {
        match name {
            "train" => Some(Knobs::default()),
            // Poorer and more spread, more farming, weighted to the key counties Xiaochang and
            // Dawu.
            "eval-a" => Some(Knobs {
                income_level: 0.92,
                income_spread: 1.3,
                farm_share: 0.55,
                wage_variation: 0.20,
                wage_growth: 0.08,
                unreported_worker_share: 0.06,
                unreported_income_share: 0.06,
                late_share: 0.05,
                shock_rate: 1.3,
                county_weights: vec![0.10, 0.30, 0.32, 0.06, 0.06, 0.10, 0.06],
            }),
            // Richer, fewer farms, more wages, weighted to Hanchuan and Yingcheng.
            "eval-b" => Some(Knobs {
                income_level: 1.08,
                income_spread: 0.8,
                farm_share: 0.30,
                wage_variation: 0.05,
                wage_growth: 0.02,
                unreported_worker_share: 0.01,
                unreported_income_share: 0.02,
                late_share: 0.01,
                shock_rate: 0.8,
                county_weights: vec![0.14, 0.08, 0.08, 0.12, 0.24, 0.10, 0.24],
            }),
            _ => None,
        }
    }

    /// Checks every knob against its range; the message names the key and its value.
    pub fn validate(&self) -> Result<(), SimError> {
        let ranges: [(&str, f64, f64, f64); 9] = [
            ("income_level", self.income_level, 0.3, 3.0),
            ("income_spread", self.income_spread, 0.0, 2.0),
            ("farm_share", self.farm_share, 0.0, 0.9),
            ("wage_variation", self.wage_variation, 0.0, 0.5),
            ("wage_growth", self.wage_growth, -0.3, 0.5),
            (
                "unreported_worker_share",
                self.unreported_worker_share,
                0.0,
                0.5,
            ),
            (
                "unreported_income_share",
                self.unreported_income_share,
                0.0,
                0.5,
            ),
            ("late_share", self.late_share, 0.0, 0.5),
            ("shock_rate", self.shock_rate, 0.0, 5.0),
        ];
        for (key, value, lo, hi) in ranges {
            if !(value.is_finite() && (lo..=hi).contains(&value)) {
                return Err(SimError::InvalidConfig(format!(
                    "knobs.{key} is {value}: must be within {lo}..={hi}"
                )));
            }
        }
        let w = &self.county_weights;
        if !w.is_empty() {
            if w.len() != COUNTIES.len() {
                return Err(SimError::InvalidConfig(format!(
                    "knobs.county_weights is {w:?}: must be empty or hold {} weights",
                    COUNTIES.len()
                )));
            }
            if w.iter().any(|x| !x.is_finite() || *x < 0.0) || w.iter().sum::<f64>() <= 0.0 {
                return Err(SimError::InvalidConfig(format!(
                    "knobs.county_weights is {w:?}: weights must be finite, ≥ 0 and not all 0"
                )));
            }
        }
        Ok(())
    }

    /// Placement weight of county `c`.
    pub(crate) fn county_weight(&self, c: usize) -> f64 {
        if self.county_weights.is_empty() {
            COUNTIES[c].weight
        } else {
            self.county_weights[c]
        }
    }

    /// Monthly probability of an event with `yearly` base rate, scaled by `shock_rate`.
    pub(crate) fn monthly(&self, yearly: f64) -> f64 {
        let y = (yearly * self.shock_rate).clamp(0.0, 0.95);
        1.0 - (1.0 - y).powf(1.0 / 12.0)
    }
}
