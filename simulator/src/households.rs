//! Monitored households: category, members, workers, farms and the income they earn.
//!
//! Figures follow the plan: 306,000 covered people of whom 274,000 stable alleviated, 12,000
//! unstable alleviated, 15,000 marginal and 5,000 sudden-difficulty, plus ~0.5% `general`
//! households; ~3.06 people per household.
//!
//! Income is built from components: a normal-year income I is drawn from the category's range
//! (moved by the knobs), then split into regular transfers (dibao, extreme poverty, disability),
//! unreported income (`unreported_income_share × I`), farming (about `farm_share × I` for a
//! farming household, over its products) and wages (the rest, over the active workers). A
//! household without active workers farms the wage part; one with neither workers nor farms
//! gets it as dibao.

use crate::geography::{self, COUNTIES};
use crate::knobs::Knobs;
use crate::money;
use crate::people::{self, IdIssuer, Person};
use chrono::NaiveDate;
use rand::Rng;
use rust_decimal::Decimal;

/// The roster's monitoring category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    /// Alleviated and stable.
    Stable,
    /// Alleviated but unstable (脱贫不稳定).
    Unstable,
    /// Marginal, easily impoverished (边缘易致贫).
    Marginal,
    /// Sudden severe difficulty (突发严重困难).
    Sudden,
    /// An ordinary farm household.
    General,
}

impl Category {
    /// The contract spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Stable => "stable_alleviated",
            Category::Unstable => "unstable_alleviated",
            Category::Marginal => "marginal",
            Category::Sudden => "sudden_difficulty",
            Category::General => "general",
        }
    }

    /// Baseline per-capita net income range, yuan per person per year.
    fn income_range(self) -> (f64, f64) {
        match self {
            Category::Marginal => (8_300.0, 11_000.0),
            Category::Unstable => (9_000.0, 13_000.0),
            Category::Stable => (11_000.0, 20_000.0),
            Category::Sudden => (10_000.0, 16_000.0),
            Category::General => (15_000.0, 30_000.0),
        }
    }

    /// Share of the bill left after insurers that civil medical assistance pays.
    pub fn medical_assistance_rate(self, inpatient: bool) -> f64 {
        match (self, inpatient) {
            (Category::Unstable | Category::Marginal, true) => 0.5,
            (Category::Stable, true) => 0.2,
            (Category::Unstable | Category::Marginal, false) => 0.2,
            _ => 0.0,
        }
    }
}

/// Share of households that are `general` (not a monitoring category).
pub const GENERAL_SHARE: f64 = 0.005;
/// People per monitoring category in the plan: stable, unstable, marginal, sudden.
const PLAN_PEOPLE: [(Category, f64); 4] = [
    (Category::Stable, 274_000.0),
    (Category::Unstable, 12_000.0),
    (Category::Marginal, 15_000.0),
    (Category::Sudden, 5_000.0),
];

/// Expected share of households in each category.
#[cfg(test)]
pub fn expected_share(c: Category) -> f64 {
    if c == Category::General {
        return GENERAL_SHARE;
    }
    let total: f64 = PLAN_PEOPLE.iter().map(|p| p.1).sum();
    let people = PLAN_PEOPLE.iter().find(|p| p.0 == c).map_or(0.0, |p| p.1);
    (1.0 - GENERAL_SHARE) * people / total
}

/// A farm product of the agriculture feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Product {
    /// Paddy rice, harvested in September.
    Rice,
    /// Tea, spring tea assessed in May.
    Tea,
    /// Hogs, sold in June and December.
    Hog,
    /// Fish ponds, harvested in October.
    Aquaculture,
    /// Cotton, picked in October.
    Cotton,
}

impl Product {
    /// All products in the contract's order.
    pub const ALL: [Product; 5] = [
        Product::Rice,
        Product::Tea,
        Product::Hog,
        Product::Aquaculture,
        Product::Cotton,
    ];

