use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::engine::CellProgress;
use crate::engine::session::test_session;

async fn held_result(session: &crate::engine::SqlSession, sql: &str) -> String {
    let outcome = session
        .run_notebook_cell(sql, 10, Arc::new(CellProgress::default()))
        .await
        .expect("cell runs");
    match outcome.result.expect("a result").held {
        Some(Held::Yes(id)) => id,
        other => panic!("not held: {other:?}"),
    }
}

fn request(value: serde_json::Value) -> PageRequest {
    serde_json::from_value(value).expect("a valid request")
}

fn column_text(page: &Page, column: usize) -> Vec<serde_json::Value> {
    grid_rows(&page.batches)
        .into_iter()
        .map(|row| row[column].clone())
        .collect()
}

const NUMBERS: &str = "SELECT value AS n, CASE WHEN value % 3 = 0 THEN 'x' ELSE 'y' END AS site, \
     CASE WHEN value % 10 = 0 THEN NULL ELSE value END AS maybe FROM generate_series(1, 1000) AS t(value)";

#[tokio::test]
async fn pages_are_cut_from_the_whole_sorted_result() {
    let session = test_session();
    let id = held_result(&session, NUMBERS).await;
    let page = session
        .result_page(
            &id,
            &request(
                json!({"sort": [{"column": "n", "descending": true}], "offset": 200, "limit": 100}),
            ),
        )
        .await
        .expect("a page");
    assert_eq!(page.total_rows, 1000);
    assert_eq!(page.matching_rows, 1000);
    let values = column_text(&page, 0);
    assert_eq!(values.len(), 100);
    assert_eq!(values[0], json!("800"), "row 201 of the descending order");
    assert_eq!(values[99], json!("701"));
}

#[tokio::test]
async fn filters_count_what_they_leave_and_nulls_sort_last() {
    let session = test_session();
    let id = held_result(&session, NUMBERS).await;
    let site_x = request(json!({"filters": [{"column": "site", "op": "=", "value": "x"}]}));
    let page = session.result_page(&id, &site_x).await.expect("a page");
    assert_eq!(page.matching_rows, 333);
    let nulls = request(json!({"filters": [{"column": "maybe", "op": "is null"}], "limit": 5}));
    assert_eq!(
        session
            .result_page(&id, &nulls)
            .await
            .unwrap()
            .matching_rows,
        100
    );
    let sorted = request(json!({"sort": [{"column": "maybe"}], "offset": 895, "limit": 10}));
    let page = session.result_page(&id, &sorted).await.unwrap();
    let values = column_text(&page, 2);
    assert_eq!(values[4], json!("999"));
    assert_eq!(
        values[5],
        serde_json::Value::Null,
        "missing values come last"
    );
    let contains = request(json!({"filters": [{"column": "n", "op": "contains", "value": "99"}]}));
    // 99, 199, …, 999 (10) and 990–998 (9 more).
    assert_eq!(
        session
            .result_page(&id, &contains)
            .await
            .unwrap()
            .matching_rows,
        19
    );
}

#[tokio::test]
async fn contains_matches_like_wildcards_literally() {
    let session = test_session();
    let id = held_result(
        &session,
        "SELECT * FROM (VALUES ('50% off'), ('5000 off'), ('a_b'), ('axb')) AS t(s)",
    )
    .await;
    let count = |value: &str| {
        let r = request(json!({"filters": [{"column": "s", "op": "contains", "value": value}]}));
        let session = session.clone();
        let id = id.clone();
        async move { session.result_page(&id, &r).await.unwrap().matching_rows }
    };
    assert_eq!(count("0%").await, 1);
    assert_eq!(count("a_b").await, 1);
    assert_eq!(count("OFF").await, 2, "case is ignored");
}

#[tokio::test]
async fn bad_requests_are_one_sentence() {
    let session = test_session();
    let id = held_result(&session, NUMBERS).await;
    let cases = [
        (
            json!({"sort": [{"column": "nope"}]}),
            "The result has no column 'nope'; it has n, site, maybe.",
        ),
        (
            json!({"filters": [{"column": "n", "op": ">", "value": "abc"}]}),
            "'abc' is not a value of 'n', whose type is Int64.",
        ),
        (
            json!({"filters": [{"column": "n", "op": ">"}]}),
            "The filter on 'n' needs a value to compare with.",
        ),
        (
            json!({"limit": 5000}),
            "A page may hold at most 1000 rows; 5000 were asked for.",
        ),
    ];
    for (body, expected) in cases {
        let error = session.result_page(&id, &request(body)).await.unwrap_err();
        assert_eq!(error.to_string(), expected);
        assert!(!error.is_gone());
    }
}

