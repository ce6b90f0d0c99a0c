//! Training data for the data team: feature snapshots (Parquet) joined with labels in
//! DataFusion SQL.
//!
//! Labels come from the simulator's ground truth (a household-month is at risk when the
//! household is below the line in that month or one of the next three) and, where cadres have
//! answered alerts, from `verify.outcomes` (`confirmed_risk` → at risk, `no_risk` → not), which
//! override the truth for the household-month their alert was about. Months whose three
//! following months are not all in the data are left out: their label is not known yet.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Int32Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int32Type, Schema};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use fangpin_connectors::event::Month;
use fangpin_models::train::Example;
use fangpin_models::Grade;

use crate::error::PipelineError;
use crate::features::FeatureSet;

/// Labelled rows of `features` from the snapshots under `snapshots`: `below` lists the
/// (household, month) pairs known to be below the line; `outcomes` the (household, month, at
/// risk) answers of cadres.
pub async fn examples(
    snapshots: &std::path::Path,
    features: &FeatureSet,
    below: &[(String, Month)],
    outcomes: &[(String, Month, bool)],
) -> Result<Vec<Example>, PipelineError> {
    let ctx = SessionContext::new();
    let path = snapshots.to_str().ok_or_else(|| PipelineError::Config("snapshot path is not UTF-8".into()))?;
    ctx.register_parquet("snapshots", path, ParquetReadOptions::default().table_partition_cols(vec![]))
        .await
        .map_err(|e| PipelineError::Config(format!("cannot read feature snapshots under {path}: {e}")))?;
    let found = ctx.table_provider("snapshots").await?.schema();
    check_columns(&found, features).map_err(|m| PipelineError::Config(format!("feature snapshots under {path}: {m}")))?;
    ctx.register_batch("below", pairs(below.iter().map(|(h, m)| (h.as_str(), m.index(), None)))?)?;
    ctx.register_batch("outcomes", pairs(outcomes.iter().map(|(h, m, r)| (h.as_str(), m.index(), Some(*r))))?)?;
    let sql = r#"
        WITH latest AS (
          SELECT * FROM (
            SELECT s.*, ROW_NUMBER() OVER (PARTITION BY household_code, month_idx ORDER BY batch DESC) AS rn
            FROM snapshots s) WHERE rn = 1),
        horizon AS (SELECT MAX(month_idx) - 3 AS last_labelled FROM latest),
        at_risk AS (
          SELECT DISTINCT l.household_code, l.month_idx
          FROM latest l JOIN below b
            ON b.household_code = l.household_code AND b.month_idx BETWEEN l.month_idx AND l.month_idx + 3)
        SELECT l.*,
               COALESCE(o.at_risk, r.household_code IS NOT NULL) AS label
        FROM latest l
        CROSS JOIN horizon h
        LEFT JOIN at_risk r ON r.household_code = l.household_code AND r.month_idx = l.month_idx
        LEFT JOIN outcomes o ON o.household_code = l.household_code AND o.month_idx = l.month_idx
        WHERE l.month_idx <= h.last_labelled
        ORDER BY l.month_idx, l.household_code"#;
    let batches = ctx.sql(sql).await?.collect().await?;
    let mut out = Vec::new();
    for batch in &batches {
        read(batch, features, &mut out)?;
    }
    Ok(out)
}

/// Refuses snapshots whose columns are not the ones a run with `features` writes
/// ([`crate::snapshot::schema`]), naming the first that differs, before any query trips over it.
/// Snapshots of a run with other indicators are refused too: an indicator's feature must not
/// be dropped or made up silently.
fn check_columns(found: &Schema, features: &FeatureSet) -> Result<(), String> {
    let text = |t: &DataType| matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8);
    let other_indicators = "written by a run with other indicators? Train with the indicators the run used \
                            (`--indicators DIR`, or none for the shipped ones)";
    if let Some(extra) = found.fields().iter().find(|f| {
        FeatureSet::indicator_of(f.name()).is_some() && !features.names().contains(f.name())
    }) {
        return Err(format!("column {} is the feature of an indicator training was not given: {other_indicators}", extra.name()));
    }
    for want in crate::snapshot::schema(features).fields() {
        let Ok(got) = found.field_with_name(want.name()) else {
            let why = if FeatureSet::indicator_of(want.name()).is_some() { other_indicators } else { "written by another feature version?" };
            return Err(format!("no column {}: {why}", want.name()));
        };
        let (w, g) = (want.data_type(), got.data_type());
        if w != g && !(text(w) && text(g)) {
            return Err(format!(
                "column {} holds {g}, where fangpin writes {w}: were they written by another program or feature version?",
                want.name()
            ));
        }
    }
    Ok(())
}

