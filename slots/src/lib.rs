//! A DataFusion table whose contents are replaced between runs of plans made once.
//!
//! # Layout
//! One module: [`Slots`] (the table), the plan leaf that reads it, and [`run`]. Used by the
//! pipeline's indicator engine and by the claims' index triggers; errors are DataFusion's.
//!
//! DataFusion's `MemTable` hands its batches to a physical plan when the plan is made, so the
//! queries over it had to be planned again for every run: physical planning of the eight
//! indicator queries was ~20% of a replay paced at 10,000 records/s, and of the index triggers
//! ~10% more. A [`Slots`] table's scan reads the batches when it runs instead, so each query is
//! planned once and every run only resets the plan's state ([`run`]: `reset_plan_states`, which
//! DataFusion's recursive queries use to run a plan again, gives a hash join a fresh build side).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::Statistics;
use datafusion::datasource::TableType;
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{reset_plan_states, Boundedness, EmissionType};
use datafusion::physical_plan::memory::MemoryStream;
use datafusion::physical_plan::{
    collect, DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties, ReplaceChildrenOptions,
};
use parking_lot::RwLock;

/// What a [`Slots`] table tells the optimizer its size is: planned once for every content, it
/// says it is large, so that a join builds on the small constant tables beside it (`params`),
/// as it would with the real sizes. Told nothing, DataFusion kept a cross join's sides as
/// written and built on the series: one output batch per row, 95 ms a run instead of ~1.
const PLANNED_ROWS: usize = 1_000_000;

type Parts = Arc<Vec<RwLock<Vec<RecordBatch>>>>;

/// A table of `partitions` lists of batches, each replaced by [`Slots::fill`].
#[derive(Debug)]
pub struct Slots {
    schema: SchemaRef,
    parts: Parts,
}

impl Slots {
    pub fn new(schema: SchemaRef, partitions: usize) -> Slots {
        Slots { schema, parts: Arc::new((0..partitions).map(|_| RwLock::new(Vec::new())).collect()) }
    }

    /// Replaces the contents: one list of batches per partition, the missing ones emptied.
    pub fn fill(&self, parts: Vec<Vec<RecordBatch>>) {
        let mut parts = parts.into_iter();
        for slot in self.parts.iter() {
            *slot.write() = parts.next().unwrap_or_default();
        }
    }
}

#[async_trait]
impl TableProvider for Slots {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let schema = match projection {
            Some(columns) => Arc::new(self.schema.project(columns)?),
            None => self.schema.clone(),
        };
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(self.parts.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(Arc::new(SlotsExec {
            parts: self.parts.clone(),
            table_schema: self.schema.clone(),
            projection: projection.cloned(),
            schema,
            properties: Arc::new(properties),
        }))
    }
}

/// The scan of a [`Slots`] table: reads each partition's batches as they are when it runs.
#[derive(Debug)]
struct SlotsExec {
    parts: Parts,
    table_schema: SchemaRef,
    projection: Option<Vec<usize>>,
    /// After the projection.
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl DisplayAs for SlotsExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "SlotsExec: partitions={}", self.parts.len())
    }
}

impl ExecutionPlan for SlotsExec {
    fn name(&self) -> &str {
        "SlotsExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        _: Vec<Arc<dyn ExecutionPlan>>,
        _: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn with_new_children(self: Arc<Self>, _: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(&self, partition: usize, _: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let batches = self.parts.get(partition).map(|p| p.read().clone()).unwrap_or_default();
        Ok(Box::pin(MemoryStream::try_new(batches, self.table_schema.clone(), self.projection.clone())?))
    }

    fn partition_statistics(&self, _: Option<usize>) -> Result<Arc<Statistics>> {
        let mut statistics = Statistics::new_unknown(&self.schema);
        statistics.num_rows = Precision::Inexact(PLANNED_ROWS);
        Ok(Arc::new(statistics))
    }
}

/// Runs a physical plan made once over [`Slots`] tables on their current contents.
pub async fn run(plan: &Arc<dyn ExecutionPlan>, ctx: Arc<TaskContext>) -> Result<Vec<RecordBatch>> {
    collect(reset_plan_states(plan.clone())?, ctx).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{AsArray, Int32Array};
    use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Schema};
    use datafusion::prelude::SessionContext;

    fn batch(schema: &SchemaRef, values: &[i32]) -> RecordBatch {
        RecordBatch::try_new(schema.clone(), vec![Arc::new(Int32Array::from(values.to_vec()))]).unwrap()
    }

    /// A plan made once answers for each content in turn, the build side of its hash join
    /// included (run without the reset, it answers with the first content's build side).
    #[tokio::test]
    async fn a_plan_made_once_reads_each_new_content() {
        let schema: SchemaRef = Arc::new(Schema::new(vec![Field::new("v", DataType::Int32, false)]));
        let ctx = SessionContext::new();
        let table = Arc::new(Slots::new(schema.clone(), 2));
        ctx.register_table("t", table.clone()).unwrap();
        let sql = "SELECT a.v FROM t a JOIN t b ON a.v = b.v + 1 ORDER BY a.v";
        let plan = ctx.sql(sql).await.unwrap().create_physical_plan().await.unwrap();
        let values = |batches: Vec<RecordBatch>| -> Vec<i32> {
            batches.iter().flat_map(|b| b.column(0).as_primitive::<Int32Type>().values().to_vec()).collect()
        };
        table.fill(vec![vec![batch(&schema, &[1, 2])], vec![batch(&schema, &[3])]]);
        assert_eq!(values(run(&plan, ctx.task_ctx()).await.unwrap()), vec![2, 3]);
        table.fill(vec![vec![batch(&schema, &[10, 11, 12])]]);
        assert_eq!(values(run(&plan, ctx.task_ctx()).await.unwrap()), vec![11, 12]);
        table.fill(Vec::new());
        assert!(values(run(&plan, ctx.task_ctx()).await.unwrap()).is_empty());
    }
}
