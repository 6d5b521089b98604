//! The CSV and JSON formats, wrapped so their scans consult the kept
//! decodings first, and so the planner knows roughly how big they are.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::catalog::memory::{DataSourceExec, MemorySourceConfig};
use datafusion::common::stats::Precision;
use datafusion::common::{GetExt, Result, Statistics};
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::datasource::file_format::{FileFormat, FileFormatFactory, FileMeta};
use datafusion::datasource::physical_plan::{
    FileScanConfig, FileScanConfigBuilder, FileSinkConfig, FileSource,
};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::execution::SessionState;
use datafusion::physical_expr::projection::{ProjectionExpr, ProjectionExprs};
use datafusion::physical_expr::{LexOrdering, LexRequirement};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::ProjectionExec;
use object_store::{ObjectMeta, ObjectStore};
use quarry_s3::RangeCache;

use super::keep::KeepDecodedExec;
use super::{DecodedTable, columns_to_decode, version};

/// The file types whose reads are whole-object text parses.
const TEXT_FORMATS: [&str; 2] = ["csv", "json"];

/// Wraps the session's CSV and JSON formats: their files' sizes become
/// size estimates, and with a `cache`, scans keep and reuse their
/// decodings in it.
pub(crate) fn install(state: &mut SessionState, cache: Option<&Arc<RangeCache>>) {
    for ext in TEXT_FORMATS {
        if let Some(inner) = state.get_file_format_factory(ext) {
            let wrapped = Arc::new(DecodedFormatFactory {
                inner,
                cache: cache.cloned(),
            });
            // Replacing a registered extension cannot fail.
            let _ = state.register_file_format(wrapped, true);
        }
    }
}

#[derive(Debug)]
struct DecodedFormatFactory {
    inner: Arc<dyn FileFormatFactory>,
    cache: Option<Arc<RangeCache>>,
}

impl DecodedFormatFactory {
    fn wrap(&self, inner: Arc<dyn FileFormat>) -> Arc<dyn FileFormat> {
        Arc::new(DecodedFormat {
            identity: format!("{inner:?}"),
            inner,
            cache: self.cache.clone(),
        })
    }
}

impl GetExt for DecodedFormatFactory {
    fn get_ext(&self) -> String {
        self.inner.get_ext()
    }
}

impl FileFormatFactory for DecodedFormatFactory {
    fn create(
        &self,
        state: &dyn Session,
        format_options: &HashMap<String, String>,
    ) -> Result<Arc<dyn FileFormat>> {
        Ok(self.wrap(self.inner.create(state, format_options)?))
    }

    fn default(&self) -> Arc<dyn FileFormat> {
        self.wrap(self.inner.default())
    }
}

/// A CSV or JSON format whose scans are answered from kept decodings when
/// the same file versions were decoded before.
#[derive(Debug)]
struct DecodedFormat {
    inner: Arc<dyn FileFormat>,
    /// The format and all its options (delimiter, header, compression…),
    /// so differently read files never share a decoding.
    identity: String,
    /// Where decodings are kept; `None` (the S3 cache is off) keeps none.
    cache: Option<Arc<RangeCache>>,
}

impl DecodedFormat {
    /// The key of a scan's decoding, or `None` when it cannot be kept:
    /// partition columns (values from paths, not files) or byte ranges.
    fn table_key(&self, state: &dyn Session, conf: &FileScanConfig) -> Option<String> {
        if !conf.table_partition_cols().is_empty() {
            return None;
        }
        let mut files = Vec::new();
        for file in conf.file_groups.iter().flat_map(|group| group.iter()) {
            if file.range.is_some() || !file.partition_values.is_empty() {
                return None;
            }
            files.push(version(&file.object_meta));
        }
        if files.is_empty() {
            return None;
        }
        files.sort();
        // Session settings the CSV reader falls back on.
        let catalog = &state.config_options().catalog;
        Some(format!(
            "decoded\u{1}{}\u{1}{}\u{1}{}{}\u{1}{:?}\u{1}{:?}\u{1}{}",
            conf.object_store_url.as_str(),
            self.identity,
            catalog.has_header,
            catalog.newlines_in_values,
            conf.file_compression_type,
            conf.file_schema(),
            files.join("\u{1}")
        ))
    }

