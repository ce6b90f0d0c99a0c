//! `dept.agri.production`: harvest and loss assessments per product.

use super::fields::{code, dashed_month, decimal, invalid, yuan, Object};
use super::{Decoder, Rejection};
use crate::event::{Event, FarmReport, AREA_DECIMALS};

/// Decimals accepted in areas (mu): 4 is already a fraction of a square metre.
const MU_DECIMALS: usize = 4;

pub(super) fn decode(d: &Decoder, o: &Object) -> Result<Event, Rejection> {
    let report_id = d.identifier(o, "report_id")?;
    let household = d.household(o)?;
    let month = dashed_month(o, "month")?;
    let product = code(o, "product")?;
    let planted_mu = decimal(o, "planted_mu", MU_DECIMALS)?;
    let disaster_mu = decimal(o, "disaster_mu", MU_DECIMALS)?;
    let expected_income = yuan(o, "expected_income")?;
    let actual_income = yuan(o, "actual_income")?;
    // The disaster can only hit land that is farmed; a larger area would inflate the
    // "disaster area above 30 mu" warning rule.
    if disaster_mu > planted_mu {
        return Err(invalid("disaster_mu", "disaster_mu exceeds planted_mu"));
    }
    Ok(Event::Farm(FarmReport {
        report_id,
        household,
        month,
        product,
        planted_mu: planted_mu.round_dp(AREA_DECIMALS),
        disaster_mu: disaster_mu.round_dp(AREA_DECIMALS),
        expected_income,
        actual_income,
    }))
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use serde_json::{json, Value};

    use crate::decode::test_support::{decode, rejects, rejects_absent_and_mistyped};
    use crate::decode::RejectReason::*;
    use crate::event::{Event, FarmReport, HouseholdCode, Month, Product};
    use crate::topic::Topic::Agri;

    fn valid() -> Value {
        json!({
            "report_id": "NY-420982-2024-07-0031",
            "household_code": "420982203107-0009",
            "month": "2024-07",
            "product": "rice",
            "planted_mu": "35.5",
            "disaster_mu": "31.25",
            "expected_income": "42000.00",
            "actual_income": "21000.10"
        })
    }

    #[test]
    fn valid_record_decodes_exactly() {
        let e = decode(Agri, &valid()).unwrap();
        assert_eq!(
            e,
            Event::Farm(FarmReport {
                report_id: "NY-420982-2024-07-0031".into(),
                household: HouseholdCode::parse("420982203107-0009").unwrap(),
                month: Month::new(2024, 7).unwrap(),
                product: Product::Rice,
                planted_mu: Decimal::new(355, 1),
                disaster_mu: Decimal::new(3125, 2),
                expected_income: Decimal::new(4200000, 2),
                actual_income: Decimal::new(2100010, 2),
            })
        );
        assert_eq!(e.month(), Month::new(2024, 7).unwrap());
    }

    #[test]
    fn absent_null_and_mistyped_fields_are_rejected() {
        let v = valid();
        for (field, wrong) in [
            ("report_id", json!(31)),
            ("household_code", json!(false)),
            ("month", json!(202407)),
            ("product", json!(["rice"])),
            ("planted_mu", json!(35.5)),
            ("disaster_mu", json!(31)),
            ("expected_income", json!(42000)),
            ("actual_income", json!(21000.1)),
        ] {
            rejects_absent_and_mistyped(Agri, &v, field, wrong);
        }
    }

    #[test]
    fn invalid_values_are_rejected() {
        let v = valid();
        for (field, bad) in [
            ("report_id", json!("")),
            ("household_code", json!("4209822031070009")),
            ("month", json!("2024-7")),
            ("month", json!("202407")),
            ("month", json!("2024-00")),
            ("product", json!("wheat")),
            ("planted_mu", json!("-35.5")),
            ("planted_mu", json!("35.12345")),
            ("disaster_mu", json!("thirty")),
            ("expected_income", json!("42000.000")),
            ("actual_income", json!("-1")),
        ] {
            rejects(Agri, &v, field, Some(bad), InvalidValue, field);
        }
        rejects(Agri, &v, "disaster_mu", Some(json!("35.5001")), InvalidValue, "disaster_mu");
    }
}
