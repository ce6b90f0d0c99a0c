//! Typed field readers shared by the per-topic decoders.
//!
//! Every reader gives the same precise reasons: absent or null → `missing_field`, wrong JSON
//! type → `wrong_type`, right type but bad content → `invalid_value`. Details name the field and
//! the rule, never the value.

use std::ops::RangeInclusive;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::{Decoder, RejectReason, Rejection};
use crate::event::{
    AssistanceKind, Category, Commodity, EmploymentStatus, Hazard, HouseDamage, HouseholdCode, Industry, Month,
    PersonKey, Product, SchoolStage, SettlementStatus, VerifyMethod, VerifyResult, VisitType,
};
use crate::pseudonym::id_card_problem;

/// A decoded JSON object.
pub(super) type Object = Map<String, Value>;

/// Years accepted in dates and timestamps (China time): well inside the years [`Month::new`]
/// accepts, so that the months a window reaches back or ahead to are still months.
pub(super) const YEARS: RangeInclusive<i32> = 1900..=2999;
/// Longest accepted identifier (settlement, report, station ids...), in bytes.
const MAX_TEXT_BYTES: usize = 128;
/// Most integer digits in a decimal string: 10^13 yuan is far beyond any real amount, and the
/// bound keeps the mantissa (with up to 4 decimals) inside an `i64`.
const MAX_INT_DIGITS: usize = 13;
/// Largest amount in fen (10^13 yuan, as for decimal strings).
const MAX_FEN: i64 = 1_000_000_000_000_000;

/// The JSON type of a value, for messages.
pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// An `invalid_value` rejection of `field`.
pub(super) fn invalid(field: &'static str, detail: impl Into<String>) -> Rejection {
    Rejection::new(RejectReason::InvalidValue, field, detail)
}

fn wrong_type(field: &'static str, expected: &str, got: &Value) -> Rejection {
    Rejection::new(
        RejectReason::WrongType,
        field,
        format!("{field} must be a JSON {expected}, not a {}", type_name(got)),
    )
}

/// A required field: absent or null is `missing_field`.
pub(super) fn required<'a>(obj: &'a Object, field: &'static str) -> Result<&'a Value, Rejection> {
    match obj.get(field) {
        None | Some(Value::Null) => {
            Err(Rejection::new(RejectReason::MissingField, field, format!("{field} is required but absent or null")))
        }
        Some(v) => Ok(v),
    }
}

/// A required JSON string.
pub(super) fn string<'a>(obj: &'a Object, field: &'static str) -> Result<&'a str, Rejection> {
    match required(obj, field)? {
        Value::String(s) => Ok(s),
        other => Err(wrong_type(field, "string", other)),
    }
}

/// A non-blank identifier or name of at most 128 bytes, owned.
pub(super) fn text(obj: &Object, field: &'static str) -> Result<String, Rejection> {
    let s = string(obj, field)?;
    check_text(field, s)?;
    Ok(s.to_owned())
}

fn check_text(field: &'static str, s: &str) -> Result<(), Rejection> {
    if s.trim().is_empty() {
        return Err(invalid(field, format!("{field} must not be empty")));
    }
    if s.len() > MAX_TEXT_BYTES {
        return Err(invalid(field, format!("{field} must be at most {MAX_TEXT_BYTES} bytes long")));
    }
    Ok(())
}

/// The code enums of [`crate::event`], read from their contract spelling.
pub(super) trait Code: Copy + PartialEq + 'static {
    fn all() -> &'static [Self];
    fn from_code(s: &str) -> Option<Self>;
    fn as_code(self) -> &'static str;
}

macro_rules! impl_code {
    ($($t:ty),+ $(,)?) => {$(
        impl Code for $t {
            fn all() -> &'static [Self] { <$t>::ALL }
            fn from_code(s: &str) -> Option<Self> { <$t>::parse(s) }
            fn as_code(self) -> &'static str { self.code() }
        }
    )+};
}

