//! The reader that guesses a partition's next row group and fetches it.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use datafusion::common::Result;
use datafusion::datasource::listing::{FileRange, PartitionedFile};
use datafusion::datasource::physical_plan::{ParquetFileMetrics, ParquetFileReaderFactory};
use datafusion::parquet::arrow::arrow_reader::ArrowReaderOptions;
use datafusion::parquet::arrow::async_reader::AsyncFileReader;
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::metadata::{ColumnChunkMetaData, ParquetMetaData};
use datafusion::physical_plan::metrics::{Count, ExecutionPlanMetricsSet};
use futures::FutureExt;
use futures::future::BoxFuture;
use object_store::ObjectStore;
use object_store::path::Path;
use tokio::task::JoinHandle;

use super::ReadAheadCounts;

/// Wraps the scan's own reader factory (DataFusion's, with its footer
/// cache) so each reader also fetches ahead.
#[derive(Debug)]
pub(super) struct ReadAheadFactory {
    inner: Arc<dyn ParquetFileReaderFactory>,
    store: Arc<dyn ObjectStore>,
    counts: Arc<ReadAheadCounts>,
}

impl ReadAheadFactory {
    pub(super) fn new(
        inner: Arc<dyn ParquetFileReaderFactory>,
        store: Arc<dyn ObjectStore>,
        counts: Arc<ReadAheadCounts>,
    ) -> Self {
        ReadAheadFactory {
            inner,
            store,
            counts,
        }
    }
}

impl ParquetFileReaderFactory for ReadAheadFactory {
    fn create_reader(
        &self,
        partition_index: usize,
        file: PartitionedFile,
        metadata_size_hint: Option<usize>,
        metrics: &ExecutionPlanMetricsSet,
    ) -> Result<Box<dyn AsyncFileReader + Send>> {
        let location = file.object_meta.location.clone();
        let within = file.range.clone();
        // Bytes that arrive ahead count as scanned, as the inner reader's do.
        let bytes_scanned =
            ParquetFileMetrics::new(partition_index, location.as_ref(), metrics).bytes_scanned;
        let inner = self
            .inner
            .create_reader(partition_index, file, metadata_size_hint, metrics)?;
        Ok(Box::new(ReadAheadReader {
            inner,
            store: Arc::clone(&self.store),
            location,
            within,
            metadata: None,
            ahead: None,
            counts: Arc::clone(&self.counts),
            bytes_scanned,
        }))
    }
}

/// One partition's reader of one file.
struct ReadAheadReader {
    inner: Box<dyn AsyncFileReader + Send>,
    store: Arc<dyn ObjectStore>,
    location: Path,
    /// The partition's share of the file; `None` is all of it.
    within: Option<FileRange>,
    /// The footer, once the scan has read it: what the guesses are made from.
    metadata: Option<Arc<ParquetMetaData>>,
    ahead: Option<Ahead>,
    counts: Arc<ReadAheadCounts>,
    bytes_scanned: Count,
}

/// A guess in flight: the ranges and their fetch.
struct Ahead {
    ranges: Vec<Range<u64>>,
    fetch: JoinHandle<object_store::Result<Vec<Bytes>>>,
}

impl Drop for Ahead {
    /// A guess nobody will ask for (the scan ended or was cancelled) stops.
    fn drop(&mut self) {
        self.fetch.abort();
    }
}

impl ReadAheadReader {
    /// Starts fetching what the scan will ask for after `ranges`.
    fn guess_after(&mut self, ranges: &[Range<u64>]) {
        let Some(metadata) = &self.metadata else {
            return;
        };
        let Some(next) = next_row_group_ranges(metadata, ranges, self.within.as_ref()) else {
            return;
        };
        // Outside a runtime (a synchronous caller) there is nothing to
        // overlap with; read as asked.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = Arc::clone(&self.store);
        let location = self.location.clone();
        let wanted = next.clone();
        let fetch = runtime.spawn(async move { store.get_ranges(&location, &wanted).await });
        self.ahead = Some(Ahead {
            ranges: next,
            fetch,
        });
    }

    /// The guessed bytes, when `ranges` is what was guessed and it arrived.
    async fn take_guess(&mut self, ranges: &[Range<u64>]) -> Option<Vec<Bytes>> {
        let mut ahead = self.ahead.take()?;
        if ahead.ranges != ranges {
            self.counts.unused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        // A failed guess is asked again by the scan itself, which reports
        // its own error.
        match (&mut ahead.fetch).await {
            Ok(Ok(bytes)) => {
                self.counts.used.fetch_add(1, Ordering::Relaxed);
                self.bytes_scanned
                    .add(ranges.iter().map(|r| (r.end - r.start) as usize).sum());
                Some(bytes)
            }
            _ => None,
        }
    }
}

impl AsyncFileReader for ReadAheadReader {
    fn get_bytes(
        &mut self,
        range: Range<u64>,
    ) -> BoxFuture<'_, datafusion::parquet::errors::Result<Bytes>> {
        self.inner.get_bytes(range)
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, datafusion::parquet::errors::Result<Vec<Bytes>>> {
        async move {
            let bytes = match self.take_guess(&ranges).await {
                Some(bytes) => bytes,
                None => self.inner.get_byte_ranges(ranges.clone()).await?,
            };
            self.guess_after(&ranges);
            Ok(bytes)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, datafusion::parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let metadata = self.inner.get_metadata(options).await?;
            self.metadata = Some(Arc::clone(&metadata));
            Ok::<_, ParquetError>(metadata)
        }
        .boxed()
    }
}

/// A column chunk's bytes in the file.
fn chunk_range(column: &ColumnChunkMetaData) -> Range<u64> {
    let (start, length) = column.byte_range();
    start..start + length
}

/// When `ranges` are whole column chunks of one row group, the same
/// columns' chunks in the next row group — if that one starts inside
/// `within` (the partition's share, by DataFusion's rule: a row group
/// belongs where its first column's first page is).
pub(super) fn next_row_group_ranges(
    metadata: &ParquetMetaData,
    ranges: &[Range<u64>],
    within: Option<&FileRange>,
) -> Option<Vec<Range<u64>>> {
    let first = ranges.first()?;
    let groups = metadata.row_groups();
    let current = groups.iter().position(|group| {
        group
            .columns()
            .iter()
            .any(|column| chunk_range(column) == *first)
    })?;
    let columns = ranges
        .iter()
        .map(|range| {
            groups[current]
                .columns()
                .iter()
                .position(|column| chunk_range(column) == *range)
        })
        .collect::<Option<Vec<usize>>>()?;
    let next = groups.get(current + 1)?;
    let next_start = chunk_range(next.column(0)).start;
    if let Some(within) = within
        && !within.contains(i64::try_from(next_start).ok()?)
    {
        return None;
    }
    Some(
        columns
            .iter()
            .map(|&column| chunk_range(next.column(column)))
            .collect(),
    )
}
