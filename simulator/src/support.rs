//! Civil-affairs transfers, schooling costs, unreported (hidden) shocks and verification outcomes.
//!
//! Regular transfers (dibao, extreme-poverty support, disability allowance) are part of the
//! baseline income, so the truth ignores them; temporary assistance, granted after a major
//! illness or a severe disaster, is extra income and counts.

use crate::calendar::push_timestamp;
use crate::geography::COUNTIES;
use crate::households::{Category, Household};
use crate::json::Obj;
use crate::money;
use crate::truth::Cause;
use crate::world::{Env, Out};
use rand::Rng;
use rust_decimal::Decimal;

/// Yearly chance of a shock no department reports.
const HIDDEN: f64 = 0.05;
/// Share of households with a verification outcome on file.
const OUTCOMES: f64 = 0.005;

/// Writes the household's transfers, school bills and outcomes; books hidden shocks.
pub fn simulate<R: Rng>(env: &Env, hh: &Household, rng: &mut R, out: &mut Out) {
    regular_transfers(env, hh, rng, out);
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
    out.ledger.assist(k, amount);
    payment(out, hh, k, &env.cal.ym_dash(k), "temporary", amount);
}

/// Monthly dibao, extreme-poverty support and disability allowance.
fn regular_transfers<R: Rng>(env: &Env, hh: &Household, rng: &mut R, out: &mut Out) {
    let disabled = hh.disabled_members();
    let allowance: Vec<Decimal> = (0..disabled)
        .map(|_| money::uniform_step(rng, 80, 150, 10))
        .collect();
    if hh.dibao.is_none() && hh.extreme_poverty.is_none() && allowance.is_empty() {
        return;
    }
    for k in 0..env.cal.months {
        let ym = env.cal.ym_dash(k);
        if let Some(a) = hh.dibao {
            payment(out, hh, k, &ym, "dibao", a);
        }
        if let Some(a) = hh.extreme_poverty {
            payment(out, hh, k, &ym, "extreme_poverty", a);
        }
        for &a in &allowance {
            payment(out, hh, k, &ym, "disability", a);
        }
    }
}

/// School bills per student and term: spring billed in March, fall in September.
fn education<R: Rng>(env: &Env, hh: &Household, rng: &mut R, out: &mut Out) {
    let (aid_lo, aid_hi) = match hh.category {
        Category::Unstable | Category::Marginal | Category::Sudden => (0.3, 0.8),
        Category::Stable => (0.2, 0.7),
        Category::General => (0.0, 0.2),
    };
    for k in 0..env.cal.months {
        let (year, month) = env.cal.year_month(k);
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
            out.ledger.loss(Cause::Education, k, fees - aid);
            out.feeds.education.push(k, |buf| {
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
/// ~5% of households a year lose 5–20% of a year's baseline income in one month.
fn hidden<R: Rng>(env: &Env, hh: &Household, rng: &mut R, out: &mut Out) {
    let monthly = 1.0 - (1.0 - HIDDEN).powf(1.0 / 12.0);
    for k in 0..env.cal.months {
        if rng.random_bool(monthly) {
            let loss = money::part(hh.baseline_income, rng.random_range(0.05..0.20));
            out.ledger.loss(Cause::Hidden, k, loss);
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
