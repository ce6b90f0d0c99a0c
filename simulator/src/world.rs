//! The shared state of a simulation run and the per-household driver.

use crate::arrival::{Special, Stream};
use crate::calendar::{push_date, Calendar};
use crate::households::Household;
use crate::json::Obj;
use crate::knobs::Knobs;
use crate::shocks::Shocks;
use crate::topic::Topic;
use crate::truth::Ledger;
use crate::{employment, farm, medical, support};
use rand::Rng;
use rust_decimal::Decimal;

/// Read-only facts every module consults.
pub struct Env<'a> {
    /// The simulated months.
    pub cal: &'a Calendar,
    /// Disasters per year.
    pub shocks: &'a Shocks,
    /// The scenario knobs.
    pub knobs: &'a Knobs,
}

/// One stream per contract topic.
pub struct Feeds {
    /// `dept.rural.roster`
    pub roster: Stream,
    /// `dept.medical.settlements`
    pub medical: Stream,
    /// `dept.hr.employment`
    pub employment: Stream,
    /// `dept.agri.production`
    pub agri: Stream,
    /// `dept.civil.assistance`
    pub civil: Stream,
    /// `dept.emergency.disasters`
    pub emergency: Stream,
    /// `dept.edu.expenses`
    pub education: Stream,
    /// `market.prices`
    pub prices: Stream,
    /// `weather.observations`
    pub weather: Stream,
    /// `verify.outcomes`
    pub outcomes: Stream,
}

impl Feeds {
    fn new() -> Self {
        Feeds {
            roster: Stream::new(Topic::Roster),
            medical: Stream::new(Topic::Medical),
            employment: Stream::new(Topic::Employment),
            agri: Stream::new(Topic::Agri),
            civil: Stream::new(Topic::Civil),
            emergency: Stream::new(Topic::Emergency),
            education: Stream::new(Topic::Education),
            prices: Stream::new(Topic::Prices),
            weather: Stream::new(Topic::Weather),
            outcomes: Stream::new(Topic::Outcomes),
        }
    }

    /// The streams in [`Topic::ALL`] order.
    pub fn all(&self) -> [&Stream; 10] {
        [
            &self.roster,
            &self.medical,
            &self.employment,
            &self.agri,
            &self.civil,
            &self.emergency,
            &self.education,
            &self.prices,
            &self.weather,
            &self.outcomes,
        ]
    }
}

/// Running counters for record ids that must be unique across the city.
#[derive(Default)]
pub struct Counters {
    /// Medical settlements.
    pub settlement: u64,
    /// Agri reports.
    pub report: u64,
    /// Civil payments.
    pub payment: u64,
    /// House fires (each its own event).
    pub fire: u64,
}

/// Everything the household modules write to: feeds, the current household's ledger, counters.
pub struct Out {
    /// The topic streams.
    pub feeds: Feeds,
    /// Losses and assistance of the household being simulated.
    pub ledger: Ledger,
    /// Id counters.
    pub counters: Counters,
}

impl Out {
    /// Empty feeds and a ledger over `months`.
    pub fn new(months: u32) -> Self {
        Out {
            feeds: Feeds::new(),
            ledger: Ledger::new(months),
            counters: Counters::default(),
        }
    }
}

/// Simulates one household: the warm-up year from `truth_rng` (which sets last year's income,
/// `baseline_income`), then its roster record(s) and every feed from `rng`; fills `out.ledger`.
pub fn simulate_household<R: Rng>(
    env: &Env,
    hh: &mut Household,
    rng: &mut R,
    truth_rng: &mut R,
    out: &mut Out,
) {
    out.ledger.reset();
    employment::warm_up(env, hh, truth_rng, out);
    medical::warm_up(env, hh, truth_rng, out);
    farm::warm_up(env, hh, truth_rng, out);
    support::warm_up(env, hh, truth_rng, out);
    // Last year's official net income, kept positive so that shares of it stay defined.
    let floor = Decimal::from(100 * hh.members.len() as i64);
    hh.baseline_income = out.ledger.last_year().round_dp(0).max(floor);
    let hh = &*hh;
    let first = out
        .feeds
        .roster
        .push(0, |buf| roster_record(buf, env, hh, hh.roster_category, 0));
    if hh.roster_category != hh.category && env.cal.months > 1 {
        // The wrongly filed category is corrected by a later upsert.
        let k = rng.random_range(1..env.cal.months);
        out.feeds
            .roster
            .push_follower(k, first, Special::Correction, |buf| {
                roster_record(buf, env, hh, hh.category, k)
            });
    }
    employment::simulate(env, hh, rng, out);
    medical::simulate(env, hh, rng, out);
    farm::simulate(env, hh, rng, out);
    support::simulate(env, hh, rng, out);
}

/// A roster record holding from the first day of month `k`.
fn roster_record(
    buf: &mut String,
    env: &Env,
    hh: &Household,
    category: crate::households::Category,
    k: u32,
) {
    Obj::new(buf)
        .str("household_code", &hh.code)
        .str("category", category.as_str())
        .int("members", hh.members.len() as i64)
        .int("labor_count", hh.workers.len() as i64)
        .int("head_age", hh.members[0].age as i64)
        .int("disabled_members", hh.disabled_members() as i64)
        .int("chronic_patients", hh.chronic_patients() as i64)
        .strs("industries", &hh.industries())
        .yuan("baseline_income", hh.baseline_income)
        .bool("insured", hh.insured)
        .str_with("effective_date", |b| push_date(b, env.cal.date(k, 1)))
        .end();
}
