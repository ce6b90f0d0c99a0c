//! Household members and their 18-character resident ID numbers (GB 11643).
//!
//! An ID is the 6-digit region (here the household's county code), the birth date `YYYYMMDD`, a
//! 3-digit sequence whose parity gives the sex (odd male), and a check character computed by
//! ISO 7064 MOD 11-2.

use chrono::{Datelike, Days, NaiveDate};
use rand::Rng;
use std::collections::HashMap;
use std::fmt::Write;

/// Weights of the first 17 characters in the MOD 11-2 check.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for each remainder 0..=10.
const CHECK: [u8; 11] = *b"10X98765432";

/// The ISO 7064 MOD 11-2 check character of the first 17 digits.
pub fn check_char(first17: &[u8]) -> u8 {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(&d, w)| (d - b'0') as u32 * w)
        .sum();
    CHECK[(sum % 11) as usize]
}

/// Whether `id` is 17 digits followed by the correct check character.
pub fn id_is_valid(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() == 18 && b[..17].iter().all(u8::is_ascii_digit) && check_char(&b[..17]) == b[17]
}

/// Where a school-age member studies (the contract's `stage`), chosen once per person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schooling {
    /// Not a student beyond compulsory school.
    None,
    /// Goes to high school at 15–17.
    HighSchool,
    /// Goes to a vocational school at 15–17.
    Vocational,
    /// Goes to high school, then college at 18–21.
    College,
}

/// One household member.
#[derive(Debug, Clone)]
pub struct Person {
    /// 18-character resident ID number.
    pub id_card: String,
    /// Date of birth (consistent with the ID number).
    pub birth: NaiveDate,
    /// Age at the start of the simulated range.
    pub age: u32,
    /// Registered as disabled.
    pub disabled: bool,
    /// Registered with a chronic or major illness.
    pub chronic: bool,
    /// Schooling path after compulsory school.
    pub schooling: Schooling,
}

impl Person {
    /// School stage in the school year starting in `year` (the contract's `stage` value).
    pub fn stage_in(&self, year: i32) -> Option<&'static str> {
        // Age on 1 September of that year, as Chinese schools enrol.
        let sept = NaiveDate::from_ymd_opt(year, 9, 1).expect("valid date");
        let age = sept.years_since(self.birth).unwrap_or(0);
        match (age, self.schooling) {
            (6..=14, _) => Some("compulsory"),
            (15..=17, Schooling::HighSchool | Schooling::College) => Some("high_school"),
            (15..=17, Schooling::Vocational) => Some("vocational"),
            (18..=21, Schooling::College) => Some("college"),
            _ => None,
        }
    }
}

/// Issues unique ID numbers: a per (county, birth date) counter drives the sequence digits.
#[derive(Default)]
pub struct IdIssuer {
    next: HashMap<(u8, i32), u32>,
}

impl IdIssuer {
    /// A fresh ID for someone born on `birth`, registered in county `county_code`.
    pub fn issue(&mut self, county: u8, county_code: &str, birth: NaiveDate, male: bool) -> String {
        let count = self
            .next
            .entry((county, birth.num_days_from_ce()))
            .or_insert(0);
        let seq = 10 + 2 * *count + u32::from(male);
        *count += 1;
        assert!(
            seq < 1000,
            "more than 494 people born on one day in one county"
        );
        let mut id = String::with_capacity(18);
        id.push_str(county_code);
        let _ = write!(
            id,
            "{:04}{:02}{:02}{:03}",
            birth.year(),
            birth.month(),
            birth.day(),
            seq
        );
        let check = check_char(id.as_bytes());
        id.push(check as char);
        id
    }
}

/// Draws a person of the given age (in whole years at `start`) and gives them an ID.
pub fn person<R: Rng>(
    rng: &mut R,
    ids: &mut IdIssuer,
    county: u8,
    county_code: &str,
    start: NaiveDate,
    age: u32,
) -> Person {
    // Born between age+1 years and age years before the start date.
    let newest = start
        .checked_sub_months(chrono::Months::new(12 * age))
        .expect("date in range");
    let birth = newest - Days::new(rng.random_range(1..=364));
    let male = rng.random_bool(0.5);
    let id_card = ids.issue(county, county_code, birth, male);
    // Illness and disability rise with age, as in rural Hubei's monitored population.
    let chronic_p = match age {
        0..=39 => 0.03,
        40..=59 => 0.12,
        _ => 0.25,
    };
    let disabled_p = if age >= 60 { 0.05 } else { 0.025 };
    let schooling = match rng.random_range(0..100) {
        0..=9 => Schooling::College,
        10..=59 => Schooling::HighSchool,
        60..=84 => Schooling::Vocational,
        _ => Schooling::None,
    };
    Person {
        id_card,
        birth,
        age: start.years_since(birth).unwrap_or(0),
        disabled: rng.random_bool(disabled_p),
        chronic: rng.random_bool(chronic_p),
        schooling,
    }
}

/// Ages of a household of `size` members, head first: a single elder or adult, a couple,
/// children or grown children with grandchildren, sometimes an elderly parent.
pub fn member_ages<R: Rng>(rng: &mut R, size: u32) -> Vec<u32> {
    if size == 1 {
        return vec![if rng.random_bool(0.7) {
            rng.random_range(58..88)
        } else {
            rng.random_range(28..58)
        }];
    }
    if size == 2 && rng.random_bool(0.25) {
        // A grandparent with a left-behind child (留守儿童) whose parents work away.
        return vec![rng.random_range(55..76), rng.random_range(5..17)];
    }
    // Couples alone are mostly older; larger households mostly have a head raising children.
    let head: u32 = if size == 2 {
        rng.random_range(35..80)
    } else {
        rng.random_range(28..66)
    };
    let mut ages = vec![head, head.saturating_sub(rng.random_range(0..6)).max(22)];
    if size >= 4 && head < 60 && rng.random_bool(0.3) {
        ages.push((head + rng.random_range(22..30)).min(95));
    }
    if head >= 55 {
        // An adult child's family lives with the elders; grandchildren are the students.
        let child = head - rng.random_range(24..32);
        while ages.len() < size as usize {
            let n = ages.len();
            ages.push(if n == 2 {
                child
            } else {
                child.saturating_sub(rng.random_range(19..30))
            });
        }
    } else {
        while ages.len() < size as usize {
            ages.push(head.saturating_sub(rng.random_range(22..40)));
        }
    }
    ages
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn known_check_characters() {
        // Published GB 11643 examples.
        assert!(id_is_valid("11010519491231002X"));
        assert!(id_is_valid("440524188001010014"));
        assert!(!id_is_valid("440524188001010015"));
        assert!(!id_is_valid("44052418800101001"));
    }

    #[test]
    fn issued_ids_are_valid_unique_and_match_the_birth_date() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut ids = IdIssuer::default();
        let start = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..5_000u32 {
            let p = person(&mut rng, &mut ids, 2, "420922", start, i % 90);
            assert!(id_is_valid(&p.id_card), "{}", p.id_card);
            assert_eq!(p.age, i % 90);
            let birth = format!(
                "{:04}{:02}{:02}",
                p.birth.year(),
                p.birth.month(),
                p.birth.day()
            );
            assert_eq!(&p.id_card[6..14], birth);
            assert!(seen.insert(p.id_card));
        }
    }
}
