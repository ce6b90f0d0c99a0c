//! The daily county feeds behind the index triggers, kept as the SQL reads them.
//!
//! A later observation for the same county, commodity and day (prices) or station and day
//! (weather) replaces the earlier one: departments correct a day by sending it again. The
//! series are small (a county has one price per commodity and day, a few stations), so they are
//! kept whole and handed to the SQL as two tables, `price_days` and `weather_days`.
//!
//! Only months that are over reach the SQL: a series' month is over when it has every day, or
//! when the same series (a county's commodity, a station) already has a later day. A monthly
//! average judged on the first days of a month would pay, then take back, claims as the month
//! fills; judged once, a claim changes only when a department corrects a day.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{ArrayRef, Decimal128Builder, Float64Builder, Int32Builder, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use fangpin_connectors::event::{Commodity, Event, Month};
use rust_decimal::Decimal;

use crate::error::ClaimsError;

/// Decimals of prices in `price_days` (the decoder accepts at most four).
pub const PRICE_SCALE: u32 = 4;

/// Every price and weather observation seen.
#[derive(Default, Debug)]
pub struct Series {
    prices: BTreeMap<(String, Commodity, NaiveDate), (Decimal, Decimal)>,
    weather: BTreeMap<(String, NaiveDate), (String, f64, Option<f64>)>,
    changed: bool,
}

impl Series {
    /// Keeps a price or weather observation; `true` when it changed the series. Other events
    /// are not the series' business.
    pub fn observe(&mut self, event: &Event) -> bool {
        let changed = match event {
            Event::Price(p) => {
                let value = (p.purchase_price, p.cost_price);
                self.prices.insert((p.county_code.clone(), p.commodity, p.date), value) != Some(value)
            }
            Event::Weather(w) => {
                let value = (w.county_code.clone(), w.rainfall_mm, w.water_temp_c);
                self.weather.insert((w.station_id.clone(), w.date), value.clone()) != Some(value)
            }
            _ => false,
        };
        self.changed |= changed;
        changed
    }

    /// Whether anything changed since the last call.
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// `price_days`: county_code, commodity, month_idx, month, date, purchase_price, cost_price.
    pub fn price_days(&self) -> Result<RecordBatch, ClaimsError> {
        let n = self.prices.len();
        let (mut county, mut commodity, mut month, mut date) =
            (StringBuilder::new(), StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
        let mut month_idx = Int32Builder::with_capacity(n);
        let (mut purchase, mut cost) = (Decimal128Builder::with_capacity(n), Decimal128Builder::with_capacity(n));
        let over = months_over(self.prices.keys().map(|(c, k, d)| ((c, *k), *d)));
        for ((c, k, d), (p, q)) in &self.prices {
            let m = Month::of_date(*d);
            if !over.contains(&((c, *k), m)) {
                continue;
            }
            county.append_value(c);
            commodity.append_value(k.code());
            month_idx.append_value(m.index());
            month.append_value(m.to_string());
            date.append_value(d.to_string());
            purchase.append_value(scaled(*p)?);
            cost.append_value(scaled(*q)?);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(county.finish()),
            Arc::new(commodity.finish()),
            Arc::new(month_idx.finish()),
            Arc::new(month.finish()),
            Arc::new(date.finish()),
            Arc::new(purchase.finish().with_precision_and_scale(18, PRICE_SCALE as i8)?),
            Arc::new(cost.finish().with_precision_and_scale(18, PRICE_SCALE as i8)?),
        ];
        Ok(RecordBatch::try_new(price_schema(), columns)?)
    }

    /// `weather_days`: station_id, county_code, month_idx, month, date, rainfall_mm, water_temp_c.
    pub fn weather_days(&self) -> Result<RecordBatch, ClaimsError> {
        let n = self.weather.len();
        let (mut station, mut county, mut month, mut date) =
            (StringBuilder::new(), StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
        let mut month_idx = Int32Builder::with_capacity(n);
        let (mut rain, mut water) = (Float64Builder::with_capacity(n), Float64Builder::with_capacity(n));
        let over = months_over(self.weather.keys().map(|(s, d)| (s, *d)));
        for ((s, d), (c, r, w)) in &self.weather {
            let m = Month::of_date(*d);
            if !over.contains(&(s, m)) {
                continue;
            }
            station.append_value(s);
            county.append_value(c);
            month_idx.append_value(m.index());
            month.append_value(m.to_string());
            date.append_value(d.to_string());
            rain.append_value(*r);
            water.append_option(*w);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(station.finish()),
            Arc::new(county.finish()),
            Arc::new(month_idx.finish()),
            Arc::new(month.finish()),
            Arc::new(date.finish()),
            Arc::new(rain.finish()),
            Arc::new(water.finish()),
        ];
        Ok(RecordBatch::try_new(weather_schema(), columns)?)
    }
}

/// The latest day of each series.
/// The months of each series (key) that are over: a later day is in the series, or every day
/// of the month is. One pass over the (distinct) days held.
fn months_over<K: Ord + Copy>(days: impl Iterator<Item = (K, NaiveDate)>) -> BTreeSet<(K, Month)> {
    let mut latest: BTreeMap<K, NaiveDate> = BTreeMap::new();
    let mut held: BTreeMap<(K, Month), u32> = BTreeMap::new();
    for (k, d) in days {
        latest.entry(k).and_modify(|l| *l = (*l).max(d)).or_insert(d);
        *held.entry((k, Month::of_date(d))).or_default() += 1;
    }
    held.into_iter()
        .filter(|((k, m), n)| latest[k] > last_day(*m) || *n == last_day(*m).day())
        .map(|(key, _)| key)
        .collect()
}

fn last_day(m: Month) -> NaiveDate {
    let next = m.plus(1);
    NaiveDate::from_ymd_opt(next.year(), next.month(), 1).and_then(|d| d.pred_opt()).expect("a month has a last day")
}

fn price_schema() -> SchemaRef {
    let price = DataType::Decimal128(18, PRICE_SCALE as i8);
    Arc::new(Schema::new(vec![
        Field::new("county_code", DataType::Utf8, false),
        Field::new("commodity", DataType::Utf8, false),
        Field::new("month_idx", DataType::Int32, false),
        Field::new("month", DataType::Utf8, false),
        Field::new("date", DataType::Utf8, false),
        Field::new("purchase_price", price.clone(), false),
        Field::new("cost_price", price, false),
    ]))
}

fn weather_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("station_id", DataType::Utf8, false),
        Field::new("county_code", DataType::Utf8, false),
        Field::new("month_idx", DataType::Int32, false),
        Field::new("month", DataType::Utf8, false),
        Field::new("date", DataType::Utf8, false),
        Field::new("rainfall_mm", DataType::Float64, false),
        Field::new("water_temp_c", DataType::Float64, true),
    ]))
}

/// A price as an integer at [`PRICE_SCALE`], exactly.
fn scaled(v: Decimal) -> Result<i128, ClaimsError> {
    let mut d = v;
    d.rescale(PRICE_SCALE);
    if d != v {
        return Err(ClaimsError::Internal(format!("price {v} has more than {PRICE_SCALE} decimals")));
    }
    Ok(d.mantissa())
}
