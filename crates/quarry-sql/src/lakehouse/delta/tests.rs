//! Delta tables in a local folder (`file://`), through whole cells: the
//! same path S3 tables take, without a server. The S3 behaviour (STS,
//! conditional puts on SeaweedFS, `deltalake` as the other writer) is in
//! the top-level `tests/test_delta.py`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, Int64Array, StringArray, UInt64Array};

use crate::engine::session::test_session;
use crate::{engine::CellProgress, engine::SqlError, engine::SqlSession};

async fn run(
    session: &SqlSession,
    sql: &str,
) -> Result<Option<crate::engine::StatementResult>, SqlError> {
    session
        .run_cell(sql, 1000, Arc::new(CellProgress::default()))
        .await
        .map(|outcome| outcome.result)
}

async fn count(session: &SqlSession, sql: &str) -> i64 {
    let result = run(session, sql).await.unwrap().expect("rows");
    let column = result.batches[0].column(0);
    column
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .value(0)
}

/// A session with table `t` (id, name) created in a fresh folder, and
/// the folder's URL.
async fn table_with_rows() -> (SqlSession, tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}/t/", dir.path().display());
    let session = test_session();
    for sql in [
        format!(
            "CREATE EXTERNAL TABLE t (id BIGINT, name VARCHAR) STORED AS DELTATABLE LOCATION '{url}'"
        ),
        "INSERT INTO t VALUES (1, 'one'), (2, 'two')".to_string(),
        "INSERT INTO t VALUES (3, 'three')".to_string(),
    ] {
        run(&session, &sql).await.unwrap();
    }
    (session, dir, url)
}

/// Another session (another kernel) with `t` registered over `url`.
async fn session_over(url: &str) -> SqlSession {
    let session = test_session();
    run(
        &session,
        &format!("CREATE EXTERNAL TABLE t STORED AS DELTATABLE LOCATION '{url}'"),
    )
    .await
    .unwrap();
    session
}

#[tokio::test]
async fn a_created_table_takes_inserts_as_versions() {
    let (session, _dir, url) = table_with_rows().await;
    assert_eq!(count(&session, "SELECT count(*) FROM t").await, 3);
    assert_eq!(
        count(&session, "SELECT count(*) FROM t VERSION AS OF 1").await,
        2
    );
    assert_eq!(
        count(&session, "SELECT count(*) FROM t VERSION AS OF 0").await,
        0
    );
    let by_url = format!("SELECT count(*) FROM '{url}' VERSION AS OF 1");
    assert_eq!(count(&session, &by_url).await, 2);
    assert_eq!(
        count(&session, &format!("SELECT count(*) FROM '{url}'")).await,
        3
    );
    // The pinned table lasted only for its statement.
    let tables = run(&session, "SHOW TABLES").await.unwrap().unwrap();
    let names = format!("{:?}", tables.batches);
    assert!(!names.contains("quarry_delta_at"), "{names}");
}

#[tokio::test]
async fn describe_history_lists_every_commit_newest_first() {
    let (session, _dir, _url) = table_with_rows().await;
    let history = run(&session, "DESCRIBE HISTORY t").await.unwrap().unwrap();
    let batch = &history.batches[0];
    let versions = batch
        .column(0)
        .as_any()
        .downcast_ref::<UInt64Array>()
        .unwrap();
    assert_eq!(versions.values(), &[2, 1, 0]);
    let operations = batch
        .column(2)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(operations.value(2), "CREATE TABLE");
    assert_eq!(operations.value(0), "WRITE");
}

#[tokio::test]
async fn a_missing_version_and_a_missing_table_are_one_sentence() {
    let (session, _dir, url) = table_with_rows().await;
    let err = run(&session, "SELECT * FROM t VERSION AS OF 7")
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        format!("The Delta table at {url} has no version 7: its versions run from 0 to 2.")
    );
    let empty = tempfile::tempdir().unwrap();
    let sql = format!(
        "CREATE EXTERNAL TABLE u STORED AS DELTATABLE LOCATION 'file://{}/'",
        empty.path().display()
    );
    let err = run(&session, &sql).await.unwrap_err();
    assert!(
        err.message
            .starts_with("There is no Delta table at file://"),
        "{}",
        err.message
    );
    let err = run(&session, "SELECT * FROM generate_series(3) VERSION AS OF 1")
        .await
        .unwrap_err();
    assert!(!err.message.contains('\n'), "{}", err.message);
    run(&session, "CREATE TABLE plain AS SELECT 1 AS x")
        .await
        .unwrap();
    let err = run(&session, "SELECT * FROM plain VERSION AS OF 1")
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        "Table plain is not a Delta table, so it has no versions to travel to."
    );
}

