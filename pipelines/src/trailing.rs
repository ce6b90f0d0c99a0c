//! The trailing windows the features SQL reads: for each household-month, sums and maxima of
//! the monthly figures over the last 3 or 12 months the window holds.
//!
//! DataFusion's window functions cost ~30 µs per household partition here (the 17 windows the
//! SQL had then, over a dozen rows each), which made SQL 71% of a replay. Computed in Rust over the household's
//! months, the same windows cost a few microseconds, and the SQL (`sql/household_features.sql`)
//! is left with the formulas: a projection over the rows being judged. `sql/trailing_windows.sql`
//! states the same windows ([`WINDOWS`]) as SQL; the golden test
//! `trailing::trailing_windows_equal_their_sql_statement` proves both equal on a simulated world
//! for every column and every indicator, and the DuckDB benchmark runs it.
//!
//! Which months a window counts ([`Months`]):
//! - `All`: every month of the window, as a rule reads it (costs of the last 3 months);
//! - `Fed`: the months the feeds cover and the stream has closed, from `feeds_start` to the
//!   month before the open one: the income measure counts their income, and fills the others
//!   with last year's income spread evenly (a month still open has not received its wages);
//! - `Covered`: the months from `feeds_start` on, the open one included: rigid costs count as
//!   soon as they arrive.

use crate::error::PipelineError;
use crate::ledger::MonthFigures;
use crate::table::{fen, MonthRow};

/// Which months of the trailing span a window counts.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Months {
    All,
    Fed,
    Covered,
}

/// What a window computes over the months it counts.
#[derive(Copy, Clone, Debug)]
pub enum Of {
    /// Sum of a money figure, exact, in fen.
    Money(fn(&MonthFigures) -> rust_decimal::Decimal),
    /// Sum of a count.
    Count(fn(&MonthFigures) -> i32),
    /// Largest value of a count.
    Max(fn(&MonthFigures) -> i32),
    /// Months where a count is above zero.
    MonthsWith(fn(&MonthFigures) -> i32),
    /// The months counted.
    Months,
}

/// One trailing window: the column it becomes, its span in months, which months it counts.
#[derive(Copy, Clone, Debug)]
pub struct Window {
    pub name: &'static str,
    pub span: i32,
    pub months: Months,
    pub of: Of,
}

const fn w(name: &'static str, span: i32, months: Months, of: Of) -> Window {
    Window { name, span, months, of }
}

use Months::{All, Covered, Fed};

/// Every window, in column order. Money windows are `DECIMAL(18,2)`, the others `INT`.
pub const WINDOWS: [Window; 24] = [
    w("wage_loss_3m", 3, All, Of::Money(|f| f.wage_loss)),
    w("wage_loss_12m", 12, All, Of::Money(|f| f.wage_loss)),
    w("farm_expected_3m", 3, All, Of::Money(|f| f.farm_expected)),
    w("farm_expected_12m", 12, All, Of::Money(|f| f.farm_expected)),
    w("farm_actual_3m", 3, All, Of::Money(|f| f.farm_actual)),
    w("farm_actual_12m", 12, All, Of::Money(|f| f.farm_actual)),
    w("education_fees_12m", 12, All, Of::Money(|f| f.education_fees)),
    w("education_aid_12m", 12, All, Of::Money(|f| f.education_aid)),
    w("medical_oop_3m", 3, All, Of::Money(|f| f.medical_oop)),
    w("medical_oop_12m", 12, All, Of::Money(|f| f.medical_oop)),
    w("disaster_loss_12m", 12, All, Of::Money(|f| f.disaster_loss)),
    w("temp_assistance_12m", 12, All, Of::Money(|f| f.temp_assistance)),
    w("inpatient_bills_3m", 3, All, Of::Count(|f| f.inpatient_bills)),
    w("house_damage_12m", 12, All, Of::Max(|f| f.house_damage)),
    // Most members the employment feed reported on in a month: fewer than the roster's workers
    // means wages no feed shows.
    w("workers_reported_12m", 12, All, Of::Max(|f| f.workers_reported)),
    w("unemployed_months_3m", 3, All, Of::MonthsWith(|f| f.unemployed_workers)),
    w("feed_months", 12, Fed, Of::Months),
    w("fed_wages_12m", 12, Fed, Of::Money(|f| f.wages)),
    w("fed_farm_actual_12m", 12, Fed, Of::Money(|f| f.farm_actual)),
    w("fed_transfers_12m", 12, Fed, Of::Money(|f| f.transfers)),
    w("covered_medical_oop_12m", 12, Covered, Of::Money(|f| f.medical_oop)),
    w("covered_education_fees_12m", 12, Covered, Of::Money(|f| f.education_fees)),
    w("covered_education_aid_12m", 12, Covered, Of::Money(|f| f.education_aid)),
    w("covered_disaster_loss_12m", 12, Covered, Of::Money(|f| f.disaster_loss)),
];

/// The longest span: how far back the first reported row's windows reach.
const LONGEST: i32 = {
    let (mut i, mut longest) = (0, 0);
    while i < WINDOWS.len() {
        if WINDOWS[i].span > longest {
            longest = WINDOWS[i].span;
        }
        i += 1;
    }
    longest
};

/// A window's value: fen for money, a plain number otherwise.
pub type Value = i128;

/// Whether `row` is a month `months` counts.
fn counts(months: Months, row: &MonthRow) -> bool {
    let m = row.month.index();
    match months {
        All => true,
        Fed => m >= row.feeds_start.index() && m < row.open_month.index(),
        Covered => m >= row.feeds_start.index(),
    }
}

/// The value of every window for the rows of `household` from `from` on. `household` is one
/// household's rows, one per month with none missing, oldest first; a span reaching before its
/// first row counts only the months the window holds.
pub fn values(household: &[MonthRow], from: usize) -> Result<Vec<[Value; WINDOWS.len()]>, PipelineError> {
    // What each month adds to each window (zero where the window does not count it), for the
    // months the reported rows' spans reach back to.
    let reach = from.saturating_sub(LONGEST as usize - 1);
    let mut adds: Vec<[Value; WINDOWS.len()]> = Vec::with_capacity(household.len() - reach);
    for row in &household[reach..] {
        let mut add = [0; WINDOWS.len()];
        for (a, window) in add.iter_mut().zip(WINDOWS.iter()) {
            if counts(window.months, row) {
                let f = &row.figures;
                *a = match window.of {
                    Of::Money(v) => fen(v(f))?,
                    Of::Count(v) | Of::Max(v) => Value::from(v(f)),
                    Of::MonthsWith(v) => Value::from(v(f) > 0),
                    Of::Months => 1,
                };
            }
        }
        adds.push(add);
    }
    let values = (from..household.len())
        .map(|at| {
            let mut out = [0; WINDOWS.len()];
            for (k, (value, window)) in out.iter_mut().zip(WINDOWS.iter()).enumerate() {
                let first = (at + 1).saturating_sub(window.span as usize).max(reach);
                let span = adds[first - reach..=at - reach].iter().map(|a| a[k]);
                *value = match window.of {
                    Of::Max(_) => span.max().unwrap_or(0),
                    _ => span.sum(),
                };
            }
            out
        })
        .collect();
    Ok(values)
}
