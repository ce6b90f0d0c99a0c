//! Medical bills: chronic outpatient care, ordinary visits, and major illness episodes.
//!
//! - Registered chronic patients: an outpatient bill (100–600) in ~70% of months.
//! - Ordinary visits: ~12% of households a month, 50–400.
//! - Major illness: ~3.5% of households a year (doubled with a chronic patient): inpatient
//!   bills over 2–3 consecutive months, ~85,000 per episode (lognormal, 30,000–200,000), then
//!   three months of follow-up outpatient care (300–2,000 a month). The rate is a little above
//!   the plan's 3% so that health leads the causes of falling, as in the plan (58.6%).
//! - ~0.5% of settlements are reversed later (same id, status `reversed`); they cost nothing.
//!
//! Payers follow the plan: basic medical insurance reimburses 50–62% of inpatient bills (the
//! plan's ~60% is of eligible costs),
//! critical-illness insurance part of the rest, civil medical assistance a share of what is left
//! for alleviated and marginal households (capped at 30,000 yuan per person per year); the
//! household pays `out_of_pocket = total − fund − critical − assistance`, exactly.

use crate::arrival::Special;
use crate::calendar::push_timestamp;
use crate::geography::COUNTIES;
use crate::households::{Category, Household};
use crate::json::Obj;
use crate::money;
use crate::support;
use crate::truth::Cause;
use crate::world::{Env, Out};
use chrono::{Days, NaiveDate};
use rand::Rng;
use rust_decimal::Decimal;

/// Yearly cap of civil medical assistance per person.
const ASSISTANCE_CAP: i64 = 30_000;
/// Share of settlements later reversed.
const REVERSAL_RATE: f64 = 0.005;
/// Monthly chance that a registered chronic patient has an outpatient bill.
const CHRONIC_VISIT: f64 = 0.7;
/// Monthly chance of an ordinary outpatient visit in a household.
const ORDINARY_VISIT: f64 = 0.12;
/// Yearly chance of a major illness (doubled in households with a chronic patient).
const MAJOR_ILLNESS: f64 = 0.035;

/// Civil medical assistance already paid, per (member, year).
#[derive(Default)]
struct Cap(Vec<(usize, i32, Decimal)>);

impl Cap {
    /// Grants up to `wanted` within the member's remaining yearly cap.
    fn grant(&mut self, member: usize, year: i32, wanted: Decimal) -> Decimal {
        let i = match self.0.iter().position(|e| e.0 == member && e.1 == year) {
            Some(i) => i,
            None => {
                self.0.push((member, year, Decimal::ZERO));
                self.0.len() - 1
            }
        };
        let granted = wanted
            .min(Decimal::from(ASSISTANCE_CAP) - self.0[i].2)
            .max(Decimal::ZERO);
        self.0[i].2 += granted;
        granted
    }
}

/// Simulates one household's medical settlements over the whole range.
pub fn simulate<R: Rng>(env: &Env, hh: &Household, rng: &mut R, out: &mut Out) {
    let n = env.cal.months;
    let mut cap = Cap::default();
    for (i, p) in hh.members.iter().enumerate() {
        if p.chronic {
            for k in 0..n {
                if rng.random_bool(CHRONIC_VISIT) {
                    let total = money::uniform(rng, 100.0, 600.0);
                    settle(env, hh, i, k, false, total, rng, out, &mut cap);
                }
            }
        }
    }
    for k in 0..n {
        if rng.random_bool(ORDINARY_VISIT) {
            let member = rng.random_range(0..hh.members.len());
            let total = money::uniform(rng, 50.0, 400.0);
            settle(env, hh, member, k, false, total, rng, out, &mut cap);
        }
    }
    let yearly = if hh.chronic_patients() > 0 {
        2.0 * MAJOR_ILLNESS
    } else {
        MAJOR_ILLNESS
    };
    let monthly = 1.0 - (1.0 - yearly).powf(1.0 / 12.0);
    let mut k = 0;
    while k < n {
        if rng.random_bool(monthly) {
            k += major_illness(env, hh, k, rng, out, &mut cap) + 1;
        } else {
            k += 1;
        }
    }
}

