//! Indicators as data: `.sql` files run by one reused DataFusion `SessionContext`.
//!
//! Per micro-batch the engine fills `household_months` with the touched households' rows,
//! materialises `household_features` (the figures shared by every indicator, from
//! `sql/household_features.sql`) once, then runs each indicator file over it. An indicator
//! returns `household_code`, `month_idx` and `detail` (the sentence with the figures); its code
//! is the file name. `params` holds the configurable thresholds (`poverty_line`).
//!
//! An indicator file is the one definition of its rule: its leading comment names it in the
//! cadres' words (`-- 医疗负担: ...`, the text before the colon), may give the rules grader's
//! weight (`-- rules weight: 0.6`) and may mark it as one of the plan's statutory rules
//! (`-- statutory: ...`), which always raise at least a low alert. Whether it fired is a model
//! feature (`hit_<code>`, see [`crate::features::FeatureSet`]), so a new file reaches the model
//! once the model is retrained on it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{Array, AsArray, Decimal128Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use fangpin_connectors::event::Month;
use fangpin_slots::{self as slots, Slots};
use rust_decimal::Decimal;

use crate::error::PipelineError;
use crate::features::FeatureRow;
use crate::table;

/// The features view every indicator reads.
pub(crate) const FEATURES_SQL: &str = include_str!("../sql/household_features.sql");

/// The indicators shipped with fangpin, compiled in so the binary works from anywhere.
const BUILTIN: [(&str, &str); 7] = [
    ("below_line", include_str!("../indicators/below_line.sql")),
    ("health_two_months", include_str!("../indicators/health_two_months.sql")),
    ("industry_disaster", include_str!("../indicators/industry_disaster.sql")),
    ("house_damage", include_str!("../indicators/house_damage.sql")),
    ("income_loss", include_str!("../indicators/income_loss.sql")),
    ("unemployment_spell", include_str!("../indicators/unemployment_spell.sql")),
    ("education_burden", include_str!("../indicators/education_burden.sql")),
];

/// One indicator: its stable code (the file name), its SQL and what its leading comment says.
#[derive(Clone, Debug)]
pub struct Indicator {
    pub code: String,
    pub sql: String,
    /// The rule in the cadres' words: the leading comment's text before its colon.
    pub label: String,
    /// The rules grader's weight of the evidence, when the file gives one.
    pub rules_weight: Option<f64>,
    /// One of the plan's statutory rules: it always raises at least a low alert.
    pub statutory: bool,
}

impl Indicator {
    /// Reads an indicator's leading comment; refused, naming what is missing, when the comment
    /// does not name the rule or gives a weight that is not a number.
    pub fn parse(code: &str, sql: &str) -> Result<Indicator, PipelineError> {
        let refuse = |message: String| PipelineError::Indicator { code: code.to_owned(), message };
        let comments: Vec<&str> =
            sql.lines().map_while(|l| l.trim_start().strip_prefix("--")).map(str::trim).collect();
        let label = comments
            .first()
            .and_then(|first| first.split_once([':', '：']))
            .map(|(label, _)| label.trim().to_owned())
            .filter(|label| !label.is_empty())
            .ok_or_else(|| {
                refuse(
                    "the file must begin with a comment naming the rule for the cadres, such as \
                     `-- 医疗负担: what it finds`; the text before the colon is the rule's name"
                        .into(),
                )
            })?;
        let mut rules_weight = None;
        let mut statutory = false;
        for line in &comments {
            if let Some(w) = line.strip_prefix("rules weight:") {
                // The number, then optionally why, in words.
                let w = w.split_whitespace().next().unwrap_or_default();
                let weight: f64 = w.parse().map_err(|_| refuse(format!("rules weight {w:?} is not a number")))?;
                if !(0.0..1.0).contains(&weight) {
                    return Err(refuse(format!("rules weight {w} must be at least 0 and below 1")));
                }
                rules_weight = Some(weight);
            } else if line.starts_with("statutory:") {
                statutory = true;
            }
        }
        Ok(Indicator { code: code.to_owned(), sql: sql.to_owned(), label, rules_weight, statutory })
    }
}

/// The shipped indicators.
pub fn builtin() -> Vec<Indicator> {
    BUILTIN.iter().map(|(code, sql)| Indicator::parse(code, sql).expect("the shipped indicators are well formed")).collect()
}

