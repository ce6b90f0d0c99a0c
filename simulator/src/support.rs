//! Civil-affairs transfers, schooling costs, unreported (hidden) shocks and verification outcomes.
//!
//! Every transfer is true income: regular ones (dibao, extreme-poverty support, disability
//! allowance) every month, temporary assistance after a major illness or a severe disaster.
//! Unreported income (property, remittances, informal work) is paid every month and no feed
//! shows it; nor does any feed show hidden shocks.

use crate::calendar::push_timestamp;
use crate::geography::COUNTIES;
use crate::households::{Category, Household};
use crate::json::Obj;
use crate::money;
use crate::truth::{Cause, Flow, WARMUP};
use crate::world::{Env, Out};
use rand::Rng;
use rust_decimal::Decimal;

/// Yearly chance of a shock no department reports (times `shock_rate`).
const HIDDEN: f64 = 0.05;
/// Share of households with a verification outcome on file.
const OUTCOMES: f64 = 0.005;

/// Writes the household's transfers, school bills and outcomes; books hidden shocks.
pub fn simulate<R: Rng>(env: &Env, hh: &Household, rng: &mut R, out: &mut Out) {
    regular_transfers(env, hh, out);
    education(env, hh, rng, out);
    hidden(env, hh, rng, out);
    if rng.random_bool(OUTCOMES) {
        outcome(env, hh, rng, out);
    }
}

/// One civil-affairs payment.
fn payment(out: &mut Out, hh: &Household, k: u32, ym: &str, kind: &str, amount: Decimal) {
    out.counters.payment += 1;
    let id = format!(
        "CA-{}-{:08}",
        COUNTIES[hh.county as usize].code, out.counters.payment
    );
    out.feeds.civil.push(k, |buf| {
        Obj::new(buf)
            .str("payment_id", &id)
            .str("household_code", &hh.code)
            .str("month", ym)
            .str("kind", kind)
            .yuan("amount", amount)
            .end()
    });
}

/// Temporary assistance (1,000–5,000 yuan) paid in month `k`, if `k` is simulated.
pub fn temporary<R: Rng>(env: &Env, hh: &Household, k: u32, rng: &mut R, out: &mut Out) {
    if k >= env.cal.months {
        return;
    }
    let amount = money::uniform_step(rng, 1_000, 5_000, 100);
    out.ledger.earn(Flow::Transfer, k as i32, amount);
    payment(out, hh, k, &env.cal.ym_dash(k), "temporary", amount);
}

