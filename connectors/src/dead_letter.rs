//! The dead-letter record, and the masking of ID numbers in rejected payloads.
//!
//! A rejected payload is kept so that the department can find and fix the record, but it may hold
//! ID numbers anywhere: in `id_card`, in a wrong field, in broken JSON the decoder never parsed.
//! So masking does not look at fields at all: every ID-shaped run, in any spelling, is hidden
//! (see [`crate::id_like`]), in a copy re-serialised from the payload, never the raw bytes.

use serde::{Deserialize, Serialize};

use crate::decode::Rejection;
use crate::file_source::Position;
pub use crate::id_like::ID_MASK;

/// Longest payload kept in a dead letter, in bytes (after masking); longer ones are cut, so one
/// runaway line cannot produce an oversized dead-letter message.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// Replaces every ID-shaped run, in any spelling [`crate::id_like`] knows, by `[id-masked]`.
pub fn mask_id_numbers(text: &str) -> String {
    crate::id_like::mask(text)
}

/// The copy of a payload that may be kept (in a dead letter, or parked in state): never the raw
/// bytes. Valid JSON is parsed and written again, so that escapes (`\u0034`) become the
/// characters they stand for before masking; anything else is decoded lossily (broken bytes
/// become U+FFFD). Then every ID-shaped run is masked, and the copy is cut at
/// [`MAX_PAYLOAD_BYTES`], after masking, so that a cut cannot leave the head of a number in view.
pub fn masked_copy(payload: &[u8]) -> String {
    masked_copy_within(payload, MAX_PAYLOAD_BYTES)
}

/// [`masked_copy`] cut at `max_bytes` instead (for copies kept in state, which a checkpoint
/// must carry within what a broker accepts).
pub fn masked_copy_within(payload: &[u8], max_bytes: usize) -> String {
    let text = match serde_json::from_slice::<serde_json::Value>(payload) {
        Ok(mut value) => {
            mask_id_card_values(&mut value);
            value.to_string()
        }
        Err(_) => mask_broken_id_card_values(&String::from_utf8_lossy(payload)),
    };
    let mut masked = mask_id_numbers(&text);
    if masked.len() > max_bytes {
        let mut end = max_bytes;
        while !masked.is_char_boundary(end) {
            end -= 1;
        }
        masked.truncate(end);
        masked.push_str("…[truncated]");
    }
    masked
}

/// The contracts' field for resident ID numbers. Its value is masked whole whatever it holds:
/// a number cut short (a truncated record) or mistyped is still someone's birth date and
/// region, and is too short for [`mask_id_numbers`] to recognise.
const ID_FIELD: &str = "id_card";

/// Masks the value of every `id_card` key, at any depth.
fn mask_id_card_values(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == ID_FIELD {
                    *v = serde_json::Value::String(ID_MASK.to_owned());
                } else {
                    mask_id_card_values(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_id_card_values),
        _ => {}
    }
}

/// `"id_card": <value>` in text that is not valid JSON: a string (perhaps cut off by the end of
/// the payload) or a bare token.
static BROKEN_ID_FIELD: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r#"("id_card"\s*:\s*)("(?:[^"\\]|\\.)*(?:"|$)|[^,}\]\s]*)"#)
        .unwrap_or_else(|e| unreachable!("constant regex: {e}"))
});

/// Masks the value of every `id_card` field in a payload that is not valid JSON.
fn mask_broken_id_card_values(text: &str) -> String {
    BROKEN_ID_FIELD.replace_all(text, format!("${{1}}\"{ID_MASK}\"")).into_owned()
}

/// A rejected record as written to the `dead_letter` topic; the payload is masked.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The contract topic the record came from.
    pub topic: String,
    /// Where it came from: a file path, or a Kafka `topic/partition`.
    pub source: String,
    /// Its position there: `"line"` (from 1) in a file, `"offset"` (from 0) on Kafka.
    #[serde(flatten)]
    pub position: Position,
    /// The [`crate::RejectReason`] code.
    pub reason: String,
    /// The field at fault, if one is.
    pub field: Option<String>,
    /// What rule was broken (never a value).
    pub detail: String,
    /// The payload, decoded lossily as UTF-8, with ID-like numbers masked.
    pub payload: String,
}

