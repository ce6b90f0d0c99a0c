//! Ground truth: which households fall below the poverty line, when, and why; and scoring a
//! pipeline's alerts against it.
//!
//! The truth is the official measure computed from the households' true incomes: for household
//! h and simulated month m,
//!
//! ```text
//! T(m) = Σ_{k=m−11..m} N_k / members
//! ```
//!
//! where N_k is h's true net income of month k (k < 0 is the warm-up year before the first
//! simulated month): wages paid, farm income as assessed, transfers, unreported income, less
//! out-of-pocket medical costs, schooling net of aid, direct disaster losses and hidden losses
//! (see the crate docs). h is below the line in month m when T(m) < poverty_line. The kinds of
//! loss of the window (the [`Ledger`]'s loss side) only attribute causes.

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

/// Months before the first simulated month that are simulated for the truth only (the warm-up
/// year: month indices −12..=−1, no feed records).
pub const WARMUP: i32 = 12;

/// What a booked amount of true net income is (kept per household in tests, to recompute the
/// truth from the flows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Wages paid (reported or not).
    Wage,
    /// Farm income as assessed (the corrected figure when a report is corrected).
    Farm,
    /// Civil-affairs transfers: dibao, extreme poverty, disability, temporary.
    Transfer,
    /// Income no feed reports (property income, remittances, informal work).
    Unreported,
    /// Out-of-pocket medical costs of settled, not reversed bills (booked negative).
    Medical,
    /// Schooling fees net of aid (booked negative).
    Education,
    /// Direct disaster losses (booked negative).
    Disaster,
    /// Losses no feed reports (booked negative).
    Hidden,
}

/// One household's true monthly net income and, for cause attribution, its losses; month
/// index k runs from −[`WARMUP`] to the last simulated month. Reused across households.
pub struct Ledger {
    loss: Vec<[Decimal; 6]>,
    net: Vec<Decimal>,
    /// Every booked flow: (month index, kind, signed amount).
    #[cfg(test)]
    pub flows: Vec<(i32, Flow, Decimal)>,
}

impl Ledger {
    /// An empty ledger over the warm-up year and `months` simulated months.
    pub fn new(months: u32) -> Self {
        let n = months as usize + WARMUP as usize;
        Ledger {
            loss: vec![[Decimal::ZERO; 6]; n],
            net: vec![Decimal::ZERO; n],
            #[cfg(test)]
            flows: Vec::new(),
        }
    }

    /// Clears it for the next household.
    pub fn reset(&mut self) {
        self.loss.iter_mut().for_each(|l| *l = [Decimal::ZERO; 6]);
        self.net.iter_mut().for_each(|a| *a = Decimal::ZERO);
        #[cfg(test)]
        self.flows.clear();
    }

    fn slot(k: i32) -> usize {
        debug_assert!(k >= -WARMUP, "month index {k} before the warm-up year");
        (k + WARMUP) as usize
    }

    /// Records, for attribution only, a loss of `amount` yuan of kind `cause` in month `k`
    /// against the normal year (negative for a gain): wages lost to unemployment, farm
    /// shortfalls. The true income itself is booked with [`Ledger::earn`].
    pub fn loss(&mut self, cause: Cause, k: i32, amount: Decimal) {
        self.loss[Self::slot(k)][cause as usize] += amount;
    }

    /// Books `amount` yuan of true income of kind `flow` received in month `k`.
    pub fn earn(&mut self, flow: Flow, k: i32, amount: Decimal) {
        self.net[Self::slot(k)] += amount;
        #[cfg(test)]
        self.flows.push((k, flow, amount));
        #[cfg(not(test))]
        let _ = flow;
    }

    /// Books a rigid cost of `amount` yuan borne in month `k`: it lowers the true income and is
    /// a loss of kind `cause`.
    pub fn cost(&mut self, cause: Cause, flow: Flow, k: i32, amount: Decimal) {
        self.loss(cause, k, amount);
        self.earn(flow, k, -amount);
    }

    /// True net income of the warm-up year (last year's official net income before rounding).
    pub fn last_year(&self) -> Decimal {
        self.net[..WARMUP as usize].iter().sum()
    }

