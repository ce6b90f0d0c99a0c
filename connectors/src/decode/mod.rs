//! One decoder per contract topic: validates every field and rejects with a precise reason.
//!
//! Each payload is parsed into a `serde_json::Value` first and then read field by field with the
//! typed helpers of `fields`, so that every problem gets its own [`RejectReason`]: absent or
//! null (`missing_field`), wrong JSON type (`wrong_type`), right type but bad content
//! (`invalid_value`). Unknown extra fields are ignored: departments may add fields at any time.
//!
//! A [`Rejection`]'s detail names the field and the rule, never the value: any value could be an
//! ID number typed into the wrong field, and rejections end up in dead letters and logs.

use std::fmt;

use serde_json::Value;

use crate::event::Event;
use crate::pseudonym::Pseudonymiser;
use crate::topic::Topic;

mod fields;

mod agri;
mod civil;
mod edu;
mod emergency;
mod hr;
mod market;
mod medical;
mod outcomes;
mod roster;

/// Why a record was rejected; its [`code`](RejectReason::code) goes into the dead letter.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// Not UTF-8, not JSON, or not a JSON object.
    MalformedJson,
    /// A required field is absent or null.
    MissingField,
    /// A field has the wrong JSON type (e.g. a number where a yuan string is required).
    WrongType,
    /// A field has the right type but an impossible or unknown value.
    InvalidValue,
    /// An ID number with the wrong length, non-digits, or a wrong check character.
    BadIdCard,
    /// A medical bill whose out-of-pocket amount is not total minus the three payers.
    AmountsDoNotAddUp,
    /// The household is not on the roster (decided by the pipeline, not by decoders).
    UnknownHousehold,
    /// A reversal of a settlement never seen (decided by the pipeline, not by decoders).
    OrphanReversal,
    /// Older than the months the indicators still look at, so it can change nothing
    /// (decided by the pipeline, not by decoders).
    BeyondWindow,
    /// A changelog record of the pipeline's own state that cannot be read back (damaged, or
    /// written by an incompatible version); decided when restoring.
    BadCheckpoint,
}

impl RejectReason {
    /// Every reason, in declaration order.
    pub const ALL: [RejectReason; 10] = [
        RejectReason::MalformedJson,
        RejectReason::MissingField,
        RejectReason::WrongType,
        RejectReason::InvalidValue,
        RejectReason::BadIdCard,
        RejectReason::AmountsDoNotAddUp,
        RejectReason::UnknownHousehold,
        RejectReason::OrphanReversal,
        RejectReason::BeyondWindow,
        RejectReason::BadCheckpoint,
    ];

    /// The stable snake_case code written into dead letters and metrics labels.
    pub fn code(self) -> &'static str {
        match self {
            RejectReason::MalformedJson => "malformed_json",
            RejectReason::MissingField => "missing_field",
            RejectReason::WrongType => "wrong_type",
            RejectReason::InvalidValue => "invalid_value",
            RejectReason::BadIdCard => "bad_id_card",
            RejectReason::AmountsDoNotAddUp => "amounts_do_not_add_up",
            RejectReason::UnknownHousehold => "unknown_household",
            RejectReason::OrphanReversal => "orphan_reversal",
            RejectReason::BeyondWindow => "beyond_window",
            RejectReason::BadCheckpoint => "bad_checkpoint",
        }
    }

    /// The reason with this code.
    pub fn from_code(code: &str) -> Option<RejectReason> {
        RejectReason::ALL.into_iter().find(|r| r.code() == code)
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A rejected record: the reason, the field at fault, and a human-readable detail.
///
/// The detail never contains a field value (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// Why.
    pub reason: RejectReason,
    /// The contract field at fault, when one is.
    pub field: Option<&'static str>,
    /// What rule was broken, in words, without the offending value.
    pub detail: String,
}

impl Rejection {
    /// A rejection about `field`.
    pub fn new(reason: RejectReason, field: &'static str, detail: impl Into<String>) -> Rejection {
        Rejection { reason, field: Some(field), detail: detail.into() }
    }