#[tokio::test]
async fn the_oldest_results_make_room_and_say_so() {
    let session = test_session();
    let share = session.results().share();
    // Each result is a third of the share or so: the fourth drops the first.
    let rows = share / 8 / 3;
    let sql = format!("SELECT value FROM generate_series(1, {rows}) AS t(value)");
    let first = held_result(&session, &sql).await;
    for _ in 0..3 {
        held_result(&session, &sql).await;
    }
    let error = session
        .result_page(&first, &PageRequest::default())
        .await
        .unwrap_err();
    assert!(matches!(error, ResultError::Dropped), "{error}");
    assert!(error.is_gone());
    assert!(session.results().held_bytes() <= share);
    // Another kernel's id (a restart) is told apart from a dropped one.
    let other = test_session();
    let error = other
        .result_page(&first, &PageRequest::default())
        .await
        .unwrap_err();
    assert!(matches!(error, ResultError::Restarted), "{error}");
}

#[tokio::test]
async fn a_result_past_the_share_is_not_held_and_frees_its_memory() {
    let session = test_session();
    let rows = session.results().share() / 8 * 2;
    let sql = format!("SELECT value FROM generate_series(1, {rows}) AS t(value)");
    let outcome = session
        .run_notebook_cell(&sql, 10, Arc::new(CellProgress::default()))
        .await
        .unwrap();
    let held = outcome.result.unwrap().held.unwrap();
    assert!(matches!(held, Held::TooLarge { .. }), "{held:?}");
    assert_eq!(session.results().held_bytes(), 0);
    let bundle = ResultBundle {
        schema: &outcome_schema(),
        first_rows: &[],
        total_rows: rows as u64,
        held: &held,
        note: None,
    }
    .to_json();
    assert_eq!(bundle["result_id"], serde_json::Value::Null);
    assert!(bundle["note"].as_str().unwrap().contains("larger than the"));
}

fn outcome_schema() -> SchemaRef {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    Arc::new(Schema::new(vec![Field::new(
        "value",
        DataType::Int64,
        false,
    )]))
}

#[tokio::test]
async fn nested_values_are_json_and_big_integers_exact() {
    let session = test_session();
    let id = held_result(
        &session,
        "SELECT 9007199254740993 AS big, named_struct('a', 1, 'b', [1, 2]) AS s, CAST(NULL AS VARCHAR) AS nothing",
    )
    .await;
    let page = session
        .result_page(&id, &PageRequest::default())
        .await
        .unwrap();
    let rows = grid_rows(&page.batches);
    assert_eq!(
        rows[0],
        json!(["9007199254740993", {"a": 1, "b": [1, 2]}, null])
    );
    let columns = serde_json::to_value(grid_columns(&page.schema)).unwrap();
    assert_eq!(
        columns[0],
        json!({"name": "big", "type": "Int64", "kind": "number"})
    );
    assert_eq!(columns[1]["kind"], "nested");
}

#[tokio::test]
async fn earlier_statements_and_ddl_are_not_held() {
    let session = test_session();
    let outcome = session
        .run_notebook_cell(
            "CREATE TABLE t AS SELECT 1 AS a; SELECT * FROM t",
            10,
            Arc::new(CellProgress::default()),
        )
        .await
        .unwrap();
    assert!(matches!(outcome.result.unwrap().held, Some(Held::Yes(_))));
    assert_eq!(
        session.results().ids().len(),
        1,
        "only the last statement's rows"
    );
}

#[tokio::test]
async fn unsorted_pages_keep_the_results_order() {
    let session = crate::engine::SqlSession::new(
        std::sync::Arc::new(quarry_s3::S3Stores::from_env(&quarry_s3::Env::from_pairs(
            [],
        ))),
        &crate::engine::SessionOptions {
            memory: crate::engine::MemoryBudget::of(256 << 20),
            target_partitions: Some(4),
            pod: None,
            spill: None,
            catalog: None,
        },
    )
    .unwrap();
    let id = held_result(
        &session,
        "SELECT value FROM generate_series(1, 100000) AS t(value) ORDER BY value",
    )
    .await;
    assert!(
        session.results().get(&id).unwrap().batches.len() > 4,
        "enough batches to split"
    );
    let last = session
        .result_page(&id, &request(json!({"offset": 99_990, "limit": 10})))
        .await
        .unwrap();
    assert_eq!(column_text(&last, 0)[9], json!("100000"));
    let filtered = session
        .result_page(&id, &request(json!({"filters": [{"column": "value", "op": ">", "value": "50000"}], "offset": 100, "limit": 1})))
        .await
        .unwrap();
    assert_eq!(column_text(&filtered, 0), vec![json!("50101")]);
}

#[tokio::test]
async fn quarrys_own_queries_are_not_held() {
    let session = test_session();
    session
        .run_cell("SELECT 1 AS one", 10, Arc::default())
        .await
        .unwrap();
    session.catalog().await.unwrap();
    assert!(session.results().ids().is_empty());
}