impl_code!(
    AssistanceKind,
    Category,
    Commodity,
    EmploymentStatus,
    Hazard,
    HouseDamage,
    Industry,
    Product,
    SchoolStage,
    SettlementStatus,
    VerifyMethod,
    VerifyResult,
    VisitType,
);

fn unknown_code<T: Code>(field: &'static str) -> Rejection {
    let allowed: Vec<&str> = T::all().iter().map(|c| c.as_code()).collect();
    invalid(field, format!("{field} must be one of: {}", allowed.join(", ")))
}

/// A required code string such as `"inpatient"`.
pub(super) fn code<T: Code>(obj: &Object, field: &'static str) -> Result<T, Rejection> {
    T::from_code(string(obj, field)?).ok_or_else(|| unknown_code::<T>(field))
}

/// A required array of JSON values.
fn array<'a>(obj: &'a Object, field: &'static str) -> Result<&'a [Value], Rejection> {
    match required(obj, field)? {
        Value::Array(items) => Ok(items),
        other => Err(wrong_type(field, "array", other)),
    }
}

fn array_item<'a>(field: &'static str, item: &'a Value) -> Result<&'a str, Rejection> {
    match item {
        Value::String(s) => Ok(s),
        other => Err(wrong_type(field, "array of strings", other)),
    }
}

/// A required array of code strings; repeats are dropped, the first order kept.
pub(super) fn code_list<T: Code>(obj: &Object, field: &'static str) -> Result<Vec<T>, Rejection> {
    let items = array(obj, field)?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let c = T::from_code(array_item(field, item)?).ok_or_else(|| unknown_code::<T>(field))?;
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(out)
}

/// A required array of non-blank strings (at most 128 bytes each).
pub(super) fn strings(obj: &Object, field: &'static str) -> Result<Vec<String>, Rejection> {
    let items = array(obj, field)?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let s = array_item(field, item)?;
        check_text(field, s)?;
        out.push(s.to_owned());
    }
    Ok(out)
}

/// A required JSON boolean.
pub(super) fn boolean(obj: &Object, field: &'static str) -> Result<bool, Rejection> {
    match required(obj, field)? {
        Value::Bool(b) => Ok(*b),
        other => Err(wrong_type(field, "boolean", other)),
    }
}

/// Parses a non-negative decimal string `\d+(\.\d{1,max_decimals})?` exactly (no float).
///
/// `None` for signs, exponents, spaces, a bare or trailing dot, too many decimals or more than
/// 13 integer digits. `max_decimals` must be at most 4 so the mantissa fits an `i64`.
pub(super) fn parse_decimal(s: &str, max_decimals: usize) -> Option<Decimal> {
    debug_assert!(max_decimals <= 4);
    let (int, frac) = match s.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (s, None),
    };
    if int.is_empty() || int.len() > MAX_INT_DIGITS || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut mantissa = int.bytes().fold(0i64, |m, b| m * 10 + i64::from(b - b'0'));
    let mut scale = 0u32;
    if let Some(frac) = frac {
        if frac.is_empty() || frac.len() > max_decimals || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        mantissa = frac.bytes().fold(mantissa, |m, b| m * 10 + i64::from(b - b'0'));
        scale = frac.len() as u32;
    }
    Some(Decimal::new(mantissa, scale))
}

/// Money in yuan: a JSON string with at most 2 decimals, non-negative.
pub(super) fn yuan(obj: &Object, field: &'static str) -> Result<Decimal, Rejection> {
    match required(obj, field)? {
        Value::String(s) => parse_decimal(s, 2).ok_or_else(|| {
            invalid(
                field,
                format!("{field} must be a yuan amount: digits, optionally a dot and 1 or 2 decimals, no sign"),
            )
        }),
        other => Err(wrong_type(field, "string (yuan are written as strings)", other)),
    }
}

/// A non-negative decimal JSON string (areas, prices) with at most `max_decimals` (≤ 4) decimals.
pub(super) fn decimal(obj: &Object, field: &'static str, max_decimals: usize) -> Result<Decimal, Rejection> {
    match required(obj, field)? {
        Value::String(s) => parse_decimal(s, max_decimals).ok_or_else(|| {
            invalid(field, format!("{field} must be a decimal string: digits, optionally a dot and 1 to {max_decimals} decimals, no sign"))
        }),
        other => Err(wrong_type(field, "string (decimals are written as strings)", other)),
    }
}

