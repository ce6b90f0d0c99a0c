//! Harvest reports (agriculture feed) and disaster damage (emergency feed) of one household.
//!
//! Harvest shocks, every simulated year:
//! - rice in a July-flooded village: income −40% to −90%, most of the area hit (disaster);
//! - rice in Anlu and Yunmeng after the August drought: income −20% to −40% (disaster);
//! - aquaculture and cotton in a flooded village: −20% to −70% (disaster);
//! - aquaculture in Anlu and Yunmeng after the hot, dry August: −30% to −60% (disaster);
//! - tea in Dawu: purchase price below cost, income −30% to −50% (market);
//! - hogs everywhere: price slump, income −24% to −32% (market);
//! - otherwise income swings −3% to +6% around normal (booked as market).
//!
//! ~1% of reports are corrected by a later report with the same id: the first one carries wrong
//! figures, the correction the true ones.

use crate::arrival::Special;
use crate::calendar::push_timestamp;
use crate::geography::{COUNTIES, DAWU};
use crate::households::{Category, Household, Product};
use crate::json::Obj;
use crate::money;
use crate::shocks::{Hazard, DROUGHT_COUNTIES};
use crate::support;
use crate::truth::{Cause, Flow, WARMUP};
use crate::world::{Env, Out};
use chrono::NaiveDate;
use rand::Rng;
use rust_decimal::Decimal;

/// Share of agri reports later corrected.
const CORRECTION_RATE: f64 = 0.01;
/// Yearly chance of a house fire (times `shock_rate`).
const FIRE: f64 = 0.001;
/// Share of drought-hit rice households that file an emergency record (irrigation losses).
const DROUGHT_FILING: f64 = 0.10;

/// Writes the household's harvest reports and disaster records and books their losses.
pub fn simulate<R: Rng>(env: &Env, hh: &Household, rng: &mut R, out: &mut Out) {
    for farm in &hh.farms {
        let per_report =
            (farm.annual_income / Decimal::from(farm.product.harvest_months().len())).round_dp(2);
        for &month in farm.product.harvest_months() {
            let ks: Vec<u32> = env.cal.indices_of_calendar_month(month).collect();
            for k in ks {
                report(
                    env,
                    hh,
                    farm.product,
                    farm.planted_mu,
                    per_report,
                    k,
                    rng,
                    out,
                );
            }
        }
    }
    disasters(env, hh, rng, out);
}

/// The warm-up year's harvests: ordinary swings (−3%..+6%) around normal, no record.
pub fn warm_up<R: Rng>(env: &Env, hh: &Household, rng: &mut R, out: &mut Out) {
    for farm in &hh.farms {
        let harvests = farm.product.harvest_months();
        let per_report = (farm.annual_income / Decimal::from(harvests.len())).round_dp(2);
        for k in -WARMUP..0 {
            if harvests.contains(&env.cal.year_month_at(k).1) {
                let actual = money::part(per_report, rng.random_range(0.97..1.06));
                out.ledger.loss(Cause::Market, k, per_report - actual);
                out.ledger.earn(Flow::Farm, k, actual);
            }
        }
    }
}

/// The true outcome of one harvest: actual income, area hit, and which cause a shortfall is.
fn assess<R: Rng>(
    env: &Env,
    hh: &Household,
    product: Product,
    planted: Decimal,
    year: i32,
    rng: &mut R,
) -> (f64, Decimal, Cause) {
    let flooded = env
        .shocks
        .year(year)
        .is_some_and(|y| y.flooded[hh.village as usize]);
    let hit =
        |rng: &mut R, lo: f64, hi: f64| money::part(planted, rng.random_range(lo..hi)).round_dp(1);
    match product {
        Product::Rice if flooded => (
            rng.random_range(0.10..0.60),
            hit(rng, 0.5, 1.0),
            Cause::Disaster,
        ),
        Product::Rice if DROUGHT_COUNTIES.contains(&hh.county) => (
            rng.random_range(0.60..0.80),
            hit(rng, 0.3, 0.7),
            Cause::Disaster,
        ),
        Product::Aquaculture if flooded => (
            rng.random_range(0.40..0.80),
            hit(rng, 0.3, 0.8),
            Cause::Disaster,
        ),
        // Hot, shallow ponds in the August drought: fish die.
        Product::Aquaculture if DROUGHT_COUNTIES.contains(&hh.county) => (
            rng.random_range(0.40..0.70),
            hit(rng, 0.3, 0.8),
            Cause::Disaster,
        ),
        Product::Cotton if flooded => (
            rng.random_range(0.30..0.70),
            hit(rng, 0.4, 0.9),
            Cause::Disaster,
        ),
        Product::Tea if hh.county == DAWU => {
            (rng.random_range(0.50..0.70), Decimal::ZERO, Cause::Market)
        }
        Product::Hog => (rng.random_range(0.68..0.76), Decimal::ZERO, Cause::Market),
        _ => (rng.random_range(0.97..1.06), Decimal::ZERO, Cause::Market),
    }
}

