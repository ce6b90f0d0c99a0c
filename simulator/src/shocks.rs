//! The city-wide shock calendar: which villages the disasters hit in each simulated year.
//!
//! Each calendar year the range touches repeats the plan's pattern with fresh draws:
//! - July floods in ~36 villages of Xiaochang, Dawu and Xiaonan (one event per county);
//! - an August drought in Anlu and Yunmeng (rice −30%);
//! - landslides in Dawu and Xiaochang in summer (few homes, heavy damage, rebuild ~40,000);
//! - hail in a few random villages in spring;
//! - house fires, drawn per household (see `farm.rs`).
//!
//! Market shocks (Dawu tea slump, hog price slump) are city-wide and live in `farm.rs` and
//! `market.rs`.

use crate::geography::{self, Geography, COUNTIES};
use crate::money;
use chrono::NaiveDate;
use rand::Rng;
use rust_decimal::Decimal;

/// A hazard of the emergency feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hazard {
    /// River or flash flood.
    Flood,
    /// Drought.
    Drought,
    /// Landslide.
    Landslide,
    /// Hail.
    Hail,
    /// House fire.
    Fire,
}

impl Hazard {
    /// The contract spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Hazard::Flood => "flood",
            Hazard::Drought => "drought",
            Hazard::Landslide => "landslide",
            Hazard::Hail => "hail",
            Hazard::Fire => "fire",
        }
    }

    /// Two-letter code used in event ids.
    pub fn code(self) -> &'static str {
        match self {
            Hazard::Flood => "FL",
            Hazard::Drought => "DR",
            Hazard::Landslide => "LS",
            Hazard::Hail => "HL",
            Hazard::Fire => "FI",
        }
    }

    /// Draws the house damage and the assessed direct loss of one household.
    pub fn damage<R: Rng>(self, rng: &mut R) -> (&'static str, Decimal) {
        // Percent thresholds for none / minor / severe; the rest collapses.
        let (none, minor, severe) = match self {
            Hazard::Flood => (70, 94, 99),
            Hazard::Landslide => (10, 40, 75),
            Hazard::Hail => (40, 100, 100),
            Hazard::Fire => (0, 30, 80),
            Hazard::Drought => (100, 100, 100),
        };
        let x = rng.random_range(0..100);
        if x < none {
            let hi = if self == Hazard::Flood {
                3_000.0
            } else {
                1_500.0
            };
            ("none", money::uniform(rng, 200.0, hi))
        } else if x < minor {
            ("minor", money::uniform(rng, 2_000.0, 8_000.0))
        } else if x < severe {
            ("severe", money::uniform(rng, 10_000.0, 25_000.0))
        } else {
            ("collapsed", money::uniform(rng, 35_000.0, 45_000.0))
        }
    }
}

/// One disaster event that several households share.
#[derive(Debug, Clone)]
pub struct Event {
    /// Contract `event_id`.
    pub id: String,
    /// What happened.
    pub hazard: Hazard,
    /// Day it happened.
    pub date: NaiveDate,
    /// Time of day, seconds.
    pub secs: u32,
    /// Probability that a household of a hit village gets a damage record.
    pub reach: f64,
}

/// The shocks of one calendar year.
#[derive(Debug)]
pub struct YearShocks {
    /// Calendar year.
    pub year: i32,
    /// Events of the year.
    pub events: Vec<Event>,
    /// Per village, the indices into `events` that hit it.
    pub by_village: Vec<Vec<u16>>,
    /// Per village, whether its rice fields flooded this July.
    pub flooded: Vec<bool>,
}

/// Counties where the July floods strike.
const FLOOD_COUNTIES: [u8; 3] = [geography::XIAOCHANG, geography::DAWU, geography::XIAONAN];
/// Counties under the August drought.
pub const DROUGHT_COUNTIES: [u8; 2] = [geography::ANLU, geography::YUNMENG];
/// Villages flooded per year.
const FLOOD_VILLAGES: usize = 36;

