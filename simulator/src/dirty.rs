//! Corrupted copies of real records, each with the dead-letter reason a correct pipeline gives.
//!
//! The real record is always written too, so the valid stream stays complete; the copies only
//! test rejection. Each copy breaks exactly one rule of the contract.

use crate::geography::Geography;
use crate::topic::Topic;
use rand::Rng;
use rust_decimal::Decimal;
use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use std::str::FromStr;

/// One way of breaking a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirtyKind {
    /// The line is cut short.
    MalformedJson,
    /// A required field is removed.
    MissingField,
    /// A field has the wrong JSON type (money as a number, an int as a string...).
    WrongType,
    /// The ID number's check character is wrong.
    BadIdCard,
    /// The household code is malformed.
    BadHouseholdCode,
    /// An enum field holds a value the contract does not list.
    UnknownEnum,
    /// A date that cannot exist (30 February, month 13).
    ImpossibleDate,
    /// Medical out-of-pocket differs from total minus the three payers.
    AmountsMismatch,
    /// A well-formed code in a real village, with a sequence no household uses.
    UnknownHousehold,
}

impl DirtyKind {
    /// Manifest `kind`.
    pub fn name(self) -> &'static str {
        match self {
            DirtyKind::MalformedJson => "malformed_json",
            DirtyKind::MissingField => "missing_field",
            DirtyKind::WrongType => "wrong_type",
            DirtyKind::BadIdCard => "bad_id_card",
            DirtyKind::BadHouseholdCode => "bad_household_code",
            DirtyKind::UnknownEnum => "unknown_enum",
            DirtyKind::ImpossibleDate => "impossible_date",
            DirtyKind::AmountsMismatch => "amounts_do_not_add_up",
            DirtyKind::UnknownHousehold => "unknown_household",
        }
    }

    /// The dead-letter reason a correct pipeline gives (manifest `expected_reason`).
    pub fn reason(self) -> &'static str {
        match self {
            DirtyKind::BadHouseholdCode | DirtyKind::UnknownEnum | DirtyKind::ImpossibleDate => {
                "invalid_value"
            }
            other => other.name(),
        }
    }
}

/// How a wrong-type copy changes a field.
#[derive(Clone, Copy)]
enum Conv {
    /// `"1234.50"` → `1234.5`.
    StrToNum,
    /// `3` → `"3"`.
    NumToStr,
    /// `["a","b"]` → `"a,b"`.
    ArrToStr,
}

/// How a date field is spelled.
#[derive(Clone, Copy)]
enum DateFmt {
    Date,
    Timestamp,
    YmCompact,
    YmDash,
}

/// What can be broken in one topic's records.
struct Spec {
    required: &'static [&'static str],
    wrong_type: &'static [(&'static str, Conv)],
    /// (field, bad value); a bad value starting with `-` is appended to the old value's year.
    enums: &'static [(&'static str, &'static str)],
    date: Option<(&'static str, DateFmt)>,
    /// A unique record id that an unknown-household copy must not reuse.
    id_field: Option<&'static str>,
}

