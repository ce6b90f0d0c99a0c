//! Premiums per county, for the monitoring centre: what insurance of the roster's insured
//! households costs, what the government subsidises by category, what households pay and what
//! goes to the risk reserve.

use std::collections::BTreeMap;

use fangpin_connectors::event::{HouseholdCode, RosterEntry};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::coverage::Coverage;
use crate::rules::fen;

/// One county's premiums for the year, in yuan.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CountyPremium {
    pub insured_households: u64,
    pub insured_people: u64,
    /// Premium per person times people.
    pub premium: Decimal,
    /// The government's share, by each household's category.
    pub subsidy: Decimal,
    /// What households pay themselves.
    pub households_pay: Decimal,
    /// The share of the premium set aside as risk reserve.
    pub reserve: Decimal,
}

/// Premiums by county code of every insured household in `roster`.
pub fn by_county<'a>(
    roster: impl IntoIterator<Item = (&'a HouseholdCode, &'a RosterEntry)>,
    coverage: &Coverage,
) -> BTreeMap<String, CountyPremium> {
    let mut out: BTreeMap<String, CountyPremium> = BTreeMap::new();
    for (code, entry) in roster.into_iter().filter(|(_, e)| e.insured) {
        let c = out.entry(code.county().to_owned()).or_default();
        let premium = coverage.premium.per_person * Decimal::from(entry.members);
        let subsidy = fen(premium * coverage.subsidy(entry.category));
        c.insured_households += 1;
        c.insured_people += u64::from(entry.members);
        c.premium += premium;
        c.subsidy += subsidy;
        c.households_pay += premium - subsidy;
    }
    for c in out.values_mut() {
        c.reserve = fen(c.premium * coverage.premium.reserve_share);
    }
    out
}