fn pairs<'a>(rows: impl Iterator<Item = (&'a str, i32, Option<bool>)>) -> Result<RecordBatch, PipelineError> {
    let (mut h, mut m, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for (code, month, at_risk) in rows {
        h.push(code.to_owned());
        m.push(month);
        r.push(at_risk);
    }
    let schema = Schema::new(vec![
        Field::new("household_code", DataType::Utf8, false),
        Field::new("month_idx", DataType::Int32, false),
        Field::new("at_risk", DataType::Boolean, true),
    ]);
    Ok(RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(StringArray::from(h)),
            Arc::new(Int32Array::from(m)),
            Arc::new(datafusion::arrow::array::BooleanArray::from(r)),
        ],
    )?)
}

/// The indicators that never fired in `rows`: their features are constants no model can learn
/// from, so a model trained on these rows ignores them. Training says so and the card lists
/// them.
pub fn never_fired(features: &FeatureSet, rows: &[Example]) -> Vec<String> {
    features
        .names()
        .iter()
        .enumerate()
        .filter_map(|(i, name)| FeatureSet::indicator_of(name).filter(|_| !rows.iter().any(|r| r.features[i] > 0.5)))
        .map(str::to_owned)
        .collect()
}

fn read(batch: &RecordBatch, features: &FeatureSet, out: &mut Vec<Example>) -> Result<(), PipelineError> {
    let col = |name: &str| {
        batch.column_by_name(name).ok_or_else(|| {
            PipelineError::Config(format!("feature snapshots lack column {name}: were they written by another feature version?"))
        })
    };
    let months = col("month_idx")?.as_primitive::<Int32Type>();
    let households = datafusion::arrow::compute::cast(col("household_code")?, &DataType::Utf8)?;
    let households = households.as_string::<i32>();
    // The category is one of the one-hot features.
    let categories: Vec<(usize, &str)> =
        features.names().iter().enumerate().filter_map(|(i, n)| n.strip_prefix("category_").map(|c| (i, c))).collect();
    let labels = col("label")?.as_boolean();
    let grades = datafusion::arrow::compute::cast(col("rules_grade")?, &DataType::Utf8)?;
    let grades = grades.as_string::<i32>();
    let values: Vec<_> = features.names().iter().map(|n| col(n).map(|c| c.as_primitive::<Float64Type>())).collect::<Result<_, _>>()?;
    for i in 0..batch.num_rows() {
        let rules_grade = if grades.is_null(i) { None } else { Grade::from_code(grades.value(i)) };
        let features: Vec<f64> = values.iter().map(|v| v.value(i)).collect();
        let category = categories.iter().find(|(j, _)| features[*j] > 0.5).map_or("unknown", |(_, c)| c);
        out.push(Example {
            county: households.value(i).chars().take(6).collect(),
            category: category.to_owned(),
            features,
            label: labels.value(i),
            month_idx: months.value(i),
            rules_grade,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, UInt64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::parquet::arrow::ArrowWriter;

    use crate::features::FeatureSet;

    /// A snapshot file like fangpin's ([`crate::snapshot::schema`]), but with `month_idx`
    /// written as text.
    fn write_wrong_snapshot(dir: &std::path::Path) {
        let mut fields = Vec::new();
        let mut columns: Vec<ArrayRef> = Vec::new();
        for f in crate::snapshot::schema(&FeatureSet::builtin()).fields() {
            let (field, column): (Field, ArrayRef) = match (f.name().as_str(), f.data_type()) {
                ("month_idx", _) => (Field::new("month_idx", DataType::Utf8, false), Arc::new(StringArray::from(vec!["24292"]))),
                (_, DataType::Utf8) => (f.as_ref().clone(), Arc::new(StringArray::from(vec!["420922101201-0042"]))),
                (_, DataType::UInt64) => (f.as_ref().clone(), Arc::new(UInt64Array::from(vec![1]))),
                (_, DataType::Float64) => (f.as_ref().clone(), Arc::new(Float64Array::from(vec![0.5]))),
                (name, other) => panic!("the snapshot schema gained a column this test does not fill: {name} {other}"),
            };
            fields.push(field);
            columns.push(column);
        }
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
        let file = std::fs::File::create(dir.join("part-000001.parquet")).unwrap();
        let mut writer = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }

    #[tokio::test]
    async fn snapshots_with_a_column_of_the_wrong_type_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        write_wrong_snapshot(dir.path());
        let e = super::examples(dir.path(), &FeatureSet::builtin(), &[], &[]).await.unwrap_err().to_string();
        assert!(e.contains("column month_idx holds Utf8") && e.contains("fangpin writes Int32"), "{e}");
    }
}