    /// Serves `conf`'s scan from a kept decoding.
    fn scan_kept(
        &self,
        state: &dyn Session,
        conf: &FileScanConfig,
        table: &DecodedTable,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let lanes = state.config().target_partitions().max(1);
        let mut partitions = vec![Vec::new(); lanes.min(table.batches.len()).max(1)];
        let count = partitions.len();
        // Contiguous runs, so one lane reads the rows in the files' order.
        let per_lane = table.batches.len().div_ceil(count).max(1);
        for (i, batch) in table.batches.iter().enumerate() {
            partitions[i / per_lane].push(batch.clone());
        }
        let source = MemorySourceConfig::try_new(&partitions, Arc::clone(&table.schema), None)?
            .with_limit(conf.limit);
        project(
            conf,
            &table.columns,
            DataSourceExec::from_data_source(source),
        )
    }

    /// A scan of `conf`'s files decoding `columns` (ascending), kept under
    /// `key` once complete; `conf`'s own projection goes on top.
    async fn scan_and_keep(
        &self,
        state: &dyn Session,
        conf: &FileScanConfig,
        cache: &Arc<RangeCache>,
        key: String,
        columns: Vec<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let table_schema = conf.file_source.table_schema().clone();
        let decode = ProjectionExprs::from_indices(&columns, table_schema.file_schema());
        let every_column = self.inner.file_source(table_schema);
        let (source, columns) = match every_column.try_pushdown_projection(&decode)? {
            Some(projected) => (projected, columns),
            // A source that cannot narrow its columns decodes all of them.
            None => {
                let all = (0..conf.file_schema().fields().len()).collect();
                (every_column, all)
            }
        };
        let scan_conf = FileScanConfigBuilder::from(conf.clone())
            .with_source(source)
            .build();
        let scan = self.inner.create_physical_plan(state, scan_conf).await?;
        let columns: Arc<[usize]> = columns.into();
        let keep = Arc::new(KeepDecodedExec::new(
            scan,
            key,
            Arc::clone(&columns),
            Arc::clone(cache),
        ));
        project(conf, &columns, keep)
    }
}

/// A text file's size on S3 as the estimate of its size decoded, when the
/// format gives none (CSV and JSON never do). Without any size, the planner
/// cannot tell a 40-row lookup CSV from a large table: it keeps a join's
/// written order and builds the hash table from the large side, repartitioned,
/// where with the estimate it builds from the small side once.
fn with_size_estimate(mut statistics: Statistics, object: &ObjectMeta) -> Statistics {
    if statistics.total_byte_size == Precision::Absent {
        statistics.total_byte_size =
            Precision::Inexact(usize::try_from(object.size).unwrap_or(usize::MAX));
    }
    statistics
}

/// The file columns `conf`'s scan reads (ascending indices).
fn needed_columns(conf: &FileScanConfig) -> Vec<usize> {
    match conf.file_source.projection() {
        Some(projection) => projection.column_indices(),
        None => (0..conf.file_schema().fields().len()).collect(),
    }
}

