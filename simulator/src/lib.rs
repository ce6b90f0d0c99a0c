//! A deterministic synthetic Xiaogan: the ten department feeds in contract format, plus the
//! ground truth of which households fall below the poverty line, when and why.
//!
//! [`simulate`] writes into an output directory:
//! - `<topic>.ndjson` for each contract topic, lines in arrival order (roughly by month, shuffled
//!   within a month, `knobs.late_share` (~2%) of household records 1–4 months late, duplicates,
//!   corrections, reversals, and ~`dirty_rate` extra corrupted copies of real records);
//! - `ground_truth.ndjson`: one [`truth::GroundTruth`] per roster household;
//! - `dirty_manifest.ndjson`: one line per special line, `{"topic", "line" (1-based),
//!   "kind", "expected_reason"}`; `expected_reason` is the dead-letter reason for corrupted
//!   copies and `null` for `duplicate`, `late`, `reversal` and `correction`;
//! - `world.json`: the config (with its [`Knobs`]) and the [`SimSummary`].
//!
//! Same config, same bytes: every random draw comes from ChaCha8 streams seeded from the config
//! seed (one stream per household for its feeds, one per household for what no feed shows — the
//! warm-up year and unreported income —, one per topic for arrival order), no map is iterated
//! into the output, and no clock is read.
//!
//! Scenario knobs ([`Knobs`], `config.knobs`) move incomes, the farm/wage mix, wage noise and
//! growth, how much income no feed shows, lateness, shock rates and the county mix; the presets
//! `train` (the defaults), `eval-a` and `eval-b` ([`Knobs::preset`]) let a model trained on one
//! world be evaluated on others.
//!
//! # Default world
//! 100,000 households (305,092 people), 12 months of 2024 after a warm-up year of 2023: ~3.15
//! million lines (2.07 M employment, 418 k medical), written in ~5 s by a debug build at
//! opt-level 1. 5,280 households (5.3%) are below 8,000 yuan in some month; primary causes:
//! health 52%, disaster 23%, market 16%, hidden 4%, unemployment 3%, education 2% (the plan:
//! health 58.6%, disaster 21.3%, market 15.7%). 245 of them are below already in January (last
//! year's costs and this January's); the rest fall during the year, most in the harvest months
//! (May tea and hogs, September rice, October ponds, December hogs). The presets at the same
//! size: `eval-a` 13.0% (2,141 below in January: its poorest marginal households are below
//! the line in a normal year), `eval-b` 2.5%.
//!
//! # Layout
//! - `calendar.rs`: simulated months, date and timestamp spellings.
//! - `money.rs`, `json.rs`: exact yuan amounts; a fast JSON line writer.
//! - `knobs.rs`: the scenario knobs, their ranges and the presets.
//! - `geography.rs`: 7 counties, 122 townships, 1,980 villages. The plan's eighth unit (a
//!   development zone) has no county code in the contracts, so it is left out.
//! - `people.rs`: members, ages, 18-character ID numbers with MOD 11-2 check characters.
//! - `households.rs`: categories, members, workers, farms; normal-year income split into
//!   transfers, unreported income, farming and wages.
//! - `shocks.rs`: the yearly disaster calendar (July floods, August drought, landslides, hail).
//! - `world.rs`: run state and the per-household driver (warm-up year, roster records).
//! - `employment.rs`, `medical.rs`, `farm.rs`, `support.rs`: one household's feeds, true income
//!   flows and losses, and their warm-up year.
//! - `market.rs`: daily prices and weather.
//! - `arrival.rs`: arrival order, lateness, duplicates; writes topic files and the manifest.
//! - `dirty.rs`: corrupted copies with their expected dead-letter reasons.
//! - `truth.rs`: the ground truth, loading it, scoring alerts against it.
//!
//! # Ground truth
//! The truth is the official measure (national practice: per-capita net income over a trailing
//! 12-month window) computed from the households' *true* incomes, which the simulator knows and
//! the feeds only partly show. For household h and simulated month m
//!
//! ```text
//! T(m) = Σ_{k=m−11..m} N_k / members
//! ```
//!
//! where N_k is h's true net income of month k. Months k = −12..−1 are a warm-up year simulated
//! for the truth only (no feed record covers them), so every window is a full 12 months. N_k is
//! - wages actually paid to every active worker: the worker's normal monthly wage (this year's;
//!   last year's is this year's / (1 + `wage_growth`)) times a monthly variation (relative
//!   standard deviation `wage_variation`), nothing in the months of an unemployment spell;
//!   `wage_fen` reports it, except for the `unreported_worker_share` of workers who never appear
//!   in the employment feed;
//! - farm income as assessed: `actual_income` of the month's harvest reports (the corrected
//!   figures when a report is corrected); in the warm-up year normal income −3%..+6%;
//! - every civil-affairs transfer: dibao, extreme poverty, disability (monthly) and temporary
//!   assistance (after a major illness or a severe disaster);
//! - unreported income (`unreported_income_share` of the normal-year income, property income,
//!   remittances, informal work), paid evenly each month with ±5% noise; no feed shows it;
//! - less out-of-pocket medical costs of settled, not reversed bills (`out_of_pocket`),
//!   schooling fees net of aid (`fees − aid`, March and September), direct disaster losses
//!   (`direct_loss`), and hidden losses: shocks no feed reports, ~5% of households a year
//!   (times `shock_rate`) losing 5–20% of a year's normal income in one month.
//!
//! The warm-up year is an ordinary year: wages, spells, transfers, unreported income, chronic
//! and ordinary outpatient care, school terms and harvests with ordinary swings, but no major
//! illness, disaster, market slump or hidden shock. The roster's `baseline_income` is last year's
//! official net income: Σ N_k over the warm-up year, rounded to the yuan (at least 100 yuan per
//! member).
//!
//! What the feeds do not show, so a pipeline has to estimate it: the warm-up year itself (only
//! its total, as `baseline_income`), unreported workers' wages, unreported income and hidden
//! losses; and records arrive late, twice, corrected, reversed or corrupted. With
//! `unreported_income_share` and `unreported_worker_share` at 0, Σ of the feeds over the 12
//! months of a window (wages + farm `actual_income` + transfers − out-of-pocket − net schooling −
//! direct losses), per member, is T(m) up to hidden losses.
//!
//! h is below the line in m when T(m) < `poverty_line`; `income_per_capita` holds T(m) for every
//! simulated month. `causes` names the kinds of loss (health: out-of-pocket medical costs;
//! disaster: direct losses and flood/drought farm shortfalls; market: other farm shortfalls
//! against `expected_income`, negative in a good harvest; unemployment: normal wages lost in
//! spells; education: net schooling costs; hidden) that, in the window of some below-line month,
//! took at least 500 yuan and 15% of that window's positive losses, largest total first. The
//! losses only attribute causes; T(m) is never computed from them.

