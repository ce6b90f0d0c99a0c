//! Index triggers as SQL: one file per index (`triggers/<code>.sql`), run by one reused
//! DataFusion context over the daily county series (`price_days`, `weather_days`) with the
//! index's thresholds from the coverage file as the one-row table `params`.
//!
//! A trigger returns one row per county and month it fires in: `county_code`, `month_idx`,
//! `index_value` (the figure that fired, as text) and `detail` (the sentence). Adding an index
//! is a SQL file and a `[[index]]` entry, no code.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Decimal128Array, Float64Array, Int64Array, RecordBatch,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
use datafusion::datasource::MemTable;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use fangpin_connectors::event::Month;
use fangpin_slots::Slots;
use rust_decimal::Decimal;

use crate::coverage::{Coverage, IndexEntry};
use crate::error::ClaimsError;
use crate::series::Series;

/// The shipped triggers' SQL, compiled in so the binary works from anywhere.
const BUILTIN: [(&str, &str); 2] = [
    ("tea_price", include_str!("../triggers/tea_price.sql")),
    ("aquaculture_weather", include_str!("../triggers/aquaculture_weather.sql")),
];

/// An index that fired in a county and month.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Fired {
    pub code: String,
    pub county_code: String,
    pub month: Month,
    pub index_value: String,
    pub detail: String,
}

/// One trigger: its entry in the coverage file and its SQL.
struct Trigger {
    entry: IndexEntry,
    sql: String,
    params: RecordBatch,
}

/// Runs every trigger over the series. Each trigger is planned once, at the first
/// evaluation, over tables whose contents each evaluation replaces ([`Slots`]).
pub struct TriggerEngine {
    ctx: SessionContext,
    triggers: Vec<Trigger>,
    price_days: Arc<Slots>,
    weather_days: Arc<Slots>,
    plans: Mutex<Option<Arc<Vec<Arc<dyn ExecutionPlan>>>>>,
    /// The `price_days` and `weather_days` of the last evaluation.
    evaluated: Mutex<Option<(RecordBatch, RecordBatch)>>,
}

impl TriggerEngine {
    /// The triggers of `coverage`, their SQL from its triggers directory or the shipped files.
    pub fn new(coverage: &Coverage) -> Result<TriggerEngine, ClaimsError> {
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
        let mut triggers = Vec::new();
        for entry in &coverage.index {
            let sql = sql_of(&entry.code, coverage.triggers_dir.as_deref())?;
            let params = params_batch(entry)?;
            triggers.push(Trigger { entry: entry.clone(), sql, params });
        }
        let empty = Series::default();
        let price_days = Arc::new(Slots::new(empty.price_days()?.schema(), 1));
        let weather_days = Arc::new(Slots::new(empty.weather_days()?.schema(), 1));
        ctx.register_table("price_days", price_days.clone())?;
        ctx.register_table("weather_days", weather_days.clone())?;
        Ok(TriggerEngine { ctx, triggers, price_days, weather_days, plans: Mutex::new(None), evaluated: Mutex::new(None) })
    }

    /// The index entries, in the coverage file's order.
    pub fn entries(&self) -> impl Iterator<Item = &IndexEntry> {
        self.triggers.iter().map(|t| &t.entry)
    }

    /// Every county-month each trigger fires in, sorted; `None` when the days the triggers
    /// read are those of the last evaluation. Most observations fall in a month that is not
    /// over and change nothing the SQL reads ([`Series`]); running the triggers over the whole
    /// year again for each of them took a tenth of a replay paced at 10,000 records/s.
    pub async fn evaluate(&self, series: &Series) -> Result<Option<BTreeSet<Fired>>, ClaimsError> {
        if self.triggers.is_empty() {
            return Ok(Some(BTreeSet::new()));
        }
        let days = (series.price_days()?, series.weather_days()?);
        if self.evaluated.lock().unwrap_or_else(|e| e.into_inner()).as_ref() == Some(&days) {
            return Ok(None);
        }
        let fired = self.evaluate_all(days.0.clone(), days.1.clone()).await?;
        *self.evaluated.lock().unwrap_or_else(|e| e.into_inner()) = Some(days);
        Ok(Some(fired))
    }

    /// Runs every trigger over these days, even empty ones (to check the SQL).
    pub(crate) async fn evaluate_all(&self, price_days: RecordBatch, weather_days: RecordBatch) -> Result<BTreeSet<Fired>, ClaimsError> {
        let plans = self.plans().await?;
        self.price_days.fill(vec![vec![price_days]]);
        self.weather_days.fill(vec![vec![weather_days]]);
        let mut fired = BTreeSet::new();
        for (trigger, plan) in self.triggers.iter().zip(plans.iter()) {
            let code = &trigger.entry.code;
            let fail = |message: String| ClaimsError::Trigger { code: code.clone(), message };
            let batches = fangpin_slots::run(plan, self.ctx.task_ctx()).await.map_err(|e| fail(e.to_string()))?;
            for batch in &batches {
                read_fired(code, batch, &mut fired).map_err(fail)?;
            }
        }
        Ok(fired)
    }

