//! The insurance product as configuration: `coverage.toml` (compiled in as the default) or an
//! operator's file with the same keys. Every amount is an exact decimal string.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fangpin_connectors::event::{Category, HouseDamage, Industry};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::error::ClaimsError;

/// The shipped product, from the plan's figures.
pub const DEFAULT_TOML: &str = include_str!("../coverage.toml");

/// What each coverage pays and what insurance costs.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coverage {
    pub premium: Premium,
    pub medical: PersonCover,
    pub education: EducationCover,
    pub disaster: DisasterCover,
    pub industry: IndustryCover,
    /// Index triggers, each backed by `<code>.sql` in the triggers directory.
    #[serde(default)]
    pub index: Vec<IndexEntry>,
    /// Where the index triggers' SQL files are; `None`: the shipped ones, compiled in.
    #[serde(skip)]
    pub triggers_dir: Option<PathBuf>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Premium {
    pub per_person: Decimal,
    pub reserve_share: Decimal,
    /// Government share of the premium, by roster category code.
    pub subsidy: BTreeMap<String, Decimal>,
}

/// Inpatient medical costs: per person and calendar year.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonCover {
    pub cap_per_person: Decimal,
    pub deductible: Decimal,
    pub share_paid: Decimal,
}

/// Schooling net of aid: per student and calendar year, above a share of per-person income.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EducationCover {
    pub cap_per_person: Decimal,
    pub income_share: Decimal,
    pub share_paid: Decimal,
}

/// Direct disaster losses: per household and calendar year.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisasterCover {
    pub cap_per_household: Decimal,
    /// Share of a report's direct loss paid, by its house damage code.
    pub share_by_house_damage: BTreeMap<String, Decimal>,
}

/// Farm losses (the plan's rule) and index triggers: per household and calendar year.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndustryCover {
    pub cap_per_household: Decimal,
    pub disaster_mu_above: Decimal,
    pub income_drop_at_least: Decimal,
    pub share_paid: Decimal,
}

/// One index trigger's entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexEntry {
    /// Also the SQL file's name: `<code>.sql`.
    pub code: String,
    /// The coverage whose yearly cap it pays into (`industry` or `disaster`).
    pub coverage: String,
    /// The roster industry a household must list to be paid.
    pub industry: String,
    /// Paid per household for each month the index fires.
    pub amount: Decimal,
    /// The trigger's thresholds, the one-row `params` table its SQL reads.
    #[serde(default)]
    pub params: BTreeMap<String, toml::Value>,
}

impl Coverage {
    /// The shipped product with the shipped triggers.
    pub fn builtin() -> Coverage {
        Coverage::parse(DEFAULT_TOML, "the built-in coverage.toml").expect("the shipped coverage.toml is valid")
    }

    /// An operator's coverage file; its triggers' SQL files are looked for in `triggers_dir`,
    /// or, when `None`, among the shipped ones.
    pub fn load(path: &Path, triggers_dir: Option<&Path>) -> Result<Coverage, ClaimsError> {
        let text = std::fs::read_to_string(path).map_err(|e| ClaimsError::io(path, e))?;
        let mut coverage = Coverage::parse(&text, &path.display().to_string())?;
        coverage.triggers_dir = triggers_dir.map(Path::to_path_buf);
        Ok(coverage)
    }