    /// A rejection of the record as a whole (no single field at fault).
    pub fn whole(reason: RejectReason, detail: impl Into<String>) -> Rejection {
        Rejection { reason, field: None, detail: detail.into() }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.field {
            Some(field) => write!(f, "{} ({field}): {}", self.reason, self.detail),
            None => write!(f, "{}: {}", self.reason, self.detail),
        }
    }
}

/// What the decoders accept beyond the contracts' fixed rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecoderConfig {
    /// GB/T 2260 county codes whose households and observations are accepted.
    pub counties: Vec<String>,
}

impl Default for DecoderConfig {
    /// Xiaogan's seven counties from the contracts.
    fn default() -> DecoderConfig {
        let counties = ["420902", "420921", "420922", "420923", "420981", "420982", "420984"];
        DecoderConfig { counties: counties.iter().map(|c| (*c).to_owned()).collect() }
    }
}

/// Decodes contract records into [`Event`]s, pseudonymising ID numbers on the way.
#[derive(Debug, Clone)]
pub struct Decoder {
    config: DecoderConfig,
    pseudonymiser: Pseudonymiser,
}

impl Decoder {
    /// A decoder with this configuration and pseudonym key.
    pub fn new(config: DecoderConfig, pseudonymiser: Pseudonymiser) -> Decoder {
        Decoder { config, pseudonymiser }
    }

    /// The fingerprint of the pseudonym key (see [`Pseudonymiser::fingerprint`]).
    pub fn key_fingerprint(&self) -> String {
        self.pseudonymiser.fingerprint()
    }

    /// The configuration in use.
    pub fn config(&self) -> &DecoderConfig {
        &self.config
    }

