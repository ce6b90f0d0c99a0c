//! Finding resident ID numbers in text, in any spelling a department's system or a typist might
//! produce: ASCII or full-width digits, JSON `\u00NN` escapes, separators between the digits
//! (spaces, dashes, dots, underscores, slashes, ideographic and no-break spaces, zero-width
//! characters), and broken bytes (U+FFFD after lossy decoding) in the middle.
//!
//! A run of digits, with at most two separators at a time between them, that holds 15 or more
//! digits is ID-shaped (18-digit numbers, the old 15-digit ones, and anything merely like them:
//! better an over-masked amount than a leak). One shape is exempt: a household code standing
//! alone (12 ASCII digits, a dash, 4 ASCII digits), which is public and what departments need
//! to find a record.

use std::ops::Range;

/// What replaces an ID-like number.
pub const ID_MASK: &str = "[id-masked]";

/// Digits that make a run ID-shaped.
const ID_DIGITS: usize = 15;

/// Separators allowed in a row between two digits of one number.
const MAX_JOINERS: usize = 2;

#[derive(Copy, Clone, PartialEq, Eq)]
enum Unit {
    Digit,
    /// The check character `X`.
    Check,
    Joiner,
}

/// The unit starting at byte `i` of `s`, and its length in bytes.
fn unit_at(s: &str, i: usize) -> Option<(Unit, usize)> {
    let rest = &s[i..];
    let c = rest.chars().next()?;
    let unit = match c {
        '0'..='9' | '０'..='９' => Unit::Digit,
        'X' | 'x' | 'Ｘ' | 'ｘ' => Unit::Check,
        ' ' | '-' | '.' | '_' | '/' | '\t' | '\u{3000}' | '\u{00a0}' | '\u{fffd}' | '\u{200b}' | '\u{200c}'
        | '\u{200d}' | '\u{2060}' | '\u{feff}' | '－' | '．' => Unit::Joiner,
        '\\' => return escaped_unit(rest),
        _ => return None,
    };
    Some((unit, c.len_utf8()))
}

/// A `\uXXXX` escape of a digit (ASCII or full-width), of `X`, or of a space or dash.
fn escaped_unit(rest: &str) -> Option<(Unit, usize)> {
    let hex = rest.strip_prefix("\\u").or_else(|| rest.strip_prefix("\\U"))?.get(..4)?;
    let code = u32::from_str_radix(hex, 16).ok()?;
    let c = char::from_u32(code)?;
    let unit = match c {
        '0'..='9' | '０'..='９' => Unit::Digit,
        'X' | 'x' | 'Ｘ' | 'ｘ' => Unit::Check,
        ' ' | '-' | '\u{3000}' | '\u{00a0}' => Unit::Joiner,
        _ => return None,
    };
    Some((unit, 6))
}

/// A household code standing alone: exactly 12 ASCII digits, `-`, 4 ASCII digits.
fn is_household_code(run: &str) -> bool {
    let b = run.as_bytes();
    b.len() == 17 && b[12] == b'-' && b.iter().enumerate().all(|(i, c)| i == 12 || c.is_ascii_digit())
}

/// The byte ranges of every ID-shaped run in `s`: broadly, for masking and for refusing free
/// text (a mistyped ID number is personal data too; an over-masked code costs little).
pub fn find(s: &str) -> Vec<Range<usize>> {
    runs(s, false)
}

/// Whether `s` spells a real resident ID number (with separators, only with a right check
/// character): narrowly, for identifiers that are replaced when they do, so that codes like
/// `NY-420982-2024-07-0031` stay readable.
pub fn spells_id_number(s: &str) -> bool {
    !runs(s, true).is_empty()
}

fn runs(s: &str, exact: bool) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < s.len() {
        match unit_at(s, i) {
            Some((Unit::Digit, _)) => {
                let run = scan_run(s, i);
                if run.is_id_shaped(exact) && !is_household_code(&s[i..run.end]) {
                    found.push(i..run.end);
                }
                i = run.end;
            }
            _ => i += s[i..].chars().next().map_or(1, char::len_utf8),
        }
    }
    found
}

/// A run of digits.
struct Run {
    /// Byte just after its last digit or check character.
    end: usize,
    /// Its digits, in order (ASCII).
    digits: Vec<u8>,
    /// Whether it ends in a check character `X`.
    check_x: bool,
    /// Whether separators stand between its digits.
    joined: bool,
}