/// The rules grader over `indicators`, each weighted as its file says.
pub fn rules_grader(indicators: &[Indicator]) -> fangpin_models::RulesGrader {
    fangpin_models::RulesGrader::with_weights(
        indicators.iter().filter_map(|i| i.rules_weight.map(|w| (i.code.clone(), w))).collect(),
    )
    .expect("weights are checked when the files are read")
}

/// The indicators of a deployment: an analyst's directory's ([`load_dir`]), or the shipped ones.
pub fn load(dir: Option<&Path>) -> Result<Vec<Indicator>, PipelineError> {
    dir.map_or_else(|| Ok(builtin()), load_dir)
}

/// Every `*.sql` file of a directory, sorted by name: how an analyst adds or changes indicators.
pub fn load_dir(dir: &Path) -> Result<Vec<Indicator>, PipelineError> {
    let io = |source| PipelineError::Io { path: dir.to_owned(), source };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|e| e == "sql") {
            let code = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
            let sql = std::fs::read_to_string(&path).map_err(|source| PipelineError::Io { path: path.clone(), source })?;
            out.push(Indicator::parse(&code, &sql)?);
        }
    }
    if out.is_empty() {
        return Err(PipelineError::Config(format!("{} holds no .sql indicator", dir.display())));
    }
    out.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(out)
}

/// An indicator that fired for a household-month.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hit {
    pub household_code: String,
    pub month: Month,
    pub code: String,
    pub detail: String,
}

/// What one evaluation found.
#[derive(Debug, Default)]
pub struct Evaluation {
    /// Every indicator hit, sorted by household, month and code.
    pub hits: Vec<Hit>,
    /// The household-months reported on (from each household's `eval_from`), sorted.
    pub evaluated: Vec<(String, Month)>,
    /// The feature columns of the reported rows and of the three months before them.
    pub feature_rows: HashMap<(String, Month), FeatureRow>,
}

/// Runs the indicators over batches of household-months.
///
/// Every query is planned once, logically and physically, at the first evaluation, over two
/// tables whose contents each evaluation replaces ([`Slots`]): planning the eight queries again
/// took ~0.3 s a batch, more than running them over a month of 20,000 households.
pub struct Engine {
    ctx: SessionContext,
    indicators: Vec<Indicator>,
    months: Arc<Slots>,
    plans: Mutex<Option<Arc<Plans>>>,
}

/// The physical plans of the features view and of each indicator.
struct Plans {
    features: Arc<dyn ExecutionPlan>,
    features_table: Arc<Slots>,
    indicators: Vec<(String, Arc<dyn ExecutionPlan>)>,
}

/// Partitions of each table: one per core.
const PARTITIONS: usize = 2;

/// How many of `n` households go in each part when work is shared out one part per
/// partition (at least one, so that chunking never divides by zero).
pub fn per_partition(n: usize) -> usize {
    n.div_ceil(PARTITIONS).max(1)
}

