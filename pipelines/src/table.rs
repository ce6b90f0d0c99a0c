//! The `household_months` table the indicator SQL reads: one row per household and calendar
//! month being judged (and the [`LOOKBACK`] months before, which trends and "two months
//! running" compare with), money as `DECIMAL(18,2)` (exact), built from the touched
//! households. Each row carries the month's own figures and its trailing windows
//! ([`crate::trailing`]), computed from every month of the household's window.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Decimal128Builder, Int32Builder, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use fangpin_connectors::event::{HouseholdCode, Month};
use rust_decimal::Decimal;

use crate::error::PipelineError;
use crate::ledger::{Household, MonthFigures};
use crate::trailing::{self, Of, WINDOWS};

/// Months before the first judged one that the table still carries: a trend compares a month
/// with the one three months earlier.
pub const LOOKBACK: i32 = 3;

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

/// The schema of `household_months`: the month's figures, then its trailing windows.
pub fn schema() -> SchemaRef {
    let mut fields = raw_fields();
    fields.extend(WINDOWS.iter().map(|w| match w.of {
        Of::Money(_) => Field::new(w.name, MONEY, false),
        _ => Field::new(w.name, DataType::Int32, false),
    }));
    Arc::new(Schema::new(fields))
}

/// The schema of [`raw_batch`]: the month's figures only.
pub fn raw_schema() -> SchemaRef {
    Arc::new(Schema::new(raw_fields()))
}

fn raw_fields() -> Vec<Field> {
    let mut fields: Vec<Field> = TEXT.iter().map(|n| Field::new(*n, DataType::Utf8, false)).collect();
    fields.extend(INTS.iter().map(|n| Field::new(*n, DataType::Int32, false)));
    fields.extend(DECIMALS.iter().map(|n| Field::new(*n, MONEY, false)));
    fields
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

/// The `household_months` batch for `rows`: one household's rows after another, each
/// household's one per month with none missing, oldest first (as [`MonthRow::for_household`]
/// gives them). Only the rows from `eval_from - LOOKBACK` on are carried; the earlier ones feed
/// the trailing windows.
pub fn to_batch(rows: &[MonthRow]) -> Result<RecordBatch, PipelineError> {
    let mut builder = Builder::new(rows.len(), true);
    for household in rows.chunk_by(|a, b| a.household_code == b.household_code) {
        if let Some(gap) = household.windows(2).find(|p| p[1].month != p[0].month.plus(1)) {
            return Err(PipelineError::Internal(format!(
                "{}: rows for {} then {}, not one per month",
                gap[0].household_code, gap[0].month, gap[1].month
            )));
        }
        let code = parse(&household[0].household_code)?;
        let from_month = household[0].eval_from.index() - LOOKBACK;
        let from = household.iter().position(|r| r.month.index() >= from_month).unwrap_or(household.len());
        for (row, windows) in household[from..].iter().zip(trailing::values(household, from)?) {
            builder.push(&code, row, Some(&windows))?;
        }
    }
    builder.finish(schema())
}

/// Every row with the month's figures only, no trailing windows: the input of
/// `sql/trailing_windows.sql`, which states the windows as SQL (the golden test, the DuckDB
/// benchmark).
pub fn raw_batch(rows: &[MonthRow]) -> Result<RecordBatch, PipelineError> {
    let mut builder = Builder::new(rows.len(), false);
    for row in rows {
        builder.push(&parse(&row.household_code)?, row, None)?;
    }
    builder.finish(raw_schema())
}

/// Column builders for `household_months`.
struct Builder {
    text: Vec<StringBuilder>,
    ints: Vec<Int32Builder>,
    decs: Vec<Decimal128Builder>,
    /// One per window, or none for a raw batch.
    windows: Vec<Window>,
}

enum Window {
    Money(Decimal128Builder),
    Int(Int32Builder),
}

impl Builder {
    fn new(n: usize, with_windows: bool) -> Builder {
        let windows = if with_windows {
            WINDOWS
                .iter()
                .map(|w| match w.of {
                    Of::Money(_) => Window::Money(Decimal128Builder::with_capacity(n)),
                    _ => Window::Int(Int32Builder::with_capacity(n)),
                })
                .collect()
        } else {
            Vec::new()
        };
        Builder {
            text: TEXT.iter().map(|_| StringBuilder::with_capacity(n, n * 12)).collect(),
            ints: INTS.iter().map(|_| Int32Builder::with_capacity(n)).collect(),
            decs: DECIMALS.iter().map(|_| Decimal128Builder::with_capacity(n)).collect(),
            windows,
        }
    }

    fn push(&mut self, code: &HouseholdCode, r: &MonthRow, windows: Option<&[trailing::Value; WINDOWS.len()]>) -> Result<(), PipelineError> {
        let month = r.month.to_string();
        for (b, v) in self.text.iter_mut().zip([code.as_str(), code.county(), code.township(), code.village(), &r.category, &month]) {
            b.append_value(v);
        }
        let f = &r.figures;
        let int_values = [
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
        for (b, v) in self.ints.iter_mut().zip(int_values) {
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
        for (b, v) in self.decs.iter_mut().zip(dec_values) {
            b.append_value(fen(v)?);
        }
        for (b, v) in self.windows.iter_mut().zip(windows.into_iter().flatten()) {
            match b {
                Window::Money(b) => b.append_value(*v),
                Window::Int(b) => b.append_value(
                    i32::try_from(*v).map_err(|_| PipelineError::Internal(format!("a trailing count of {v}")))?,
                ),
            }
        }
        Ok(())
    }

    fn finish(mut self, schema: SchemaRef) -> Result<RecordBatch, PipelineError> {
        let mut columns: Vec<ArrayRef> = self.text.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
        columns.extend(self.ints.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        for b in &mut self.decs {
            columns.push(Arc::new(b.finish().with_precision_and_scale(18, 2)?));
        }
        for b in &mut self.windows {
            columns.push(match b {
                Window::Money(b) => Arc::new(b.finish().with_precision_and_scale(18, 2)?),
                Window::Int(b) => Arc::new(b.finish()),
            });
        }
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}

fn parse(code: &str) -> Result<HouseholdCode, PipelineError> {
    HouseholdCode::parse(code).ok_or_else(|| PipelineError::Internal(format!("bad household code in state: {code}")))
}

/// A decimal as an integer number of fen (scale 2), exactly; more decimals are a bug upstream.
pub(crate) fn fen(v: Decimal) -> Result<i128, PipelineError> {
    // The decoders give amounts with at most two decimals: the first two arms are the rule.
    match v.scale() {
        2 => Ok(v.mantissa()),
        0 => Ok(v.mantissa() * 100),
        1 => Ok(v.mantissa() * 10),
        _ => {
            let mut d = v;
            d.rescale(2);
            if d != v {
                return Err(PipelineError::Internal(format!("{v} has more than two decimals")));
            }
            Ok(d.mantissa())
        }
    }
}