/// One major-illness episode starting in month `start`; returns its length in months.
fn major_illness<R: Rng>(
    env: &Env,
    hh: &Household,
    start: u32,
    rng: &mut R,
    out: &mut Out,
    cap: &mut Cap,
) -> u32 {
    let chronic: Vec<usize> = (0..hh.members.len())
        .filter(|&i| hh.members[i].chronic)
        .collect();
    let patient = if !chronic.is_empty() && rng.random_bool(0.7) {
        chronic[rng.random_range(0..chronic.len())]
    } else {
        rng.random_range(0..hh.members.len())
    };
    // Lognormal-ish episode cost: median ~76,000, mean ~88,000, kept within 30,000–200,000.
    let z = normal(rng);
    let episode = (76_000.0 * (0.55 * z).exp()).clamp(30_000.0, 200_000.0);
    let months = rng.random_range(2..=3u32);
    let weights: Vec<f64> = (0..months)
        .map(|i| if i == 0 { 1.5 } else { 1.0 } * rng.random_range(0.6..1.4))
        .collect();
    let wsum: f64 = weights.iter().sum();
    for (i, w) in weights.iter().enumerate() {
        let k = start + i as u32;
        if k < env.cal.months {
            settle(
                env,
                hh,
                patient,
                k,
                true,
                money::yuan(episode * w / wsum),
                rng,
                out,
                cap,
            );
        }
    }
    // Follow-up care after discharge: outpatient bills for three months.
    for k in start + months..(start + months + 3).min(env.cal.months) {
        if rng.random_bool(0.8) {
            let total = money::uniform(rng, 300.0, 2_000.0);
            settle(env, hh, patient, k, false, total, rng, out, cap);
        }
    }
    if hh.category != Category::General && rng.random_bool(0.5) {
        support::temporary(env, hh, start + rng.random_range(1..=2), rng, out);
    }
    months
}

/// A standard normal draw (Box–Muller).
pub fn normal<R: Rng>(rng: &mut R) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Settles one bill of `total` yuan for member `member` in month `k`, maybe reverses it later.
#[allow(clippy::too_many_arguments)]
fn settle<R: Rng>(
    env: &Env,
    hh: &Household,
    member: usize,
    k: u32,
    inpatient: bool,
    total: Decimal,
    rng: &mut R,
    out: &mut Out,
    cap: &mut Cap,
) {
    let fund_rate = if inpatient {
        rng.random_range(0.50..0.62)
    } else {
        rng.random_range(0.40..0.60)
    };
    let fund = money::part(total, fund_rate);
    let rest = total - fund;
    let critical = if inpatient {
        money::part(rest, rng.random_range(0.10..0.25))
    } else {
        Decimal::ZERO
    };
    let wanted = money::part(
        rest - critical,
        hh.category.medical_assistance_rate(inpatient),
    );
    let year = env.cal.year_month(k).0;
    let assistance = cap.grant(member, year, wanted);
    let oop = total - fund - critical - assistance;

    out.counters.settlement += 1;
    let id = format!(
        "MS-{}-{:08}",
        COUNTIES[hh.county as usize].code, out.counters.settlement
    );
    let date = env.cal.date(k, rng.random_range(1..=env.cal.days_in(k)));
    let secs = rng.random_range(8 * 3600..18 * 3600);
    let id_card = &hh.members[member].id_card;
    let bill = Bill {
        id: &id,
        code: &hh.code,
        id_card,
        inpatient,
        total,
        fund,
        critical,
        assistance,
        oop,
    };
    let original = out
        .feeds
        .medical
        .push(k, |buf| bill.write(buf, "settled", date, secs));

    let reversal = if rng.random_bool(REVERSAL_RATE) {
        let later = date + Days::new(rng.random_range(3..=40));
        env.cal.index_of_date(later).map(|k2| (later, k2))
    } else {
        None
    };
    match reversal {
        Some((later, k2)) => {
            let secs2 = rng.random_range(8 * 3600..18 * 3600);
            out.feeds
                .medical
                .push_follower(k2, original, Special::Reversal, |buf| {
                    bill.write(buf, "reversed", later, secs2)
                });
        }
        // Only settlements that stay settled cost the household anything.
        None => out.ledger.loss(Cause::Health, k, oop),
    }
}

/// The fields of one settlement record.
struct Bill<'a> {
    id: &'a str,
    code: &'a str,
    id_card: &'a str,
    inpatient: bool,
    total: Decimal,
    fund: Decimal,
    critical: Decimal,
    assistance: Decimal,
    oop: Decimal,
}

impl Bill<'_> {
    fn write(&self, buf: &mut String, status: &str, date: NaiveDate, secs: u32) {
        Obj::new(buf)
            .str("settlement_id", self.id)
            .str("status", status)
            .str("household_code", self.code)
            .str("id_card", self.id_card)
            .str_with("settle_time", |b| push_timestamp(b, date, secs))
            .str(
                "visit_type",
                if self.inpatient {
                    "inpatient"
                } else {
                    "outpatient"
                },
            )
            .yuan("total_cost", self.total)
            .yuan("fund_paid", self.fund)
            .yuan("critical_illness_paid", self.critical)
            .yuan("assistance_paid", self.assistance)
            .yuan("out_of_pocket", self.oop)
            .end();
    }
}