    /// The contract spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Product::Rice => "rice",
            Product::Tea => "tea",
            Product::Hog => "hog",
            Product::Aquaculture => "aquaculture",
            Product::Cotton => "cotton",
        }
    }

    /// Calendar months in which the harvest is assessed and reported.
    pub fn harvest_months(self) -> &'static [u32] {
        match self {
            Product::Rice => &[9],
            Product::Tea => &[5],
            Product::Hog => &[6, 12],
            Product::Aquaculture | Product::Cotton => &[10],
        }
    }

    /// Probability that a household in `county` runs this product.
    fn share_in(self, county: u8) -> f64 {
        use geography::*;
        match (self, county) {
            (Product::Rice, DAWU) => 0.45,
            (Product::Rice, _) => 0.70,
            (Product::Tea, DAWU) => 0.55,
            (Product::Tea, XIAOCHANG) => 0.12,
            (Product::Tea, _) => 0.03,
            (Product::Hog, _) => 0.25,
            (Product::Aquaculture, ANLU | HANCHUAN | YUNMENG) => 0.28,
            (Product::Aquaculture, _) => 0.06,
            (Product::Cotton, HANCHUAN | YINGCHENG) => 0.15,
            (Product::Cotton, YUNMENG) => 0.08,
            (Product::Cotton, _) => 0.03,
        }
    }

    /// Relative weight of the product in a household's farm income (hogs and ponds earn most).
    fn income_weight(self) -> f64 {
        match self {
            Product::Rice => 1.0,
            Product::Tea => 1.2,
            Product::Hog => 2.5,
            Product::Aquaculture => 1.5,
            Product::Cotton => 0.8,
        }
    }
}

/// One product a household farms.
#[derive(Debug, Clone)]
pub struct Farm {
    /// What is farmed.
    pub product: Product,
    /// Area in mu (one decimal); pens for hogs.
    pub planted_mu: Decimal,
    /// Normal-year net income from it, yuan per year.
    pub annual_income: Decimal,
}

/// How a working-age member works.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// Works locally.
    Local,
    /// Works away from home (外出务工).
    Migrant,
    /// Able to work but not in the labour force (caring for family, farming only).
    Idle,
}

/// A member counted in `labor_count`, with the normal monthly wage he earns when employed.
#[derive(Debug, Clone)]
pub struct Worker {
    /// Index into the household's members.
    pub member: usize,
    /// How he works.
    pub work: Work,
    /// Normal monthly wage this year in fen (0 when idle); the wage paid varies around it.
    pub wage_fen: i64,
    /// Whether the employment feed reports him (false: working outside the province or
    /// informally; his wages are income no feed shows).
    pub reported: bool,
}

/// A monitored household as simulated.
#[derive(Debug, Clone)]
pub struct Household {
    /// `village code-NNNN`.
    pub code: String,
    /// Index into [`COUNTIES`].
    pub county: u8,
    /// Index into the geography's villages.
    pub village: u32,
    /// True category (what the ground truth reports).
    pub category: Category,
    /// Category on the first roster record; differs from `category` when it is later corrected.
    pub roster_category: Category,
    /// Members, the head first.
    pub members: Vec<Person>,
    /// Working-age members able to work.
    pub workers: Vec<Worker>,
    /// Farms run by the household.
    pub farms: Vec<Farm>,
    /// Whether `migrant_work` is one of the household's industries.
    pub migrant: bool,
    /// Enrolled in the poverty-prevention insurance.
    pub insured: bool,
    /// Normal-year income I at this year's level, yuan (what the components add up to).
    pub normal_income: Decimal,
    /// Yearly income from sources no feed reports, paid evenly month by month.
    pub unreported_income: Decimal,
    /// Last year's official net income (the warm-up year's true net income, rounded to the
    /// yuan); zero until the warm-up year is simulated.
    pub baseline_income: Decimal,
    /// Monthly minimum living allowance, if granted.
    pub dibao: Option<Decimal>,
    /// Monthly extreme-poverty support, if granted.
    pub extreme_poverty: Option<Decimal>,
    /// Monthly disability allowance of each disabled member.
    pub disability: Vec<Decimal>,
}

impl Household {
    /// The contract's `industries` list, in a fixed order.
    pub fn industries(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = Product::ALL
            .iter()
            .filter(|p| self.farms.iter().any(|f| f.product == **p))
            .map(|p| p.as_str())
            .collect();
        if self.migrant {
            v.push("migrant_work");
        }
        v
    }

    /// Members with a registered chronic or major illness.
    pub fn chronic_patients(&self) -> u32 {
        self.members.iter().filter(|p| p.chronic).count() as u32
    }

    /// Members registered as disabled.
    pub fn disabled_members(&self) -> u32 {
        self.members.iter().filter(|p| p.disabled).count() as u32
    }
}

