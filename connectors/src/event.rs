//! The internal event model: what every contract record becomes once it is validated.
//!
//! Money is `Decimal` in yuan (fen are converted exactly), months are calendar months in China
//! time (UTC+8), and people appear only as [`PersonKey`] pseudonyms: no resident ID number
//! survives decoding.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A calendar month in China time.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// A month, or `None` when `month` is not 1..=12 or the year has not four digits. Every
    /// such month writes and reads back as `YYYY-MM`; feeds are held to a narrower range of
    /// years (the decoders'), so that months computed from theirs (a window's first month) are
    /// still in this one.
    pub fn new(year: i32, month: u32) -> Option<Month> {
        ((1..=12).contains(&month) && (1000..=9999).contains(&year)).then_some(Month { year, month })
    }

    /// Calendar year.
    pub fn year(self) -> i32 {
        self.year
    }

    /// Month of the year, 1..=12.
    pub fn month(self) -> u32 {
        self.month
    }

    /// Months since year 0: consecutive months differ by exactly 1, across year boundaries too.
    pub fn index(self) -> i32 {
        self.year * 12 + self.month as i32 - 1
    }

    /// The month with the given [`Month::index`].
    pub fn from_index(index: i32) -> Month {
        Month { year: index.div_euclid(12), month: index.rem_euclid(12) as u32 + 1 }
    }

    /// The month `n` months later (earlier when negative).
    pub fn plus(self, n: i32) -> Month {
        Month::from_index(self.index() + n)
    }

    /// Parses `YYYY-MM`.
    pub fn parse_dashed(s: &str) -> Option<Month> {
        let (y, m) = s.split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        Month::new(y.parse().ok()?, m.parse().ok()?)
    }

    /// Parses `YYYYMM`.
    pub fn parse_compact(s: &str) -> Option<Month> {
        if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Month::new(s[..4].parse().ok()?, s[4..].parse().ok()?)
    }

    /// The month a date falls in.
    pub fn of_date(date: NaiveDate) -> Month {
        use chrono::Datelike;
        Month { year: date.year(), month: date.month() }
    }

    /// The China-time month of an instant, whatever offset it was written with.
    pub fn of_instant(t: &DateTime<FixedOffset>) -> Month {
        Month::of_date(t.with_timezone(&china_time()).date_naive())
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Serialize for Month {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Month, D::Error> {
        let s = String::deserialize(d)?;
        Month::parse_dashed(&s).ok_or_else(|| serde::de::Error::custom(format!("not a YYYY-MM month: {s}")))
    }
}

/// UTC+8, the time zone every calendar month is counted in.
pub fn china_time() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// A validated city household code such as `420922101201-0042`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HouseholdCode(String);

impl HouseholdCode {
    /// Checks the shape: 12 digits, a dash, 4 digits. Which counties exist is checked elsewhere.
    pub fn parse(s: &str) -> Option<HouseholdCode> {
        let b = s.as_bytes();
        let ok = b.len() == 17
            && b[12] == b'-'
            && b[..12].iter().chain(&b[13..]).all(|c| c.is_ascii_digit());
        ok.then(|| HouseholdCode(s.to_owned()))
    }

    /// The code as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// GB/T 2260 county code (6 digits).
    pub fn county(&self) -> &str {
        &self.0[..6]
    }

    /// Township code (9 digits).
    pub fn township(&self) -> &str {
        &self.0[..9]
    }

    /// Village code (12 digits).
    pub fn village(&self) -> &str {
        &self.0[..12]
    }
}

impl fmt::Display for HouseholdCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The pseudonym of a resident ID number (keyed HMAC); stable for one key, useless without it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PersonKey(pub String);

macro_rules! code_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $code)] $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The contract's spelling.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// Parses the contract's spelling.
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($code => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

code_enum!(
    /// Monitoring category on the roster.
    Category {
        StableAlleviated = "stable_alleviated",
        UnstableAlleviated = "unstable_alleviated",
        Marginal = "marginal",
        SuddenDifficulty = "sudden_difficulty",
        General = "general",
    }
);
code_enum!(
    /// A household's line of work on the roster.
    Industry { Rice = "rice", Tea = "tea", Hog = "hog", Aquaculture = "aquaculture", Cotton = "cotton", MigrantWork = "migrant_work" }
);
code_enum!(
    /// A farm product in agriculture reports.
    Product { Rice = "rice", Tea = "tea", Hog = "hog", Aquaculture = "aquaculture", Cotton = "cotton" }
);
code_enum!(
    /// Settled medical bill or its cancellation.
    SettlementStatus { Settled = "settled", Reversed = "reversed" }
);
code_enum!(
    /// Kind of medical visit.
    VisitType { Inpatient = "inpatient", Outpatient = "outpatient" }
);
code_enum!(
    /// A worker's status in a month.
    EmploymentStatus {
        Employed = "employed",
        MigrantEmployed = "migrant_employed",
        Unemployed = "unemployed",
        NotInLaborForce = "not_in_labor_force",
    }
);
code_enum!(
    /// Kind of civil-affairs transfer.
    AssistanceKind { Dibao = "dibao", Temporary = "temporary", ExtremePoverty = "extreme_poverty", Disability = "disability" }
);
code_enum!(
    /// Kind of natural or accidental hazard.
    Hazard { Flood = "flood", Drought = "drought", Landslide = "landslide", Hail = "hail", Fire = "fire" }
);
code_enum!(
    /// Damage to the house, in increasing severity.
    HouseDamage { None = "none", Minor = "minor", Severe = "severe", Collapsed = "collapsed" }
);
code_enum!(
    /// School stage of a student.
    SchoolStage { Compulsory = "compulsory", HighSchool = "high_school", Vocational = "vocational", College = "college" }
);
code_enum!(
    /// Commodity in the price feed.
    Commodity { Tea = "tea", Hog = "hog", Fish = "fish" }
);
code_enum!(
    /// How a household was verified.
    VerifyMethod { DoorVisit = "door_visit", Phone = "phone" }
);
code_enum!(
    /// What a verification found.
    VerifyResult { ConfirmedRisk = "confirmed_risk", NoRisk = "no_risk", Unreachable = "unreachable" }
);

/// `dept.rural.roster`: who a household is (upsert by household).
impl VerifyResult {
    /// What a cadre's answer says of the risk, as a label: `unreachable` says nothing.
    pub fn at_risk(self) -> Option<bool> {
        match self {
            VerifyResult::ConfirmedRisk => Some(true),
            VerifyResult::NoRisk => Some(false),
            VerifyResult::Unreachable => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RosterEntry {
    pub household: HouseholdCode,
    pub category: Category,
    pub members: u32,
    pub labor_count: u32,
    pub head_age: u32,
    pub disabled_members: u32,
    pub chronic_patients: u32,
    pub industries: Vec<Industry>,
    #[serde(with = "crate::compact::money")]
    pub baseline_income: Decimal,
    pub insured: bool,
    pub effective_date: NaiveDate,
}

/// `dept.medical.settlements`: a settled bill, or the reversal of one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MedicalSettlement {
    pub settlement_id: String,
    pub status: SettlementStatus,
    pub household: HouseholdCode,
    pub patient: PersonKey,
    pub month: Month,
    pub visit_type: VisitType,
    pub total_cost: Decimal,
    pub fund_paid: Decimal,
    pub critical_illness_paid: Decimal,
    pub assistance_paid: Decimal,
    pub out_of_pocket: Decimal,
}

/// `dept.hr.employment`: one worker's month.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmploymentReport {
    pub household: HouseholdCode,
    pub worker: PersonKey,
    pub month: Month,
    pub status: EmploymentStatus,
    /// Wage that month in yuan (converted exactly from fen).
    pub wage: Decimal,
}

/// Decimals kept of an area in mu. The pipeline's table carries decimal columns at two
/// decimals, so areas are kept to 0.01 mu (6.67 m²), rounded half to even; departments may send
/// up to four (the decoder checks the contract's values before rounding).
pub const AREA_DECIMALS: u32 = 2;

/// `dept.agri.production`: a harvest or loss assessment (a later report with the same id corrects it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FarmReport {
    pub report_id: String,
    pub household: HouseholdCode,
    pub month: Month,
    pub product: Product,
    pub planted_mu: Decimal,
    pub disaster_mu: Decimal,
    pub expected_income: Decimal,
    pub actual_income: Decimal,
}

/// `dept.civil.assistance`: a transfer paid to the household.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AssistancePayment {
    pub payment_id: String,
    pub household: HouseholdCode,
    pub month: Month,
    pub kind: AssistanceKind,
    pub amount: Decimal,
}