pub mod calendar;
pub mod geography;
pub mod knobs;
pub mod people;
pub mod topic;
pub mod truth;

mod arrival;
mod dirty;
mod employment;
mod farm;
mod households;
mod json;
mod market;
mod medical;
mod money;
mod shocks;
mod support;
mod world;

#[cfg(test)]
mod tests;

pub use knobs::{Knobs, PRESETS};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// File name of the ground truth in the output directory.
pub const TRUTH_FILE: &str = "ground_truth.ndjson";
/// File name of the manifest of special and corrupted lines.
pub const MANIFEST_FILE: &str = "dirty_manifest.ndjson";
/// File name of the config and summary.
pub const WORLD_FILE: &str = "world.json";

/// What to simulate.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WorldConfig {
    /// Number of roster households.
    pub households: u32,
    /// Number of simulated months.
    pub months: u32,
    /// Year of the first month.
    pub start_year: i32,
    /// First month (1–12).
    pub start_month: u32,
    /// Seed of every random draw.
    pub seed: u64,
    /// Share of lines that are extra corrupted copies.
    pub dirty_rate: f64,
    /// Poverty line, yuan per person per year.
    pub poverty_line: Decimal,
    /// Scenario knobs (absent in older `world.json` files: the training world's).
    #[serde(default)]
    pub knobs: Knobs,
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            households: 100_000,
            months: 12,
            start_year: 2024,
            start_month: 1,
            seed: 42,
            dirty_rate: 0.03,
            poverty_line: Decimal::from(8_000),
            knobs: Knobs::default(),
        }
    }
}