fn spec(topic: Topic) -> Spec {
    use Conv::*;
    use DateFmt::*;
    match topic {
        Topic::Roster => Spec {
            required: &[
                "household_code",
                "category",
                "members",
                "labor_count",
                "head_age",
                "disabled_members",
                "chronic_patients",
                "industries",
                "baseline_income",
                "insured",
                "effective_date",
            ],
            wrong_type: &[
                ("members", NumToStr),
                ("baseline_income", StrToNum),
                ("labor_count", NumToStr),
            ],
            enums: &[("category", "poor_household")],
            date: Some(("effective_date", Date)),
            id_field: None,
        },
        Topic::Medical => Spec {
            required: &[
                "settlement_id",
                "status",
                "household_code",
                "id_card",
                "settle_time",
                "visit_type",
                "total_cost",
                "fund_paid",
                "critical_illness_paid",
                "assistance_paid",
                "out_of_pocket",
            ],
            wrong_type: &[
                ("total_cost", StrToNum),
                ("fund_paid", StrToNum),
                ("out_of_pocket", StrToNum),
            ],
            enums: &[("visit_type", "emergency"), ("status", "pending")],
            date: Some(("settle_time", Timestamp)),
            id_field: Some("settlement_id"),
        },
        Topic::Employment => Spec {
            required: &["household_code", "id_card", "ym", "status", "wage_fen"],
            wrong_type: &[("wage_fen", NumToStr)],
            enums: &[("status", "retired")],
            date: Some(("ym", YmCompact)),
            id_field: None,
        },
        Topic::Agri => Spec {
            required: &[
                "report_id",
                "household_code",
                "month",
                "product",
                "planted_mu",
                "disaster_mu",
                "expected_income",
                "actual_income",
            ],
            wrong_type: &[
                ("expected_income", StrToNum),
                ("actual_income", StrToNum),
                ("planted_mu", StrToNum),
            ],
            enums: &[("product", "corn")],
            date: Some(("month", YmDash)),
            id_field: Some("report_id"),
        },
        Topic::Civil => Spec {
            required: &["payment_id", "household_code", "month", "kind", "amount"],
            wrong_type: &[("amount", StrToNum)],
            enums: &[("kind", "pension")],
            date: Some(("month", YmDash)),
            id_field: Some("payment_id"),
        },
        Topic::Emergency => Spec {
            required: &[
                "event_id",
                "household_code",
                "hazard",
                "occurred_at",
                "house_damage",
                "direct_loss",
            ],
            wrong_type: &[("direct_loss", StrToNum)],
            enums: &[("hazard", "earthquake"), ("house_damage", "partial")],
            date: Some(("occurred_at", Timestamp)),
            id_field: None,
        },
        Topic::Education => Spec {
            required: &["household_code", "id_card", "term", "stage", "fees", "aid"],
            wrong_type: &[("fees", StrToNum), ("aid", StrToNum)],
            enums: &[("stage", "kindergarten"), ("term", "-summer")],
            date: None,
            id_field: None,
        },
        Topic::Prices => Spec {
            required: &[
                "county_code",
                "commodity",
                "date",
                "purchase_price",
                "cost_price",
            ],
            wrong_type: &[("purchase_price", StrToNum), ("cost_price", StrToNum)],
            enums: &[("commodity", "rice")],
            date: Some(("date", Date)),
            id_field: None,
        },
        Topic::Weather => Spec {
            required: &["station_id", "county_code", "date", "rainfall_mm"],
            wrong_type: &[("rainfall_mm", NumToStr)],
            enums: &[],
            date: Some(("date", Date)),
            id_field: None,
        },
        Topic::Outcomes => Spec {
            required: &[
                "alert_id",
                "household_code",
                "verified_at",
                "method",
                "outcome",
                "assistance",
                "verifier",
            ],
            wrong_type: &[("assistance", ArrToStr)],
            enums: &[("method", "email"), ("outcome", "maybe")],
            date: Some(("verified_at", Timestamp)),
            id_field: None,
        },
    }
}

/// The kinds of corruption that apply to a topic.
pub fn kinds(topic: Topic) -> Vec<DirtyKind> {
    let s = spec(topic);
    let mut k = vec![
        DirtyKind::MalformedJson,
        DirtyKind::MissingField,
        DirtyKind::WrongType,
    ];
    if s.required.contains(&"id_card") {
        k.push(DirtyKind::BadIdCard);
    }
    if topic.per_household() {
        k.push(DirtyKind::BadHouseholdCode);
    }
    if !s.enums.is_empty() {
        k.push(DirtyKind::UnknownEnum);
    }
    if s.date.is_some() {
        k.push(DirtyKind::ImpossibleDate);
    }
    if topic == Topic::Medical {
        k.push(DirtyKind::AmountsMismatch);
    }
    // A roster record for a new household is an insert, not an unknown household.
    if topic.per_household() && topic != Topic::Roster {
        k.push(DirtyKind::UnknownHousehold);
    }
    k
}

/// Makes corrupted copies; knows how many households each village has, so that an unknown
/// household's code is well-formed but unused.
pub struct Corrupter {
    village_households: HashMap<String, u32>,
    next_id: u32,
}

impl Corrupter {
    /// A corrupter for the households placed in `geo`.
    pub fn new(geo: &Geography) -> Self {
        let village_households = geo
            .villages
            .iter()
            .map(|v| (v.code.clone(), v.households))
            .collect();
        Corrupter {
            village_households,
            next_id: 0,
        }
    }

