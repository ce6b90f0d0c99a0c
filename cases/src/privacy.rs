//! Free text typed by cadres (notes) must not carry resident ID numbers: they are refused with a
//! message, not silently masked, so the cadre knows what was not saved.
//!
//! The check normalises first, so that other spellings of the same number are caught too:
//! full-width digits and `Ｘ`, and separators (spaces, dashes, dots) between the digits.

use std::sync::LazyLock;

use regex::Regex;

/// 15 digits (the old card) or 17 digits and a check character, after normalising.
static ID_SHAPED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[0-9]{15,}[Xx]?").unwrap_or_else(|e| unreachable!("constant regex: {e}"))
});

/// A household code (12 digits, a dash, 4 digits) standing alone: public, and cadres write it.
static HOUSEHOLD_CODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[0-9]{12}-[0-9]{4}\b").unwrap_or_else(|e| unreachable!("constant regex: {e}"))
});

/// The text with full-width digits and X folded to ASCII, household codes taken out, and
/// separators between digits removed.
fn normalise(text: &str) -> String {
    let folded: Vec<char> = text
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            'Ｘ' | 'ｘ' => 'X',
            other => other,
        })
        .collect();
    let folded: String = folded.into_iter().collect();
    let folded: Vec<char> = HOUSEHOLD_CODE.replace_all(&folded, " ").chars().collect();
    let mut out = String::with_capacity(folded.len());
    for (i, &c) in folded.iter().enumerate() {
        let separator = matches!(c, ' ' | '-' | '.' | '\u{3000}' | '_' | '\u{00a0}');
        let between_digits = i > 0
            && folded[..i].last().is_some_and(|p| p.is_ascii_digit())
            && folded
                .get(i + 1)
                .is_some_and(|n| n.is_ascii_digit() || *n == 'X');
        if !(separator && between_digits) {
            out.push(c);
        }
    }
    out
}

/// Whether the text holds something shaped like a resident ID number in any spelling above.
pub fn has_id_number(text: &str) -> bool {
    ID_SHAPED.is_match(&normalise(text))
}

/// Refuses free text that holds an ID number, naming the field.
pub fn check_free_text(field: &str, text: &str) -> crate::Result<()> {
    if has_id_number(text) {
        return Err(crate::CasesError::Invalid(format!(
            "{field}中不得填写身份证号码，请删去后再提交"
        )));
    }
    if text.chars().count() > 2000 {
        return Err(crate::CasesError::Invalid(format!(
            "{field}不得超过 2000 字"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_numbers_in_every_spelling_are_found_and_household_codes_are_not() {
        for text in [
            "身份证 42092219800101123X",
            "４２０９２２１９８００１０１１２３Ｘ",
            "420922 1980 0101 123X",
            "420922-19800101-1234",
            "old card 420922800101123",
        ] {
            assert!(has_id_number(text), "{text}");
        }
        for text in [
            "户号 420922101201-0042",
            "电话 13812345678",
            "支出 12000.50 元",
            "2024-06-15",
        ] {
            assert!(!has_id_number(text), "{text}");
        }
    }
}