impl DeadLetter {
    /// The dead letter of a rejected payload; only its [`masked_copy`] is kept.
    pub fn new(topic: &str, source: &str, position: Position, rejection: &Rejection, payload: &[u8]) -> DeadLetter {
        let masked = masked_copy(payload);
        DeadLetter {
            topic: topic.to_owned(),
            source: source.to_owned(),
            position,
            reason: rejection.reason.code().to_owned(),
            field: rejection.field.map(str::to_owned),
            // Details are value-free by construction; masking again costs little and protects
            // against a future decoder that forgets.
            detail: mask_id_numbers(&rejection.detail),
            payload: masked,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{RejectReason, Rejection};

    #[test]
    fn id_like_runs_are_masked_everywhere_and_household_codes_survive() {
        let broken = r#"{"household_code":"420922101201-0042","id_card":"11010519491231002X","note":"other 42092219850315123x and 420922850315123, "#;
        let masked = mask_id_numbers(broken);
        assert_eq!(
            masked,
            r#"{"household_code":"420922101201-0042","id_card":"[id-masked]","note":"other [id-masked] and [id-masked], "#
        );
        // An ID in a wrong field, unquoted, with a wrong check character: masked all the same.
        assert_eq!(mask_id_numbers("{\"verifier\":110105194912310021}"), "{\"verifier\":[id-masked]}");
        // Shorter runs are amounts, dates, codes: kept.
        let kept = r#"{"wage_fen":12345678901234,"ym":"202412","household_code":"420984118009-0201"}"#;
        assert_eq!(mask_id_numbers(kept), kept);
    }

    #[test]
    fn dead_letters_carry_the_reason_and_a_masked_payload() {
        let r = Rejection::new(RejectReason::BadIdCard, "id_card", "id_card check character is wrong");
        let payload = b"{\"household_code\":\"420922101201-0042\",\"id_card\":\"110105194912310021\",\"bad\":\"\xff\"}";
        let d = DeadLetter::new("dept.hr.employment", "in/dept.hr.employment.ndjson", Position::Line(7), &r, payload);
        assert_eq!((d.reason.as_str(), d.field.as_deref(), d.position), ("bad_id_card", Some("id_card"), Position::Line(7)));
        assert!(!d.payload.contains("1101051949"), "{}", d.payload);
        assert!(d.payload.contains("420922101201-0042") && d.payload.contains('\u{fffd}'));
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<DeadLetter>(&json).unwrap(), d);

        let whole = Rejection::whole(RejectReason::MalformedJson, "payload is not valid JSON (line 1, column 3)");
        assert_eq!(DeadLetter::new("t", "s", Position::Line(1), &whole, b"{{").field, None);
    }

    #[test]
    fn id_card_values_are_masked_whole_even_cut_short_or_mistyped() {
        // Truncated inside the number: 14 digits are region and birth date.
        let cut = masked_copy(br#"{"household_code":"420984117207-0025","id_card":"42098419880527"#);
        assert_eq!(cut, r#"{"household_code":"420984117207-0025","id_card":"[id-masked]""#);
        // Valid JSON, a mistyped number of 10 digits, and a nested copy.
        let typo = masked_copy(br#"{"id_card":"4209841988","x":[{"id_card":4209841988}],"note":"ok"}"#);
        assert!(!typo.contains("4209841988") && typo.contains("\"note\":\"ok\""), "{typo}");
        // Broken JSON with a bare value.
        let bare = masked_copy(br#"{"id_card": 4209841988, "ym": "202406"#);
        assert!(!bare.contains("4209841988") && bare.contains("202406"), "{bare}");
    }

    #[test]
    fn huge_payloads_are_cut_after_masking() {
        let mut payload = "é".repeat(MAX_PAYLOAD_BYTES / 2 - 5).into_bytes();
        payload.extend_from_slice(b"110105194912310021110105194912310021");
        let d = DeadLetter::new("t", "s", Position::Line(1), &Rejection::whole(RejectReason::MalformedJson, "x"), &payload);
        assert!(d.payload.len() <= MAX_PAYLOAD_BYTES + "…[truncated]".len());
        assert!(!d.payload.contains("11010"), "{}", &d.payload[d.payload.len() - 40..]);
        assert!(d.payload.ends_with("[truncated]"));
    }
}
