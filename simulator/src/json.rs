//! A tiny JSON object writer for feed lines.
//!
//! Two million lines go through here, so records are written straight into one buffer instead of
//! through `serde_json::Value`. Every string the simulator writes is plain ASCII without quotes or
//! backslashes (codes, enums, dates), so no escaping is needed; a debug assertion guards that.

use rust_decimal::Decimal;
use std::fmt::Write;

/// Writes one JSON object, field by field, into a buffer.
pub struct Obj<'a> {
    buf: &'a mut String,
    first: bool,
}

impl<'a> Obj<'a> {
    /// Opens an object at the end of `buf`.
    pub fn new(buf: &'a mut String) -> Self {
        buf.push('{');
        Obj { buf, first: true }
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.buf.push(',');
        }
        self.first = false;
        self.buf.push('"');
        self.buf.push_str(k);
        self.buf.push_str("\":");
    }

    /// A string field.
    pub fn str(mut self, k: &str, v: &str) -> Self {
        debug_assert!(!v.contains(['"', '\\']), "unescaped JSON string {v}");
        self.key(k);
        self.buf.push('"');
        self.buf.push_str(v);
        self.buf.push('"');
        self
    }

    /// A string field whose text is produced by `f` (dates, timestamps).
    pub fn str_with(mut self, k: &str, f: impl FnOnce(&mut String)) -> Self {
        self.key(k);
        self.buf.push('"');
        f(self.buf);
        self.buf.push('"');
        self
    }

    /// An integer field.
    pub fn int(mut self, k: &str, v: i64) -> Self {
        self.key(k);
        let _ = write!(self.buf, "{v}");
        self
    }

    /// Money in yuan as a string with exactly 2 decimals, e.g. `"1234.50"`.
    pub fn yuan(mut self, k: &str, v: Decimal) -> Self {
        self.key(k);
        let _ = write!(self.buf, "\"{v:.2}\"");
        self
    }

    /// A decimal as a string with `dp` decimals (areas in mu, prices per kg).
    pub fn dec_str(mut self, k: &str, v: Decimal, dp: usize) -> Self {
        self.key(k);
        let _ = write!(self.buf, "\"{v:.dp$}\"");
        self
    }

    /// A JSON number with one decimal, or `null`.
    pub fn num1(mut self, k: &str, v: Option<f64>) -> Self {
        self.key(k);
        match v {
            Some(x) => {
                let _ = write!(self.buf, "{x:.1}");
            }
            None => self.buf.push_str("null"),
        }
        self
    }

    /// A boolean field.
    pub fn bool(mut self, k: &str, v: bool) -> Self {
        self.key(k);
        self.buf.push_str(if v { "true" } else { "false" });
        self
    }

    /// An array of strings.
    pub fn strs(mut self, k: &str, vs: &[&str]) -> Self {
        self.key(k);
        self.buf.push('[');
        for (i, v) in vs.iter().enumerate() {
            if i > 0 {
                self.buf.push(',');
            }
            self.buf.push('"');
            self.buf.push_str(v);
            self.buf.push('"');
        }
        self.buf.push(']');
        self
    }

    /// Closes the object.
    pub fn end(self) {
        self.buf.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_valid_json() {
        let mut s = String::new();
        Obj::new(&mut s)
            .str("a", "x")
            .int("b", 5)
            .yuan("c", Decimal::new(12345, 1))
            .num1("d", None)
            .num1("e", Some(2.25))
            .strs("f", &["p", "q"])
            .bool("g", true)
            .end();
        assert_eq!(
            s,
            r#"{"a":"x","b":5,"c":"1234.50","d":null,"e":2.2,"f":["p","q"],"g":true}"#
        );
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["c"], "1234.50");
    }
}