    /// Sums of each loss kind and of net income over the 12 months ending with simulated month m.
    fn window(&self, m: usize) -> ([Decimal; 6], Decimal) {
        let mut loss = [Decimal::ZERO; 6];
        let mut net = Decimal::ZERO;
        let end = m + WARMUP as usize;
        for j in end - 11..=end {
            for (acc, l) in loss.iter_mut().zip(&self.loss[j]) {
                *acc += *l;
            }
            net += self.net[j];
        }
        (loss, net)
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
    /// Months (`YYYY-MM`) in which T(m) < poverty line.
    pub below_line_months: Vec<String>,
    /// The first of them.
    pub first_below_month: Option<String>,
    /// Shock kinds that contributed, largest first (see [`assess`]).
    pub causes: Vec<String>,
    /// T(m), the official per-capita net income of the 12 months ending with m, per simulated
    /// month in order; yuan with 2 decimals.
    #[serde(default)]
    pub income_per_capita: Vec<String>,
}

/// What [`assess`] finds for one household.
#[derive(Clone, Debug, PartialEq)]
pub struct Assessment {
    /// Months (`YYYY-MM`) with T(m) < line.
    pub below_line_months: Vec<String>,
    /// Causes, largest first.
    pub causes: Vec<String>,
    /// T(m) per simulated month, yuan with 2 decimals.
    pub income_per_capita: Vec<String>,
}

/// Below-line months, causes and T(m) of one household from its ledger.
///
/// T(m) = Σ_{k=m−11..m} N_k / members, N_k the true net income of month k (k < 0: the warm-up
/// year); below the line when T(m) < `line`. A cause is named when, in the window of some
/// below-line month, its kind took at least 500 yuan and at least 15% of that window's positive
/// losses; causes are ordered by what they took summed over the windows of all below-line
/// months, largest first.
pub fn assess(ledger: &Ledger, cal: &Calendar, members: u32, line: Decimal) -> Assessment {
    let members_d = Decimal::from(members.max(1));
    let threshold = line * members_d;
    let mut months = Vec::new();
    let mut per_capita = Vec::with_capacity(cal.months as usize);
    let mut named = [false; 6];
    let mut weight = [Decimal::ZERO; 6];
    for m in 0..cal.months as usize {
        let (loss, net) = ledger.window(m);
        per_capita.push(format!("{:.2}", (net / members_d).round_dp(2)));
        // T(m) < line  ⇔  Σ N_k < line × members (members > 0).
        if net >= threshold {
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
    Assessment {
        below_line_months: months,
        causes: causes
            .into_iter()
            .map(|c| Cause::ALL[c].as_str().to_string())
            .collect(),
        income_per_capita: per_capita,
    }
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
    /// Fallers with an alert (any grade) for a month in [f−3, f+1]: at most three months early
    /// and no later than one month after the first below-line month.
    pub caught: u64,
    /// caught / fallers (0 when there are none).
    pub recall: f64,
    /// Per grade: (alerts, true alerts).
    pub per_grade: BTreeMap<String, (u64, u64)>,
    /// Per alert month (`YYYY-MM`, as the alert spells it), per grade: (alerts, true alerts).
    pub per_month: BTreeMap<String, BTreeMap<String, (u64, u64)>>,
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
        let month_entry = s
            .per_month
            .entry(a.month.clone())
            .or_default()
            .entry(a.grade.clone())
            .or_insert((0, 0));
        month_entry.0 += 1;
        let (Some(m), Some((below, first))) =
            (month_key(&a.month), index.get(a.household_code.as_str()))
        else {
            continue;
        };
        if below.iter().any(|&b| (m..=m + 3).contains(&b)) {
            s.true_alerts += 1;
            entry.1 += 1;
            month_entry.1 += 1;
        }
        if let Some(f) = first {
            if (f - 3..=*f + 1).contains(&m) {
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
            income_per_capita: vec![],
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
            alert("B", "2024-10", "low"),  // false: after the fall; catches B (f+1)
            alert("C", "2024-03", "low"),  // false: C never falls
            alert("X", "2024-03", "high"), // unknown household: false
            alert("D", "2024-03", "medium"), // true; catches D (f)
            alert("E", "2024-08", "low"),  // false; f+2 is too late to catch E
        ];
        let mut truth = truth;
        truth.push(gt("E", &["2024-06"]));
        let s = score(&truth, &alerts);
        assert_eq!((s.alerts, s.true_alerts), (7, 2));
        assert!((s.precision - 2.0 / 7.0).abs() < 1e-12);
        assert_eq!((s.fallers, s.caught), (4, 3));
        assert!((s.recall - 3.0 / 4.0).abs() < 1e-12);
        assert_eq!(s.per_grade["high"], (2, 1));
        assert_eq!(s.per_grade["medium"], (2, 1));
        assert_eq!(s.per_grade["low"], (3, 0));
        assert_eq!(s.per_month["2024-03"]["high"], (1, 0));
        assert_eq!(s.per_month["2024-03"]["medium"], (1, 1));
        assert_eq!(s.per_month["2024-03"]["low"], (1, 0));
        assert_eq!(s.per_month["2024-02"]["high"], (1, 1));
        assert_eq!(s.per_month.len(), 5);
        let empty = score(&truth, &[]);
        assert_eq!((empty.precision, empty.recall), (0.0, 0.0));
    }

    #[test]
    fn assess_uses_a_twelve_month_window_over_the_warm_up_year() {
        let cal = Calendar::new(2024, 1, 15);
        let mut l = Ledger::new(15);
        // 2,250 a month for 3 people: 27,000 a year, 9,000 each; the line 8,000 leaves 3,000.
        for k in -WARMUP..15 {
            l.earn(Flow::Wage, k, Decimal::from(2_250));
        }
        l.cost(Cause::Health, Flow::Medical, 1, Decimal::from(2_500));
        l.cost(Cause::Education, Flow::Education, 2, Decimal::from(600));
        l.earn(Flow::Transfer, 3, Decimal::from(200));
        assert_eq!(l.last_year(), Decimal::from(27_000));
        let a = assess(&l, &cal, 3, Decimal::from(8_000));
        // Below in 2024-03 only: assistance in April lifts it; 2024-02 is out of the window of
        // 2025-02.
        assert_eq!(a.below_line_months, vec!["2024-03"]);
        assert_eq!(a.causes, vec!["health", "education"]);
        assert_eq!(a.income_per_capita.len(), 15);
        assert_eq!(a.income_per_capita[0], "9000.00");
        assert_eq!(a.income_per_capita[2], "7966.67");
        assert_eq!(a.income_per_capita[3], "8033.33");
        assert_eq!(a.income_per_capita[14], "9066.67");
    }
}