/// `dept.emergency.disasters`: damage one disaster did to one household.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DisasterReport {
    pub event_id: String,
    pub household: HouseholdCode,
    pub hazard: Hazard,
    pub month: Month,
    pub house_damage: HouseDamage,
    pub direct_loss: Decimal,
}

/// `dept.edu.expenses`: one student's term. The month is the billing month: March for the
/// spring term, September for the fall term.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SchoolExpense {
    pub household: HouseholdCode,
    pub student: PersonKey,
    /// The term as written, e.g. `2024-fall`.
    pub term: String,
    pub month: Month,
    pub stage: SchoolStage,
    pub fees: Decimal,
    pub aid: Decimal,
}

/// `market.prices`: a day's purchase price of a commodity in a county.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PriceObservation {
    pub county_code: String,
    pub commodity: Commodity,
    pub date: NaiveDate,
    pub purchase_price: Decimal,
    pub cost_price: Decimal,
}

/// `weather.observations`: a station's day. Measurements, not money, so floating point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeatherObservation {
    pub station_id: String,
    pub county_code: String,
    pub date: NaiveDate,
    pub rainfall_mm: f64,
    pub water_temp_c: Option<f64>,
}

/// `verify.outcomes`: what a cadre found when verifying an alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerificationOutcome {
    pub alert_id: String,
    pub household: HouseholdCode,
    pub verified_at: DateTime<FixedOffset>,
    pub method: VerifyMethod,
    pub outcome: VerifyResult,
    pub assistance: Vec<String>,
    pub verifier: String,
}