/// The household's regular transfers in one month.
fn regular(hh: &Household) -> impl Iterator<Item = (&'static str, Decimal)> + '_ {
    let dibao = hh.dibao.map(|a| ("dibao", a));
    let extreme = hh.extreme_poverty.map(|a| ("extreme_poverty", a));
    dibao
        .into_iter()
        .chain(extreme)
        .chain(hh.disability.iter().map(|&a| ("disability", a)))
}

/// Monthly dibao, extreme-poverty support and disability allowance.
fn regular_transfers(env: &Env, hh: &Household, out: &mut Out) {
    if regular(hh).next().is_none() {
        return;
    }
    for k in 0..env.cal.months {
        let ym = env.cal.ym_dash(k);
        for (kind, a) in regular(hh) {
            out.ledger.earn(Flow::Transfer, k as i32, a);
            payment(out, hh, k, &ym, kind, a);
        }
    }
}

/// The warm-up year: regular transfers, unreported income and last year's school bills (booked,
/// not written). Unreported income of the simulated months is drawn here too, from the same
/// truth-only stream, so that no feed depends on it.
pub fn warm_up<R: Rng>(env: &Env, hh: &Household, rng: &mut R, out: &mut Out) {
    for k in -WARMUP..0 {
        for (_, a) in regular(hh) {
            out.ledger.earn(Flow::Transfer, k, a);
        }
    }
    schooling(env, hh, -WARMUP..0, false, rng, out);
    let monthly = money::to_f64(hh.unreported_income) / 12.0;
    if monthly > 0.0 {
        for k in -WARMUP..env.cal.months as i32 {
            let a = money::yuan(monthly * rng.random_range(0.95..1.05));
            out.ledger.earn(Flow::Unreported, k, a);
        }
    }
}

/// School bills per student and term: spring billed in March, fall in September.
fn education<R: Rng>(env: &Env, hh: &Household, rng: &mut R, out: &mut Out) {
    schooling(env, hh, 0..env.cal.months as i32, true, rng, out);
}

/// School bills of months `ks`; `feeds`: written to the education feed (else only booked).
fn schooling<R: Rng>(
    env: &Env,
    hh: &Household,
    ks: std::ops::Range<i32>,
    feeds: bool,
    rng: &mut R,
    out: &mut Out,
) {
    let (aid_lo, aid_hi) = match hh.category {
        Category::Unstable | Category::Marginal | Category::Sudden => (0.3, 0.8),
        Category::Stable => (0.2, 0.7),
        Category::General => (0.0, 0.2),
    };
    for k in ks {
        let (year, month) = env.cal.year_month_at(k);
        let (term, school_year) = match month {
            3 => ("spring", year - 1),
            9 => ("fall", year),
            _ => continue,
        };
        for p in &hh.members {
            let Some(stage) = p.stage_in(school_year) else {
                continue;
            };
            let (lo, hi) = match stage {
                "compulsory" => (500.0, 1_500.0),
                "high_school" => (3_000.0, 6_000.0),
                "vocational" => (2_500.0, 5_000.0),
                _ => (6_000.0, 12_000.0),
            };
            let fees = money::uniform(rng, lo, hi);
            let aid = money::part(fees, rng.random_range(aid_lo..aid_hi));
            out.ledger
                .cost(Cause::Education, Flow::Education, k, fees - aid);
            if !feeds {
                continue;
            }
            out.feeds.education.push(k as u32, |buf| {
                Obj::new(buf)
                    .str("household_code", &hh.code)
                    .str("id_card", &p.id_card)
                    .str_with("term", |b| b.push_str(&format!("{year}-{term}")))
                    .str("stage", stage)
                    .yuan("fees", fees)
                    .yuan("aid", aid)
                    .end()
            });
        }
    }
}

/// Shocks no feed shows (informal work lost, private debts, livestock deaths nobody assessed):
/// ~5% of households a year (times `shock_rate`) lose 5–20% of a year's normal income in one
/// month.
fn hidden<R: Rng>(env: &Env, hh: &Household, rng: &mut R, out: &mut Out) {
    let monthly = env.knobs.monthly(HIDDEN);
    for k in 0..env.cal.months {
        if rng.random_bool(monthly) {
            let loss = money::part(hh.normal_income, rng.random_range(0.05..0.20));
            out.ledger.cost(Cause::Hidden, Flow::Hidden, k as i32, loss);
        }
    }
}

/// A verification outcome for a made-up alert id (cadres answering alerts the test world never
/// raised; a pipeline must accept them without a matching alert).
fn outcome<R: Rng>(env: &Env, hh: &Household, rng: &mut R, out: &mut Out) {
    let k = rng.random_range(0..env.cal.months);
    let date = env.cal.date(k, rng.random_range(1..=env.cal.days_in(k)));
    let secs = rng.random_range(8 * 3600..19 * 3600);
    let alert_id = format!("sim-{:012x}", rng.random::<u64>() >> 16);
    let method = if rng.random_bool(0.4) {
        "door_visit"
    } else {
        "phone"
    };
    let outcome = match rng.random_range(0..100) {
        0..=34 => "confirmed_risk",
        35..=89 => "no_risk",
        _ => "unreachable",
    };
    let mut assistance: Vec<&str> = Vec::new();
    if outcome == "confirmed_risk" {
        for measure in [
            "medical_assistance",
            "temporary_assistance",
            "insurance_claim",
        ] {
            if rng.random_bool(0.5) {
                assistance.push(measure);
            }
        }
    }
    let verifier = format!("XG{:05}", rng.random_range(0..100_000));
    out.feeds.outcomes.push(k, |buf| {
        Obj::new(buf)
            .str("alert_id", &alert_id)
            .str("household_code", &hh.code)
            .str_with("verified_at", |b| push_timestamp(b, date, secs))
            .str("method", method)
            .str("outcome", outcome)
            .strs("assistance", &assistance)
            .str("verifier", &verifier)
            .end()
    });
}