/// Draws a category in the plan's mix.
fn draw_category<R: Rng>(rng: &mut R) -> Category {
    if rng.random_bool(GENERAL_SHARE) {
        return Category::General;
    }
    let total: f64 = PLAN_PEOPLE.iter().map(|p| p.1).sum();
    let mut x = rng.random_range(0.0..total);
    for (c, people) in PLAN_PEOPLE {
        if x < people {
            return c;
        }
        x -= people;
    }
    Category::Stable
}

/// Household size 1–6, mean ≈ 3.05.
fn draw_size<R: Rng>(rng: &mut R) -> u32 {
    const CUM: [u32; 6] = [13, 39, 64, 84, 95, 100];
    let x = rng.random_range(0..100);
    CUM.iter().position(|&c| x < c).unwrap_or(5) as u32 + 1
}

/// The category a village assistant wrongly filed (the plan's "wrong category" risk).
fn misfiled(c: Category) -> Category {
    match c {
        Category::Marginal | Category::Unstable => Category::Stable,
        Category::Stable => Category::Unstable,
        Category::Sudden => Category::General,
        Category::General => Category::Stable,
    }
}

/// Expected yearly rigid costs a household bears in an ordinary year: schooling net of aid and
/// out-of-pocket costs of chronic and ordinary outpatient care (see `medical.rs`, `support.rs`).
fn expected_costs(category: Category, members: &[Person], school_year: i32) -> f64 {
    let kept_aid = match category {
        Category::Unstable | Category::Marginal | Category::Sudden => 0.45,
        Category::Stable => 0.55,
        Category::General => 0.9,
    };
    let schooling: f64 = members
        .iter()
        .filter_map(|p| p.stage_in(school_year))
        .map(|stage| match stage {
            "compulsory" => 1_000.0,
            "high_school" => 4_500.0,
            "vocational" => 3_750.0,
            _ => 9_000.0,
        })
        .sum::<f64>()
        * kept_aid
        * 2.0;
    let outpatient_kept = 0.5 * (1.0 - category.medical_assistance_rate(false));
    let chronic = members.iter().filter(|p| p.chronic).count() as f64;
    let care = (chronic * 0.7 * 12.0 * 350.0 + 0.12 * 12.0 * 225.0) * outpatient_kept;
    schooling + care
}

