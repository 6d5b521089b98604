//! Parquet column chunks fetched one row group ahead of decoding.
//!
//! DataFusion's Parquet scan is a loop per partition: ask for a row group's
//! column chunks, wait for S3, decode them, then ask for the next row
//! group's. While a partition decodes, it has nothing in flight, and while
//! it waits, it decodes nothing. So the only way to keep the network busy
//! was more partitions than cores (see
//! [`crate::engine::default_target_partitions`]), which also multiplies every
//! repartition and hash table above the scan.
//!
//! This module lets a partition overlap the two: when a row group's chunks
//! arrive, the same columns of the partition's next row group are requested
//! in the background, so they are on their way (or already here) while the
//! first is decoded. IO concurrency then no longer depends on the number of
//! partitions.
//!
//! ```text
//!   physical plan ─▶ ReadAheadRule (last optimizer rule)
//!        DataSourceExec(ParquetSource) ─▶ ParquetSource with ReadAheadFactory
//!   scan partition ─▶ ReadAheadReader::get_byte_ranges(row group i)
//!        the prefetch of i, if it is what was asked ─▶ the bytes
//!        then: spawn store.get_ranges(same columns of row group i + 1)
//! ```
//!
//! The guess is only made when the request is exactly whole column chunks
//! of one row group (a scan without page-level selection) and the next row
//! group belongs to the same partition (its first page lies in the
//! partition's byte range, DataFusion's own rule). A guess not asked for
//! (the next row group was pruned by statistics or a top-k filter) is
//! dropped unused: at most one row group's chunks per partition. The
//! fetches go through the same object store, so the S3 byte cache and its
//! version checks apply unchanged.
//!
//! It is off unless a session says `SET quarry.parquet_read_ahead = true`.
//! Measured on the 2-core machines with S3 on the same host (TPC-H sf1,
//! cache off, both settings in one run), it changed nothing: the cores
//! were already 85-93 % busy with decoding and the S3 server, so there was
//! no waiting left to overlap. It is kept for S3 that is far enough away
//! to wait on, where a partition's fetch and decode are otherwise serial;
//! the benchmarks keep measuring it.

mod reader;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::datasource::physical_plan::parquet::DefaultParquetFileReaderFactory;
use datafusion::datasource::physical_plan::{FileScanConfig, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::object_store::ObjectStoreRegistry;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;

use crate::engine::options::QuarryOptions;
use reader::ReadAheadFactory;

/// How often a partition found its next row group fetched ahead, and how
/// often a guess went unused (for tests and the benchmarks' judgement).
#[derive(Debug, Default)]
pub(crate) struct ReadAheadCounts {
    pub(crate) used: AtomicUsize,
    pub(crate) unused: AtomicUsize,
}

#[cfg(test)]
impl ReadAheadCounts {
    pub(crate) fn used(&self) -> usize {
        self.used.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn unused(&self) -> usize {
        self.unused.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The physical optimizer rule giving every Parquet scan a read-ahead
/// reader. It runs last, after the scans were split into partitions.
#[derive(Debug)]
pub(crate) struct ReadAheadRule {
    stores: Arc<dyn ObjectStoreRegistry>,
    counts: Arc<ReadAheadCounts>,
}

impl ReadAheadRule {
    /// A rule fetching through the stores of `stores` (the session's
    /// registry, so the same credentials and byte cache serve the guesses).
    pub(crate) fn new(stores: Arc<dyn ObjectStoreRegistry>) -> Self {
        ReadAheadRule {
            stores,
            counts: Arc::default(),
        }
    }

    #[cfg(test)]
    pub(crate) fn counts(&self) -> Arc<ReadAheadCounts> {
        Arc::clone(&self.counts)
    }

    /// `exec` with read-ahead readers, when it is a Parquet scan.
    fn with_read_ahead(&self, exec: &DataSourceExec) -> Result<Option<DataSourceExec>> {
        let Some(conf) = exec.data_source().downcast_ref::<FileScanConfig>() else {
            return Ok(None);
        };
        let Some(parquet) = conf.file_source().downcast_ref::<ParquetSource>() else {
            return Ok(None);
        };
        let store = self.stores.get_store(conf.object_store_url.as_ref())?;
        let inner = match parquet.parquet_file_reader_factory() {
            Some(factory) => Arc::clone(factory),
            None => Arc::new(DefaultParquetFileReaderFactory::new(Arc::clone(&store))),
        };
        let factory = ReadAheadFactory::new(inner, store, Arc::clone(&self.counts));
        let source = parquet
            .clone()
            .with_parquet_file_reader_factory(Arc::new(factory));
        let conf = FileScanConfigBuilder::from(conf.clone())
            .with_source(Arc::new(source))
            .build();
        Ok(Some(exec.clone().with_data_source(Arc::new(conf))))
    }
}

impl PhysicalOptimizerRule for ReadAheadRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let enabled = config
            .extensions
            .get::<QuarryOptions>()
            .is_none_or(|options| options.parquet_read_ahead);
        if !enabled {
            return Ok(plan);
        }
        plan.transform_up(|node| {
            let Some(exec) = node.downcast_ref::<DataSourceExec>() else {
                return Ok(Transformed::no(node));
            };
            Ok(match self.with_read_ahead(exec)? {
                Some(exec) => Transformed::yes(Arc::new(exec) as Arc<dyn ExecutionPlan>),
                None => Transformed::no(node),
            })
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &str {
        "quarry_parquet_read_ahead"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
