//! `dept.rural.roster`: the monitored-household roster.

use super::fields::{boolean, code, code_list, count, date, invalid, yuan, Object};
use super::{Decoder, Rejection};
use crate::event::{Event, RosterEntry};

/// Upper bound of every per-household count: a larger number is a typing error.
const MAX_MEMBERS: u32 = 99;
/// Oldest plausible household head.
const MAX_AGE: u32 = 120;

pub(super) fn decode(d: &Decoder, o: &Object) -> Result<Event, Rejection> {
    let household = d.household(o)?;
    let category = code(o, "category")?;
    let members = count(o, "members", 1..=MAX_MEMBERS)?;
    let labor_count = count(o, "labor_count", 0..=MAX_MEMBERS)?;
    let head_age = count(o, "head_age", 0..=MAX_AGE)?;
    let disabled_members = count(o, "disabled_members", 0..=MAX_MEMBERS)?;
    let chronic_patients = count(o, "chronic_patients", 0..=MAX_MEMBERS)?;
    let industries = code_list(o, "industries")?;
    let baseline_income = yuan(o, "baseline_income")?;
    let insured = boolean(o, "insured")?;
    let effective_date = date(o, "effective_date")?;
    // Sub-counts of people cannot exceed the household (the same person may be both disabled
    // and chronically ill, so only each count on its own is bounded).
    for (field, n) in
        [("labor_count", labor_count), ("disabled_members", disabled_members), ("chronic_patients", chronic_patients)]
    {
        if n > members {
            return Err(invalid(field, format!("{field} exceeds members")));
        }
    }
    Ok(Event::Roster(RosterEntry {
        household,
        category,
        members,
        labor_count,
        head_age,
        disabled_members,
        chronic_patients,
        industries,
        baseline_income,
        insured,
        effective_date,
    }))
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use rust_decimal::Decimal;
    use serde_json::{json, Value};

    use crate::decode::test_support::{decode, rejects, rejects_absent_and_mistyped, with};
    use crate::decode::RejectReason::*;
    use crate::event::{Category, Event, HouseholdCode, Industry, Month, RosterEntry};
    use crate::topic::Topic::Roster;

    fn valid() -> Value {
        json!({
            "household_code": "420922101201-0042",
            "category": "unstable_alleviated",
            "members": 4,
            "labor_count": 2,
            "head_age": 56,
            "disabled_members": 1,
            "chronic_patients": 1,
            "industries": ["tea", "migrant_work", "tea"],
            "baseline_income": "31250.50",
            "insured": true,
            "effective_date": "2024-03-01",
            "added_later_by_the_bureau": {"anything": [1, 2]}
        })
    }

    #[test]
    fn valid_record_decodes_exactly() {
        let e = decode(Roster, &valid()).unwrap();
        assert_eq!(
            e,
            Event::Roster(RosterEntry {
                household: HouseholdCode::parse("420922101201-0042").unwrap(),
                category: Category::UnstableAlleviated,
                members: 4,
                labor_count: 2,
                head_age: 56,
                disabled_members: 1,
                chronic_patients: 1,
                industries: vec![Industry::Tea, Industry::MigrantWork],
                baseline_income: Decimal::new(3125050, 2),
                insured: true,
                effective_date: NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
            })
        );
        assert_eq!(e.month(), Month::new(2024, 3).unwrap());
        let Event::Roster(r) = decode(Roster, &with(&valid(), "industries", Some(json!([])))).unwrap() else {
            panic!()
        };
        assert!(r.industries.is_empty());
    }

    #[test]
    fn absent_null_and_mistyped_fields_are_rejected() {
        let v = valid();
        for (field, wrong) in [
            ("household_code", json!(420922101201u64)),
            ("category", json!(1)),
            ("members", json!("4")),
            ("labor_count", json!(2.5)),
            ("head_age", json!("56")),
            ("disabled_members", json!(true)),
            ("chronic_patients", json!(1.0)),
            ("industries", json!("tea")),
            ("baseline_income", json!(31250.5)),
            ("insured", json!("yes")),
            ("effective_date", json!(20240301)),
        ] {
            rejects_absent_and_mistyped(Roster, &v, field, wrong);
        }
        rejects(Roster, &v, "industries", Some(json!(["tea", 3])), WrongType, "industries");
        rejects(Roster, &v, "insured", Some(json!(1)), WrongType, "insured");
    }

    #[test]
    fn invalid_values_are_rejected() {
        let v = valid();
        for (field, bad) in [
            ("household_code", json!("420922101201-42")),
            ("household_code", json!("420922101201_0042")),
            ("household_code", json!("110105101201-0042")), // Beijing, not Xiaogan
            ("category", json!("poor")),
            ("category", json!("Marginal")),
            ("members", json!(0)),
            ("members", json!(-1)),
            ("members", json!(100)),
            ("labor_count", json!(-2)),
            ("head_age", json!(130)),
            ("industries", json!(["tea", "gold_mining"])),
            ("baseline_income", json!("-100.00")),
            ("baseline_income", json!("100.001")),
            ("baseline_income", json!("12,000")),
            ("baseline_income", json!("")),
            ("effective_date", json!("2024-02-30")),
            ("effective_date", json!("2024/03/01")),
            ("effective_date", json!("2024-03-01T00:00:00+08:00")),
        ] {
            rejects(Roster, &v, field, Some(bad), InvalidValue, field);
        }
        rejects(Roster, &v, "members", Some(json!(99999999999u64)), InvalidValue, "members");
        rejects(Roster, &v, "labor_count", Some(json!(5)), InvalidValue, "labor_count");
        rejects(Roster, &v, "disabled_members", Some(json!(5)), InvalidValue, "disabled_members");
        rejects(Roster, &v, "chronic_patients", Some(json!(5)), InvalidValue, "chronic_patients");
    }
}