/// Draws one household of the given village; `seq` is its number in the village.
#[allow(clippy::too_many_arguments)]
pub fn draw<R: Rng>(
    rng: &mut R,
    ids: &mut IdIssuer,
    village_code: &str,
    village: u32,
    county: u8,
    seq: u32,
    start: NaiveDate,
    school_year: i32,
    knobs: &Knobs,
) -> Household {
    let county_code = COUNTIES[county as usize].code;
    let category = draw_category(rng);
    let size = draw_size(rng);
    let members: Vec<Person> = people::member_ages(rng, size)
        .into_iter()
        .map(|age| people::person(rng, ids, county, county_code, start, age))
        .collect();

    // Working age, not disabled and not at school.
    let mut workers: Vec<Worker> = members
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            (18..=60).contains(&p.age) && !p.disabled && p.stage_in(school_year).is_none()
        })
        .map(|(i, _)| Worker {
            member: i,
            work: Work::Local,
            wage_fen: 0,
            reported: true,
        })
        .collect();
    let migrant = !workers.is_empty() && rng.random_bool(0.45);
    for (n, w) in workers.iter_mut().enumerate() {
        w.work = if rng.random_bool(0.08) {
            Work::Idle
        } else if migrant && (n == 0 || rng.random_bool(0.6)) {
            Work::Migrant
        } else {
            Work::Local
        };
    }

    // Normal-year income I at this year's level: the category's per-capita range, moved by the
    // income knobs.
    let (lo, hi) = category.income_range();
    let mid = (lo + hi) / 2.0 * knobs.income_level;
    let half = (hi - lo) / 2.0 * knobs.income_level * knobs.income_spread;
    let per_capita = if half > 0.0 {
        rng.random_range(mid - half..mid + half)
    } else {
        mid
    };
    // The range is of net income (what the monitoring measures); the household earns enough
    // more to bear its ordinary rigid costs (schooling, chronic and ordinary care).
    let normal_income =
        (per_capita * size as f64 + expected_costs(category, &members, school_year)).round();

    // Regular transfers, paid monthly and reported by civil affairs.
    let assisted = matches!(category, Category::Unstable | Category::Marginal);
    let mut dibao =
        (assisted && rng.random_bool(0.30)).then(|| money::uniform_step(rng, 300, 600, 10));
    let extreme_poverty = (size == 1
        && members[0].age >= 60
        && category != Category::General
        && rng.random_bool(0.25))
    .then(|| money::uniform_step(rng, 600, 900, 10));
    let disability: Vec<Decimal> = members
        .iter()
        .filter(|p| p.disabled)
        .map(|_| money::uniform_step(rng, 80, 150, 10))
        .collect();
    let monthly_transfers = dibao.unwrap_or_default()
        + extreme_poverty.unwrap_or_default()
        + disability.iter().sum::<Decimal>();
    // What the other components share: I less a year of transfers (never below zero).
    let mut rest = (normal_income - 12.0 * money::to_f64(monthly_transfers)).max(0.0);
    let unreported = (knobs.unreported_income_share * normal_income).min(rest);
    rest -= unreported;

    // Farms: elderly households without workers farm less.
    let farm_factor = if workers.is_empty() { 0.5 } else { 1.0 };
    let products: Vec<Product> = Product::ALL
        .into_iter()
        .filter(|p| rng.random_bool(p.share_in(county) * farm_factor))
        .collect();
    let large_grower = !products.is_empty() && rng.random_bool(0.05);
    let active: Vec<usize> = (0..workers.len())
        .filter(|&i| workers[i].work != Work::Idle)
        .collect();
    let farm_total = if products.is_empty() {
        0.0
    } else if active.is_empty() {
        // No one earns a wage: the wage part goes into farming.
        rest
    } else {
        (normal_income * knobs.farm_share * rng.random_range(0.89..1.11)).min(rest)
    };
    rest -= farm_total;
    let weights: Vec<f64> = products
        .iter()
        .map(|p| p.income_weight() * rng.random_range(0.7..1.3))
        .collect();
    let weight_sum: f64 = weights.iter().sum();
    let mut farms: Vec<Farm> = products
        .iter()
        .zip(&weights)
        .map(|(&product, w)| {
            let mu: f64 = if product == Product::Hog {
                rng.random_range(0.3..1.5)
            } else {
                rng.random_range(2.0..15.0)
            };
            Farm {
                product,
                planted_mu: Decimal::new((mu * 10.0).round() as i64, 1),
                annual_income: money::yuan(farm_total * w / weight_sum),
            }
        })
        .collect();
    // Transfers can leave nothing to farm for: such a household keeps no farm.
    farms.retain(|f| f.annual_income > Decimal::ZERO);
    if large_grower {
        // The first crop (not hogs) is grown on a large scale: 40–200 mu.
        if let Some(f) = farms.iter_mut().find(|f| f.product != Product::Hog) {
            f.planted_mu = Decimal::new(rng.random_range(400..=2000), 1);
        }
    }

    // Wages: the rest, split among the active workers, paid monthly at this year's level.
    if !active.is_empty() {
        let wage_fen = rest * 100.0;
        let w: Vec<f64> = active.iter().map(|_| rng.random_range(0.7..1.3)).collect();
        let ws: f64 = w.iter().sum();
        for (i, &wi) in active.iter().zip(&w) {
            workers[*i].wage_fen = (wage_fen * wi / ws / 12.0).floor() as i64;
            workers[*i].reported = !rng.random_bool(knobs.unreported_worker_share);
        }
        rest = 0.0;
    }
    if rest > 0.0 {
        // Neither workers nor farms: the household lives on assistance.
        let extra = money::yuan(rest / 12.0);
        dibao = Some(dibao.unwrap_or_default() + extra);
    }

    let roster_category = if rng.random_bool(0.005) {
        misfiled(category)
    } else {
        category
    };
    let insured = rng.random_bool(if category == Category::General {
        0.6
    } else {
        0.9
    });

    Household {
        code: format!("{village_code}-{seq:04}"),
        county,
        village,
        category,
        roster_category,
        members,
        workers,
        farms,
        migrant,
        insured,
        normal_income: money::yuan(normal_income),
        unreported_income: money::yuan(unreported),
        baseline_income: Decimal::ZERO,
        dibao,
        extreme_poverty,
        disability,
    }
}
