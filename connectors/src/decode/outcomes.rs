//! `verify.outcomes`: what township cadres found when verifying an alert.

use super::fields::{code, instant, strings, text, Object};
use super::{Decoder, Rejection};
use crate::event::{Event, VerificationOutcome};

pub(super) fn decode(d: &Decoder, o: &Object) -> Result<Event, Rejection> {
    let alert_id = text(o, "alert_id")?;
    let household = d.household(o)?;
    let verified_at = instant(o, "verified_at")?;
    let method = code(o, "method")?;
    let outcome = code(o, "outcome")?;
    // Measures are free-form codes ("e.g." in the contract): the list is open, so only their
    // shape is checked.
    let assistance = strings(o, "assistance")?;
    let verifier = d.identifier(o, "verifier")?;
    Ok(Event::Outcome(VerificationOutcome { alert_id, household, verified_at, method, outcome, assistance, verifier }))
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use serde_json::{json, Value};

    use crate::decode::test_support::{decode, rejects, rejects_absent_and_mistyped, with};
    use crate::decode::RejectReason::*;
    use crate::event::{Event, HouseholdCode, Month, VerificationOutcome, VerifyMethod, VerifyResult};
    use crate::topic::Topic::Outcomes;

    fn valid() -> Value {
        json!({
            "alert_id": "A-2024-11-000042",
            "household_code": "420984118009-0201",
            "verified_at": "2024-11-30T17:45:00+00:00",
            "method": "door_visit",
            "outcome": "confirmed_risk",
            "assistance": ["medical_assistance", "insurance_claim"],
            "verifier": "HC-0815"
        })
    }

    #[test]
    fn valid_record_decodes_exactly_in_china_time() {
        let e = decode(Outcomes, &valid()).unwrap();
        assert_eq!(
            e,
            Event::Outcome(VerificationOutcome {
                alert_id: "A-2024-11-000042".into(),
                household: HouseholdCode::parse("420984118009-0201").unwrap(),
                verified_at: DateTime::parse_from_rfc3339("2024-12-01T01:45:00+08:00").unwrap(),
                method: VerifyMethod::DoorVisit,
                outcome: VerifyResult::ConfirmedRisk,
                assistance: vec!["medical_assistance".into(), "insurance_claim".into()],
                verifier: "HC-0815".into(),
            })
        );
        // 17:45 UTC on 30 November is already December in China.
        assert_eq!(e.month(), Month::new(2024, 12).unwrap());
        let none = with(&valid(), "assistance", Some(json!([])));
        assert!(decode(Outcomes, &none).is_ok());
    }

    #[test]
    fn absent_null_and_mistyped_fields_are_rejected() {
        let v = valid();
        for (field, wrong) in [
            ("alert_id", json!(42)),
            ("household_code", json!(420984118009u64)),
            ("verified_at", json!(1733000000)),
            ("method", json!(false)),
            ("outcome", json!(["no_risk"])),
            ("assistance", json!("medical_assistance")),
            ("verifier", json!(815)),
        ] {
            rejects_absent_and_mistyped(Outcomes, &v, field, wrong);
        }
        rejects(Outcomes, &v, "assistance", Some(json!(["medical_assistance", 7])), WrongType, "assistance");
        rejects(Outcomes, &v, "assistance", Some(json!([null])), WrongType, "assistance");
    }

    #[test]
    fn invalid_values_are_rejected() {
        let v = valid();
        for (field, bad) in [
            ("alert_id", json!("")),
            ("household_code", json!("420984118009")),
            ("verified_at", json!("2024-11-30 17:45")),
            ("verified_at", json!("2024-11-30T17:45:00")),
            ("method", json!("letter")),
            ("outcome", json!("maybe")),
            ("assistance", json!(["medical_assistance", ""])),
            ("verifier", json!("  ")),
        ] {
            rejects(Outcomes, &v, field, Some(bad), InvalidValue, field);
        }
    }
}