/// The scan's own projection (in terms of the file's columns) over `plan`,
/// which yields the file's `columns` (ascending indices).
fn project(
    conf: &FileScanConfig,
    columns: &[usize],
    plan: Arc<dyn ExecutionPlan>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let file_schema = conf.file_schema();
    let all = (0..file_schema.fields().len()).collect::<Vec<_>>();
    let wanted = match conf.file_source.projection() {
        Some(projection) => projection.clone(),
        None if columns == all.as_slice() => return Ok(plan),
        None => ProjectionExprs::from_indices(&all, file_schema),
    };
    // Each expression names the file's columns; rewrite it over `plan`'s.
    let decoded = ProjectionExprs::from_indices(columns, file_schema);
    let exprs = wanted
        .iter()
        .map(|e| {
            Ok(ProjectionExpr {
                expr: decoded.project_expr(&e.expr)?,
                alias: e.alias.clone(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(ProjectionExec::try_new(exprs, plan)?))
}

#[async_trait]
impl FileFormat for DecodedFormat {
    fn get_ext(&self) -> String {
        self.inner.get_ext()
    }

    fn get_ext_with_compression(&self, compression: &FileCompressionType) -> Result<String> {
        self.inner.get_ext_with_compression(compression)
    }

    fn compression_type(&self) -> Option<FileCompressionType> {
        self.inner.compression_type()
    }

    /// Inferring a CSV's columns reads its first records; for file versions
    /// inferred before, the kept answer is given instead, so a repeated
    /// query over a URL reads no text at all.
    async fn infer_schema(
        &self,
        state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        objects: &[ObjectMeta],
    ) -> Result<SchemaRef> {
        let Some(cache) = &self.cache else {
            return self.inner.infer_schema(state, store, objects).await;
        };
        let mut files: Vec<String> = objects.iter().map(version).collect();
        files.sort();
        let key = format!(
            "schema\u{1}{:p}\u{1}{}\u{1}{}",
            Arc::as_ptr(store),
            self.identity,
            files.join("\u{1}")
        );
        if let Some(schema) = cache
            .derived(&key)
            .and_then(|kept| kept.downcast_ref::<SchemaRef>().cloned())
        {
            return Ok(schema);
        }
        let schema = self.inner.infer_schema(state, store, objects).await?;
        let bytes = 256 + schema.fields().len() * 128;
        cache.keep_derived(key, Arc::new(Arc::clone(&schema)), bytes);
        Ok(schema)
    }

    async fn infer_stats(
        &self,
        state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        table_schema: SchemaRef,
        object: &ObjectMeta,
    ) -> Result<Statistics> {
        let statistics = self
            .inner
            .infer_stats(state, store, table_schema, object)
            .await?;
        Ok(with_size_estimate(statistics, object))
    }

    async fn infer_ordering(
        &self,
        state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        table_schema: SchemaRef,
        object: &ObjectMeta,
    ) -> Result<Option<LexOrdering>> {
        self.inner
            .infer_ordering(state, store, table_schema, object)
            .await
    }

    async fn infer_stats_and_ordering(
        &self,
        state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        table_schema: SchemaRef,
        object: &ObjectMeta,
    ) -> Result<FileMeta> {
        let mut meta = self
            .inner
            .infer_stats_and_ordering(state, store, table_schema, object)
            .await?;
        meta.statistics = with_size_estimate(meta.statistics, object);
        Ok(meta)
    }

    async fn create_physical_plan(
        &self,
        state: &dyn Session,
        conf: FileScanConfig,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let (Some(cache), Some(key)) = (&self.cache, self.table_key(state, &conf)) else {
            return self.inner.create_physical_plan(state, conf).await;
        };
        let needed = needed_columns(&conf);
        let kept = cache.derived(&key);
        let kept = kept
            .as_deref()
            .and_then(|kept| kept.downcast_ref::<DecodedTable>());
        if let Some(table) = kept
            && table.covers(&needed)
        {
            tracing::debug!(
                files = conf.file_groups.len(),
                "scan answered from kept decoding"
            );
            return self.scan_kept(state, &conf, table);
        }
        // A scan stopped early by a LIMIT would keep half a table.
        if conf.limit.is_some() || conf.file_schema().fields().is_empty() {
            return self.inner.create_physical_plan(state, conf).await;
        }
        // Decode what this query needs (the first query is as quick as
        // without the cache), and what earlier ones kept, so later queries
        // over any of those columns are answered too.
        let columns = columns_to_decode(kept.map(|table| &*table.columns), &needed);
        self.scan_and_keep(state, &conf, cache, key, columns).await
    }

    async fn create_writer_physical_plan(
        &self,
        input: Arc<dyn ExecutionPlan>,
        state: &dyn Session,
        conf: FileSinkConfig,
        order_requirements: Option<LexRequirement>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner
            .create_writer_physical_plan(input, state, conf, order_requirements)
            .await
    }

    fn file_source(&self, table_schema: TableSchema) -> Arc<dyn FileSource> {
        self.inner.file_source(table_schema)
    }
}
