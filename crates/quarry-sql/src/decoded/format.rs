//! The CSV and JSON formats, wrapped so their scans consult the kept
//! decodings first.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::catalog::memory::{DataSourceExec, MemorySourceConfig};
use datafusion::common::{GetExt, Result, Statistics};
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::datasource::file_format::{FileFormat, FileFormatFactory, FileMeta};
use datafusion::datasource::physical_plan::{
    FileScanConfig, FileScanConfigBuilder, FileSinkConfig, FileSource,
};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::execution::SessionState;
use datafusion::physical_expr::{LexOrdering, LexRequirement};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::ProjectionExec;
use object_store::{ObjectMeta, ObjectStore};
use quarry_s3::RangeCache;

use super::keep::KeepDecodedExec;
use super::{DecodedTable, version};

/// The file types whose reads are whole-object text parses.
const TEXT_FORMATS: [&str; 2] = ["csv", "json"];

/// Wraps the session's CSV and JSON formats so scans keep and reuse their
/// decodings in `cache`.
pub(crate) fn install(state: &mut SessionState, cache: &Arc<RangeCache>) {
    for ext in TEXT_FORMATS {
        if let Some(inner) = state.get_file_format_factory(ext) {
            let wrapped = Arc::new(DecodedFormatFactory {
                inner,
                cache: Arc::clone(cache),
            });
            // Replacing a registered extension cannot fail.
            let _ = state.register_file_format(wrapped, true);
        }
    }
}

#[derive(Debug)]
struct DecodedFormatFactory {
    inner: Arc<dyn FileFormatFactory>,
    cache: Arc<RangeCache>,
}

impl DecodedFormatFactory {
    fn wrap(&self, inner: Arc<dyn FileFormat>) -> Arc<dyn FileFormat> {
        Arc::new(DecodedFormat {
            identity: format!("{inner:?}"),
            inner,
            cache: Arc::clone(&self.cache),
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
    cache: Arc<RangeCache>,
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
        project(conf, DataSourceExec::from_data_source(source))
    }
}

/// The scan's own projection (in terms of the file's columns) over `plan`,
/// which yields every column.
fn project(conf: &FileScanConfig, plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    match conf.file_source.projection() {
        Some(projection) => Ok(Arc::new(ProjectionExec::try_new(
            projection.iter().cloned(),
            plan,
        )?)),
        None => Ok(plan),
    }
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
        let mut files: Vec<String> = objects.iter().map(version).collect();
        files.sort();
        let key = format!(
            "schema\u{1}{:p}\u{1}{}\u{1}{}",
            Arc::as_ptr(store),
            self.identity,
            files.join("\u{1}")
        );
        if let Some(schema) = self
            .cache
            .derived(&key)
            .and_then(|kept| kept.downcast_ref::<SchemaRef>().cloned())
        {
            return Ok(schema);
        }
        let schema = self.inner.infer_schema(state, store, objects).await?;
        let bytes = 256 + schema.fields().len() * 128;
        self.cache
            .keep_derived(key, Arc::new(Arc::clone(&schema)), bytes);
        Ok(schema)
    }

    async fn infer_stats(
        &self,
        state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        table_schema: SchemaRef,
        object: &ObjectMeta,
    ) -> Result<Statistics> {
        self.inner
            .infer_stats(state, store, table_schema, object)
            .await
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
        self.inner
            .infer_stats_and_ordering(state, store, table_schema, object)
            .await
    }

    async fn create_physical_plan(
        &self,
        state: &dyn Session,
        conf: FileScanConfig,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(key) = self.table_key(state, &conf) else {
            return self.inner.create_physical_plan(state, conf).await;
        };
        if let Some(kept) = self.cache.derived(&key)
            && let Some(table) = kept.downcast_ref::<DecodedTable>()
        {
            tracing::debug!(
                files = conf.file_groups.len(),
                "scan answered from kept decoding"
            );
            return self.scan_kept(state, &conf, table);
        }
        // A scan stopped early by a LIMIT would keep half a table.
        if conf.limit.is_some() {
            return self.inner.create_physical_plan(state, conf).await;
        }
        // Decode every column once, so later queries asking for other
        // columns are answered too; the scan's projection goes on top.
        let every_column = self
            .inner
            .file_source(conf.file_source.table_schema().clone());
        let full = FileScanConfigBuilder::from(conf.clone())
            .with_source(every_column)
            .build();
        let scan = self.inner.create_physical_plan(state, full).await?;
        let keep = Arc::new(KeepDecodedExec::new(scan, key, Arc::clone(&self.cache)));
        project(&conf, keep)
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
