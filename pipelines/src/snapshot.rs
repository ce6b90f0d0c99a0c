//! Feature snapshots: every graded household-month's feature vector, written to Parquet and
//! partitioned by month (`month=YYYY-MM/part-NNNNNN.parquet`), for the data team to train on
//! and to open with any tool. A household-month re-evaluated later appears again in a later
//! part; readers keep the row of the highest `batch`.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Builder, Int32Builder, RecordBatch, StringBuilder, UInt64Builder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::parquet::arrow::ArrowWriter;
use fangpin_connectors::event::Month;
use fangpin_models::Grade;

use crate::error::PipelineError;
use crate::features::FeatureSet;

/// One graded household-month.
pub struct SnapshotRow {
    pub household_code: String,
    pub month: Month,
    pub rules_grade: Option<Grade>,
    pub features: Vec<f64>,
}

/// Writes snapshot parts under a directory.
pub struct SnapshotWriter {
    dir: PathBuf,
    schema: SchemaRef,
    /// How many feature columns follow the keys.
    features: usize,
    batch: u64,
    pending: BTreeMap<Month, Vec<SnapshotRow>>,
}

/// The snapshot schema: keys, the rules grade, then one float column per feature of `features`.
pub fn schema(features: &FeatureSet) -> SchemaRef {
    let mut fields = vec![
        Field::new("household_code", DataType::Utf8, false),
        Field::new("month", DataType::Utf8, false),
        Field::new("month_idx", DataType::Int32, false),
        Field::new("batch", DataType::UInt64, false),
        Field::new("rules_grade", DataType::Utf8, true),
    ];
    fields.extend(features.names().iter().map(|n| Field::new(n, DataType::Float64, false)));
    Arc::new(Schema::new(fields))
}

impl SnapshotWriter {
    /// A writer of `features` into `dir` (created if missing).
    pub fn create(dir: &Path, features: &FeatureSet) -> Result<SnapshotWriter, PipelineError> {
        std::fs::create_dir_all(dir).map_err(|source| PipelineError::Io { path: dir.to_owned(), source })?;
        Ok(SnapshotWriter {
            dir: dir.to_owned(),
            schema: schema(features),
            features: features.names().len(),
            batch: 0,
            pending: BTreeMap::new(),
        })
    }

    /// Queues a row for the current batch.
    pub fn push(&mut self, row: SnapshotRow) {
        self.pending.entry(row.month).or_default().push(row);
    }

    /// Writes the current batch's rows, one file per month, and starts the next batch.
    pub fn flush(&mut self) -> Result<(), PipelineError> {
        self.batch += 1;
        for (month, rows) in std::mem::take(&mut self.pending) {
            let dir = self.dir.join(format!("month={month}"));
            std::fs::create_dir_all(&dir).map_err(|source| PipelineError::Io { path: dir.clone(), source })?;
            let path = dir.join(format!("part-{:06}.parquet", self.batch));
            let file = File::create(&path).map_err(|source| PipelineError::Io { path: path.clone(), source })?;
            let mut writer = ArrowWriter::try_new(file, self.schema.clone(), None)
                .map_err(|e| PipelineError::Internal(format!("parquet writer: {e}")))?;
            writer.write(&self.to_batch(&rows)?).map_err(|e| PipelineError::Internal(format!("parquet write: {e}")))?;
            writer.close().map_err(|e| PipelineError::Internal(format!("parquet close: {e}")))?;
        }
        Ok(())
    }

    fn to_batch(&self, rows: &[SnapshotRow]) -> Result<RecordBatch, PipelineError> {
        let n = rows.len();
        let (mut codes, mut months) = (StringBuilder::with_capacity(n, n * 17), StringBuilder::with_capacity(n, n * 7));
        let (mut idx, mut batch, mut grade) = (Int32Builder::with_capacity(n), UInt64Builder::with_capacity(n), StringBuilder::new());
        let mut values: Vec<Float64Builder> = (0..self.features).map(|_| Float64Builder::with_capacity(n)).collect();
        for r in rows {
            codes.append_value(&r.household_code);
            months.append_value(r.month.to_string());
            idx.append_value(r.month.index());
            batch.append_value(self.batch);
            grade.append_option(r.rules_grade.map(Grade::code));
            for (b, v) in values.iter_mut().zip(&r.features) {
                b.append_value(*v);
            }
        }
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(codes.finish()),
            Arc::new(months.finish()),
            Arc::new(idx.finish()),
            Arc::new(batch.finish()),
            Arc::new(grade.finish()),
        ];
        columns.extend(values.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}
