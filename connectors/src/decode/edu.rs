//! `dept.edu.expenses`: one student's schooling costs for a term.

use super::fields::{code, invalid, string, yuan, Object, YEARS};
use super::{Decoder, Rejection};
use crate::event::{Event, Month, SchoolExpense};

/// The billing month of a term `YYYY-spring` (March) or `YYYY-fall` (September).
fn term_month(term: &str) -> Option<Month> {
    let (year, season) = term.split_once('-')?;
    if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let month = match season {
        "spring" => 3,
        "fall" => 9,
        _ => return None,
    };
    Month::new(year.parse().ok()?, month).filter(|m| YEARS.contains(&m.year()))
}

pub(super) fn decode(d: &Decoder, o: &Object) -> Result<Event, Rejection> {
    let household = d.household(o)?;
    let student = d.person(o, "id_card")?;
    let term = string(o, "term")?;
    let month = term_month(term).ok_or_else(|| invalid("term", "term must be YYYY-spring or YYYY-fall"))?;
    let stage = code(o, "stage")?;
    let fees = yuan(o, "fees")?;
    let aid = yuan(o, "aid")?;
    Ok(Event::School(SchoolExpense { household, student, term: term.to_owned(), month, stage, fees, aid }))
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use serde_json::{json, Value};

    use crate::decode::test_support::{decode, flipped, person, rejects, rejects_absent_and_mistyped, valid_id, with};
    use crate::decode::RejectReason::*;
    use crate::event::{Event, HouseholdCode, Month, SchoolExpense, SchoolStage};
    use crate::topic::Topic::Education;

    fn id() -> String {
        valid_id("42092320080915432")
    }

    fn valid() -> Value {
        json!({
            "household_code": "420923100100-0777",
            "id_card": id(),
            "term": "2024-fall",
            "stage": "high_school",
            "fees": "3800.00",
            "aid": "1500.5"
        })
    }

    #[test]
    fn valid_record_decodes_exactly() {
        let e = decode(Education, &valid()).unwrap();
        assert_eq!(
            e,
            Event::School(SchoolExpense {
                household: HouseholdCode::parse("420923100100-0777").unwrap(),
                student: person(&id()),
                term: "2024-fall".into(),
                month: Month::new(2024, 9).unwrap(),
                stage: SchoolStage::HighSchool,
                fees: Decimal::new(3800, 0),
                aid: Decimal::new(15005, 1),
            })
        );
        let spring = with(&valid(), "term", Some(json!("2025-spring")));
        assert_eq!(decode(Education, &spring).unwrap().month(), Month::new(2025, 3).unwrap());
    }

    #[test]
    fn absent_null_and_mistyped_fields_are_rejected() {
        let v = valid();
        for (field, wrong) in [
            ("household_code", json!(true)),
            ("id_card", json!(4209232008091543u64)),
            ("term", json!(2024)),
            ("stage", json!(3)),
            ("fees", json!(3800)),
            ("aid", json!(1500.5)),
        ] {
            rejects_absent_and_mistyped(Education, &v, field, wrong);
        }
    }

    #[test]
    fn invalid_values_are_rejected() {
        let v = valid();
        for (field, bad) in [
            ("household_code", json!("")),
            ("term", json!("2024-autumn")),
            ("term", json!("2024")),
            ("term", json!("24-fall")),
            ("term", json!("2024-Fall")),
            ("stage", json!("primary")),
            ("fees", json!("3800.5.0")),
            ("aid", json!("-1500.50")),
        ] {
            rejects(Education, &v, field, Some(bad), InvalidValue, field);
        }
    }

    #[test]
    fn bad_id_cards_are_rejected() {
        rejects(Education, &valid(), "id_card", Some(json!(flipped(&id()))), BadIdCard, "id_card");
        rejects(Education, &valid(), "id_card", Some(json!(format!("{}-", &id()[..17]))), BadIdCard, "id_card");
    }
}
