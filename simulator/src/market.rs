//! City-wide daily series: purchase prices per county and weather station observations.
//!
//! They carry the plan's index-insurance signals: Dawu's tea purchase price 15–25% below the
//! cost benchmark in April–June; the hog price sliding ~28% from January into spring and staying
//! down; heavy July rain where the floods strike; a dry, hot August in Anlu and Yunmeng (pond
//! water above 32 °C).

use crate::calendar::push_date;
use crate::geography::{self, COUNTIES};
use crate::json::Obj;
use crate::shocks::{Hazard, DROUGHT_COUNTIES};
use crate::world::{Env, Out};
use chrono::{Datelike, NaiveDate};
use rand::Rng;
use rust_decimal::Decimal;

/// Commodity, cost benchmark and normal purchase price, yuan per kg.
const COMMODITIES: [(&str, f64, f64); 3] = [
    ("tea", 40.0, 50.0),
    ("hog", 14.0, 17.0),
    ("fish", 10.0, 12.5),
];

/// Price in yuan per kg as an exact 2-decimal value.
fn price(x: f64) -> Decimal {
    Decimal::new((x * 100.0).round() as i64, 2)
}

/// Every day of the simulated range with its month index.
fn days(env: &Env) -> Vec<(u32, NaiveDate)> {
    (0..env.cal.months)
        .flat_map(|k| (1..=env.cal.days_in(k)).map(move |d| (k, env.cal.date(k, d))))
        .collect()
}

/// Daily purchase and cost prices per county and commodity.
pub fn prices<R: Rng>(env: &Env, rng: &mut R, out: &mut Out) {
    for (k, date) in days(env) {
        let doy = date.ordinal() as f64;
        for (c, county) in COUNTIES.iter().enumerate() {
            for (commodity, cost, normal) in COMMODITIES {
                let noise = rng.random_range(0.97..1.03);
                let purchase = match commodity {
                    "tea" if c as u8 == geography::DAWU && (4..=6).contains(&date.month()) => {
                        cost * rng.random_range(0.75..0.85)
                    }
                    "hog" => normal * (1.0 - 0.28 * (doy / 120.0).min(1.0)) * noise,
                    _ => normal * noise,
                };
                out.feeds.prices.push(k, |buf| {
                    Obj::new(buf)
                        .str("county_code", county.code)
                        .str("commodity", commodity)
                        .str_with("date", |b| push_date(b, date))
                        .dec_str("purchase_price", price(purchase), 2)
                        .dec_str("cost_price", price(cost), 2)
                        .end()
                });
            }
        }
    }
}

/// A weather station.
struct Station {
    id: String,
    county: u8,
    /// Measures pond water temperature.
    ponds: bool,
}

/// Daily rainfall and pond temperature from 2–3 stations per county.
pub fn weather<R: Rng>(env: &Env, rng: &mut R, out: &mut Out) {
    let mut stations = Vec::new();
    for c in 0..COUNTIES.len() as u8 {
        let aquaculture = matches!(
            c,
            geography::ANLU | geography::HANCHUAN | geography::YUNMENG
        );
        for s in 0..rng.random_range(2..=3u8) {
            stations.push(Station {
                id: format!("57{c}{:02}", s + 1),
                county: c,
                ponds: s == 0 || aquaculture,
            });
        }
    }
    for (k, date) in days(env) {
        let year = date.year();
        let doy = date.ordinal() as f64;
        for st in &stations {
            let flood_days = env.shocks.year(year).is_some_and(|ys| {
                ys.events.iter().any(|e| {
                    e.hazard == Hazard::Flood
                        && e.id.contains(COUNTIES[st.county as usize].code)
                        && (0..=3).contains(&(e.date - date).num_days())
                })
            });
            let drought = DROUGHT_COUNTIES.contains(&st.county) && date.month() == 8;
            let (wet, mean) = match date.month() {
                _ if drought => (0.03, 2.0),
                1..=3 => (0.30, 6.0),
                4..=6 => (0.45, 10.0),
                7 => (0.55, 25.0),
                8 => (0.35, 12.0),
                _ => (0.25, 6.0),
            };
            let rain = if flood_days {
                rng.random_range(80.0..200.0)
            } else if rng.random_bool(wet) {
                -mean * rng.random_range(f64::EPSILON..1.0f64).ln()
            } else {
                0.0
            };
            let water = st.ponds.then(|| {
                let seasonal =
                    16.0 + 12.0 * (2.0 * std::f64::consts::PI * (doy - 105.0) / 365.0).sin();
                let heat = if drought { 5.0 } else { 0.0 };
                (seasonal + heat + rng.random_range(-1.5..1.5)).max(2.0)
            });
            out.feeds.weather.push(k, |buf| {
                Obj::new(buf)
                    .str("station_id", &st.id)
                    .str("county_code", COUNTIES[st.county as usize].code)
                    .str_with("date", |b| push_date(b, date))
                    .num1("rainfall_mm", Some(rain))
                    .num1("water_temp_c", water)
                    .end()
            });
        }
    }
}
