//! Compact serde forms for binary state (the pipeline's checkpoints): in a binary format a month
//! is its index and an amount its exact mantissa and scale; in a human-readable one (JSON) both
//! are written as everywhere else, `"2025-05"` and `"1234.50"`. Both are exact, and both are
//! checked on the way back in, so that a damaged checkpoint is refused rather than read as
//! another figure.

/// A month: its index (`year × 12 + month − 1`) in binary, `YYYY-MM` in text.
pub mod month {
    use crate::event::Month;
    use serde::{de::Error, Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(m: &Month, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            Serialize::serialize(m, s)
        } else {
            s.serialize_i32(m.index())
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Month, D::Error> {
        if d.is_human_readable() {
            return <Month as Deserialize>::deserialize(d);
        }
        let i = i32::deserialize(d)?;
        let m = Month::from_index(i);
        Month::new(m.year(), m.month()).ok_or_else(|| D::Error::custom(format!("month index {i} is out of range")))
    }
}

/// An amount: (mantissa, scale) in binary, so `1234.50` is `(123450, 2)`, four bytes in
/// postcard against ten as a string; a decimal string in text.
pub mod money {
    use rust_decimal::Decimal;
    use serde::{de::Error, Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            Serialize::serialize(v, s)
        } else {
            (v.mantissa(), v.scale()).serialize(s)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        if d.is_human_readable() {
            return <Decimal as Deserialize>::deserialize(d);
        }
        let (mantissa, scale) = <(i128, u32)>::deserialize(d)?;
        Decimal::try_from_i128_with_scale(mantissa, scale)
            .map_err(|e| D::Error::custom(format!("amount ({mantissa}, {scale}): {e}")))
    }
}