    /// The triggers' plans, made at the first call. Each plan keeps the `params` it was
    /// planned with, its own thresholds.
    async fn plans(&self) -> Result<Arc<Vec<Arc<dyn ExecutionPlan>>>, ClaimsError> {
        if let Some(plans) = self.plans.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Ok(plans);
        }
        let mut plans = Vec::with_capacity(self.triggers.len());
        for trigger in &self.triggers {
            let fail = |e: datafusion::error::DataFusionError| ClaimsError::Trigger { code: trigger.entry.code.clone(), message: e.to_string() };
            self.ctx.deregister_table("params")?;
            let params = MemTable::try_new(trigger.params.schema(), vec![vec![trigger.params.clone()]])?;
            self.ctx.register_table("params", Arc::new(params))?;
            let plan = self.ctx.sql(&trigger.sql).await.map_err(fail)?.create_physical_plan().await.map_err(fail)?;
            plans.push(plan);
        }
        let plans = Arc::new(plans);
        *self.plans.lock().unwrap_or_else(|e| e.into_inner()) = Some(plans.clone());
        Ok(plans)
    }
}

/// The SQL of trigger `code`: `<dir>/<code>.sql`, or the shipped file.
fn sql_of(code: &str, dir: Option<&Path>) -> Result<String, ClaimsError> {
    if let Some(dir) = dir {
        let path = dir.join(format!("{code}.sql"));
        if path.exists() {
            return std::fs::read_to_string(&path).map_err(|e| ClaimsError::io(&path, e));
        }
    }
    match BUILTIN.iter().find(|(c, _)| *c == code) {
        Some((_, sql)) => Ok(sql.to_string()),
        None => Err(ClaimsError::Config(format!(
            "index {code} has no SQL file: put {code}.sql in the triggers directory{}",
            dir.map(|d| format!(" ({})", d.display())).unwrap_or_default()
        ))),
    }
}

/// The entry's `params` as a one-row table: decimal strings become exact decimals, TOML
/// numbers become floats or integers.
fn params_batch(entry: &IndexEntry) -> Result<RecordBatch, ClaimsError> {
    let bad = |key: &str, why: &str| ClaimsError::Config(format!("index {} params.{key}: {why}", entry.code));
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (key, value) in &entry.params {
        let (data_type, column): (DataType, ArrayRef) = match value {
            toml::Value::String(s) => {
                let d: Decimal = s.parse().map_err(|_| bad(key, "a string must be a decimal number, such as \"0.15\""))?;
                let scale = d.scale();
                let array = Decimal128Array::from(vec![d.mantissa()]).with_precision_and_scale(28, scale as i8)?;
                (DataType::Decimal128(28, scale as i8), Arc::new(array))
            }
            toml::Value::Float(f) => (DataType::Float64, Arc::new(Float64Array::from(vec![*f]))),
            toml::Value::Integer(i) => (DataType::Int64, Arc::new(Int64Array::from(vec![*i]))),
            toml::Value::Boolean(b) => (DataType::Boolean, Arc::new(BooleanArray::from(vec![*b]))),
            _ => return Err(bad(key, "use a decimal string, a number or true/false")),
        };
        fields.push(Field::new(key, data_type, false));
        columns.push(column);
    }
    if columns.is_empty() {
        // A table needs a column; a trigger without thresholds never reads it.
        fields.push(Field::new("none", DataType::Boolean, false));
        columns.push(Arc::new(BooleanArray::from(vec![false])));
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}

fn read_fired(code: &str, batch: &RecordBatch, fired: &mut BTreeSet<Fired>) -> Result<(), String> {
    let column = |name: &str, to: &DataType| -> Result<ArrayRef, String> {
        let c = batch.column_by_name(name).ok_or_else(|| format!("the query must return a column named {name}"))?;
        cast(c, to).map_err(|e| format!("column {name}: {e}"))
    };
    let counties = column("county_code", &DataType::Utf8)?;
    let months = column("month_idx", &DataType::Int64)?;
    let values = column("index_value", &DataType::Utf8)?;
    let details = column("detail", &DataType::Utf8)?;
    let (counties, months, values, details) = (
        counties.as_string::<i32>(),
        months.as_primitive::<Int64Type>(),
        values.as_string::<i32>(),
        details.as_string::<i32>(),
    );
    for i in 0..batch.num_rows() {
        if counties.is_null(i) || months.is_null(i) {
            return Err("returned a null county_code or month_idx".into());
        }
        let text = |a: &datafusion::arrow::array::StringArray| if a.is_null(i) { String::new() } else { a.value(i).to_owned() };
        fired.insert(Fired {
            code: code.to_owned(),
            county_code: counties.value(i).to_owned(),
            month: Month::from_index(months.value(i) as i32),
            index_value: text(values),
            detail: text(details),
        });
    }
    Ok(())
}