impl YearShocks {
    /// Draws the shocks of `year`.
    pub fn draw<R: Rng>(rng: &mut R, geo: &Geography, year: i32) -> YearShocks {
        let n = geo.villages.len();
        let mut ys = YearShocks {
            year,
            events: Vec::new(),
            by_village: vec![Vec::new(); n],
            flooded: vec![false; n],
        };
        // Floods: one event per county, villages drawn from the three flood counties.
        let flood_pool: Vec<u32> = FLOOD_COUNTIES
            .iter()
            .flat_map(|&c| geo.villages_of(c))
            .collect();
        let mut flood_event = [usize::MAX; 7];
        for _ in 0..FLOOD_VILLAGES.min(flood_pool.len()) {
            let v = loop {
                let v = flood_pool[rng.random_range(0..flood_pool.len())];
                if !ys.flooded[v as usize] {
                    break v;
                }
            };
            let county = geo.villages[v as usize].county as usize;
            if flood_event[county] == usize::MAX {
                let day = rng.random_range(3..=20);
                flood_event[county] = ys.push(rng, Hazard::Flood, county, year, 7, day, 0.95);
            }
            ys.flooded[v as usize] = true;
            ys.by_village[v as usize].push(flood_event[county] as u16);
        }
        // Drought: one event per county; all its villages are under it.
        for c in DROUGHT_COUNTIES {
            let e = ys.push(rng, Hazard::Drought, c as usize, year, 8, 1, 0.0);
            for v in geo.villages_of(c) {
                ys.by_village[v as usize].push(e as u16);
            }
        }
        // Landslides: a few per key county, each hitting a handful of homes in one village.
        for c in [geography::DAWU, geography::XIAOCHANG] {
            let villages = geo.villages_of(c);
            for _ in 0..4 {
                let v = villages[rng.random_range(0..villages.len())];
                let homes = rng.random_range(2.0..8.0);
                let reach = (homes / geo.villages[v as usize].households.max(1) as f64).min(1.0);
                let (m, d) = (rng.random_range(6..=8), rng.random_range(1..=28));
                let e = ys.push(rng, Hazard::Landslide, c as usize, year, m, d, reach);
                ys.by_village[v as usize].push(e as u16);
            }
        }
        // Hail: three spring storms anywhere.
        for _ in 0..3 {
            let v = rng.random_range(0..n);
            let c = geo.villages[v].county as usize;
            let (m, d) = (rng.random_range(4..=6), rng.random_range(1..=28));
            let e = ys.push(rng, Hazard::Hail, c, year, m, d, 0.5);
            ys.by_village[v].push(e as u16);
        }
        ys
    }

    #[allow(clippy::too_many_arguments)]
    fn push<R: Rng>(
        &mut self,
        rng: &mut R,
        hazard: Hazard,
        county: usize,
        year: i32,
        month: u32,
        day: u32,
        reach: f64,
    ) -> usize {
        let seq = self.events.len() + 1;
        self.events.push(Event {
            id: format!(
                "EV-{year}-{}-{}-{seq:03}",
                hazard.code(),
                COUNTIES[county].code
            ),
            hazard,
            date: NaiveDate::from_ymd_opt(year, month, day).expect("valid event day"),
            secs: rng.random_range(0..86_400),
            reach,
        });
        self.events.len() - 1
    }
}

/// The shock calendar of every year the simulated range touches.
#[derive(Debug)]
pub struct Shocks {
    /// One entry per calendar year, in order.
    pub years: Vec<YearShocks>,
}

impl Shocks {
    /// Draws every year's shocks.
    pub fn draw<R: Rng>(rng: &mut R, geo: &Geography, years: &[i32]) -> Shocks {
        Shocks {
            years: years
                .iter()
                .map(|&y| YearShocks::draw(rng, geo, y))
                .collect(),
        }
    }

    /// The shocks of a calendar year, if simulated.
    pub fn year(&self, year: i32) -> Option<&YearShocks> {
        self.years.iter().find(|y| y.year == year)
    }
}
