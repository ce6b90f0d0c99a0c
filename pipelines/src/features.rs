//! The model's feature vector per household-month: documented, ordered, versioned.
//!
//! Values come from `household_features` (the SQL trailing sums), the roster profile and the
//! indicators that fired: one `hit_<code>` feature per indicator file of the deployment, so an
//! analyst's new file is a feature of the next model trained. Money is turned into ratios of
//! last year's income before it becomes a float, so no amount is ever carried as a float. The
//! version is a hash of every source that computes a feature (this file, the SQL, the table
//! builder, the monthly figures and each indicator file): change any of them and models trained
//! before refuse to load until one is retrained.

use std::collections::HashMap;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Float64Type, Int32Type};
use rust_decimal::Decimal;
use fangpin_connectors::event::{Category, Industry, Month};
use sha2::{Digest, Sha256};

use fangpin_models::plan;

use crate::error::PipelineError;
use crate::indicators::Indicator;
use crate::ledger::Household;

/// The features every deployment has, before one per indicator: name and the words a cadre
/// reads in an alert's reasons.
const FIXED: [(&str, &str); 33] = [
    ("pc_income_ratio", "近 12 月人均纯收入/监测线"),
    ("pc_baseline_ratio", "上年人均纯收入/监测线"),
    ("pc_change_3m", "人均纯收入 3 个月变化/监测线"),
    ("pc_gap_below", "低于监测线的幅度"),
    ("pc_gap_near", "距临界区间上沿的差距"),
    ("pc_projected_gap", "按近 3 月趋势 3 个月后低于监测线的幅度"),
    ("feed_share", "近 12 月有部门数据的月份占比"),
    ("pc_loss_estimate_ratio", "上年收入减本年损失的人均估计/监测线"),
    ("pc_vs_last_year", "近 12 月人均纯收入比上年的变化"),
    ("month_of_year", "月份"),
    ("farming", "花名册登记务农产业"),
    ("workers_unreported_share", "花名册劳动力中就业数据未覆盖的比例"),
    ("medical_oop_month_share", "本月医疗自付/月收入"),
    ("medical_oop_3m_share", "近 3 月医疗自付/季度收入"),
    ("medical_oop_12m_share", "近 12 月医疗自付/年收入"),
    ("inpatient_bills_3m", "近 3 月住院结算次数"),
    ("wage_loss_3m_share", "近 3 月工资损失/季度收入"),
    ("farm_shortfall_12m_share", "近 12 月农业减收/年收入"),
    ("education_net_12m_share", "近 12 月教育支出/年收入"),
    ("disaster_loss_12m_share", "近 12 月灾害损失/年收入"),
    ("house_damage_12m", "近 12 月房屋受损等级"),
    ("unemployed_months_3m", "近 3 月有人失业的月数"),
    ("temp_assistance_12m_share", "近 12 月临时救助/年收入"),
    ("members", "家庭人口"),
    ("labor_share", "劳动力占比"),
    ("chronic_share", "慢病患者占比"),
    ("disabled_share", "残疾人占比"),
    ("category_stable_alleviated", "稳定脱贫户"),
    ("category_unstable_alleviated", "脱贫不稳定户"),
    ("category_marginal", "边缘易致贫户"),
    ("category_sudden_difficulty", "突发严重困难户"),
    ("category_general", "一般农户"),
    ("key_county", "重点县"),
];

/// The features of one set of indicators, in order: [`FIXED`], then whether each indicator
/// fired, with the version a model trained on them carries.
#[derive(Clone, Debug)]
pub struct FeatureSet {
    names: Vec<String>,
    labels: Vec<String>,
    /// The indicator codes whose hits are features, in feature order.
    hits: Vec<String>,
    statutory: Vec<String>,
    version: String,
}

impl FeatureSet {
    /// The features of a deployment running `indicators`.
    pub fn new(indicators: &[Indicator]) -> FeatureSet {
        let mut names: Vec<String> = FIXED.iter().map(|(n, _)| n.to_string()).collect();
        let mut labels: Vec<String> = FIXED.iter().map(|(_, l)| l.to_string()).collect();
        names.extend(indicators.iter().map(|i| format!("{HIT_PREFIX}{}", i.code)));
        labels.extend(indicators.iter().map(|i| format!("触发：{}", i.label)));
        FeatureSet {
            names,
            labels,
            hits: indicators.iter().map(|i| i.code.clone()).collect(),
            statutory: indicators.iter().filter(|i| i.statutory).map(|i| i.code.clone()).collect(),
            version: version_of(&SOURCES, indicators),
        }
    }

    /// The features of the shipped indicators.
    pub fn builtin() -> FeatureSet {
        FeatureSet::new(&crate::indicators::builtin())
    }

    /// Names in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The words a cadre reads for each feature, in order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The version a model trained on these features carries.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Codes of the plan's statutory rules among the indicators.
    pub fn statutory(&self) -> &[String] {
        &self.statutory
    }