    /// A corrupted copy of `line` (a clean record of `topic`) and how it was broken.
    pub fn corrupt<R: Rng>(
        &mut self,
        topic: Topic,
        line: &str,
        rng: &mut R,
    ) -> Option<(DirtyKind, String)> {
        let kinds = kinds(topic);
        let kind = kinds[rng.random_range(0..kinds.len())];
        if kind == DirtyKind::MalformedJson {
            // Any proper prefix of a JSON object is invalid JSON.
            let cut = rng.random_range(1..line.len() - 1);
            return Some((kind, line[..cut].to_string()));
        }
        let mut map: Map<String, Value> = serde_json::from_str(line).ok()?;
        let s = spec(topic);
        match kind {
            DirtyKind::MalformedJson => unreachable!("handled above"),
            DirtyKind::MissingField => {
                map.remove(s.required[rng.random_range(0..s.required.len())]);
            }
            DirtyKind::WrongType => {
                let (field, conv) = s.wrong_type[rng.random_range(0..s.wrong_type.len())];
                let v = map.get_mut(field)?;
                *v = match (conv, &*v) {
                    (Conv::StrToNum, Value::String(x)) => {
                        Value::Number(Number::from_f64(x.parse().ok()?)?)
                    }
                    (Conv::NumToStr, Value::Number(n)) => Value::String(n.to_string()),
                    (Conv::ArrToStr, Value::Array(a)) => Value::String(
                        a.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(","),
                    ),
                    _ => return None,
                };
            }
            DirtyKind::BadIdCard => {
                let id = map.get("id_card")?.as_str()?.to_string();
                let good = id.as_bytes()[17];
                let wrong = loop {
                    let c = b"0123456789X"[rng.random_range(0..11)];
                    if c != good {
                        break c;
                    }
                };
                map.insert(
                    "id_card".into(),
                    Value::String(format!("{}{}", &id[..17], wrong as char)),
                );
            }
            DirtyKind::BadHouseholdCode => {
                let code = map.get("household_code")?.as_str()?.to_string();
                let (village, seq) = code.split_once('-')?;
                // Never glue the digits into one long run: 15+ digit runs are reserved for IDs.
                let bad = match rng.random_range(0..4) {
                    0 => format!("{}-{seq}", &village[..11]),
                    1 => format!("{village}-{}", &seq[1..]),
                    2 => format!("{village}_{seq}"),
                    _ => format!("{}A{}-{seq}", &village[..8], &village[9..]),
                };
                map.insert("household_code".into(), Value::String(bad));
            }
            DirtyKind::UnknownEnum => {
                let (field, bad) = s.enums[rng.random_range(0..s.enums.len())];
                let bad = match bad.strip_prefix('-') {
                    Some(suffix) => format!("{}-{suffix}", map.get(field)?.as_str()?.get(..4)?),
                    None => bad.to_string(),
                };
                map.insert(field.into(), Value::String(bad));
            }
            DirtyKind::ImpossibleDate => {
                let (field, fmt) = s.date?;
                let year = map.get(field)?.as_str()?.get(..4)?.to_string();
                let bad = match fmt {
                    DateFmt::Date => format!("{year}-02-30"),
                    DateFmt::Timestamp => format!("{year}-02-30T10:00:00+08:00"),
                    DateFmt::YmCompact => format!("{year}13"),
                    DateFmt::YmDash => format!("{year}-13"),
                };
                map.insert(field.into(), Value::String(bad));
            }
            DirtyKind::AmountsMismatch => {
                let oop = Decimal::from_str(map.get("out_of_pocket")?.as_str()?).ok()?;
                let off = Decimal::new(rng.random_range(100..50_000), 2);
                map.insert(
                    "out_of_pocket".into(),
                    Value::String(format!("{:.2}", oop + off)),
                );
            }
            DirtyKind::UnknownHousehold => {
                let code = map.get("household_code")?.as_str()?.to_string();
                let village = code.split_once('-')?.0;
                let used = *self.village_households.get(village)?;
                let seq = (used + rng.random_range(1..=50)).min(9_999);
                if seq <= used {
                    return None;
                }
                map.insert(
                    "household_code".into(),
                    Value::String(format!("{village}-{seq:04}")),
                );
                if let Some(field) = s.id_field {
                    // A fresh id, so the copy cannot be taken for a repeat of the real record.
                    let id = map.get(field)?.as_str()?.to_string();
                    let prefix = id.rsplit_once('-').map_or(id.as_str(), |p| p.0);
                    self.next_id += 1;
                    map.insert(
                        field.into(),
                        Value::String(format!("{prefix}-U{:07}", self.next_id)),
                    );
                }
            }
        }
        Some((kind, ordered(line, &map)))
    }
}

/// Serialises `map` with its keys in the order they have in `original`, so the bytes do not
/// depend on whether some other crate turns on serde_json's `preserve_order`.
fn ordered(original: &str, map: &Map<String, Value>) -> String {
    let mut out = String::from("{");
    for key in top_level_keys(original) {
        if let Some(v) = map.get(&key) {
            if out.len() > 1 {
                out.push(',');
            }
            out.push_str(&Value::String(key).to_string());
            out.push(':');
            out.push_str(&v.to_string());
        }
    }
    out.push('}');
    out
}

/// Keys of the outermost object of a JSON text, in order.
fn top_level_keys(text: &str) -> Vec<String> {
    let (mut keys, mut depth, mut in_str, mut escaped) = (Vec::new(), 0, false, false);
    let mut current = String::new();
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if in_str {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => {
                    in_str = false;
                    let next = bytes[i + 1..].iter().find(|c| !c.is_ascii_whitespace());
                    if depth == 1 && next == Some(&b':') {
                        keys.push(std::mem::take(&mut current));
                    }
                }
                _ => current.push(b as char),
            }
            continue;
        }
        match b {
            b'"' => {
                in_str = true;
                current.clear();
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth -= 1,
            _ => {}
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_keep_the_original_key_order() {
        let line = r#"{"z":"a:b","a":[1,{"q":2}],"m":3}"#;
        assert_eq!(top_level_keys(line), vec!["z", "a", "m"]);
        let mut map: Map<String, Value> = serde_json::from_str(line).unwrap();
        map.remove("a");
        map.insert("m".into(), Value::String("3".into()));
        assert_eq!(ordered(line, &map), r#"{"z":"a:b","m":"3"}"#);
    }
}