impl Engine {
    /// An engine with one reused context; `poverty_line` in yuan per person per year.
    pub fn new(indicators: Vec<Indicator>, poverty_line: Decimal) -> Result<Engine, PipelineError> {
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(PARTITIONS));
        let schema = Arc::new(Schema::new(vec![Field::new("poverty_line", table::MONEY, false)]));
        let line = Decimal128Array::from(vec![money_to_fen(poverty_line)?]).with_precision_and_scale(18, 2)?;
        let params = RecordBatch::try_new(schema, vec![Arc::new(line)])?;
        ctx.register_batch("params", params)?;
        let months = Arc::new(Slots::new(table::schema(), PARTITIONS));
        ctx.register_table("household_months", months.clone())?;
        Ok(Engine { ctx, indicators, months, plans: Mutex::new(None) })
    }

    /// Codes of the loaded indicators.
    pub fn codes(&self) -> impl Iterator<Item = &str> {
        self.indicators.iter().map(|i| i.code.as_str())
    }

    /// Evaluates every indicator over `household_months` rows, given as batches (one per
    /// partition at best) none of which splits a household's rows.
    pub async fn evaluate(&self, months: Vec<RecordBatch>) -> Result<Evaluation, PipelineError> {
        if months.iter().all(|b| b.num_rows() == 0) {
            return Ok(Evaluation::default());
        }
        let plans = self.plans().await?;
        self.months.fill(spread(months));
        let features = self.run(&plans.features).await?;
        let feature_rows = crate::features::read_rows(&features)?;
        let mut evaluated: Vec<(String, Month)> =
            feature_rows.iter().filter(|(_, r)| r.reported).map(|(k, _)| k.clone()).collect();
        evaluated.sort_unstable();
        plans.features_table.fill(spread(features));
        let mut hits = Vec::new();
        for (code, plan) in &plans.indicators {
            let batches = self
                .run(plan)
                .await
                .map_err(|e| PipelineError::Indicator { code: code.clone(), message: e.to_string() })?;
            for batch in &batches {
                read_hits(code, batch, &mut hits)?;
            }
        }
        hits.sort_unstable();
        // The tables' rows are read: freed now rather than when the next evaluation replaces
        // them, so that two evaluations' rows are never held at once (the replay's peak memory).
        self.months.fill(Vec::new());
        plans.features_table.fill(Vec::new());
        Ok(Evaluation { hits, evaluated, feature_rows })
    }

    /// The plans, made at the first call: an indicator that does not plan (a typo, a column
    /// that does not exist) fails then, with its code.
    async fn plans(&self) -> Result<Arc<Plans>, PipelineError> {
        if let Some(plans) = self.plans.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Ok(plans);
        }
        let features = self.ctx.sql(FEATURES_SQL).await?.create_physical_plan().await?;
        let features_table = Arc::new(Slots::new(features.schema(), PARTITIONS));
        self.ctx.deregister_table("household_features")?;
        self.ctx.register_table("household_features", features_table.clone())?;
        let mut indicators = Vec::with_capacity(self.indicators.len());
        for indicator in &self.indicators {
            let fail = |e: datafusion::error::DataFusionError| PipelineError::Indicator {
                code: indicator.code.clone(),
                message: e.to_string(),
            };
            let plan = self.ctx.sql(&indicator.sql).await.map_err(fail)?;
            indicators.push((indicator.code.clone(), plan.create_physical_plan().await.map_err(fail)?));
        }
        let plans = Arc::new(Plans { features, features_table, indicators });
        *self.plans.lock().unwrap_or_else(|e| e.into_inner()) = Some(plans.clone());
        Ok(plans)
    }

    /// Runs a plan over the tables' current contents.
    async fn run(&self, plan: &Arc<dyn ExecutionPlan>) -> Result<Vec<RecordBatch>, PipelineError> {
        Ok(slots::run(plan, self.ctx.task_ctx()).await?)
    }
}

/// Deals batches out to the partitions in turn, so that both cores work.
fn spread(batches: Vec<RecordBatch>) -> Vec<Vec<RecordBatch>> {
    let mut parts = vec![Vec::new(); PARTITIONS];
    for (i, batch) in batches.into_iter().filter(|b| b.num_rows() > 0).enumerate() {
        parts[i % PARTITIONS].push(batch);
    }
    parts
}

fn column<'a>(batch: &'a RecordBatch, name: &str, code: &str) -> Result<&'a Arc<dyn Array>, PipelineError> {
    batch.column_by_name(name).ok_or_else(|| PipelineError::Indicator {
        code: code.to_owned(),
        message: format!("the query must return a column named {name}"),
    })
}

fn read_hits(code: &str, batch: &RecordBatch, hits: &mut Vec<Hit>) -> Result<(), PipelineError> {
    let households = cast(column(batch, "household_code", code)?, &DataType::Utf8)?;
    let months = cast(column(batch, "month_idx", code)?, &DataType::Int64)?;
    let details = cast(column(batch, "detail", code)?, &DataType::Utf8)?;
    let (households, months, details) =
        (households.as_string::<i32>(), months.as_primitive::<Int64Type>(), details.as_string::<i32>());
    for i in 0..batch.num_rows() {
        if households.is_null(i) || months.is_null(i) {
            return Err(PipelineError::Indicator { code: code.to_owned(), message: "returned a null key".into() });
        }
        hits.push(Hit {
            household_code: households.value(i).to_owned(),
            month: Month::from_index(months.value(i) as i32),
            code: code.to_owned(),
            detail: if details.is_null(i) { String::new() } else { details.value(i).to_owned() },
        });
    }
    Ok(())
}