/// A required JSON integer (a number with a fraction or exponent is `wrong_type`).
fn integer(obj: &Object, field: &'static str) -> Result<i64, Rejection> {
    let v = required(obj, field)?;
    let Value::Number(n) = v else {
        return Err(wrong_type(field, "integer", v));
    };
    if let Some(i) = n.as_i64() {
        Ok(i)
    } else if n.is_u64() {
        Err(invalid(field, format!("{field} is too large")))
    } else {
        Err(wrong_type(field, "integer", v)
            .with_detail(format!("{field} must be a JSON integer, without fraction or exponent")))
    }
}

/// A count (people, years) within `range`.
pub(super) fn count(obj: &Object, field: &'static str, range: RangeInclusive<u32>) -> Result<u32, Rejection> {
    let i = integer(obj, field)?;
    match u32::try_from(i) {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(invalid(field, format!("{field} must be between {} and {}", range.start(), range.end()))),
    }
}

/// Money in fen: a non-negative JSON integer, converted exactly to yuan.
pub(super) fn fen(obj: &Object, field: &'static str) -> Result<Decimal, Rejection> {
    let i = integer(obj, field)?;
    if !(0..=MAX_FEN).contains(&i) {
        return Err(invalid(field, format!("{field} must be a non-negative amount of fen below 10^15")));
    }
    Ok(Decimal::new(i, 2))
}

/// A required JSON number (integer or not) within `range`.
pub(super) fn number(obj: &Object, field: &'static str, range: RangeInclusive<f64>) -> Result<f64, Rejection> {
    let v = required(obj, field)?;
    check_number(field, v, range)
}

/// An optional JSON number within `range`: absent or null is `None`.
pub(super) fn optional_number(
    obj: &Object,
    field: &'static str,
    range: RangeInclusive<f64>,
) -> Result<Option<f64>, Rejection> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => check_number(field, v, range).map(Some),
    }
}

fn check_number(field: &'static str, v: &Value, range: RangeInclusive<f64>) -> Result<f64, Rejection> {
    match v.as_f64() {
        Some(x) if range.contains(&x) => Ok(x),
        Some(_) => Err(invalid(field, format!("{field} must be between {} and {}", range.start(), range.end()))),
        None => Err(wrong_type(field, "number", v)),
    }
}

/// Parses `YYYY-MM-DD` strictly (zero-padded, a real calendar day, year 1900..=2999).
pub(super) fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    let year = i32::try_from(digits(0..4)?).ok()?;
    if !YEARS.contains(&year) {
        return None;
    }
    NaiveDate::from_ymd_opt(year, digits(5..7)?, digits(8..10)?)
}

/// A required `YYYY-MM-DD` date string.
pub(super) fn date(obj: &Object, field: &'static str) -> Result<NaiveDate, Rejection> {
    parse_date(string(obj, field)?)
        .ok_or_else(|| invalid(field, format!("{field} must be a real date written YYYY-MM-DD")))
}

/// A required RFC 3339 timestamp with an offset (`Z` counts as one).
pub(super) fn instant(obj: &Object, field: &'static str) -> Result<DateTime<FixedOffset>, Rejection> {
    let s = string(obj, field)?;
    match DateTime::parse_from_rfc3339(s) {
        // The year that counts is China time's: an offset can move an instant into another year.
        Ok(t) if YEARS.contains(&t.with_timezone(&crate::event::china_time()).year()) => Ok(t),
        _ => Err(invalid(
            field,
            format!("{field} must be an RFC 3339 timestamp with an offset, like 2000-01-31T08:00:00+08:00"),
        )),
    }
}

/// A required `YYYY-MM` month string.
pub(super) fn dashed_month(obj: &Object, field: &'static str) -> Result<Month, Rejection> {
    Month::parse_dashed(string(obj, field)?)
        .filter(|m| YEARS.contains(&m.year()))
        .ok_or_else(|| invalid(field, format!("{field} must be a month written YYYY-MM, of the years {YEARS:?}")))
}

