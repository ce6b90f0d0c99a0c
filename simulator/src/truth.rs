//! Ground truth: which households fall below the poverty line, when, and why; and scoring a
//! pipeline's alerts against it.
//!
//! For household h and simulated month m the true annual per-capita disposable income is
//!
//! ```text
//! D(m) = ( baseline_income − Σ_{k∈W(m)} loss_k + Σ_{k∈W(m)} temporary_assistance_k ) / members
//! ```
//!
//! with W(m) the simulated months k, m−11 ≤ k ≤ m, and `loss_k` the sum over the six shock kinds
//! of what hit the household in month k (see the crate docs for each kind). h is below the line
//! in month m when D(m) < poverty_line.

use crate::calendar::{month_key, Calendar};
use crate::SimError;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::Path;

/// The kinds of shock the truth attributes a fall to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cause {
    /// Medical out-of-pocket costs.
    Health,
    /// Disaster losses: flood/drought farm shortfalls and direct damage.
    Disaster,
    /// Market losses: price slumps and ordinary farm-income swings.
    Market,
    /// Wages lost to unemployment.
    Unemployment,
    /// Schooling costs net of aid.
    Education,
    /// Income shocks no department reports.
    Hidden,
}

impl Cause {
    /// All causes, in reporting order.
    pub const ALL: [Cause; 6] = [
        Cause::Health,
        Cause::Disaster,
        Cause::Market,
        Cause::Unemployment,
        Cause::Education,
        Cause::Hidden,
    ];

    /// The name used in `GroundTruth::causes`.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Health => "health",
            Cause::Disaster => "disaster",
            Cause::Market => "market",
            Cause::Unemployment => "unemployment",
            Cause::Education => "education",
            Cause::Hidden => "hidden",
        }
    }
}

/// A cause is named when it took at least this many yuan out of the window...
const CAUSE_MIN_YUAN: i64 = 500;
/// ...and at least this share (percent) of all the window's positive losses.
const CAUSE_MIN_PERCENT: i64 = 15;

/// Per-month losses and temporary assistance of one household, reused across households.
pub struct Ledger {
    loss: Vec<[Decimal; 6]>,
    assist: Vec<Decimal>,
}

impl Ledger {
    /// An empty ledger over `months` months.
    pub fn new(months: u32) -> Self {
        Ledger {
            loss: vec![[Decimal::ZERO; 6]; months as usize],
            assist: vec![Decimal::ZERO; months as usize],
        }
    }

    /// Clears it for the next household.
    pub fn reset(&mut self) {
        self.loss.iter_mut().for_each(|l| *l = [Decimal::ZERO; 6]);
        self.assist.iter_mut().for_each(|a| *a = Decimal::ZERO);
    }

    /// Records a loss of `amount` yuan of kind `cause` in month `k` (negative for a gain).
    pub fn loss(&mut self, cause: Cause, k: u32, amount: Decimal) {
        self.loss[k as usize][cause as usize] += amount;
    }

    /// Records temporary assistance paid in month `k`.
    pub fn assist(&mut self, k: u32, amount: Decimal) {
        self.assist[k as usize] += amount;
    }

    /// Sums of each loss kind and of assistance over W(m).
    fn window(&self, m: usize) -> ([Decimal; 6], Decimal) {
        let mut loss = [Decimal::ZERO; 6];
        let mut assist = Decimal::ZERO;
        for k in m.saturating_sub(11)..=m {
            for (acc, l) in loss.iter_mut().zip(&self.loss[k]) {
                *acc += *l;
            }
            assist += self.assist[k];
        }
        (loss, assist)
    }
}

/// The truth about one roster household.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct GroundTruth {
    /// Household code.
    pub household_code: String,
    /// County code (6 digits).
    pub county_code: String,
    /// True category (after any roster correction).
    pub category: String,
    /// Number of members.
    pub members: u32,
    /// Months (`YYYY-MM`) in which D(m) < poverty line.
    pub below_line_months: Vec<String>,
    /// The first of them.
    pub first_below_month: Option<String>,
    /// Shock kinds that contributed, largest first (see [`assess`]).
    pub causes: Vec<String>,
}

