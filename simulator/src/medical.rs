//! Medical bills: chronic outpatient care, ordinary visits, and major illness episodes.
//!
//! - Registered chronic patients: an outpatient bill (100–600) in ~70% of months.
//! - Ordinary visits: ~12% of households a month, 50–400.
//! - Major illness: ~3.5% of households a year (doubled with a chronic patient; both times
//!   `shock_rate`): inpatient
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
use crate::truth::{Cause, Flow};
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
    run(env, hh, 0..env.cal.months as i32, true, rng, out);
}

/// The warm-up year's chronic and ordinary outpatient bills at the usual rates (no major
/// illness): out-of-pocket costs booked, nothing written.
pub fn warm_up<R: Rng>(env: &Env, hh: &Household, rng: &mut R, out: &mut Out) {
    run(env, hh, -crate::truth::WARMUP..0, false, rng, out);
}

/// Bills of months `ks`; `feeds`: written to the medical feed (else only booked).
fn run<R: Rng>(
    env: &Env,
    hh: &Household,
    ks: std::ops::Range<i32>,
    feeds: bool,
    rng: &mut R,
    out: &mut Out,
) {
    let ctx = Ctx {
        env,
        hh,
        end: ks.end,
        feeds,
    };
    let mut cap = Cap::default();
    for (i, p) in hh.members.iter().enumerate() {
        if p.chronic {
            for k in ks.clone() {
                if rng.random_bool(CHRONIC_VISIT) {
                    let total = money::uniform(rng, 100.0, 600.0);
                    settle(&ctx, i, k, false, total, rng, out, &mut cap);
                }
            }
        }
    }
    for k in ks.clone() {
        if rng.random_bool(ORDINARY_VISIT) {
            let member = rng.random_range(0..hh.members.len());
            let total = money::uniform(rng, 50.0, 400.0);
            settle(&ctx, member, k, false, total, rng, out, &mut cap);
        }
    }
    let yearly = if hh.chronic_patients() > 0 {
        2.0 * MAJOR_ILLNESS
    } else {
        MAJOR_ILLNESS
    };
    let monthly = env.knobs.monthly(yearly);
    // Major illness is a shock of the simulated months only: the warm-up year is an ordinary
    // year (a household struck last year would be on the roster as sudden difficulty already).
    if !feeds {
        return;
    }
    let mut k = ks.start;
    while k < ks.end {
        if rng.random_bool(monthly) {
            k += major_illness(&ctx, k, rng, out, &mut cap) as i32 + 1;
        } else {
            k += 1;
        }
    }
}

/// What every bill of one run shares.
struct Ctx<'a, 'b> {
    env: &'a Env<'b>,
    hh: &'a Household,
    /// First month index after the run (bills are cut off there).
    end: i32,
    /// Whether bills are written to the feed.
    feeds: bool,
}

/// One major-illness episode starting in month `start`; returns its length in months.
fn major_illness<R: Rng>(ctx: &Ctx, start: i32, rng: &mut R, out: &mut Out, cap: &mut Cap) -> u32 {
    let hh = ctx.hh;
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
        let k = start + i as i32;
        if k < ctx.end {
            settle(
                ctx,
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
    let first = start + months as i32;
    for k in first..(first + 3).min(ctx.end) {
        if rng.random_bool(0.8) {
            let total = money::uniform(rng, 300.0, 2_000.0);
            settle(ctx, patient, k, false, total, rng, out, cap);
        }
    }
    if ctx.feeds && hh.category != Category::General && rng.random_bool(0.5) {
        let k = start + rng.random_range(1..=2);
        support::temporary(ctx.env, hh, k as u32, rng, out);
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
    ctx: &Ctx,
    member: usize,
    k: i32,
    inpatient: bool,
    total: Decimal,
    rng: &mut R,
    out: &mut Out,
    cap: &mut Cap,
) {
    let (env, hh) = (ctx.env, ctx.hh);
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
    let year = env.cal.year_month_at(k).0;
    let assistance = cap.grant(member, year, wanted);
    let oop = total - fund - critical - assistance;
    if !ctx.feeds {
        out.ledger.cost(Cause::Health, Flow::Medical, k, oop);
        return;
    }
    let k = k as u32;

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
        None => out.ledger.cost(Cause::Health, Flow::Medical, k as i32, oop),
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
