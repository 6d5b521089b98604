//! Kept decodings over local files: answered from memory on the second
//! scan, never for another version of a file, never half a table.

use std::sync::Arc;

use datafusion::prelude::SessionContext;
use quarry_s3::RangeCache;

use crate::test_support::answer;

use super::install;

fn context(cache: &Arc<RangeCache>) -> SessionContext {
    let ctx = SessionContext::new().enable_url_table();
    install(&mut ctx.state_ref().write(), Some(cache));
    ctx
}

fn write_csv(dir: &std::path::Path, name: &str, rows: usize, offset: i64) -> String {
    let mut text = String::from("id,name,value\n");
    for i in 0..rows {
        text.push_str(&format!("{},n{},{}\n", i as i64 + offset, i % 7, i * 3));
    }
    let path = dir.join(name);
    std::fs::write(&path, text).expect("written");
    path.display().to_string()
}

/// Whether `sql`'s plan reads its CSV from kept batches (no CSV scan left).
async fn answered_from_memory(ctx: &SessionContext, sql: &str) -> bool {
    let plan = answer(ctx, &format!("EXPLAIN {sql}")).await;
    assert!(
        !plan.contains("file_type=json"),
        "these tests read CSV: {plan}"
    );
    !plan.contains("file_type=csv")
}

#[tokio::test]
async fn a_second_scan_of_the_same_csv_is_answered_from_memory() {
    let dir = tempfile::tempdir().expect("dir");
    let path = write_csv(dir.path(), "t.csv", 1000, 0);
    let cache = Arc::new(RangeCache::new(64 << 20));
    let ctx = context(&cache);
    ctx.sql(&format!("CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '{path}' OPTIONS ('format.has_header' 'true')"))
        .await
        .expect("created");
    let sum = "SELECT count(*), sum(value), min(name) FROM t";
    assert!(!answered_from_memory(&ctx, sum).await);
    let first = answer(&ctx, sum).await;
    assert!(
        cache.stats().derived_bytes > 0,
        "the first full scan keeps its decoding"
    );
    assert!(answered_from_memory(&ctx, sum).await);
    assert_eq!(answer(&ctx, sum).await, first);
    // A column not decoded yet: read once more, with the kept ones.
    let top = "SELECT max(id) FROM t";
    assert!(!answered_from_memory(&ctx, top).await);
    assert!(answer(&ctx, top).await.contains("999"));
    assert!(answered_from_memory(&ctx, top).await);
    assert!(answered_from_memory(&ctx, sum).await);
    assert_eq!(answer(&ctx, sum).await, first);
    assert!(answered_from_memory(&ctx, "SELECT * FROM t WHERE id < 3").await);
}

#[tokio::test]
async fn the_first_scan_decodes_only_the_columns_it_names() {
    let dir = tempfile::tempdir().expect("dir");
    let path = write_csv(dir.path(), "t.csv", 5000, 0);
    let cache = Arc::new(RangeCache::new(64 << 20));
    let ctx = context(&cache);
    let one = format!("SELECT sum(value) FROM '{path}'");
    let sum = answer(&ctx, &one).await;
    let narrow = cache.stats().derived_bytes;
    answer(&ctx, &format!("SELECT min(name), max(id) FROM '{path}'")).await;
    let wide = cache.stats().derived_bytes;
    assert!(
        wide > narrow * 2,
        "one int column kept {narrow} bytes, all three {wide}"
    );
    // The wider decoding replaced the narrow one and still answers it.
    assert!(answered_from_memory(&ctx, &one).await);
    assert_eq!(answer(&ctx, &one).await, sum);
    // `count(*)` names no column and is answered all the same.
    assert!(
        answer(&ctx, &format!("SELECT count(*) FROM '{path}'"))
            .await
            .contains("5000")
    );
}

#[tokio::test]
async fn a_rewritten_file_is_read_again_never_answered_from_memory() {
    let dir = tempfile::tempdir().expect("dir");
    let path = write_csv(dir.path(), "t.csv", 100, 0);
    let cache = Arc::new(RangeCache::new(64 << 20));
    let ctx = context(&cache);
    let query = format!("SELECT count(*) AS n, max(id) AS top FROM '{path}'");
    assert!(answer(&ctx, &query).await.contains("| 100 | 99  |"));
    assert!(answer(&ctx, &query).await.contains("| 100 | 99  |"));
    write_csv(dir.path(), "t.csv", 150, 1000);
    let after = answer(&ctx, &query).await;
    assert!(after.contains("| 150 | 1149 |"), "{after}");
}

