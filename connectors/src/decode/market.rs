//! `market.prices` and `weather.observations`: county-level index feeds.

use super::fields::{code, date, decimal, invalid, number, optional_number, Object};
use super::{Decoder, Rejection};
use crate::event::{Event, PriceObservation, WeatherObservation};

/// Decimals accepted in prices (yuan per kg): fen and tenths of fen are seen in quotations.
const PRICE_DECIMALS: usize = 4;
/// 24-hour rainfall above this is a typing error (the world record is under 2,000 mm).
const MAX_RAINFALL_MM: f64 = 2000.0;
/// Pond water temperatures outside this range are typing errors.
const WATER_TEMP_C: std::ops::RangeInclusive<f64> = -10.0..=50.0;

pub(super) fn decode_price(d: &Decoder, o: &Object) -> Result<Event, Rejection> {
    let county_code = d.county(o, "county_code")?;
    let commodity = code(o, "commodity")?;
    let date = date(o, "date")?;
    let purchase_price = decimal(o, "purchase_price", PRICE_DECIMALS)?;
    let cost_price = decimal(o, "cost_price", PRICE_DECIMALS)?;
    // The price index compares purchase to cost price; a zero benchmark would make every ratio
    // meaningless (or a division by zero downstream).
    if cost_price.is_zero() {
        return Err(invalid("cost_price", "cost_price must be above zero"));
    }
    Ok(Event::Price(PriceObservation { county_code, commodity, date, purchase_price, cost_price }))
}

pub(super) fn decode_weather(d: &Decoder, o: &Object) -> Result<Event, Rejection> {
    let station_id = d.identifier(o, "station_id")?;
    let county_code = d.county(o, "county_code")?;
    let date = date(o, "date")?;
    let rainfall_mm = number(o, "rainfall_mm", 0.0..=MAX_RAINFALL_MM)?;
    let water_temp_c = optional_number(o, "water_temp_c", WATER_TEMP_C)?;
    Ok(Event::Weather(WeatherObservation { station_id, county_code, date, rainfall_mm, water_temp_c }))
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use rust_decimal::Decimal;
    use serde_json::{json, Value};

    use crate::decode::test_support::{decode, rejects, rejects_absent_and_mistyped, with};
    use crate::decode::RejectReason::*;
    use crate::event::{Commodity, Event, Month, PriceObservation, WeatherObservation};
    use crate::topic::Topic::{Prices, Weather};

    fn price() -> Value {
        json!({
            "county_code": "420922",
            "commodity": "tea",
            "date": "2024-04-30",
            "purchase_price": "68.5",
            "cost_price": "80.125"
        })
    }

    fn weather() -> Value {
        json!({
            "station_id": "57482",
            "county_code": "420982",
            "date": "2024-06-30",
            "rainfall_mm": 182.4,
            "water_temp_c": 33
        })
    }

    #[test]
    fn valid_price_decodes_exactly() {
        let e = decode(Prices, &price()).unwrap();
        assert_eq!(
            e,
            Event::Price(PriceObservation {
                county_code: "420922".into(),
                commodity: Commodity::Tea,
                date: NaiveDate::from_ymd_opt(2024, 4, 30).unwrap(),
                purchase_price: Decimal::new(685, 1),
                cost_price: Decimal::new(80125, 3),
            })
        );
        assert_eq!(e.month(), Month::new(2024, 4).unwrap());
        assert_eq!(e.household(), None);
    }

    #[test]
    fn valid_weather_decodes_with_and_without_water_temperature() {
        let e = decode(Weather, &weather()).unwrap();
        assert_eq!(
            e,
            Event::Weather(WeatherObservation {
                station_id: "57482".into(),
                county_code: "420982".into(),
                date: NaiveDate::from_ymd_opt(2024, 6, 30).unwrap(),
                rainfall_mm: 182.4,
                water_temp_c: Some(33.0),
            })
        );
        assert_eq!(e.month(), Month::new(2024, 6).unwrap());
        for missing in [Some(Value::Null), None] {
            let Event::Weather(w) = decode(Weather, &with(&weather(), "water_temp_c", missing)).unwrap() else {
                panic!()
            };
            assert_eq!(w.water_temp_c, None);
        }
        let Event::Weather(w) = decode(Weather, &with(&weather(), "rainfall_mm", Some(json!(0)))).unwrap() else {
            panic!()
        };
        assert_eq!(w.rainfall_mm, 0.0);
    }

    #[test]
    fn price_fields_are_checked() {
        let v = price();
        for (field, wrong) in [
            ("county_code", json!(420922)),
            ("commodity", json!(1)),
            ("date", json!(20240430)),
            ("purchase_price", json!(68.5)),
            ("cost_price", json!(80)),
        ] {
            rejects_absent_and_mistyped(Prices, &v, field, wrong);
        }
        for (field, bad) in [
            ("county_code", json!("420100")), // Wuhan: not a configured county
            ("county_code", json!("42092")),
            ("county_code", json!("420922101")),
            ("commodity", json!("rice")),
            ("date", json!("2024-04-31")),
            ("purchase_price", json!("-68.5")),
            ("purchase_price", json!("68.12345")),
            ("cost_price", json!("0.00")),
        ] {
            rejects(Prices, &v, field, Some(bad), InvalidValue, field);
        }
    }

    #[test]
    fn weather_fields_are_checked() {
        let v = weather();
        for (field, wrong) in [
            ("station_id", json!(57482)),
            ("county_code", json!(["420982"])),
            ("date", json!(true)),
            ("rainfall_mm", json!("182.4")),
        ] {
            rejects_absent_and_mistyped(Weather, &v, field, wrong);
        }
        rejects(Weather, &v, "water_temp_c", Some(json!("33")), WrongType, "water_temp_c");
        for (field, bad) in [
            ("station_id", json!("")),
            ("county_code", json!("110105")),
            ("date", json!("30/06/2024")),
            ("rainfall_mm", json!(-0.1)),
            ("rainfall_mm", json!(1e9)),
            ("water_temp_c", json!(99.5)),
        ] {
            rejects(Weather, &v, field, Some(bad), InvalidValue, field);
        }
    }
}
