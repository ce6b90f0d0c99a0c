//! `dept.hr.employment`: one worker's month, wage in fen.

use super::fields::{code, compact_month, fen, Object};
use super::{Decoder, Rejection};
use crate::event::{EmploymentReport, Event};

pub(super) fn decode(d: &Decoder, o: &Object) -> Result<Event, Rejection> {
    let household = d.household(o)?;
    let worker = d.person(o, "id_card")?;
    let month = compact_month(o, "ym")?;
    let status = code(o, "status")?;
    let wage = fen(o, "wage_fen")?;
    Ok(Event::Employment(EmploymentReport { household, worker, month, status, wage }))
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use serde_json::{json, Value};

    use crate::decode::test_support::{decode, flipped, person, rejects, rejects_absent_and_mistyped, valid_id, with};
    use crate::decode::RejectReason::*;
    use crate::event::{EmploymentReport, EmploymentStatus, Event, HouseholdCode, Month};
    use crate::topic::Topic::Employment;

    fn id() -> String {
        valid_id("42098119900101001")
    }

    fn valid() -> Value {
        json!({
            "household_code": "420981105003-0117",
            "id_card": id(),
            "ym": "202412",
            "status": "migrant_employed",
            "wage_fen": 456789
        })
    }

    #[test]
    fn valid_record_decodes_exactly() {
        let e = decode(Employment, &valid()).unwrap();
        assert_eq!(
            e,
            Event::Employment(EmploymentReport {
                household: HouseholdCode::parse("420981105003-0117").unwrap(),
                worker: person(&id()),
                month: Month::new(2024, 12).unwrap(),
                status: EmploymentStatus::MigrantEmployed,
                wage: Decimal::new(456789, 2),
            })
        );
        assert_eq!(e.month(), Month::new(2024, 12).unwrap());
        let Event::Employment(r) = decode(Employment, &with(&valid(), "wage_fen", Some(json!(0)))).unwrap() else {
            panic!()
        };
        assert_eq!(r.wage, Decimal::ZERO);
    }

    #[test]
    fn absent_null_and_mistyped_fields_are_rejected() {
        let v = valid();
        for (field, wrong) in [
            ("household_code", json!(1)),
            ("id_card", json!(["x"])),
            ("ym", json!(202412)),
            ("status", json!(1)),
            ("wage_fen", json!("456789")),
        ] {
            rejects_absent_and_mistyped(Employment, &v, field, wrong);
        }
        // Fen are integers: a fraction or exponent is the wrong type, not a rounding matter.
        rejects(Employment, &v, "wage_fen", Some(json!(4567.89)), WrongType, "wage_fen");
        rejects(Employment, &v, "wage_fen", Some(json!(456789.0)), WrongType, "wage_fen");
    }

    #[test]
    fn invalid_values_are_rejected() {
        let v = valid();
        for (field, bad) in [
            ("household_code", json!("420999105003-0117")), // not a configured county
            ("ym", json!("2024-12")),
            ("ym", json!("202413")),
            ("ym", json!("2024121")),
            ("status", json!("retired")),
            ("wage_fen", json!(-1)),
            ("wage_fen", json!(10_000_000_000_000_000u64)),
            ("wage_fen", json!(u64::MAX)),
        ] {
            rejects(Employment, &v, field, Some(bad), InvalidValue, field);
        }
    }

    #[test]
    fn bad_id_cards_are_rejected() {
        rejects(Employment, &valid(), "id_card", Some(json!(flipped(&id()))), BadIdCard, "id_card");
        rejects(
            Employment,
            &valid(),
            "id_card",
            Some(json!(format!("{}x", &valid_id("11010519491231002")[..17]))),
            BadIdCard,
            "id_card",
        );
    }
}
