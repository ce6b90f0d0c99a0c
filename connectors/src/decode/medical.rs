//! `dept.medical.settlements`: settled medical bills and their reversals.

use super::fields::{code, instant, invalid, yuan, Object};
use super::{Decoder, RejectReason, Rejection};
use crate::event::{Event, MedicalSettlement, Month};

pub(super) fn decode(d: &Decoder, o: &Object) -> Result<Event, Rejection> {
    let settlement_id = d.identifier(o, "settlement_id")?;
    let status = code(o, "status")?;
    let household = d.household(o)?;
    let patient = d.person(o, "id_card")?;
    let settle_time = instant(o, "settle_time")?;
    let visit_type = code(o, "visit_type")?;
    let total_cost = yuan(o, "total_cost")?;
    let fund_paid = yuan(o, "fund_paid")?;
    let critical_illness_paid = yuan(o, "critical_illness_paid")?;
    let assistance_paid = yuan(o, "assistance_paid")?;
    let out_of_pocket = yuan(o, "out_of_pocket")?;
    // Payers covering more than the bill is the double payment the plan warns about: reject it
    // as impossible rather than let a negative out-of-pocket cost through.
    let paid = fund_paid + critical_illness_paid + assistance_paid;
    if paid > total_cost {
        return Err(invalid(
            "total_cost",
            "fund_paid, critical_illness_paid and assistance_paid together exceed total_cost",
        ));
    }
    // Exact decimal arithmetic: the contract's identity holds to the fen or not at all.
    if out_of_pocket != total_cost - paid {
        return Err(Rejection::new(
            RejectReason::AmountsDoNotAddUp,
            "out_of_pocket",
            "out_of_pocket must equal total_cost minus fund_paid, critical_illness_paid and assistance_paid",
        ));
    }
    Ok(Event::Medical(MedicalSettlement {
        settlement_id,
        status,
        household,
        patient,
        month: Month::of_instant(&settle_time),
        visit_type,
        total_cost,
        fund_paid,
        critical_illness_paid,
        assistance_paid,
        out_of_pocket,
    }))
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use serde_json::{json, Value};

    use crate::decode::test_support::{decode, flipped, person, rejects, rejects_absent_and_mistyped, valid_id, with};
    use crate::decode::RejectReason::*;
    use crate::event::{Event, HouseholdCode, MedicalSettlement, Month, SettlementStatus, VisitType};
    use crate::topic::Topic::Medical;

    fn id() -> String {
        valid_id("42092219560708002")
    }

    fn valid() -> Value {
        json!({
            "settlement_id": "YB-2024-000123",
            "status": "settled",
            "household_code": "420922101201-0042",
            "id_card": id(),
            // 16:30 UTC on 31 May is 00:30 on 1 June in China time.
            "settle_time": "2024-05-31T16:30:00+00:00",
            "visit_type": "inpatient",
            "total_cost": "12000.00",
            "fund_paid": "7000.50",
            "critical_illness_paid": "1000",
            "assistance_paid": "999.5",
            "out_of_pocket": "3000.00"
        })
    }

    #[test]
    fn valid_record_decodes_exactly_in_china_time() {
        let e = decode(Medical, &valid()).unwrap();
        let expected = MedicalSettlement {
            settlement_id: "YB-2024-000123".into(),
            status: SettlementStatus::Settled,
            household: HouseholdCode::parse("420922101201-0042").unwrap(),
            patient: person(&id()),
            month: Month::new(2024, 6).unwrap(),
            visit_type: VisitType::Inpatient,
            total_cost: Decimal::new(1200000, 2),
            fund_paid: Decimal::new(700050, 2),
            critical_illness_paid: Decimal::new(1000, 0),
            assistance_paid: Decimal::new(9995, 1),
            out_of_pocket: Decimal::new(300000, 2),
        };
        assert_eq!(e, Event::Medical(expected));
        assert_eq!(e.month(), Month::new(2024, 6).unwrap());
        // No trace of the clear ID number in the event.
        let shown = format!("{e:?}{}", serde_json::to_string(&e).unwrap());
        assert!(!shown.contains(&id()[..15]));

        let reversed = with(
            &with(&valid(), "status", Some(json!("reversed"))),
            "settle_time",
            Some(json!("2024-05-31T23:59:59+08:00")),
        );
        let Event::Medical(m) = decode(Medical, &reversed).unwrap() else { panic!() };
        assert_eq!((m.status, m.month), (SettlementStatus::Reversed, Month::new(2024, 5).unwrap()));
    }

    #[test]
    fn absent_null_and_mistyped_fields_are_rejected() {
        let v = valid();
        for (field, wrong) in [
            ("settlement_id", json!(123)),
            ("status", json!(true)),
            ("household_code", json!(["420922101201-0042"])),
            ("id_card", json!(420922195607080021u64)),
            ("settle_time", json!(1717173000)),
            ("visit_type", json!({})),
            ("total_cost", json!(12000)),
            ("fund_paid", json!(7000.5)),
            ("critical_illness_paid", json!(1000)),
            ("assistance_paid", json!(false)),
            ("out_of_pocket", json!(3000.0)),
        ] {
            rejects_absent_and_mistyped(Medical, &v, field, wrong);
        }
    }

    #[test]
    fn invalid_values_are_rejected() {
        let v = valid();
        for (field, bad) in [
            ("settlement_id", json!("")),
            ("settlement_id", json!("   ")),
            ("status", json!("cancelled")),
            ("household_code", json!("420922101201-004")),
            ("settle_time", json!("2024-05-31T16:30:00")), // no offset
            ("settle_time", json!("2024-05-31 16:30")),
            ("settle_time", json!("2024-02-30T10:00:00+08:00")),
            ("visit_type", json!("emergency")),
            ("total_cost", json!("12000.001")),
            ("fund_paid", json!("-7000.50")),
            ("critical_illness_paid", json!("1e3")),
            ("assistance_paid", json!("999.5 ")),
        ] {
            rejects(Medical, &v, field, Some(bad), InvalidValue, field);
        }
        // Payers above the bill: impossible, whatever out_of_pocket says.
        let over = with(&with(&v, "fund_paid", Some(json!("11000.50"))), "out_of_pocket", Some(json!("0")));
        rejects(Medical, &over, "assistance_paid", Some(json!("999.51")), InvalidValue, "total_cost");
    }

    #[test]
    fn bad_id_cards_are_rejected_without_showing_them() {
        let v = valid();
        rejects(Medical, &v, "id_card", Some(json!(flipped(&id()))), BadIdCard, "id_card");
        rejects(Medical, &v, "id_card", Some(json!(&id()[..17])), BadIdCard, "id_card");
        rejects(Medical, &v, "id_card", Some(json!(format!("A{}", &id()[1..]))), BadIdCard, "id_card");
        rejects(Medical, &v, "id_card", Some(json!("")), BadIdCard, "id_card");
    }

    #[test]
    fn amounts_must_add_up_to_the_fen() {
        let v = valid();
        rejects(Medical, &v, "out_of_pocket", Some(json!("3000.01")), AmountsDoNotAddUp, "out_of_pocket");
        rejects(Medical, &v, "out_of_pocket", Some(json!("2999.99")), AmountsDoNotAddUp, "out_of_pocket");
        rejects(Medical, &v, "fund_paid", Some(json!("7000.49")), AmountsDoNotAddUp, "out_of_pocket");
        // Same amount, other scale: still adds up.
        assert!(decode(Medical, &with(&v, "out_of_pocket", Some(json!("3000")))).is_ok());
        // A bill fully covered by the payers.
        let covered = json!({"total_cost": "0.30", "fund_paid": "0.10", "critical_illness_paid": "0.20",
                             "assistance_paid": "0", "out_of_pocket": "0.00"});
        let mut all = v.clone();
        all.as_object_mut().unwrap().extend(covered.as_object().unwrap().clone());
        assert!(decode(Medical, &all).is_ok());
    }
}
