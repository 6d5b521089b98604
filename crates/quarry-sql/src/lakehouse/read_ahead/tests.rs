//! Read-ahead guesses: the right chunks, only inside a partition's share,
//! never a byte fetched twice, the same answers with and without.

use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::{Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::listing::FileRange;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::prelude::{SessionConfig, SessionContext};
use object_store::ObjectStoreExt;
use object_store::path::Path;
use quarry_s3::counting::CountingStore;

use super::reader::next_row_group_ranges;
use super::{ReadAheadCounts, ReadAheadRule};
use crate::engine::options::QuarryOptions;
use crate::test_support::answer;

const ROW_GROUPS: usize = 6;
const ROWS_PER_GROUP: usize = 2000;

/// A Parquet file of `ROW_GROUPS` row groups: `id` ascending (so a filter
/// on it prunes whole row groups), `name`, `value`.
fn parquet_file() -> Bytes {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("value", DataType::Int64, false),
    ]));
    let rows = (ROW_GROUPS * ROWS_PER_GROUP) as i64;
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(Int64Array::from_iter_values(0..rows)),
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|i| format!("n{}", i % 13)),
            )),
            Arc::new(Int64Array::from_iter_values((0..rows).map(|i| i * 3))),
        ],
    )
    .expect("batch");
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(ROWS_PER_GROUP))
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema, Some(properties)).expect("writer");
    writer.write(&batch).expect("written");
    writer.close().expect("closed");
    Bytes::from(out)
}

fn metadata(file: &Bytes) -> ParquetMetaData {
    ParquetMetaDataReader::new()
        .parse_and_finish(file)
        .expect("footer")
}

fn chunks(
    metadata: &ParquetMetaData,
    group: usize,
    columns: &[usize],
) -> Vec<std::ops::Range<u64>> {
    columns
        .iter()
        .map(|&c| {
            let (start, length) = metadata.row_group(group).column(c).byte_range();
            start..start + length
        })
        .collect()
}

#[test]
fn the_guess_is_the_same_columns_of_the_next_row_group() {
    let metadata = metadata(&parquet_file());
    assert_eq!(metadata.num_row_groups(), ROW_GROUPS);
    let asked = chunks(&metadata, 1, &[0, 2]);
    assert_eq!(
        next_row_group_ranges(&metadata, &asked, None),
        Some(chunks(&metadata, 2, &[0, 2]))
    );
    // The last row group has no next one.
    let last = chunks(&metadata, ROW_GROUPS - 1, &[1]);
    assert_eq!(next_row_group_ranges(&metadata, &last, None), None);
}

#[test]
fn no_guess_for_pages_or_past_the_partitions_share() {
    let metadata = metadata(&parquet_file());
    // Part of a chunk (pages picked by the page index): no guess.
    let mut part = chunks(&metadata, 1, &[0]);
    part[0].end -= 1;
    assert_eq!(next_row_group_ranges(&metadata, &part, None), None);
    // Chunks of two row groups at once: not a row group's read.
    let mixed = [chunks(&metadata, 1, &[0]), chunks(&metadata, 2, &[1])].concat();
    assert_eq!(next_row_group_ranges(&metadata, &mixed, None), None);
    // The partition's share ends before row group 2 starts.
    let share = FileRange {
        start: 0,
        end: chunks(&metadata, 2, &[0])[0].start as i64,
    };
    let asked = chunks(&metadata, 1, &[0]);
    assert_eq!(next_row_group_ranges(&metadata, &asked, Some(&share)), None);
    let wider = FileRange {
        start: 0,
        end: share.end + 1,
    };
    assert!(next_row_group_ranges(&metadata, &asked, Some(&wider)).is_some());
}

/// A one-partition session reading `t` (the file above) from a counting
/// store, with the read-ahead rule installed.
async fn session() -> (SessionContext, Arc<CountingStore>, Arc<ReadAheadCounts>) {
    let store = Arc::new(CountingStore::default());
    store
        .put(&Path::from("t.parquet"), parquet_file().into())
        .await
        .expect("stored");
    let runtime = Arc::new(RuntimeEnv::default());
    let rule = ReadAheadRule::new(Arc::clone(&runtime.object_store_registry));
    let counts = rule.counts();
    let config = SessionConfig::new()
        .with_target_partitions(1)
        .with_option_extension(QuarryOptions::default());
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_physical_optimizer_rule(Arc::new(rule))
        .build();
    let ctx = SessionContext::new_with_state(state);
    let url = url::Url::parse("memory://bucket").expect("url");
    ctx.register_object_store(&url, Arc::clone(&store) as _);
    ctx.sql("CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 'memory://bucket/t.parquet'")
        .await
        .expect("created");
    (ctx, store, counts)
}

#[tokio::test]
async fn a_scan_finds_each_next_row_group_fetched_and_reads_nothing_twice() {
    let (ctx, store, counts) = session().await;
    let query = "SELECT count(*), sum(value), min(name) FROM t";
    ctx.sql("SET quarry.parquet_read_ahead = false")
        .await
        .expect("set");
    let (gets, bytes) = (store.gets(), store.bytes());
    let plain = answer(&ctx, query).await;
    let plain_bytes = store.bytes() - bytes;
    assert!(store.gets() > gets);
    assert_eq!(counts.used(), 0, "off means off");

    ctx.sql("SET quarry.parquet_read_ahead = true")
        .await
        .expect("set");
    let bytes = store.bytes();
    assert_eq!(answer(&ctx, query).await, plain);
    assert_eq!(
        counts.used(),
        ROW_GROUPS - 1,
        "every row group after the first was fetched ahead"
    );
    assert_eq!(counts.unused(), 0);
    assert_eq!(
        store.bytes() - bytes,
        plain_bytes,
        "the same bytes, each once"
    );
}

#[tokio::test]
async fn a_pruned_row_group_costs_at_most_one_unused_guess() {
    let (ctx, store, counts) = session().await;
    // Row groups 0 and 4: the ones between are pruned by their statistics.
    let rows = ROWS_PER_GROUP as i64;
    let query = format!(
        "SELECT count(*), sum(value) FROM t WHERE id < 10 OR id BETWEEN {} AND {}",
        4 * rows,
        4 * rows + 9
    );
    ctx.sql("SET quarry.parquet_read_ahead = false")
        .await
        .expect("set");
    let plain = answer(&ctx, &query).await;
    ctx.sql("SET quarry.parquet_read_ahead = true")
        .await
        .expect("set");
    let bytes = store.bytes();
    assert_eq!(answer(&ctx, &query).await, plain);
    assert!(plain.contains("| 20 "), "{plain}");
    // After group 0 the guess is group 1 (pruned): unused. After group 4,
    // group 5 (pruned): unused. Never more than one per row group read.
    assert!(counts.unused() <= 2, "{} unused", counts.unused());
    let read = store.bytes() - bytes;
    let file = parquet_file().len() as u64;
    assert!(
        read < file,
        "{read} bytes read of a {file}-byte file for two row groups"
    );
}
