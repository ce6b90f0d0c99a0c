//! Indicators as data: `.sql` files run by one reused DataFusion `SessionContext`.
//!
//! Per micro-batch the engine registers the touched households' rows as `household_months`,
//! materialises `household_features` (trailing sums shared by every indicator, from
//! `sql/household_features.sql`) once, then runs each indicator file over it. An indicator
//! returns `household_code`, `month_idx` and `detail` (the sentence with the figures); its code
//! is the file name. `params` holds the configurable thresholds (`poverty_line`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Decimal128Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use fangpin_connectors::event::Month;
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

/// One indicator: its stable code (the file name) and its SQL.
#[derive(Clone, Debug)]
pub struct Indicator {
    pub code: String,
    pub sql: String,
}

/// The shipped indicators.
pub fn builtin() -> Vec<Indicator> {
    BUILTIN.iter().map(|(code, sql)| Indicator { code: code.to_string(), sql: sql.to_string() }).collect()
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
            out.push(Indicator { code, sql });
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
pub struct Engine {
    ctx: SessionContext,
    indicators: Vec<Indicator>,
}

impl Engine {
    /// An engine with one reused context; `poverty_line` in yuan per person per year.
    pub fn new(indicators: Vec<Indicator>, poverty_line: Decimal) -> Result<Engine, PipelineError> {
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
        let schema = Arc::new(Schema::new(vec![Field::new("poverty_line", table::MONEY, false)]));
        let line = Decimal128Array::from(vec![money_to_fen(poverty_line)?]).with_precision_and_scale(18, 2)?;
        let params = RecordBatch::try_new(schema, vec![Arc::new(line)])?;
        ctx.register_batch("params", params)?;
        Ok(Engine { ctx, indicators })
    }

    /// Codes of the loaded indicators.
    pub fn codes(&self) -> impl Iterator<Item = &str> {
        self.indicators.iter().map(|i| i.code.as_str())
    }

    /// Evaluates every indicator over `household_months` rows.
    pub async fn evaluate(&self, months: RecordBatch) -> Result<Evaluation, PipelineError> {
        if months.num_rows() == 0 {
            return Ok(Evaluation::default());
        }
        self.register("household_months", split(months))?;
        let features = self.ctx.sql(FEATURES_SQL).await?.collect().await?;
        let feature_rows = crate::features::read_rows(&features)?;
        let mut evaluated: Vec<(String, Month)> =
            feature_rows.iter().filter(|(_, r)| r.reported).map(|(k, _)| k.clone()).collect();
        evaluated.sort_unstable();
        self.register("household_features", features.into_iter().map(|b| vec![b]).collect())?;
        let mut hits = Vec::new();
        for indicator in &self.indicators {
            let batches = self
                .ctx
                .sql(&indicator.sql)
                .await
                .map_err(|e| PipelineError::Indicator { code: indicator.code.clone(), message: e.to_string() })?
                .collect()
                .await?;
            for batch in &batches {
                read_hits(&indicator.code, batch, &mut hits)?;
            }
        }
        hits.sort_unstable();
        Ok(Evaluation { hits, evaluated, feature_rows })
    }

    fn register(&self, name: &str, partitions: Vec<Vec<RecordBatch>>) -> Result<(), PipelineError> {
        self.ctx.deregister_table(name)?;
        let schema = match partitions.iter().flatten().next() {
            Some(b) => b.schema(),
            None => return Err(PipelineError::Internal(format!("no batch for {name}"))),
        };
        self.ctx.register_table(name, Arc::new(MemTable::try_new(schema, partitions)?))?;
        Ok(())
    }
}

/// Splits rows into two partitions on a household boundary, so both cores work.
fn split(batch: RecordBatch) -> Vec<Vec<RecordBatch>> {
    let n = batch.num_rows();
    let codes = batch.column(0).as_string::<i32>();
    let mut mid = n / 2;
    while mid > 0 && mid < n && codes.value(mid) == codes.value(mid - 1) {
        mid += 1;
    }
    if mid == 0 || mid >= n {
        return vec![vec![batch]];
    }
    vec![vec![batch.slice(0, mid)], vec![batch.slice(mid, n - mid)]]
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
