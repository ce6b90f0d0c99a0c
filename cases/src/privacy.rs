//! Free text typed by cadres (notes) must not carry resident ID numbers: they are refused with a
//! message, not silently masked, so the cadre knows what was not saved.
//!
//! Other spellings of the same number are caught too: full-width digits, separators between
//! the digits, escapes (see `fangpin_connectors::id_like`).

/// Refuses free text that holds an ID number, naming the field.
pub fn check_free_text(field: &str, text: &str) -> crate::Result<()> {
    // The connectors' detector: one definition for the pipeline's masking and the cadres' notes.
    if fangpin_connectors::id_like::contains(text) {
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
    fn notes_with_an_id_number_or_too_long_are_refused() {
        assert!(check_free_text("备注", "身份证 ４２０９２２ １９８００１０１ １０２Ｘ").is_err());
        assert!(check_free_text("备注", &"字".repeat(2001)).is_err());
        for ok in ["户号 420922101201-0042，电话 13812345678，支出 12000.50 元", "2024-06-15 入户"] {
            assert!(check_free_text("备注", ok).is_ok(), "{ok}");
        }
    }
}
