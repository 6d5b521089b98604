//! The plan node that keeps a scan's decoded batches once the scan is
//! complete.

use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Result, Statistics};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::statistics::{ChildStats, StatisticsArgs};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties,
    ReplaceChildrenOptions,
};
use futures::Stream;
use quarry_s3::RangeCache;

use super::DecodedTable;

/// Passes its input's batches through unchanged and, when every partition
/// has run to its end without an error, keeps all of them under `key`.
///
/// It has the input's properties, so the optimizer may still split the scan
/// beneath it into byte ranges (one per core): the first read is as
/// parallel as without the cache.
#[derive(Debug)]
pub(super) struct KeepDecodedExec {
    input: Arc<dyn ExecutionPlan>,
    key: String,
    /// The file's columns the input yields (ascending indices).
    columns: Arc<[usize]>,
    cache: Arc<RangeCache>,
    filling: Arc<Filling>,
}

impl KeepDecodedExec {
    pub(super) fn new(
        input: Arc<dyn ExecutionPlan>,
        key: String,
        columns: Arc<[usize]>,
        cache: Arc<RangeCache>,
    ) -> Self {
        KeepDecodedExec {
            input,
            key,
            columns,
            cache,
            filling: Arc::new(Filling::default()),
        }
    }
}

impl DisplayAs for KeepDecodedExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "KeepDecodedExec")
    }
}

impl ExecutionPlan for KeepDecodedExec {
    fn name(&self) -> &str {
        "KeepDecodedExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    /// The scan's own statistics (a CSV's size estimate, say): without them
    /// the planner would take a kept lookup file for a large table.
    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        vec![ChildStats::At(partition)]
    }

    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        _args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        Ok(input_stats.first().map_or_else(
            || Arc::new(Statistics::new_unknown(&self.schema())),
            Arc::clone,
        ))
    }

    #[allow(deprecated)]
    fn partition_statistics(&self, partition: Option<usize>) -> Result<Arc<Statistics>> {
        self.input.partition_statistics(partition)
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return datafusion::common::internal_err!("KeepDecodedExec has one input");
        }
        Ok(Arc::new(KeepDecodedExec::new(
            children.swap_remove(0),
            self.key.clone(),
            Arc::clone(&self.columns),
            Arc::clone(&self.cache),
        )))
    }

    #[allow(deprecated)]
    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(
                datafusion::physical_plan::ChildrenPropertiesMode::Recompute,
            ),
        )
    }

    fn repartitioned(
        &self,
        target_partitions: usize,
        config: &ConfigOptions,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        Ok(self
            .input
            .repartitioned(target_partitions, config)?
            .map(|input| {
                Arc::new(KeepDecodedExec::new(
                    input,
                    self.key.clone(),
                    Arc::clone(&self.columns),
                    Arc::clone(&self.cache),
                )) as Arc<dyn ExecutionPlan>
            }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        Ok(Box::pin(KeepingStream {
            input,
            partition,
            partitions: self.input.output_partitioning().partition_count(),
            held: Vec::new(),
            // Read once: the budget is a lock away, a batch is not.
            limit: self.cache.stats().capacity / 2,
            keep: Arc::new(Keep {
                key: self.key.clone(),
                columns: Arc::clone(&self.columns),
                cache: Arc::clone(&self.cache),
                filling: Arc::clone(&self.filling),
            }),
        }))
    }
}

/// The partitions' batches gathered so far, and whether the scan can still
/// be kept.
#[derive(Debug, Default)]
struct Filling {
    parts: Mutex<Parts>,
    /// Bytes held by all partitions so far.
    bytes: AtomicUsize,
}

#[derive(Debug, Default)]
struct Parts {
    finished: Vec<Option<Vec<RecordBatch>>>,
    /// An error, or more bytes than may be kept: give up.
    abandoned: bool,
    kept: bool,
}

struct Keep {
    key: String,
    columns: Arc<[usize]>,
    cache: Arc<RangeCache>,
    filling: Arc<Filling>,
}

impl Keep {
    fn abandon(&self) {
        let mut parts = self.filling.parts.lock().unwrap_or_else(|e| e.into_inner());
        parts.abandoned = true;
        parts.finished.clear();
    }

    /// One partition ran to its end with `batches`; once all have, the
    /// whole table is kept.
    fn finish(&self, partition: usize, partitions: usize, batches: Vec<RecordBatch>) {
        let mut parts = self.filling.parts.lock().unwrap_or_else(|e| e.into_inner());
        if parts.abandoned || parts.kept {
            return;
        }
        if parts.finished.len() != partitions {
            parts.finished = vec![None; partitions];
        }
        if parts.finished[partition].is_some() {
            return;
        }
        parts.finished[partition] = Some(batches);
        if parts.finished.iter().any(Option::is_none) {
            return;
        }
        parts.kept = true;
        let batches: Vec<RecordBatch> = parts.finished.drain(..).flatten().flatten().collect();
        drop(parts);
        let Some(schema) = batches.first().map(RecordBatch::schema) else {
            return;
        };
        let bytes = batches.iter().map(RecordBatch::get_array_memory_size).sum();
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        let kept = self.cache.keep_derived(
            self.key.clone(),
            Arc::new(DecodedTable {
                schema,
                columns: Arc::clone(&self.columns),
                batches,
            }),
            bytes,
        );
        tracing::debug!(rows, bytes, kept, "decoded scan finished");
    }
}

struct KeepingStream {
    input: SendableRecordBatchStream,
    partition: usize,
    partitions: usize,
    held: Vec<RecordBatch>,
    /// The most a decoding may take: what `RangeCache::keep_derived` would
    /// accept.
    limit: usize,
    keep: Arc<Keep>,
}

impl Stream for KeepingStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let polled = this.input.as_mut().poll_next(cx);
        match &polled {
            Poll::Ready(Some(Ok(batch))) => {
                let size = batch.get_array_memory_size();
                let total = this.keep.filling.bytes.fetch_add(size, Ordering::Relaxed) + size;
                if total > this.limit {
                    this.held.clear();
                    this.keep.abandon();
                } else {
                    this.held.push(batch.clone());
                }
            }
            Poll::Ready(Some(Err(_))) => {
                this.held.clear();
                this.keep.abandon();
            }
            Poll::Ready(None) => {
                let held = std::mem::take(&mut this.held);
                this.keep.finish(this.partition, this.partitions, held);
            }
            Poll::Pending => {}
        }
        polled
    }
}

impl RecordBatchStream for KeepingStream {
    fn schema(&self) -> SchemaRef {
        self.input.schema()
    }
}