impl Run {
    /// Unbroken, 15 or more digits are enough. A run with separators is one number if it has
    /// the digits of an ID (15 to 18, the last may be `X`; `exact`: exactly 15, or 17 and a check
    /// character that is right); longer ones are a code, a date and a serial written together.
    fn is_id_shaped(&self, exact: bool) -> bool {
        let n = self.digits.len() + usize::from(self.check_x);
        if !self.joined {
            return n >= ID_DIGITS;
        }
        if !exact {
            return (ID_DIGITS..=18).contains(&n);
        }
        match n {
            15 => !self.check_x,
            18 => {
                let check = crate::pseudonym::id_card_check_char(&self.digits[..17]);
                let last = if self.check_x { b'X' } else { self.digits[17] };
                check == Some(last)
            }
            _ => false,
        }
    }
}

/// The run starting with the digit at byte `start`.
fn scan_run(s: &str, start: usize) -> Run {
    let mut run = Run { end: start, digits: Vec::new(), check_x: false, joined: false };
    let mut i = start;
    let mut joiners = 0;
    while i < s.len() {
        match unit_at(s, i) {
            Some((Unit::Digit, len)) => {
                run.digits.push(digit_value(&s[i..i + len]));
                run.joined |= joiners > 0;
                joiners = 0;
                i += len;
                run.end = i;
            }
            Some((Unit::Check, len)) => {
                // The check character ends a number.
                run.joined |= joiners > 0;
                run.check_x = true;
                run.end = i + len;
                break;
            }
            Some((Unit::Joiner, len)) if joiners < MAX_JOINERS => {
                joiners += 1;
                i += len;
            }
            _ => break,
        }
    }
    run
}

/// The ASCII digit a digit unit (ASCII, full-width, or an escape of either) stands for.
fn digit_value(unit: &str) -> u8 {
    let c = match unit.strip_prefix("\\u").or_else(|| unit.strip_prefix("\\U")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok().and_then(char::from_u32).unwrap_or('0'),
        None => unit.chars().next().unwrap_or('0'),
    };
    match c {
        '０'..='９' => b'0' + (c as u32 - '０' as u32) as u8,
        _ => c as u8,
    }
}

/// Whether the text holds something shaped like a resident ID number in any spelling above.
pub fn contains(s: &str) -> bool {
    !find(s).is_empty()
}

/// The text with every ID-shaped run replaced by [`ID_MASK`].
pub fn mask(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for r in find(s) {
        out.push_str(&s[last..r.start]);
        out.push_str(ID_MASK);
        last = r.end;
    }
    out.push_str(&s[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One valid ID number, 42092219800101102X, in the spellings the module claims to catch.
    pub const SPELLINGS: [&str; 13] = [
        "42092219800101102X",
        "42092219800101102x",
        "４２０９２２１９８００１０１１０２Ｘ",
        "420922 19800101 102X",
        "420922-1980-0101-102X",
        "4209 2219 8001 0110 2X",
        "420922.19800101.102X",
        "420922\u{3000}19800101\u{3000}102X",
        "4209221980\u{fffd}0101102X",
        "420922\u{200b}19800101102X",
        "\\u0034\\u0032\\u0030\\u0039\\u0032\\u0032\\u0031\\u0039\\u0038\\u0030\\u0030\\u0031\\u0030\\u0031\\u0031\\u0030\\u0032\\u0058",
        "420922800101102",
        "420922 198001011230",
    ];

    #[test]
    fn every_spelling_is_found_and_masked_whole() {
        for s in SPELLINGS {
            let text = format!("{{\"note\":\"身份证 {s} 已核\"}}");
            assert!(contains(&text), "{s}");
            let masked = mask(&text);
            assert_eq!(masked, format!("{{\"note\":\"身份证 {ID_MASK} 已核\"}}"), "{s}");
        }
    }

    #[test]
    fn identifiers_are_replaced_only_when_they_spell_a_real_number() {
        assert!(spells_id_number("S-42092219800101102X"));
        assert!(spells_id_number("420922 19800101 102X"));
        for id in ["NY-420982-2024-07-0031", "420922 19800101 1021", "AG-420921-U0000014"] {
            assert!(!spells_id_number(id), "{id}");
        }
        // Masking stays broad: a mistyped number is masked all the same.
        assert!(contains("420922 19800101 1021"));
    }

    #[test]
    fn household_codes_amounts_dates_and_phones_survive() {
        for s in [
            "420922101201-0042",
            "ZY420982203107-0009-202407-01",
            "户 420984118009-0201 工资 12345678901234 分",
            "2024-06-15T10:20:00+08:00",
            "电话 138 1234 5678",
            "1234.50 元",
            "202412",
        ] {
            assert!(!contains(s), "{s}");
            assert_eq!(mask(s), s);
        }
    }
}