/// Below-line months and causes of one household from its ledger.
///
/// A cause is named when, in the window of some below-line month, its kind took at least 500
/// yuan and at least 15% of that window's positive losses; causes are ordered by what they took
/// summed over the windows of all below-line months, largest first.
pub fn assess(
    ledger: &Ledger,
    cal: &Calendar,
    baseline: Decimal,
    members: u32,
    line: Decimal,
) -> (Vec<String>, Vec<String>) {
    let threshold = line * Decimal::from(members);
    let mut months = Vec::new();
    let mut named = [false; 6];
    let mut weight = [Decimal::ZERO; 6];
    for m in 0..cal.months as usize {
        let (loss, assist) = ledger.window(m);
        let total: Decimal = loss.iter().sum();
        // D(m) < line  ⇔  baseline − losses + assistance < line × members (members > 0).
        if baseline - total + assist >= threshold {
            continue;
        }
        months.push(cal.ym_dash(m as u32));
        let positive: Decimal = loss.iter().filter(|l| l.is_sign_positive()).sum();
        for c in 0..6 {
            if loss[c] >= Decimal::from(CAUSE_MIN_YUAN)
                && loss[c] * Decimal::ONE_HUNDRED >= positive * Decimal::from(CAUSE_MIN_PERCENT)
            {
                named[c] = true;
            }
            weight[c] += loss[c];
        }
    }
    let mut causes: Vec<usize> = (0..6).filter(|&c| named[c]).collect();
    causes.sort_by(|&a, &b| weight[b].cmp(&weight[a]).then(a.cmp(&b)));
    (
        months,
        causes
            .into_iter()
            .map(|c| Cause::ALL[c].as_str().to_string())
            .collect(),
    )
}

/// Reads `ground_truth.ndjson`.
pub fn load(path: &Path) -> Result<Vec<GroundTruth>, SimError> {
    let io = |source| SimError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io)?;
        if line.trim().is_empty() {
            continue;
        }
        let gt = serde_json::from_str(&line).map_err(|e| SimError::Parse {
            path: path.to_path_buf(),
            line: i as u64 + 1,
            message: e.to_string(),
        })?;
        out.push(gt);
    }
    Ok(out)
}

/// One alert as scored against the truth: household code, risk month "YYYY-MM", grade "high"|"medium"|"low".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScoredAlert {
    /// Household the alert is about.
    pub household_code: String,
    /// Month at risk, `YYYY-MM`.
    pub month: String,
    /// `high`, `medium` or `low`.
    pub grade: String,
}

/// Precision and recall of a set of alerts.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Score {
    /// Alerts scored.
    pub alerts: u64,
    /// Alerts (h, m) with h below the line in some month of [m, m+3].
    pub true_alerts: u64,
    /// true_alerts / alerts (0 when there are none).
    pub precision: f64,
    /// Households with a first below-line month f.
    pub fallers: u64,
    /// Fallers with an alert (any grade) for a month in [f−3, f].
    pub caught: u64,
    /// caught / fallers (0 when there are none).
    pub recall: f64,
    /// Per grade: (alerts, true alerts).
    pub per_grade: BTreeMap<String, (u64, u64)>,
}

