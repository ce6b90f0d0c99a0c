//! `dept.emergency.disasters`: disaster damage per household.

use super::fields::{code, instant, yuan, Object};
use super::{Decoder, Rejection};
use crate::event::{DisasterReport, Event, Month};

pub(super) fn decode(d: &Decoder, o: &Object) -> Result<Event, Rejection> {
    let event_id = d.identifier(o, "event_id")?;
    let household = d.household(o)?;
    let hazard = code(o, "hazard")?;
    let occurred_at = instant(o, "occurred_at")?;
    let house_damage = code(o, "house_damage")?;
    let direct_loss = yuan(o, "direct_loss")?;
    Ok(Event::Disaster(DisasterReport {
        event_id,
        household,
        hazard,
        month: Month::of_instant(&occurred_at),
        house_damage,
        direct_loss,
    }))
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use serde_json::{json, Value};

    use crate::decode::test_support::{decode, rejects, rejects_absent_and_mistyped, with};
    use crate::decode::RejectReason::*;
    use crate::event::{DisasterReport, Event, Hazard, HouseDamage, HouseholdCode, Month};
    use crate::topic::Topic::Emergency;

    fn valid() -> Value {
        json!({
            "event_id": "YJ-2023-07-FLOOD-03",
            "household_code": "420921104212-0012",
            "hazard": "flood",
            // 23:10 on 31 July in UTC is 07:10 on 1 August in China time.
            "occurred_at": "2023-07-31T23:10:00Z",
            "house_damage": "severe",
            "direct_loss": "38500.75"
        })
    }

    #[test]
    fn valid_record_decodes_exactly_in_china_time() {
        let e = decode(Emergency, &valid()).unwrap();
        assert_eq!(
            e,
            Event::Disaster(DisasterReport {
                event_id: "YJ-2023-07-FLOOD-03".into(),
                household: HouseholdCode::parse("420921104212-0012").unwrap(),
                hazard: Hazard::Flood,
                month: Month::new(2023, 8).unwrap(),
                house_damage: HouseDamage::Severe,
                direct_loss: Decimal::new(3850075, 2),
            })
        );
        let west = with(&valid(), "occurred_at", Some(json!("2023-07-31T10:00:00-05:00")));
        assert_eq!(decode(Emergency, &west).unwrap().month(), Month::new(2023, 7).unwrap());
        let year_end = with(&valid(), "occurred_at", Some(json!("2023-12-31T16:00:00+00:00")));
        assert_eq!(decode(Emergency, &year_end).unwrap().month(), Month::new(2024, 1).unwrap());
    }

    #[test]
    fn absent_null_and_mistyped_fields_are_rejected() {
        let v = valid();
        for (field, wrong) in [
            ("event_id", json!(3)),
            ("household_code", json!(420921104212.0012)),
            ("hazard", json!(["flood"])),
            ("occurred_at", json!(1690845000)),
            ("house_damage", json!(2)),
            ("direct_loss", json!(38500.75)),
        ] {
            rejects_absent_and_mistyped(Emergency, &v, field, wrong);
        }
    }

    #[test]
    fn invalid_values_are_rejected() {
        let v = valid();
        for (field, bad) in [
            ("event_id", json!("")),
            ("household_code", json!("420921104212-001a")),
            ("hazard", json!("earthquake")),
            ("occurred_at", json!("2023-07-31")),
            ("occurred_at", json!("2023-07-31T23:10:00")),
            ("occurred_at", json!("yesterday")),
            ("house_damage", json!("destroyed")),
            ("direct_loss", json!("-38500.75")),
        ] {
            rejects(Emergency, &v, field, Some(bad), InvalidValue, field);
        }
    }
}
