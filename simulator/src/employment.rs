//! Monthly employment records: one per worker per month, with unemployment spells.
//!
//! The plan cites 3.2% migrant-worker unemployment; here ~3.2% of active workers a year start a
//! spell of 2–6 months without wage. The wage lost is the worker's normal monthly wage.

use crate::households::{Household, Work};
use crate::json::Obj;
use crate::money;
use crate::truth::Cause;
use crate::world::{Env, Out};
use rand::Rng;
use std::fmt::Write;

/// Share of active workers starting an unemployment spell in a year.
const UNEMPLOYMENT: f64 = 0.032;

/// Writes every worker's monthly records and books the wages lost.
pub fn simulate<R: Rng>(env: &Env, hh: &Household, rng: &mut R, out: &mut Out) {
    let monthly = 1.0 - (1.0 - UNEMPLOYMENT).powf(1.0 / 12.0);
    for w in &hh.workers {
        let id_card = &hh.members[w.member].id_card;
        let mut spell_left = 0u32;
        for k in 0..env.cal.months {
            let (status, wage) = match w.work {
                Work::Idle => ("not_in_labor_force", 0),
                _ => {
                    if spell_left == 0 && rng.random_bool(monthly) {
                        spell_left = rng.random_range(2..=6);
                    }
                    if spell_left > 0 {
                        spell_left -= 1;
                        out.ledger
                            .loss(Cause::Unemployment, k, money::from_fen(w.wage_fen));
                        ("unemployed", 0)
                    } else if w.work == Work::Migrant {
                        ("migrant_employed", w.wage_fen)
                    } else {
                        ("employed", w.wage_fen)
                    }
                }
            };
            let (y, m) = env.cal.year_month(k);
            out.feeds.employment.push(k, |buf| {
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
        }
    }
}