    /// Parses and checks a coverage text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Coverage, ClaimsError> {
        let coverage: Coverage = toml::from_str(text).map_err(|e| ClaimsError::Config(format!("{origin}: {e}")))?;
        coverage.check().map_err(|m| ClaimsError::Config(format!("{origin}: {m}")))?;
        Ok(coverage)
    }

    /// The coverage's yearly cap for `coverage` (per person or per household).
    pub fn cap(&self, coverage: CoverageKind) -> Decimal {
        match coverage {
            CoverageKind::Medical => self.medical.cap_per_person,
            CoverageKind::Education => self.education.cap_per_person,
            CoverageKind::Disaster => self.disaster.cap_per_household,
            CoverageKind::Industry => self.industry.cap_per_household,
        }
    }

    /// Share of a disaster report's direct loss paid for its house damage.
    pub fn disaster_share(&self, damage: HouseDamage) -> Decimal {
        self.disaster.share_by_house_damage[damage.code()]
    }

    /// Government share of the premium for a roster category.
    pub fn subsidy(&self, category: Category) -> Decimal {
        self.premium.subsidy[category.code()]
    }

    fn check(&self) -> Result<(), String> {
        let share = |name: &str, v: Decimal| {
            if v < Decimal::ZERO || v > Decimal::ONE {
                Err(format!("{name} is {v}; a share lies between 0 and 1"))
            } else {
                Ok(())
            }
        };
        let amount = |name: &str, v: Decimal| {
            if v < Decimal::ZERO || v.scale() > 2 {
                Err(format!("{name} is {v}; an amount is at least 0 with at most 2 decimals"))
            } else {
                Ok(())
            }
        };
        amount("premium.per_person", self.premium.per_person)?;
        share("premium.reserve_share", self.premium.reserve_share)?;
        for c in Category::ALL {
            let v = self.premium.subsidy.get(c.code()).ok_or_else(|| format!("premium.subsidy has no {}", c.code()))?;
            share(&format!("premium.subsidy.{}", c.code()), *v)?;
        }
        if let Some(k) = self.premium.subsidy.keys().find(|k| Category::parse(k).is_none()) {
            return Err(format!("premium.subsidy.{k} is not a roster category"));
        }
        amount("medical.cap_per_person", self.medical.cap_per_person)?;
        amount("medical.deductible", self.medical.deductible)?;
        share("medical.share_paid", self.medical.share_paid)?;
        amount("education.cap_per_person", self.education.cap_per_person)?;
        share("education.income_share", self.education.income_share)?;
        share("education.share_paid", self.education.share_paid)?;
        amount("disaster.cap_per_household", self.disaster.cap_per_household)?;
        for d in HouseDamage::ALL {
            let v = self
                .disaster
                .share_by_house_damage
                .get(d.code())
                .ok_or_else(|| format!("disaster.share_by_house_damage has no {}", d.code()))?;
            share(&format!("disaster.share_by_house_damage.{}", d.code()), *v)?;
        }
        amount("industry.cap_per_household", self.industry.cap_per_household)?;
        share("industry.income_drop_at_least", self.industry.income_drop_at_least)?;
        share("industry.share_paid", self.industry.share_paid)?;
        if self.industry.disaster_mu_above < Decimal::ZERO {
            return Err("industry.disaster_mu_above is below zero".into());
        }
        let mut codes = std::collections::BTreeSet::new();
        for entry in &self.index {
            let ok_code = !entry.code.is_empty()
                && entry.code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok_code {
                return Err(format!("index code {:?}: use lower-case letters, digits and _", entry.code));
            }
            if !codes.insert(&entry.code) {
                return Err(format!("index {} is listed twice", entry.code));
            }
            match CoverageKind::parse(&entry.coverage) {
                Some(CoverageKind::Industry | CoverageKind::Disaster) => {}
                _ => return Err(format!("index {}: coverage {:?} is not industry or disaster", entry.code, entry.coverage)),
            }
            if Industry::parse(&entry.industry).is_none() {
                return Err(format!("index {}: industry {:?} is not a roster industry", entry.code, entry.industry));
            }
            amount(&format!("index {} amount", entry.code), entry.amount)?;
        }
        Ok(())
    }
}

/// The four coverages of the product.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoverageKind {
    Medical,
    Education,
    Disaster,
    Industry,
}

impl CoverageKind {
    pub const ALL: [CoverageKind; 4] =
        [CoverageKind::Medical, CoverageKind::Education, CoverageKind::Disaster, CoverageKind::Industry];

    pub fn code(self) -> &'static str {
        match self {
            CoverageKind::Medical => "medical",
            CoverageKind::Education => "education",
            CoverageKind::Disaster => "disaster",
            CoverageKind::Industry => "industry",
        }
    }

    pub fn parse(s: &str) -> Option<CoverageKind> {
        CoverageKind::ALL.into_iter().find(|c| c.code() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_product_has_the_plans_figures() {
        let c = Coverage::builtin();
        assert_eq!(c.medical.cap_per_person, Decimal::from(80_000));
        assert_eq!(c.medical.deductible, Decimal::from(5_000));
        assert_eq!(c.education.cap_per_person, Decimal::from(20_000));
        assert_eq!(c.disaster.cap_per_household, Decimal::from(50_000));
        assert_eq!(c.industry.cap_per_household, Decimal::from(30_000));
        assert_eq!(c.premium.per_person, Decimal::from(120));
        assert_eq!(c.subsidy(Category::Marginal), Decimal::new(60, 2));
        assert_eq!(c.index.len(), 2);
    }

    #[test]
    fn a_bad_file_says_which_key() {
        let broken = DEFAULT_TOML.replace("reserve_share = \"0.05\"", "reserve_share = \"1.5\"");
        let e = Coverage::parse(&broken, "x.toml").unwrap_err().to_string();
        assert!(e.contains("premium.reserve_share is 1.5"), "{e}");
        let broken = DEFAULT_TOML.replace("collapsed = \"1.00\"\n", "");
        let e = Coverage::parse(&broken, "x.toml").unwrap_err().to_string();
        assert!(e.contains("share_by_house_damage has no collapsed"), "{e}");
        let broken = DEFAULT_TOML.replace("industry = \"tea\"", "industry = \"coffee\"");
        let e = Coverage::parse(&broken, "x.toml").unwrap_err().to_string();
        assert!(e.contains("\"coffee\" is not a roster industry"), "{e}");
    }
}