    /// Validates one record of `topic` and normalises it; the clear ID number never leaves.
    pub fn decode(&self, topic: Topic, payload: &[u8]) -> Result<Event, Rejection> {
        let text = std::str::from_utf8(payload).map_err(|e| {
            Rejection::whole(
                RejectReason::MalformedJson,
                format!("payload is not valid UTF-8 (first bad byte at offset {})", e.valid_up_to()),
            )
        })?;
        let value: Value = serde_json::from_str(text).map_err(|e| {
            // Built from the position only: serde_json's own message is safe today, but the
            // detail must stay value-free whatever a future version prints.
            let what = match e.classify() {
                serde_json::error::Category::Eof => "truncated JSON",
                _ => "not valid JSON",
            };
            Rejection::whole(
                RejectReason::MalformedJson,
                format!("payload is {what} (line {}, column {})", e.line(), e.column()),
            )
        })?;
        let Value::Object(obj) = &value else {
            return Err(Rejection::whole(
                RejectReason::MalformedJson,
                format!("payload is a JSON {}, expected an object", fields::type_name(&value)),
            ));
        };
        match topic {
            Topic::Roster => roster::decode(self, obj),
            Topic::Medical => medical::decode(self, obj),
            Topic::Employment => hr::decode(self, obj),
            Topic::Agri => agri::decode(self, obj),
            Topic::Civil => civil::decode(self, obj),
            Topic::Emergency => emergency::decode(self, obj),
            Topic::Education => edu::decode(self, obj),
            Topic::Prices => market::decode_price(self, obj),
            Topic::Weather => market::decode_weather(self, obj),
            Topic::Outcomes => outcomes::decode(self, obj),
        }
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Shared helpers for the per-topic decoder tests.

    use serde_json::Value;

    use super::*;
    use crate::event::PersonKey;

    /// A valid ID number with these 17 first digits, check character computed from the standard.
    pub fn valid_id(first17: &str) -> String {
        let w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        let sum: u32 = first17.chars().zip(w).map(|(c, w)| c.to_digit(10).unwrap() * w).sum();
        let check = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'][(sum % 11) as usize];
        format!("{first17}{check}")
    }

    /// The same number with a wrong check character.
    pub fn flipped(id: &str) -> String {
        let last = if id.ends_with('0') { '1' } else { '0' };
        format!("{}{last}", &id[..17])
    }

    pub const KEY: &[u8] = b"test pseudonym key, 32 bytes ok!";

    pub fn decoder() -> Decoder {
        Decoder::new(DecoderConfig::default(), Pseudonymiser::new(KEY).unwrap())
    }

    pub fn person(id: &str) -> PersonKey {
        Pseudonymiser::new(KEY).unwrap().person_key(id)
    }

    pub fn decode(topic: Topic, v: &Value) -> Result<Event, Rejection> {
        decoder().decode(topic, v.to_string().as_bytes())
    }

    /// `v` with `field` set to `new` (`None` removes it).
    pub fn with(v: &Value, field: &str, new: Option<Value>) -> Value {
        let mut v = v.clone();
        let obj = v.as_object_mut().unwrap();
        match new {
            Some(new) => obj.insert(field.to_owned(), new),
            None => obj.remove(field),
        };
        v
    }

    /// Asserts that `v` with `field` set to `new` is rejected for `reason` on `blamed`.
    #[track_caller]
    pub fn rejects(topic: Topic, v: &Value, field: &str, new: Option<Value>, reason: RejectReason, blamed: &str) {
        let bad = with(v, field, new.clone());
        match decode(topic, &bad) {
            Err(r) => {
                assert_eq!((r.reason, r.field), (reason, Some(blamed)), "{field} = {new:?}: {r}");
                assert_detail_is_clean(&r, &bad);
            }
            Ok(e) => panic!("{field} = {new:?} was accepted as {e:?}"),
        }
    }

    /// Asserts the missing / null / wrong-type trio for a required field.
    #[track_caller]
    pub fn rejects_absent_and_mistyped(topic: Topic, v: &Value, field: &str, wrong: Value) {
        rejects(topic, v, field, None, RejectReason::MissingField, field);
        rejects(topic, v, field, Some(Value::Null), RejectReason::MissingField, field);
        rejects(topic, v, field, Some(wrong), RejectReason::WrongType, field);
    }

    /// The detail must not repeat any string or number value of the record.
    #[track_caller]
    pub fn assert_detail_is_clean(r: &Rejection, record: &Value) {
        for (k, v) in record.as_object().unwrap() {
            let shown = match v {
                Value::String(s) if s.len() >= 4 => s.clone(),
                Value::Number(n) if n.to_string().len() >= 4 => n.to_string(),
                _ => continue,
            };
            assert!(!r.detail.contains(&shown), "detail of {k} leaks its value: {}", r.detail);
        }
    }

    #[test]
    fn malformed_payloads_are_rejected_for_every_topic() {
        let d = decoder();
        let id = valid_id("42092219850315123");
        let broken = format!("{{\"household_code\":\"420922101201-0042\",\"id_card\":\"{id}\"");
        for topic in Topic::ALL {
            for bad in
                [&b"not json"[..], b"", b"[1,2]", b"\"text\"", b"null", broken.as_bytes(), b"{\"a\":\xff}", b"\xfe\xff"]
            {
                let r = d.decode(topic, bad).unwrap_err();
                assert_eq!((r.reason, r.field), (RejectReason::MalformedJson, None), "{topic} {bad:?}");
                assert!(!r.detail.contains(&id[..15]));
            }
            // An empty object is JSON, but misses fields.
            assert_eq!(d.decode(topic, b"{}").unwrap_err().reason, RejectReason::MissingField);
        }
    }

    #[test]
    fn reason_codes_round_trip() {
        for r in RejectReason::ALL {
            assert_eq!(RejectReason::from_code(r.code()), Some(r));
        }
        assert_eq!(RejectReason::AmountsDoNotAddUp.code(), "amounts_do_not_add_up");
        assert_eq!(DecoderConfig::default().counties.len(), 7);
    }
}
