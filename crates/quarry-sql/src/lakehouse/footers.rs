//! What Parquet footers say before any data is read: rows, row groups,
//! null counts, min/max and compressed bytes per column — answered in one
//! small ranged read per file.

use std::cmp::Ordering;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef};
use datafusion::common::ScalarValue;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
use datafusion::parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use datafusion::parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use datafusion::parquet::file::metadata::PageIndexPolicy;
use futures::{StreamExt, TryStreamExt};
use object_store::{ObjectMeta, ObjectStore};

use crate::engine::SqlSession;
use crate::engine::error::{ErrorKind, SqlError};

/// One suffix read of this many bytes fetches the whole footer of most
/// files (a few KiB for tens of columns and row groups); larger ones take
/// a second read.
pub const FOOTER_HINT: usize = 64 * 1024;
/// Footers read at once.
const CONCURRENT_FOOTERS: usize = 8;

/// One column, over every row group of every file.
#[derive(Debug, Clone, PartialEq)]
pub struct FooterColumn {
    /// The column's name.
    pub name: String,
    /// Its Arrow type.
    pub data_type: String,
    /// Nulls, when every row group records them.
    pub nulls: Option<u64>,
    /// The smallest value any row group records.
    pub min: Option<String>,
    /// The largest value any row group records.
    pub max: Option<String>,
    /// Bytes the column takes on S3, compressed.
    pub compressed_bytes: u64,
}

/// The footers of a Parquet object or a folder of them.
#[derive(Debug, Clone, PartialEq)]
pub struct ParquetFooters {
    /// Files read.
    pub files: usize,
    /// Row groups in them.
    pub row_groups: usize,
    /// Rows in them.
    pub rows: u64,
    /// Bytes of the files.
    pub bytes: u64,
    /// Per column, in the first file's order.
    pub columns: Vec<FooterColumn>,
}

struct Merged {
    column: FooterColumn,
    min: Option<ScalarValue>,
    max: Option<ScalarValue>,
}

fn failed(url: &str, e: impl std::fmt::Display) -> SqlError {
    SqlError::new(
        ErrorKind::Execution,
        format!("Reading the Parquet footers of {url} failed: {e}."),
    )
}

impl SqlSession {
    /// The footers of the Parquet object `url`, or of every `.parquet`
    /// object under the folder `url`; `None` when there is none.
    pub async fn parquet_footers(&self, url: &str) -> Result<Option<ParquetFooters>, SqlError> {
        let table_url = ListingTableUrl::parse(url).map_err(|e| failed(url, e))?;
        let store = self
            .context()
            .runtime_env()
            .object_store(table_url.object_store())
            .map_err(|e| self.explain_storage(&e, url))?;
        let state = self.context().state();
        let files: Vec<ObjectMeta> = table_url
            .list_all_files(&state, store.as_ref(), ".parquet")
            .await
            .map_err(|e| self.explain_storage(&e, url))?
            .try_collect()
            .await
            .map_err(|e| self.explain_storage(&e, url))?;
        if files.is_empty() {
            return Ok(None);
        }
        let bytes = files.iter().map(|f| f.size).sum();
        let metadata: Vec<ArrowReaderMetadata> = futures::stream::iter(files.iter().cloned())
            .map(|file| read_footer(Arc::clone(&store), file))
            .buffered(CONCURRENT_FOOTERS)
            .try_collect()
            .await
            .map_err(|e| self.explain_storage(&e, url))?;
        Ok(Some(
            summarise(&metadata, bytes).map_err(|e| failed(url, e))?,
        ))
    }

    fn explain_storage(&self, e: &datafusion::error::DataFusionError, url: &str) -> SqlError {
        self.explain(e, &format!("SELECT * FROM '{url}'"))
    }
}

/// The footer alone (no page index): one suffix read for most files.
async fn read_footer(
    store: Arc<dyn ObjectStore>,
    file: ObjectMeta,
) -> datafusion::error::Result<ArrowReaderMetadata> {
    let metadata = DFParquetMetadata::new(store.as_ref(), &file)
        .with_metadata_size_hint(Some(FOOTER_HINT))
        .with_page_index_policy(Some(PageIndexPolicy::Skip))
        .fetch_metadata()
        .await?;
    Ok(ArrowReaderMetadata::try_new(
        metadata,
        ArrowReaderOptions::new(),
    )?)
}

fn summarise(
    files: &[ArrowReaderMetadata],
    bytes: u64,
) -> Result<ParquetFooters, datafusion::parquet::errors::ParquetError> {
    let first = &files[0];
    let mut merged: Vec<Merged> = first
        .schema()
        .fields()
        .iter()
        .map(|f| Merged {
            column: FooterColumn {
                name: f.name().clone(),
                data_type: f.data_type().to_string(),
                nulls: Some(0),
                min: None,
                max: None,
                compressed_bytes: 0,
            },
            min: None,
            max: None,
        })
        .collect();
    let (mut row_groups, mut rows) = (0, 0u64);
    for file in files {
        let groups = file.metadata().row_groups();
        row_groups += groups.len();
        rows += groups
            .iter()
            .map(|g| g.num_rows().max(0) as u64)
            .sum::<u64>();
        for entry in &mut merged {
            merge_column(entry, file, groups)?;
        }
    }
    let columns = merged
        .into_iter()
        .map(|m| FooterColumn {
            min: m.min.as_ref().map(shown),
            max: m.max.as_ref().map(shown),
            ..m.column
        })
        .collect();
    Ok(ParquetFooters {
        files: files.len(),
        row_groups,
        rows,
        bytes,
        columns,
    })
}