    /// The indicator a feature says fired, if it is one of those.
    pub fn indicator_of(name: &str) -> Option<&str> {
        name.strip_prefix(HIT_PREFIX)
    }
}

/// Prefix of the features that say whether an indicator fired.
const HIT_PREFIX: &str = "hit_";

/// Every source that computes a feature, hashed with the indicators into
/// [`FeatureSet::version`]: the features SQL, the table it reads and that table's trailing
/// windows, the monthly figures built from the records, and this file (the vector, the list).
/// The plan's thresholds the vector uses come from `fangpin_models::plan`.
const SOURCES: [&str; 6] = [
    crate::indicators::FEATURES_SQL,
    include_str!("features.rs"),
    include_str!("table.rs"),
    include_str!("trailing.rs"),
    include_str!("ledger.rs"),
    include_str!("../../models/src/plan.rs"),
];

/// Version of the feature definitions: `f2-` and 12 hex digits of a hash of `sources` and of
/// each indicator's code and SQL, in order.
fn version_of(sources: &[&str], indicators: &[Indicator]) -> String {
    let mut h = Sha256::new();
    for source in sources.iter().copied().chain(indicators.iter().flat_map(|i| [i.code.as_str(), i.sql.as_str()])) {
        h.update(source.as_bytes());
        h.update(b"\0");
    }
    format!("f2-{}", hex::encode(&h.finalize()[..6]))
}

/// The numeric columns of one evaluated household-month read from `household_features`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FeatureRow {
    values: [f64; COLUMNS.len()],
    /// Per-capita net income over the last 12 months, exact (the grading input keeps it as money).
    pub per_capita_income: Option<Decimal>,
    /// Whether the batch reports on this month (it is not only history for a trend).
    pub reported: bool,
    /// `Month::index` of the row.
    pub month_idx: i32,
}

impl FeatureRow {
    fn get(&self, name: &str) -> f64 {
        COLUMNS.iter().position(|c| *c == name).map_or(0.0, |i| self.values[i])
    }
}

/// Columns of `household_features` the features read, cast to floats after the SQL is done.
const COLUMNS: [&str; 18] = [
    "baseline_income",
    "members",
    "per_capita_income",
    "loss_estimate_pc_income",
    "feed_months",
    "workers_reported_12m",
    "medical_oop",
    "medical_oop_3m",
    "medical_oop_12m",
    "inpatient_bills_3m",
    "wage_loss_3m",
    "farm_shortfall_12m",
    "education_net_12m",
    "disaster_loss_12m",
    "house_damage_12m",
    "unemployed_months_3m",
    "temp_assistance_12m",
    "labor_count",
];

/// Reads the rows of `household_features` grading needs, keyed by household and month: the
/// months reported on (from `eval_from`) and the three before them, which trends look back to.
pub fn read_rows(batches: &[RecordBatch]) -> Result<HashMap<(String, Month), FeatureRow>, PipelineError> {
    let mut out = HashMap::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
    for batch in batches {
        let col = |name: &str| {
            batch.column_by_name(name).ok_or_else(|| PipelineError::Internal(format!("household_features lacks {name}")))
        };
        let households = cast(col("household_code")?, &DataType::Utf8)?;
        let households = households.as_string::<i32>();
        let months = col("month_idx")?.as_primitive::<Int32Type>().clone();
        let from = col("eval_from")?.as_primitive::<Int32Type>().clone();
        let income = col("per_capita_income")?;
        let DataType::Decimal128(_, scale) = income.data_type() else {
            return Err(PipelineError::Internal(format!("per_capita_income is {}", income.data_type())));
        };
        let scale = u32::from(*scale as u8);
        let income = income.as_primitive::<Decimal128Type>();
        let floats = COLUMNS
            .iter()
            .map(|c| Ok(cast(col(c)?, &DataType::Float64)?.as_primitive::<Float64Type>().clone()))
            .collect::<Result<Vec<_>, PipelineError>>()?;
        for i in 0..batch.num_rows() {
            let (month, eval_from) = (months.value(i), from.value(i));
            if month < eval_from - crate::table::LOOKBACK {
                continue;
            }
            let mut values = [0.0; COLUMNS.len()];
            for (value, a) in values.iter_mut().zip(&floats) {
                *value = if a.is_null(i) { 0.0 } else { a.value(i) };
            }
            let per_capita_income = if income.is_null(i) {
                None
            } else {
                let exact = Decimal::try_from_i128_with_scale(income.value(i), scale)
                    .map_err(|e| PipelineError::Internal(format!("per-capita income out of range: {e}")))?;
                Some(exact.round_dp(2))
            };
            let row = FeatureRow { values, per_capita_income, reported: month >= eval_from, month_idx: month };
            out.insert((households.value(i).to_owned(), Month::from_index(month)), row);
        }
    }
    Ok(out)
}