/// A required `YYYYMM` month string.
pub(super) fn compact_month(obj: &Object, field: &'static str) -> Result<Month, Rejection> {
    Month::parse_compact(string(obj, field)?)
        .filter(|m| YEARS.contains(&m.year()))
        .ok_or_else(|| invalid(field, format!("{field} must be a month written YYYYMM, of the years {YEARS:?}")))
}

impl Rejection {
    fn with_detail(mut self, detail: String) -> Rejection {
        self.detail = detail;
        self
    }
}

impl Decoder {
    fn county_known(&self, county: &str) -> bool {
        self.config.counties.iter().any(|c| c == county)
    }

    /// The required `household_code`: the right shape and a configured county.
    pub(super) fn household(&self, obj: &Object) -> Result<HouseholdCode, Rejection> {
        const FIELD: &str = "household_code";
        let s = string(obj, FIELD)?;
        let code = HouseholdCode::parse(s)
            .ok_or_else(|| invalid(FIELD, "household_code must be 12 digits, a dash and 4 digits"))?;
        if !self.county_known(code.county()) {
            return Err(invalid(FIELD, "household_code is in a county outside the configured counties"));
        }
        Ok(code)
    }

    /// A required 6-digit county code from the configured counties.
    pub(super) fn county(&self, obj: &Object, field: &'static str) -> Result<String, Rejection> {
        let s = string(obj, field)?;
        if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(field, format!("{field} must be a 6-digit county code")));
        }
        if !self.county_known(s) {
            return Err(invalid(field, format!("{field} is not one of the configured counties")));
        }
        Ok(s.to_owned())
    }

    /// A department's identifier (settlement, report, payment, event, station, staff number).
    /// Identifiers are kept in state and checkpoints, so one that spells a resident ID number
    /// (a settlement numbered by the patient's ID, say) is replaced by a keyed hash of itself:
    /// the same identifier always gives the same replacement, so duplicates, corrections and
    /// reversals still meet, and the number itself goes no further.
    pub(super) fn identifier(&self, obj: &Object, field: &'static str) -> Result<String, Rejection> {
        let s = text(obj, field)?;
        if crate::id_like::spells_id_number(&s) {
            return Ok(self.pseudonymiser.opaque(&s));
        }
        Ok(s)
    }

    /// A required ID number, validated and turned into its pseudonym right away.
    pub(super) fn person(&self, obj: &Object, field: &'static str) -> Result<PersonKey, Rejection> {
        let s = string(obj, field)?;
        match id_card_problem(s) {
            None => Ok(self.pseudonymiser.person_key(s)),
            Some(problem) => Err(Rejection::new(RejectReason::BadIdCard, field, problem)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_exactly_or_not_at_all() {
        let d = |s| parse_decimal(s, 2);
        assert_eq!(d("1234.50"), Some(Decimal::new(123450, 2)));
        assert_eq!(d("0.1"), Some(Decimal::new(1, 1)));
        assert_eq!(d("7"), Some(Decimal::new(7, 0)));
        assert_eq!(d("9999999999999.99"), Some(Decimal::new(999999999999999, 2)));
        for bad in
            ["", ".", "1.", ".5", "-1", "+1", "1.234", "1e3", " 1", "1 ", "1,5", "abc", "NaN", "12345678901234", "１"]
        {
            assert_eq!(d(bad), None, "{bad:?}");
        }
        assert_eq!(parse_decimal("12.3456", 4), Some(Decimal::new(123456, 4)));
        assert_eq!(parse_decimal("12.34567", 4), None);
    }

    #[test]
    fn dates_are_strict() {
        assert_eq!(parse_date("2024-02-29"), NaiveDate::from_ymd_opt(2024, 2, 29));
        for bad in ["2023-02-29", "2024-13-01", "2024-6-15", "2024/06/15", "20240615", "0001-01-01", "2024-06-1５"] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }
}