fn merge_column(
    entry: &mut Merged,
    file: &ArrowReaderMetadata,
    groups: &[datafusion::parquet::file::metadata::RowGroupMetaData],
) -> Result<(), datafusion::parquet::errors::ParquetError> {
    let name = entry.column.name.clone();
    for group in groups {
        entry.column.compressed_bytes += group
            .columns()
            .iter()
            .filter(|c| c.column_descr().path().parts().first() == Some(&name))
            .map(|c| c.compressed_size().max(0) as u64)
            .sum::<u64>();
    }
    let Ok(converter) = StatisticsConverter::try_new(&name, file.schema(), file.parquet_schema())
    else {
        entry.column.nulls = None;
        return Ok(());
    };
    let nulls = converter.row_group_null_counts(groups)?;
    entry.column.nulls = match (entry.column.nulls, nulls.null_count()) {
        (Some(sum), 0) => Some(sum + nulls.values().iter().sum::<u64>()),
        _ => None,
    };
    fold(
        &mut entry.min,
        &converter.row_group_mins(groups)?,
        Ordering::Less,
    );
    fold(
        &mut entry.max,
        &converter.row_group_maxes(groups)?,
        Ordering::Greater,
    );
    Ok(())
}

/// A statistic as the column's type reads: timestamps and dates as such
/// (a `ScalarValue`'s own text is the raw number for them).
fn shown(value: &ScalarValue) -> String {
    value
        .to_array()
        .ok()
        .and_then(|array| datafusion::arrow::util::display::array_value_to_string(&array, 0).ok())
        .unwrap_or_else(|| value.to_string())
}

/// Keeps in `best` the value of `values` that compares as `wins` to it.
fn fold(best: &mut Option<ScalarValue>, values: &ArrayRef, wins: Ordering) {
    for i in 0..values.len() {
        if values.is_null(i) {
            continue;
        }
        let Ok(value) = ScalarValue::try_from_array(values, i) else {
            continue;
        };
        let better = match best {
            None => true,
            Some(current) => value.partial_cmp(current) == Some(wins),
        };
        if better {
            *best = Some(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::session::test_session;

    #[tokio::test]
    async fn footers_sum_rows_and_nulls_and_span_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let session = test_session();
        for (file, from, to) in [("a", 1, 1000), ("b", 1001, 3000)] {
            let path = dir.path().join(format!("{file}.parquet"));
            let sql = format!(
                "COPY (SELECT value AS n, CASE WHEN value % 10 = 0 THEN NULL ELSE concat('s', CAST(value % 7 AS VARCHAR)) END AS s, \
                 to_timestamp_seconds(1767225600 + value * 60) AS ts, CAST(to_timestamp_seconds(1767225600 + value * 86400) AS DATE) AS day \
                 FROM generate_series({from}, {to})) TO '{}' STORED AS PARQUET",
                path.display()
            );
            session.run_cell(&sql, 0, Default::default()).await.unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), "not parquet").unwrap();
        let url = format!("{}/", dir.path().display());
        let footers = session.parquet_footers(&url).await.unwrap().unwrap();
        assert_eq!((footers.files, footers.rows), (2, 3000));
        let n = &footers.columns[0];
        assert_eq!(
            (n.name.as_str(), n.min.as_deref(), n.max.as_deref(), n.nulls),
            ("n", Some("1"), Some("3000"), Some(0))
        );
        let s = &footers.columns[1];
        assert_eq!(
            (s.nulls, s.min.as_deref(), s.max.as_deref()),
            (Some(300), Some("s0"), Some("s6"))
        );
        assert!(n.compressed_bytes > 0);
        // Timestamps and dates read as such, not as their raw numbers.
        let (ts, day) = (&footers.columns[2], &footers.columns[3]);
        assert_eq!(
            (ts.min.as_deref(), ts.max.as_deref()),
            (Some("2026-01-01T00:01:00"), Some("2026-01-03T02:00:00"))
        );
        assert_eq!(
            (day.min.as_deref(), day.max.as_deref()),
            (Some("2026-01-02"), Some("2034-03-20"))
        );
        let one = session
            .parquet_footers(&format!("{}/a.parquet", dir.path().display()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((one.files, one.rows), (1, 1000));
        let none = session
            .parquet_footers(&format!("{}/notes.txt", dir.path().display()))
            .await
            .unwrap();
        assert!(none.is_none());
    }
}
