//! Monthly employment records: one per reported worker per month, with unemployment spells.
//!
//! The plan cites 3.2% migrant-worker unemployment; here ~3.2% of active workers a year (times
//! `shock_rate`) start a spell of 2–6 months without wage. The wage lost (for cause attribution)
//! is the worker's normal monthly wage. An employed worker's wage varies from month to month
//! around the normal wage (relative standard deviation `wage_variation`); `wage_fen` reports what
//! was paid. Workers with `reported == false` earn the same way but never appear in the feed.

use crate::households::{Household, Work, Worker};
use crate::json::Obj;
use crate::medical::normal;
use crate::money;
use crate::truth::{Cause, Flow};
use crate::world::{Env, Out};
use rand::Rng;
use std::fmt::Write;

/// Share of active workers starting an unemployment spell in a year.
const UNEMPLOYMENT: f64 = 0.032;

/// The wage paid in one month of work: the normal wage `base` (fen) with its monthly variation.
fn paid<R: Rng>(env: &Env, base: f64, rng: &mut R) -> i64 {
    let factor = (1.0 + env.knobs.wage_variation * normal(rng)).clamp(0.2, 2.0);
    (base * factor).round().max(0.0) as i64
}

/// One worker's months `ks`: whether each is a month of work, and the wage paid (fen), booking
/// wages and wages lost. `base` is the normal monthly wage of those months.
fn months<R: Rng>(
    env: &Env,
    w: &Worker,
    base: f64,
    ks: std::ops::Range<i32>,
    rng: &mut R,
    out: &mut Out,
    mut each: impl FnMut(i32, &'static str, i64, &mut Out),
) {
    let monthly = env.knobs.monthly(UNEMPLOYMENT);
    let mut spell_left = 0u32;
    for k in ks {
        let (status, wage) = match w.work {
            Work::Idle => ("not_in_labor_force", 0),
            _ => {
                if spell_left == 0 && rng.random_bool(monthly) {
                    spell_left = rng.random_range(2..=6);
                }
                if spell_left > 0 {
                    spell_left -= 1;
                    out.ledger
                        .loss(Cause::Unemployment, k, money::yuan(base / 100.0));
                    ("unemployed", 0)
                } else {
                    let wage = paid(env, base, rng);
                    out.ledger.earn(Flow::Wage, k, money::from_fen(wage));
                    let status = if w.work == Work::Migrant {
                        "migrant_employed"
                    } else {
                        "employed"
                    };
                    (status, wage)
                }
            }
        };
        each(k, status, wage, out);
    }
}

/// Writes every reported worker's monthly records and books every worker's wages.
pub fn simulate<R: Rng>(env: &Env, hh: &Household, rng: &mut R, out: &mut Out) {
    for w in &hh.workers {
        let id_card = &hh.members[w.member].id_card;
        let ks = 0..env.cal.months as i32;
        months(
            env,
            w,
            w.wage_fen as f64,
            ks,
            rng,
            out,
            |k, status, wage, out| {
                if !w.reported {
                    return;
                }
                let (y, m) = env.cal.year_month(k as u32);
                out.feeds.employment.push(k as u32, |buf| {
                    Obj::new(buf)
                        .str("household_code", &hh.code)
                        .str("id_card", id_card)
                        .str_with("ym", |b| {
                            let _ = write!(b, "{y:04}{m:02}");
                        })
                        .str("status", status)
                        .int("wage_fen", wage)
                        .end()
                });
            },
        );
    }
}

/// The warm-up year: wages at last year's level (this year's / (1 + wage_growth)) with the
/// monthly variation and spells at the world's rate; no records.
pub fn warm_up<R: Rng>(env: &Env, hh: &Household, rng: &mut R, out: &mut Out) {
    for w in &hh.workers {
        let base = w.wage_fen as f64 / (1.0 + env.knobs.wage_growth);
        months(
            env,
            w,
            base,
            -crate::truth::WARMUP..0,
            rng,
            out,
            |_, _, _, _| {},
        );
    }
}