/// Counts of what was written.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SimSummary {
    /// Roster households.
    pub households: u32,
    /// People on the roster.
    pub people: u32,
    /// Lines per topic file (all lines, special and corrupted included).
    pub records_per_topic: BTreeMap<String, u64>,
    /// Manifest lines per kind: corrupted copies and `duplicate`, `late`, `reversal`, `correction`.
    pub dirty_per_kind: BTreeMap<String, u64>,
    /// Households below the line in some month.
    pub fallers: u32,
}

/// Why a simulation or a truth load failed.
#[derive(thiserror::Error, Debug)]
pub enum SimError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line of an input file is not what was expected.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// The config cannot be simulated.
    #[error("invalid world config: {0}")]
    InvalidConfig(String),
}

/// Independent random streams, so that e.g. a change in arrival order leaves households alone.
mod streams {
    pub const WORLD: u64 = 1;
    pub const HOUSEHOLD: u64 = 2;
    pub const MARKET: u64 = 3;
    pub const ARRIVAL: u64 = 4;
    /// Draws no feed shows: the warm-up year, unreported income.
    pub const TRUTH: u64 = 5;
}

/// A ChaCha8 generator for stream `stream`, item `index` of the run seeded with `seed`.
fn rng_for(seed: u64, stream: u64, index: u64) -> ChaCha8Rng {
    // SplitMix64 finaliser: distinct (seed, stream, index) give unrelated seeds.
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    ChaCha8Rng::seed_from_u64(mix(mix(mix(seed) ^ stream) ^ index))
}

fn validate(config: &WorldConfig) -> Result<(), SimError> {
    let bad = |m: &str| Err(SimError::InvalidConfig(m.to_string()));
    if config.households == 0 || config.households > 5_000_000 {
        return bad("households must be 1..=5,000,000");
    }
    if config.months == 0 || config.months > 120 {
        return bad("months must be 1..=120");
    }
    if !(1..=12).contains(&config.start_month) || !(1950..=2100).contains(&config.start_year) {
        return bad("start month must be a calendar month between 1950 and 2100");
    }
    if !(0.0..=0.5).contains(&config.dirty_rate) {
        return bad("dirty_rate must be within 0..=0.5");
    }
    if config.poverty_line <= Decimal::ZERO {
        return bad("poverty_line must be positive");
    }
    config.knobs.validate()
}