#[tokio::test]
async fn a_limited_or_failed_scan_keeps_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let path = write_csv(dir.path(), "t.csv", 5000, 0);
    let cache = Arc::new(RangeCache::new(64 << 20));
    let ctx = context(&cache);
    answer(&ctx, &format!("SELECT * FROM '{path}' LIMIT 3")).await;
    assert_eq!(
        cache.stats().derived_bytes,
        cache_schema_bytes(&cache),
        "only the schema is kept"
    );
    let bad = dir.path().join("bad.csv");
    // Its columns are inferred from the first rows; a later row fails the scan.
    let mut text = String::from("a,b\n");
    for i in 0..3000 {
        text.push_str(&format!("{i},{i}\n"));
    }
    text.push_str("not a number,1\n");
    std::fs::write(&bad, text).expect("written");
    let failed = ctx
        .sql(&format!("SELECT * FROM '{}'", bad.display()))
        .await
        .expect("plans")
        .collect()
        .await;
    assert!(failed.is_err());
    assert_eq!(cache.stats().derived_bytes, cache_schema_bytes(&cache));
}

/// What the kept schemas take (they are kept from the first query on).
fn cache_schema_bytes(cache: &RangeCache) -> usize {
    let stats = cache.stats();
    assert!(
        stats.derived_bytes < 4096,
        "more than schemas kept: {stats:?}"
    );
    stats.derived_bytes
}

#[tokio::test]
async fn a_table_over_half_the_budget_is_read_each_time() {
    let dir = tempfile::tempdir().expect("dir");
    let path = write_csv(dir.path(), "t.csv", 20_000, 0);
    let cache = Arc::new(RangeCache::new(64 << 10));
    let ctx = context(&cache);
    let query = format!("SELECT sum(value) FROM '{path}'");
    let first = answer(&ctx, &query).await;
    assert_eq!(answer(&ctx, &query).await, first);
    assert!(cache.stats().used <= 64 << 10);
    assert!(cache.stats().derived_bytes < 4096, "{:?}", cache.stats());
}

#[tokio::test]
async fn json_lines_are_kept_too() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("t.json");
    std::fs::write(
        &path,
        "{\"a\": 1, \"b\": \"x\"}\n{\"a\": 2, \"b\": \"y\"}\n",
    )
    .expect("written");
    let cache = Arc::new(RangeCache::new(64 << 20));
    let ctx = context(&cache);
    let query = format!("SELECT sum(a) AS s FROM '{}'", path.display());
    assert!(answer(&ctx, &query).await.contains("| 3 |"));
    let hits = cache.stats().derived_hits;
    assert!(answer(&ctx, &query).await.contains("| 3 |"));
    assert!(cache.stats().derived_hits > hits);
}

#[tokio::test]
async fn a_small_csv_is_the_build_side_of_a_join_with_the_cache_on_or_off() {
    let dir = tempfile::tempdir().expect("dir");
    let cache = Arc::new(RangeCache::new(64 << 20));
    // Off; on, first query (the scan that keeps); on, the kept batches.
    for (i, cache) in [None, Some(&cache), Some(&cache)].into_iter().enumerate() {
        small_csv_is_the_build_side(dir.path(), cache, i == 0).await;
    }
}

async fn small_csv_is_the_build_side(
    dir: &std::path::Path,
    cache: Option<&Arc<RangeCache>>,
    write: bool,
) {
    let small = dir.join("small.csv").display().to_string();
    let big = dir.join("big.parquet");
    let ctx = SessionContext::new();
    install(&mut ctx.state_ref().write(), cache);
    if write {
        write_csv(dir, "small.csv", 5, 0);
        ctx.sql(&format!(
            "COPY (SELECT value AS id FROM generate_series(1, 100000)) TO '{}' STORED AS PARQUET",
            big.display()
        ))
        .await
        .expect("plans")
        .collect()
        .await
        .expect("written");
    }
    ctx.sql(&format!("CREATE EXTERNAL TABLE small STORED AS CSV LOCATION '{small}' OPTIONS ('format.has_header' 'true')"))
        .await
        .expect("created");
    ctx.sql(&format!(
        "CREATE EXTERNAL TABLE big STORED AS PARQUET LOCATION '{}'",
        big.display()
    ))
    .await
    .expect("created");
    // Written with the big table first, as a notebook would.
    let plan = answer(
        &ctx,
        "EXPLAIN SELECT count(*) FROM big JOIN small ON big.id = small.id",
    )
    .await;
    let join = &plan[plan.find("HashJoinExec").expect("a hash join")..];
    // Kept batches are a memory scan; a first scan is the CSV reader.
    let csv = join
        .find("file_type=csv")
        .or_else(|| join.find("partition_sizes"))
        .expect("the CSV scan");
    let parquet = join.find("file_type=parquet").expect("the Parquet scan");
    assert!(
        csv < parquet,
        "the 5-row CSV is the build (first) side: {plan}"
    );
    assert!(join.contains("mode=CollectLeft"), "built once: {plan}");
    assert!(
        answer(
            &ctx,
            "SELECT count(*) AS n FROM big JOIN small ON big.id = small.id"
        )
        .await
        .contains("| 4 |")
    );
}