/// One harvest report in month `k`, maybe with a later correction.
#[allow(clippy::too_many_arguments)]
fn report<R: Rng>(
    env: &Env,
    hh: &Household,
    product: Product,
    planted: Decimal,
    expected: Decimal,
    k: u32,
    rng: &mut R,
    out: &mut Out,
) {
    let (year, month) = env.cal.year_month(k);
    let (factor, disaster_mu, cause) = assess(env, hh, product, planted, year, rng);
    let actual = money::part(expected, factor);
    out.ledger.loss(cause, k as i32, expected - actual);
    out.ledger.earn(Flow::Farm, k as i32, actual);

    out.counters.report += 1;
    let id = format!(
        "AG-{}-{:08}",
        COUNTIES[hh.county as usize].code, out.counters.report
    );
    let write = |buf: &mut String, disaster_mu: Decimal, actual: Decimal| {
        Obj::new(buf)
            .str("report_id", &id)
            .str("household_code", &hh.code)
            .str_with("month", |b| b.push_str(&format!("{year:04}-{month:02}")))
            .str("product", product.as_str())
            .dec_str("planted_mu", planted, 1)
            .dec_str("disaster_mu", disaster_mu, 1)
            .yuan("expected_income", expected)
            .yuan("actual_income", actual)
            .end()
    };
    if rng.random_bool(CORRECTION_RATE) {
        // The first assessment was off; the correction carries the true figures.
        let mut wrong_actual = money::part(actual, rng.random_range(0.7..1.3));
        if wrong_actual == actual {
            wrong_actual += Decimal::ONE;
        }
        let wrong_mu = money::part(disaster_mu, rng.random_range(0.5..1.5))
            .round_dp(1)
            .min(planted);
        let first = out
            .feeds
            .agri
            .push(k, |buf| write(buf, wrong_mu, wrong_actual));
        let later = (k + rng.random_range(1..=2)).min(env.cal.months - 1);
        out.feeds
            .agri
            .push_follower(later, first, Special::Correction, |buf| {
                write(buf, disaster_mu, actual)
            });
    } else {
        out.feeds
            .agri
            .push(k, |buf| write(buf, disaster_mu, actual));
    }
}

/// Damage records for the events that hit the household's village, and house fires.
fn disasters<R: Rng>(env: &Env, hh: &Household, rng: &mut R, out: &mut Out) {
    let grows_rice = hh.farms.iter().any(|f| f.product == Product::Rice);
    for ys in &env.shocks.years {
        for &e in &ys.by_village[hh.village as usize] {
            let event = &ys.events[e as usize];
            let affected = match event.hazard {
                Hazard::Drought => grows_rice && rng.random_bool(DROUGHT_FILING),
                _ => rng.random_bool(event.reach),
            };
            if affected {
                damage(
                    env,
                    hh,
                    &event.id,
                    event.hazard,
                    event.date,
                    event.secs,
                    rng,
                    out,
                );
            }
        }
    }
    let monthly = env.knobs.monthly(FIRE);
    for k in 0..env.cal.months {
        if rng.random_bool(monthly) {
            out.counters.fire += 1;
            let (year, _) = env.cal.year_month(k);
            let id = format!(
                "EV-{year}-FI-{}-{:04}",
                COUNTIES[hh.county as usize].code, out.counters.fire
            );
            let date = env.cal.date(k, rng.random_range(1..=env.cal.days_in(k)));
            let secs = rng.random_range(0..86_400);
            damage(env, hh, &id, Hazard::Fire, date, secs, rng, out);
        }
    }
}

/// One household's damage from one event, if the event falls in the simulated range.
#[allow(clippy::too_many_arguments)]
fn damage<R: Rng>(
    env: &Env,
    hh: &Household,
    event_id: &str,
    hazard: Hazard,
    date: NaiveDate,
    secs: u32,
    rng: &mut R,
    out: &mut Out,
) {
    let Some(k) = env.cal.index_of_date(date) else {
        return;
    };
    let (house, loss) = hazard.damage(rng);
    out.ledger
        .cost(Cause::Disaster, Flow::Disaster, k as i32, loss);
    out.feeds.emergency.push(k, |buf| {
        Obj::new(buf)
            .str("event_id", event_id)
            .str("household_code", &hh.code)
            .str("hazard", hazard.as_str())
            .str_with("occurred_at", |b| push_timestamp(b, date, secs))
            .str("house_damage", house)
            .yuan("direct_loss", loss)
            .end()
    });
    if matches!(house, "severe" | "collapsed")
        && hh.category != Category::General
        && rng.random_bool(0.6)
    {
        support::temporary(env, hh, k + rng.random_range(1..=2), rng, out);
    }
}
