//! Free text typed by cadres (notes) must not carry resident ID numbers: they are refused with a
//! message, not silently masked, so the cadre knows what was not saved.
//!
//! Other spellings of the same number are caught too: full-width digits, separators between
//! the digits, escapes (see `fangpin_connectors::id_like`).

/// Whether the text holds something shaped like a resident ID number, in any spelling the
/// connectors' masking knows (one definition for the pipeline and the cadres' service).
pub fn has_id_number(text: &str) -> bool {
    fangpin_connectors::id_like::contains(text)
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
            "身份证 42092219800101102X",
            "４２０９２２１９８００１０１１０２Ｘ",
            "420922 1980 0101 102X",
            "420922-19800101-1230",
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