fn share(x: f64, of: f64) -> f64 {
    if of > 0.0 { x / of } else { 0.0 }
}

/// The feature vector of a household-month in `set`'s order; `three_months_ago` is the same
/// household's row three months earlier when the window holds it; `hits` the indicator codes
/// that fired.
pub fn vector(
    set: &FeatureSet,
    row: &FeatureRow,
    three_months_ago: Option<&FeatureRow>,
    household: &Household,
    county: &str,
    hits: &[&str],
    poverty_line: f64,
) -> Vec<f64> {
    let v = |name: &str| row.get(name);
    let p = &household.profile;
    let members = f64::from(p.members.max(1));
    let baseline = v("baseline_income");
    let pc = v("per_capita_income");
    let pc_before = three_months_ago.map_or(baseline / members, |r| r.get("per_capita_income"));
    let ratio = share(pc, poverty_line);
    let change = share(pc - pc_before, poverty_line);
    // The line is a threshold: distances below it, and near it, let a linear model bend there.
    let mut out = vec![
        ratio,
        share(baseline / members, poverty_line),
        change,
        (1.0 - ratio).max(0.0),
        (plan::NEAR_LINE - ratio).max(0.0),
        (1.0 - (ratio + change.min(0.0))).max(0.0),
        v("feed_months") / 12.0,
        share(v("loss_estimate_pc_income"), poverty_line),
        share(pc, baseline / members) - 1.0,
        f64::from(Month::from_index(row.month_idx).month()),
        // The roster's industries other than migrant work: farm income comes in harvest
        // months, so in the first year the measure (last year spread evenly) runs behind.
        f64::from(u8::from(p.industries.iter().any(|i| *i != Industry::MigrantWork))),
        // Workers on the roster the employment feed never reported on: their wages are income
        // the measure cannot see, not income lost.
        share((f64::from(p.labor_count) - v("workers_reported_12m")).max(0.0), f64::from(p.labor_count)),
        share(v("medical_oop"), baseline / 12.0),
        share(v("medical_oop_3m"), baseline / 4.0),
        share(v("medical_oop_12m"), baseline),
        v("inpatient_bills_3m"),
        share(v("wage_loss_3m"), baseline / 4.0),
        share(v("farm_shortfall_12m"), baseline),
        share(v("education_net_12m"), baseline),
        share(v("disaster_loss_12m"), baseline),
        v("house_damage_12m"),
        v("unemployed_months_3m"),
        share(v("temp_assistance_12m"), baseline),
        members,
        f64::from(p.labor_count) / members,
        f64::from(p.chronic_patients) / members,
        f64::from(p.disabled_members) / members,
    ];
    out.extend(Category::ALL.iter().map(|c| f64::from(u8::from(*c == p.category))));
    out.push(f64::from(u8::from(plan::KEY_COUNTIES.contains(&county))));
    out.extend(set.hits.iter().map(|code| f64::from(u8::from(hits.contains(&code.as_str())))));
    debug_assert_eq!(out.len(), set.names.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The version must move with any line of any source that computes a feature, so that a
    /// model is retrained, not re-stamped, when one changes.
    #[test]
    fn the_version_changes_with_every_source() {
        let indicators = crate::indicators::builtin();
        let version = FeatureSet::new(&indicators).version;
        assert_eq!(version, version_of(&SOURCES, &indicators));
        for i in 0..SOURCES.len() {
            let mut changed: Vec<String> = SOURCES.iter().map(|s| s.to_string()).collect();
            changed[i] = changed[i].replacen('1', "2", 1);
            let changed: Vec<&str> = changed.iter().map(String::as_str).collect();
            assert_ne!(version_of(&changed, &indicators), version, "a change to source {i} kept the feature version");
        }
        for i in 0..indicators.len() {
            let mut changed = indicators.clone();
            changed[i].sql = changed[i].sql.replacen("month_idx", "month_idx ", 1);
            assert_ne!(FeatureSet::new(&changed).version, version, "a change to indicator {} kept the version", indicators[i].code);
        }
        let mut more = indicators.clone();
        more.push(crate::indicators::Indicator::parse("debt", "-- 负债: x\nSELECT 1").unwrap());
        let more = FeatureSet::new(&more);
        assert_ne!(more.version, version, "a new indicator kept the feature version");
        assert_eq!(more.names.last().map(String::as_str), Some("hit_debt"));
        assert_eq!(more.labels.last().map(String::as_str), Some("触发：负债"));
        assert!(SOURCES[1].contains("pub fn vector("), "this file must be among the sources");
        assert!(SOURCES[3].contains("pub const WINDOWS"), "the trailing windows must be among the sources");
        assert!(SOURCES[4].contains("pub fn months("), "the monthly figures must be among the sources");
    }
}