/// A validated, normalised record from any contract topic. Serialised with its variant in an
/// `event` field (not `kind`: assistance payments have a `kind` of their own).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Roster(RosterEntry),
    Medical(MedicalSettlement),
    Employment(EmploymentReport),
    Farm(FarmReport),
    Assistance(AssistancePayment),
    Disaster(DisasterReport),
    School(SchoolExpense),
    Price(PriceObservation),
    Weather(WeatherObservation),
    Outcome(VerificationOutcome),
}

impl Event {
    /// The household the record is about, for household-keyed topics.
    pub fn household(&self) -> Option<&HouseholdCode> {
        match self {
            Event::Roster(e) => Some(&e.household),
            Event::Medical(e) => Some(&e.household),
            Event::Employment(e) => Some(&e.household),
            Event::Farm(e) => Some(&e.household),
            Event::Assistance(e) => Some(&e.household),
            Event::Disaster(e) => Some(&e.household),
            Event::School(e) => Some(&e.household),
            Event::Outcome(e) => Some(&e.household),
            Event::Price(_) | Event::Weather(_) => None,
        }
    }

    /// The calendar month the record is about (China time).
    pub fn month(&self) -> Month {
        match self {
            Event::Roster(e) => Month::of_date(e.effective_date),
            Event::Medical(e) => e.month,
            Event::Employment(e) => e.month,
            Event::Farm(e) => e.month,
            Event::Assistance(e) => e.month,
            Event::Disaster(e) => e.month,
            Event::School(e) => e.month,
            Event::Price(e) => Month::of_date(e.date),
            Event::Weather(e) => Month::of_date(e.date),
            Event::Outcome(e) => Month::of_instant(&e.verified_at),
        }
    }
}
