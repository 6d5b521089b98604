//! The first rows of a table file, or the head of a text file.

use axum::Json;
use axum::extract::{Query, State};
use object_store::ObjectStoreExt as _;
use object_store::path::Path as StorePath;
use serde_json::json;

use super::browse::ObjectQuery;
use crate::{ApiError, AppState, validate};

const PREVIEW_ROWS: usize = 50;
const TEXT_BYTES: u64 = 64 * 1024;

pub async fn preview(
    State(state): State<AppState>,
    Query(q): Query<ObjectQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let validate::Target { bucket, key, url } = validate::target(&q.bucket, &q.key)?;
    let store = state.s3.store(bucket).map_err(|e| ApiError::from_s3(&e))?;
    let path = StorePath::from(key);
    let store_error = |e: &object_store::Error| {
        ApiError::from_failure(quarry_s3::explain_store_failure(e, &url, &state.endpoint()))
    };
    let meta = store.head(&path).await.map_err(|e| store_error(&e))?;
    let lower = key.to_ascii_lowercase();
    if [".parquet", ".csv", ".json"]
        .iter()
        .any(|ext| lower.ends_with(ext))
    {
        let sql = format!(
            "SELECT * FROM '{}' LIMIT {PREVIEW_ROWS}",
            url.replace('\'', "''")
        );
        let outcome = state
            .sql
            .run_cell(&sql, PREVIEW_ROWS, Default::default())
            .await
            .map_err(|e| ApiError {
                status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                error: "unreadable",
                message: e.message,
            })?;
        let Some(result) = outcome.result else {
            return Err(ApiError::internal("The preview query returned no table."));
        };
        let rendered =
            quarry_sql::render_batches(&result.schema, &result.batches, result.total_rows, None);
        return Ok(Json(json!({
            "kind": "table",
            "size": meta.size,
            "rows_shown": result.total_rows,
            "table": rendered.data_resource,
        })));
    }
    let end = meta.size.min(TEXT_BYTES);
    let bytes = if end == 0 {
        Default::default()
    } else {
        store
            .get_range(&path, 0..end)
            .await
            .map_err(|e| store_error(&e))?
    };
    if bytes.contains(&0) {
        return Ok(Json(json!({"kind": "binary", "size": meta.size})));
    }
    Ok(Json(json!({
        "kind": "text",
        "size": meta.size,
        "text": String::from_utf8_lossy(&bytes),
        "truncated": meta.size > end,
    })))
}