/// A yuan amount as integer fen.
fn money_to_fen(v: Decimal) -> Result<i128, PipelineError> {
    let mut d = v.round_dp(2);
    d.rescale(2);
    Ok(d.mantissa())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::MonthFigures;

    /// The leading comment is read for the rule's name, weight and statutory mark; a file that
    /// does not name its rule, or whose weight is not a number, is refused with its code.
    #[test]
    fn an_indicator_file_names_its_rule_or_is_refused() {
        let health = builtin().into_iter().find(|i| i.code == "health_two_months").unwrap();
        assert_eq!((health.label.as_str(), health.rules_weight, health.statutory), ("医疗负担", Some(0.6), true));
        let new = Indicator::parse("debt", "-- 负债: loans above a year's income\nSELECT 1").unwrap();
        assert_eq!((new.label.as_str(), new.rules_weight, new.statutory), ("负债", None, false));
        for (sql, words) in [
            ("SELECT 1", "must begin with a comment"),
            ("-- 负债: x\n-- rules weight: high\nSELECT 1", "not a number"),
            ("-- 负债: x\n-- rules weight: 1.5\nSELECT 1", "below 1"),
        ] {
            match Indicator::parse("debt", sql) {
                Err(PipelineError::Indicator { code, message }) => assert!(code == "debt" && message.contains(words), "{message}"),
                other => panic!("{sql:?} was not refused: {other:?}"),
            }
        }
    }
    use crate::table::{to_batch, MonthRow};

    fn rows(baseline_income: i64) -> RecordBatch {
        let month = Month::new(2024, 3).unwrap();
        let row = MonthRow {
            household_code: "420902101201-0001".into(),
            category: "marginal".into(),
            members: 3,
            labor_count: 2,
            baseline_income: Decimal::from(baseline_income),
            month,
            eval_from: month,
            feeds_start: month,
            open_month: month.plus(1),
            figures: MonthFigures::default(),
        };
        to_batch(&[row]).unwrap()
    }

    /// The rules grader with the weights the shipped files give grades as the plan says: under
    /// the line is a door visit; the health rule is a phone check for a stable household, a
    /// door visit for a marginal one near the line in a key county; one mild rule is low.
    #[test]
    fn the_shipped_weights_grade_as_the_plan_says() {
        use fangpin_models::{Grade, Grader, GradingInput, IndicatorHit};
        let grader = rules_grader(&builtin());
        let grade = |category: &str, county: &str, per_capita: i64, codes: &[&str]| {
            let input = GradingInput {
                county_code: county.into(),
                category: category.into(),
                members: 3,
                labor_count: 2,
                chronic_patients: 0,
                disabled_members: 0,
                baseline_income: Decimal::from(45_000),
                per_capita_income: Decimal::from(per_capita),
                poverty_line: Decimal::from(8_000),
                hits: codes.iter().map(|c| IndicatorHit { code: c.to_string(), detail: String::new() }).collect(),
                features: Vec::new(),
            };
            grader.grade(&input).map(|a| (a.grade, a.score))
        };
        assert_eq!(grade("stable_alleviated", "420902", 7_000, &["below_line"]).unwrap().0, Grade::High);
        assert_eq!(grade("stable_alleviated", "420902", 15_000, &["health_two_months"]).unwrap().0, Grade::Medium);
        assert_eq!(grade("marginal", "420922", 9_000, &["health_two_months"]).unwrap().0, Grade::High);
        assert_eq!(grade("stable_alleviated", "420902", 15_000, &["education_burden"]), Some((Grade::Low, 0.3)));
    }

    /// An analyst's indicator that names a column the features do not have fails with its
    /// code and the column; the plans made at the first evaluation read each later one's rows.
    #[tokio::test]
    async fn a_bad_indicator_is_named_and_good_plans_are_reused() {
        let typo = Indicator::parse("typo", "-- 错字: a typo\nSELECT household_code, month_idx, detail FROM household_features WHERE incom_12m < 0").unwrap();
        let engine = Engine::new(vec![typo], Decimal::from(8_000)).unwrap();
        match engine.evaluate(vec![rows(20_000)]).await {
            Err(PipelineError::Indicator { code, message }) => {
                assert_eq!(code, "typo");
                assert!(message.contains("incom_12m"), "{message}");
            }
            other => panic!("expected the indicator's error, got {other:?}"),
        }
        let engine = Engine::new(builtin(), Decimal::from(8_000)).unwrap();
        // 20,000 a year for three people is under the line of 8,000 a head, 30,000 is not.
        for (baseline, expected) in [(20_000, vec!["below_line"]), (30_000, vec![]), (20_000, vec!["below_line"])] {
            let evaluation = engine.evaluate(vec![rows(baseline)]).await.unwrap();
            assert_eq!(evaluation.hits.iter().map(|h| h.code.as_str()).collect::<Vec<_>>(), expected);
        }
    }
}
