//! The `household_months` table the indicator SQL reads: one row per household and calendar
//! month of the window, money as `DECIMAL(18,2)` (exact), built from the touched households.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Decimal128Builder, Int32Builder, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use fangpin_connectors::event::{HouseholdCode, Month};
use rust_decimal::Decimal;

use crate::error::PipelineError;
use crate::ledger::{Household, MonthFigures};

/// Precision and scale of every decimal column: yuan with fen, and areas in mu.
pub const MONEY: DataType = DataType::Decimal128(18, 2);

// The decoder keeps areas to the decimals these columns carry; a record with more would fail
// the whole batch when its row is built.
const _: () = assert!(fangpin_connectors::event::AREA_DECIMALS == 2, "areas must fit the table's two decimals");

const TEXT: [&str; 6] = ["household_code", "county_code", "township_code", "village_code", "category", "month"];
const INTS: [&str; 10] = [
    "members",
    "labor_count",
    "month_idx",
    "eval_from",
    "feeds_start",
    "open_month",
    "inpatient_bills",
    "unemployed_workers",
    "house_damage",
    "workers_reported",
];
const DECIMALS: [&str; 13] = [
    "baseline_income",
    "wages",
    "wage_loss",
    "farm_expected",
    "farm_actual",
    "planted_mu",
    "disaster_mu",
    "transfers",
    "temp_assistance",
    "medical_oop",
    "education_fees",
    "education_aid",
    "disaster_loss",
];

/// The schema of `household_months`.
pub fn schema() -> SchemaRef {
    let mut fields: Vec<Field> = TEXT.iter().map(|n| Field::new(*n, DataType::Utf8, false)).collect();
    fields.extend(INTS.iter().map(|n| Field::new(*n, DataType::Int32, false)));
    fields.extend(DECIMALS.iter().map(|n| Field::new(*n, MONEY, false)));
    Arc::new(Schema::new(fields))
}

/// One row of `household_months`, as the golden tests and the builder see it.
#[derive(Clone, Debug, PartialEq)]
pub struct MonthRow {
    pub household_code: String,
    pub category: String,
    pub members: i32,
    pub labor_count: i32,
    pub baseline_income: Decimal,
    pub month: Month,
    pub eval_from: Month,
    /// The first month the feeds cover: the official income measure fills the months of its
    /// trailing window before it from last year's income.
    pub feeds_start: Month,
    /// The month the stream is in: its income is still arriving.
    pub open_month: Month,
    pub figures: MonthFigures,
}

impl MonthRow {
    /// Rows for one household from `first` to `last` (the month the stream is in), reporting
    /// from `eval_from`, with feeds covering the months from `feeds_start`.
    pub fn for_household(h: &Household, first: Month, last: Month, eval_from: Month, feeds_start: Month) -> Vec<MonthRow> {
        let p = &h.profile;
        h.months(first, last)
            .into_iter()
            .enumerate()
            .map(|(i, figures)| MonthRow {
                household_code: p.household.as_str().to_owned(),
                category: p.category.code().to_owned(),
                members: p.members as i32,
                labor_count: p.labor_count as i32,
                baseline_income: p.baseline_income,
                month: first.plus(i as i32),
                eval_from,
                feeds_start,
                open_month: last,
                figures,
            })
            .collect()
    }
}

/// Builds the Arrow batch for `rows`.
pub fn to_batch(rows: &[MonthRow]) -> Result<RecordBatch, PipelineError> {
    let n = rows.len();
    let mut text: Vec<StringBuilder> = TEXT.iter().map(|_| StringBuilder::with_capacity(n, n * 12)).collect();
    let mut ints: Vec<Int32Builder> = INTS.iter().map(|_| Int32Builder::with_capacity(n)).collect();
    let mut decs: Vec<Decimal128Builder> = DECIMALS.iter().map(|_| Decimal128Builder::with_capacity(n)).collect();
    for r in rows {
        let code = HouseholdCode::parse(&r.household_code)
            .ok_or_else(|| PipelineError::Internal(format!("bad household code in state: {}", r.household_code)))?;
        let month = r.month.to_string();
        for (b, v) in text.iter_mut().zip([code.as_str(), code.county(), code.township(), code.village(), &r.category, &month]) {
            b.append_value(v);
        }
        let f = &r.figures;
        let int_values =
            [
            r.members,
            r.labor_count,
            r.month.index(),
            r.eval_from.index(),
            r.feeds_start.index(),
            r.open_month.index(),
            f.inpatient_bills,
            f.unemployed_workers,
            f.house_damage,
            f.workers_reported,
        ];
        for (b, v) in ints.iter_mut().zip(int_values) {
            b.append_value(v);
        }
        let dec_values = [
            r.baseline_income,
            f.wages,
            f.wage_loss,
            f.farm_expected,
            f.farm_actual,
            f.planted_mu,
            f.disaster_mu,
            f.transfers,
            f.temp_assistance,
            f.medical_oop,
            f.education_fees,
            f.education_aid,
            f.disaster_loss,
        ];
        for (b, v) in decs.iter_mut().zip(dec_values) {
            b.append_value(fen(v)?);
        }
    }
    let mut columns: Vec<ArrayRef> = text.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
    columns.extend(ints.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    for b in &mut decs {
        let array = b.finish().with_precision_and_scale(18, 2)?;
        columns.push(Arc::new(array));
    }
    Ok(RecordBatch::try_new(schema(), columns)?)
}

/// A decimal as an integer number of fen (scale 2), exactly; more decimals are a bug upstream.
fn fen(v: Decimal) -> Result<i128, PipelineError> {
    let mut d = v;
    d.rescale(2);
    if d != v {
        return Err(PipelineError::Internal(format!("{v} has more than two decimals")));
    }
    Ok(d.mantissa())
}