#[tokio::test]
async fn two_sessions_appending_at_once_both_commit() {
    let (first, _dir, url) = table_with_rows().await;
    let second = session_over(&url).await;
    let (a, b) = tokio::join!(
        run(
            &first,
            "INSERT INTO t SELECT i, 'a' FROM generate_series(100, 199) AS s(i)"
        ),
        run(
            &second,
            "INSERT INTO t SELECT i, 'b' FROM generate_series(200, 299) AS s(i)"
        ),
    );
    a.unwrap();
    b.unwrap();
    // Each sees the other's commit at its next query.
    assert_eq!(count(&first, "SELECT count(*) FROM t").await, 203);
    assert_eq!(count(&second, "SELECT count(*) FROM t").await, 203);
    let history = run(&first, "DESCRIBE HISTORY t").await.unwrap().unwrap();
    let versions = history.batches[0].column(0);
    assert_eq!(versions.len(), 5, "two new versions, none lost or doubled");
}

#[tokio::test]
async fn create_as_select_makes_a_new_table_in_two_versions() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}/made/", dir.path().display());
    let session = test_session();
    let sql = format!(
        "CREATE EXTERNAL TABLE made STORED AS DELTATABLE LOCATION '{url}' AS SELECT i AS id, i * 2 AS twice FROM generate_series(1, 50) AS s(i)"
    );
    run(&session, &sql).await.unwrap();
    assert_eq!(count(&session, "SELECT count(*) FROM made").await, 50);
    assert_eq!(count(&session, "SELECT sum(twice) FROM made").await, 2550);
    assert_eq!(
        count(&session, "SELECT count(*) FROM made VERSION AS OF 0").await,
        0
    );
    // A second time, the folder holds a table: refused, nothing changed.
    let err = run(&session, &sql.replace("TABLE made", "TABLE again"))
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        format!(
            "There is already a Delta table at {url}: add rows to it with INSERT INTO, or give a new folder."
        )
    );
    assert_eq!(count(&session, "SELECT count(*) FROM made").await, 50);
    // An error in the query is the query's own.
    let bad = format!("CREATE EXTERNAL TABLE b STORED AS DELTATABLE LOCATION '{url}x/' AS SELEC 1");
    let err = run(&session, &bad).await.unwrap_err();
    assert!(err.message.starts_with("Syntax error"), "{}", err.message);
}

#[tokio::test]
async fn timestamps_of_any_unit_and_unsigned_numbers_are_stored_as_delta_can() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}/stamped/", dir.path().display());
    let session = test_session();
    // Seconds (as the demo data's readings), milliseconds and nanoseconds,
    // and an unsigned count: none is a type Delta stores as it comes.
    let sql = format!(
        "CREATE EXTERNAL TABLE stamped STORED AS DELTATABLE LOCATION '{url}' AS
         SELECT to_timestamp_seconds(1767571200 + i) AS s, to_timestamp_millis(1767571200000 + i) AS ms,
                to_timestamp(1767571200 + i) AS ns, arrow_cast(i, 'UInt32') AS n
         FROM generate_series(1, 10) AS t(i)"
    );
    run(&session, &sql).await.unwrap();
    assert_eq!(count(&session, "SELECT count(*) FROM stamped").await, 10);
    assert_eq!(
        count(
            &session,
            "SELECT count(*) FROM stamped WHERE s = to_timestamp_seconds(1767571201) AND n = 1"
        )
        .await,
        1
    );
    assert_eq!(count(&session, "SELECT sum(n) FROM stamped").await, 55);
    // A declared TIMESTAMP (nanoseconds in DataFusion) makes a table too.
    let declared = format!(
        "CREATE EXTERNAL TABLE declared (at TIMESTAMP, id INT UNSIGNED) STORED AS DELTATABLE LOCATION 'file://{}/declared/'",
        dir.path().display()
    );
    run(&session, &declared).await.unwrap();
    run(&session, "INSERT INTO declared VALUES (now(), 1)")
        .await
        .unwrap();
    assert_eq!(count(&session, "SELECT count(*) FROM declared").await, 1);
}

#[tokio::test]
async fn a_table_whose_columns_changed_since_it_was_registered_says_so() {
    let (first, _dir, url) = table_with_rows().await;
    // Another writer replaces the table with other columns.
    let other = test_session();
    let replaced = format!("CREATE EXTERNAL TABLE again STORED AS DELTATABLE LOCATION '{url}'");
    run(&other, &replaced).await.unwrap();
    let table = super::DeltaLocation::parse(&url)
        .unwrap()
        .load(&other.context().runtime_env(), super::TableVersion::Latest)
        .await
        .unwrap();
    deltalake_core::DeltaTable::add_columns(table)
        .with_fields([deltalake_core::kernel::StructField::new(
            "extra",
            deltalake_core::kernel::DataType::LONG,
            true,
        )])
        .await
        .unwrap();
    let err = run(&first, "SELECT * FROM t").await.unwrap_err();
    assert!(
        err.message
            .contains("changed its columns since this kernel registered it"),
        "{}",
        err.message
    );
    // Registered again, it reads the new columns.
    let fresh = session_over(&url).await;
    assert_eq!(count(&fresh, "SELECT count(extra) FROM t").await, 0);
}
