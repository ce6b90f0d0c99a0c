//! Exact money: amounts are drawn with floats, then fixed as `Decimal` yuan with 2 decimals (fen).
//!
//! Everything that reaches a feed or the ground truth is a `Decimal` built here, so the truth and
//! the feeds add up to the fen.

use rand::Rng;
use rust_decimal::Decimal;

/// Yuan from a whole number of fen.
pub fn from_fen(fen: i64) -> Decimal {
    Decimal::new(fen, 2)
}

/// A drawn float amount fixed to fen.
pub fn yuan(x: f64) -> Decimal {
    from_fen((x * 100.0).round() as i64)
}

/// A uniform amount in `[lo, hi)` yuan, fixed to fen.
pub fn uniform<R: Rng>(rng: &mut R, lo: f64, hi: f64) -> Decimal {
    yuan(rng.random_range(lo..hi))
}

/// A uniform amount in `[lo, hi]` yuan rounded to a multiple of `step` yuan.
pub fn uniform_step<R: Rng>(rng: &mut R, lo: i64, hi: i64, step: i64) -> Decimal {
    Decimal::from(rng.random_range(lo / step..=hi / step) * step).round_dp(2)
}

/// `amount × fraction`, rounded to fen. The fraction is a float drawn by the simulator.
pub fn part(amount: Decimal, fraction: f64) -> Decimal {
    let bp = (fraction * 10_000.0).round() as i64;
    (amount * Decimal::new(bp, 4)).round_dp(2)
}

/// Approximate float value, for drawing further amounts from an exact one.
pub fn to_f64(amount: Decimal) -> f64 {
    let fen: i64 = (amount * Decimal::ONE_HUNDRED)
        .round()
        .try_into()
        .unwrap_or(i64::MAX);
    fen as f64 / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn amounts_are_fixed_to_fen() {
        assert_eq!(yuan(1_234.505_1).to_string(), "1234.51");
        assert_eq!(
            part(Decimal::from_str("100.00").unwrap(), 0.3333).to_string(),
            "33.33"
        );
        assert_eq!(format!("{:.2}", from_fen(123_450)), "1234.50");
        assert_eq!(to_f64(from_fen(-250)), -2.5);
    }
}