/// Scores alerts against the truth (definitions on [`Score`]'s fields).
pub fn score(truth: &[GroundTruth], alerts: &[ScoredAlert]) -> Score {
    // Household → (below-line month keys, first below-line month key).
    let index: HashMap<&str, (Vec<i32>, Option<i32>)> = truth
        .iter()
        .map(|t| {
            let below: Vec<i32> = t
                .below_line_months
                .iter()
                .filter_map(|m| month_key(m))
                .collect();
            let first = t.first_below_month.as_deref().and_then(month_key);
            (t.household_code.as_str(), (below, first))
        })
        .collect();
    let mut s = Score::default();
    let mut caught: HashMap<&str, bool> = HashMap::new();
    for a in alerts {
        s.alerts += 1;
        let entry = s.per_grade.entry(a.grade.clone()).or_insert((0, 0));
        entry.0 += 1;
        let (Some(m), Some((below, first))) =
            (month_key(&a.month), index.get(a.household_code.as_str()))
        else {
            continue;
        };
        if below.iter().any(|&b| (m..=m + 3).contains(&b)) {
            s.true_alerts += 1;
            entry.1 += 1;
        }
        if let Some(f) = first {
            if (f - 3..=*f).contains(&m) {
                caught.insert(a.household_code.as_str(), true);
            }
        }
    }
    s.fallers = index.values().filter(|(_, f)| f.is_some()).count() as u64;
    s.caught = caught.len() as u64;
    s.precision = if s.alerts == 0 {
        0.0
    } else {
        s.true_alerts as f64 / s.alerts as f64
    };
    s.recall = if s.fallers == 0 {
        0.0
    } else {
        s.caught as f64 / s.fallers as f64
    };
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gt(code: &str, below: &[&str]) -> GroundTruth {
        GroundTruth {
            household_code: code.into(),
            county_code: "420922".into(),
            category: "marginal".into(),
            members: 3,
            below_line_months: below.iter().map(|s| s.to_string()).collect(),
            first_below_month: below.first().map(|s| s.to_string()),
            causes: vec![],
        }
    }

    fn alert(code: &str, month: &str, grade: &str) -> ScoredAlert {
        ScoredAlert {
            household_code: code.into(),
            month: month.into(),
            grade: grade.into(),
        }
    }

    #[test]
    fn score_hand_made_case() {
        let truth = vec![
            gt("A", &["2024-05", "2024-06"]),
            gt("B", &["2024-09"]),
            gt("C", &[]),
            gt("D", &["2024-03"]),
        ];
        let alerts = vec![
            alert("A", "2024-02", "high"), // true (05 in [02,05]); catches A (f−3)
            alert("A", "2024-01", "medium"), // false: [01,04] misses; too early to catch
            alert("B", "2024-10", "low"),  // false: after the fall; does not catch
            alert("C", "2024-03", "low"),  // false: C never falls
            alert("X", "2024-03", "high"), // unknown household: false
            alert("D", "2024-03", "medium"), // true; catches D (f)
        ];
        let s = score(&truth, &alerts);
        assert_eq!((s.alerts, s.true_alerts), (6, 2));
        assert!((s.precision - 2.0 / 6.0).abs() < 1e-12);
        assert_eq!((s.fallers, s.caught), (3, 2));
        assert!((s.recall - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.per_grade["high"], (2, 1));
        assert_eq!(s.per_grade["medium"], (2, 1));
        assert_eq!(s.per_grade["low"], (2, 0));
        let empty = score(&truth, &[]);
        assert_eq!((empty.precision, empty.recall), (0.0, 0.0));
    }

    #[test]
    fn assess_uses_a_twelve_month_window() {
        let cal = Calendar::new(2024, 1, 15);
        let mut l = Ledger::new(15);
        // Baseline 27,000 for 3 people: 9,000 each, line 8,000 → 3,000 of headroom.
        l.loss(Cause::Health, 1, Decimal::from(2_500));
        l.loss(Cause::Education, 2, Decimal::from(600));
        l.assist(3, Decimal::from(200));
        let (months, causes) = assess(&l, &cal, Decimal::from(27_000), 3, Decimal::from(8_000));
        // Below in 2024-03 only: assistance in April lifts it; 2024-02 is out of the window of 2025-02.
        assert_eq!(months, vec!["2024-03"]);
        assert_eq!(causes, vec!["health", "education"]);
    }
}