/// Simulates the world of `config` into `out_dir` (created if missing); `progress` receives
/// short messages during long steps.
pub fn simulate(
    config: &WorldConfig,
    out_dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<SimSummary, SimError> {
    simulate_observed(config, out_dir, progress, &mut |_, _| {})
}

/// [`simulate`], calling `observe` with each household and its filled ledger (for tests).
pub(crate) fn simulate_observed(
    config: &WorldConfig,
    out_dir: &Path,
    progress: &mut dyn FnMut(&str),
    observe: &mut dyn FnMut(&households::Household, &truth::Ledger),
) -> Result<SimSummary, SimError> {
    validate(config)?;
    let dir_io = |source| SimError::Io {
        path: out_dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(out_dir).map_err(dir_io)?;
    let cal = calendar::Calendar::new(config.start_year, config.start_month, config.months);
    let start = cal.date(0, 1);
    let mut rng = rng_for(config.seed, streams::WORLD, 0);

    let knobs = &config.knobs;
    let mut geo = geography::Geography::build_weighted(&mut rng, |c| knobs.county_weight(c));
    let placements: Vec<(u32, u32)> = (0..config.households)
        .map(|_| geo.place(&mut rng))
        .collect();
    let shocks = shocks::Shocks::draw(&mut rng, &geo, &cal.years());
    let env = world::Env {
        cal: &cal,
        shocks: &shocks,
        knobs,
    };

    let mut out = world::Out::new(config.months);
    let mut ids = people::IdIssuer::default();
    let mut truths = Vec::with_capacity(config.households as usize);
    let mut summary = SimSummary {
        households: config.households,
        ..SimSummary::default()
    };
    // School year under way at the start (Chinese school years begin in September).
    let school_year = if config.start_month >= 9 {
        config.start_year
    } else {
        config.start_year - 1
    };
    for (i, &(village, seq)) in placements.iter().enumerate() {
        let mut hrng = rng_for(config.seed, streams::HOUSEHOLD, i as u64);
        let mut trng = rng_for(config.seed, streams::TRUTH, i as u64);
        let v = &geo.villages[village as usize];
        let mut hh = households::draw(
            &mut hrng,
            &mut ids,
            &v.code,
            village,
            v.county,
            seq,
            start,
            school_year,
            knobs,
        );
        world::simulate_household(&env, &mut hh, &mut hrng, &mut trng, &mut out);
        observe(&hh, &out.ledger);
        let members = hh.members.len() as u32;
        let truth::Assessment {
            below_line_months: below,
            causes,
            income_per_capita,
        } = truth::assess(&out.ledger, &cal, members, config.poverty_line);
        summary.people += members;
        summary.fallers += u32::from(!below.is_empty());
        truths.push(truth::GroundTruth {
            household_code: hh.code.clone(),
            county_code: geography::COUNTIES[hh.county as usize].code.to_string(),
            category: hh.category.as_str().to_string(),
            members,
            first_below_month: below.first().cloned(),
            below_line_months: below,
            causes,
            income_per_capita,
        });
        if (i + 1) % 20_000 == 0 {
            progress(&format!("households {}/{}", i + 1, config.households));
        }
    }
    let mut mrng = rng_for(config.seed, streams::MARKET, 0);
    market::prices(&env, &mut mrng, &mut out);
    market::weather(&env, &mut mrng, &mut out);

    let manifest_path = out_dir.join(MANIFEST_FILE);
    let manifest_io = |source| SimError::Io {
        path: manifest_path.clone(),
        source,
    };
    let mut manifest =
        std::io::BufWriter::new(std::fs::File::create(&manifest_path).map_err(manifest_io)?);
    let mut sink = arrival::Sink {
        out_dir,
        months: config.months,
        dirty_rate: config.dirty_rate,
        late_rate: knobs.late_share,
        corrupter: dirty::Corrupter::new(&geo),
        manifest: &mut manifest,
        kinds: &mut summary.dirty_per_kind,
    };
    let mut lines_per_topic = BTreeMap::new();
    for (t, stream) in out.feeds.all().into_iter().enumerate() {
        progress(&format!("writing {}", stream.topic.name()));
        let mut arng = rng_for(config.seed, streams::ARRIVAL, t as u64);
        let written = arrival::write_stream(stream, &mut sink, &mut arng)?;
        lines_per_topic.insert(stream.topic.name().to_string(), written.lines);
    }
    summary.records_per_topic = lines_per_topic;
    manifest.flush().map_err(manifest_io)?;

    progress("writing ground truth");
    write_truth(&out_dir.join(TRUTH_FILE), &truths)?;
    let world_path = out_dir.join(WORLD_FILE);
    let world = serde_json::json!({ "config": config, "summary": summary });
    let text = serde_json::to_string_pretty(&world).expect("world.json serialises");
    std::fs::write(&world_path, text + "\n").map_err(|source| SimError::Io {
        path: world_path,
        source,
    })?;
    Ok(summary)
}

fn write_truth(path: &Path, truths: &[truth::GroundTruth]) -> Result<(), SimError> {
    let io = |source| SimError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
    for t in truths {
        serde_json::to_writer(&mut w, t).expect("truth serialises");
        w.write_all(b"\n").map_err(io)?;
    }
    w.flush().map_err(io)
}
