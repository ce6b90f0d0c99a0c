//! `dept.civil.assistance`: transfers paid to households.

use super::fields::{code, dashed_month, yuan, Object};
use super::{Decoder, Rejection};
use crate::event::{AssistancePayment, Event};

pub(super) fn decode(d: &Decoder, o: &Object) -> Result<Event, Rejection> {
    let payment_id = d.identifier(o, "payment_id")?;
    let household = d.household(o)?;
    let month = dashed_month(o, "month")?;
    let kind = code(o, "kind")?;
    let amount = yuan(o, "amount")?;
    Ok(Event::Assistance(AssistancePayment { payment_id, household, month, kind, amount }))
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use serde_json::{json, Value};

    use crate::decode::test_support::{decode, rejects, rejects_absent_and_mistyped};
    use crate::decode::RejectReason::*;
    use crate::event::{AssistanceKind, AssistancePayment, Event, HouseholdCode, Month};
    use crate::topic::Topic::Civil;

    fn valid() -> Value {
        json!({
            "payment_id": "MZ-2025-01-778812",
            "household_code": "420902001002-0300",
            "month": "2025-01",
            "kind": "dibao",
            "amount": "615.00"
        })
    }

    #[test]
    fn valid_record_decodes_exactly() {
        let e = decode(Civil, &valid()).unwrap();
        assert_eq!(
            e,
            Event::Assistance(AssistancePayment {
                payment_id: "MZ-2025-01-778812".into(),
                household: HouseholdCode::parse("420902001002-0300").unwrap(),
                month: Month::new(2025, 1).unwrap(),
                kind: AssistanceKind::Dibao,
                amount: Decimal::new(615, 0),
            })
        );
        assert_eq!(e.month(), Month::new(2025, 1).unwrap());
    }

    #[test]
    fn absent_null_and_mistyped_fields_are_rejected() {
        let v = valid();
        for (field, wrong) in [
            ("payment_id", json!(778812)),
            ("household_code", json!({"code": "420902001002-0300"})),
            ("month", json!(2025.01)),
            ("kind", json!(0)),
            ("amount", json!(615)),
        ] {
            rejects_absent_and_mistyped(Civil, &v, field, wrong);
        }
    }

    #[test]
    fn invalid_values_are_rejected() {
        let v = valid();
        for (field, bad) in [
            ("payment_id", json!(" ")),
            ("payment_id", json!("x".repeat(129))),
            ("household_code", json!("420902001002-03000")),
            ("month", json!("2025-13")),
            ("month", json!("1899-12")),
            ("kind", json!("pension")),
            ("amount", json!("615.")),
            ("amount", json!("¥615")),
        ] {
            rejects(Civil, &v, field, Some(bad), InvalidValue, field);
        }
    }
}
