//! Working days: Monday to Friday. Public holidays and the make-up working weekends of the
//! Chinese calendar are not modelled yet, so a deadline over a holiday comes out early (strict,
//! never late).

use chrono::{Datelike, Duration, NaiveDate, Weekday};

fn is_working(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The date `days` working days after `from` (a task received on Friday with 2 days is due on
/// Tuesday).
pub fn add_working_days(from: NaiveDate, days: u32) -> NaiveDate {
    let mut d = from;
    let mut left = days;
    while left > 0 {
        d += Duration::days(1);
        if is_working(d) {
            left -= 1;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn weekends_do_not_count() {
        assert_eq!(add_working_days(date("2026-12-04"), 2), date("2026-12-08")); // Fri → Tue
        assert_eq!(add_working_days(date("2026-12-01"), 2), date("2026-12-03")); // Tue → Thu
        assert_eq!(add_working_days(date("2026-12-05"), 1), date("2026-12-07")); // Sat → Mon
        assert_eq!(add_working_days(date("2026-12-01"), 20), date("2026-12-29"));
    }
}
