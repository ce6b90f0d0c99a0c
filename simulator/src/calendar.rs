//! Simulated months and the date/time spellings the contracts use.
//!
//! A world runs over `months` consecutive calendar months; month index 0 is the start month.
//! Every time is China time (UTC+8), written with an explicit `+08:00` offset.

use chrono::{Datelike, NaiveDate};
use std::fmt::Write;

/// The simulated range of calendar months.
#[derive(Clone, Copy, Debug)]
pub struct Calendar {
    /// Absolute month number (`year * 12 + month - 1`) of month index 0.
    first: i32,
    /// Number of simulated months.
    pub months: u32,
}

impl Calendar {
    /// A calendar of `months` months starting at `start_year`-`start_month`.
    pub fn new(start_year: i32, start_month: u32, months: u32) -> Self {
        Calendar {
            first: start_year * 12 + start_month as i32 - 1,
            months,
        }
    }

    /// Calendar year and month (1–12) of month index `k`.
    pub fn year_month(&self, k: u32) -> (i32, u32) {
        let z = self.first + k as i32;
        (z.div_euclid(12), z.rem_euclid(12) as u32 + 1)
    }

    /// Calendar year and month of month index `k`, which may be negative (the months before the
    /// start: −1 is the month before month 0).
    pub fn year_month_at(&self, k: i32) -> (i32, u32) {
        let z = self.first + k;
        (z.div_euclid(12), z.rem_euclid(12) as u32 + 1)
    }

    /// Month index of a calendar month, if it lies in the simulated range.
    pub fn index_of(&self, year: i32, month: u32) -> Option<u32> {
        let z = year * 12 + month as i32 - 1 - self.first;
        (z >= 0 && (z as u32) < self.months).then_some(z as u32)
    }

    /// Month index of a date, if it lies in the simulated range.
    pub fn index_of_date(&self, d: NaiveDate) -> Option<u32> {
        self.index_of(d.year(), d.month())
    }

    /// Day `day` (1-based, clamped to the month's length) of month index `k`.
    pub fn date(&self, k: u32, day: u32) -> NaiveDate {
        let (y, m) = self.year_month(k);
        let day = day.clamp(1, days_in_month(y, m));
        NaiveDate::from_ymd_opt(y, m, day).expect("day clamped to month length")
    }

    /// Number of days in month index `k`.
    pub fn days_in(&self, k: u32) -> u32 {
        let (y, m) = self.year_month(k);
        days_in_month(y, m)
    }

    /// The calendar years the simulated range touches, in order.
    pub fn years(&self) -> Vec<i32> {
        let mut out: Vec<i32> = Vec::new();
        for k in 0..self.months {
            let y = self.year_month(k).0;
            if out.last() != Some(&y) {
                out.push(y);
            }
        }
        out
    }

    /// Month indices of the simulated range that fall in calendar month `month` of any year.
    pub fn indices_of_calendar_month(&self, month: u32) -> impl Iterator<Item = u32> + '_ {
        (0..self.months).filter(move |&k| self.year_month(k).1 == month)
    }

    /// `YYYY-MM` of month index `k`.
    pub fn ym_dash(&self, k: u32) -> String {
        let (y, m) = self.year_month(k);
        format!("{y:04}-{m:02}")
    }
}

/// Number of days in a calendar month.
pub fn days_in_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    let next = NaiveDate::from_ymd_opt(ny, nm, 1).expect("valid month");
    let this = NaiveDate::from_ymd_opt(year, month, 1).expect("valid month");
    (next - this).num_days() as u32
}

/// Absolute month number of a `YYYY-MM` string (`year * 12 + month - 1`), for month arithmetic.
pub fn month_key(s: &str) -> Option<i32> {
    let (y, m) = s.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let y: i32 = y.parse().ok()?;
    let m: i32 = m.parse().ok()?;
    (1..=12).contains(&m).then_some(y * 12 + m - 1)
}

/// Appends `YYYY-MM-DD`.
pub fn push_date(buf: &mut String, d: NaiveDate) {
    let _ = write!(buf, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day());
}

/// Appends an ISO-8601 timestamp in China time: `YYYY-MM-DDTHH:MM:SS+08:00`.
pub fn push_timestamp(buf: &mut String, d: NaiveDate, secs_of_day: u32) {
    push_date(buf, d);
    let (h, m, s) = (secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
    let _ = write!(buf, "T{h:02}:{m:02}:{s:02}+08:00");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_roll_over_years() {
        let cal = Calendar::new(2024, 11, 4);
        assert_eq!(cal.year_month(0), (2024, 11));
        assert_eq!(cal.year_month(2), (2025, 1));
        assert_eq!(cal.index_of(2025, 2), Some(3));
        assert_eq!(cal.index_of(2025, 3), None);
        assert_eq!(cal.years(), vec![2024, 2025]);
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(month_key("2024-03"), Some(2024 * 12 + 2));
        assert_eq!(month_key("2024-13"), None);
    }

    #[test]
    fn timestamps_carry_the_china_offset() {
        let mut s = String::new();
        push_timestamp(
            &mut s,
            NaiveDate::from_ymd_opt(2024, 6, 5).unwrap(),
            10 * 3600 + 20 * 60,
        );
        assert_eq!(s, "2024-06-05T10:20:00+08:00");
    }
}
