//! The first rows of a table file, or the head of a text file.

use axum::Json;
use axum::extract::State;
use quarry_sql::Preview;
use serde_json::json;

use super::browse::ObjectQuery;
use crate::query::ApiQuery;
use crate::{ApiError, AppState, validate};

const PREVIEW_ROWS: usize = 50;
const TEXT_BYTES: u64 = 64 * 1024;

pub async fn preview(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ObjectQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let target = validate::target(&q.bucket, &q.key)?;
    let preview = state
        .sql
        .preview(&target, PREVIEW_ROWS, TEXT_BYTES)
        .await
        .map_err(ApiError::from_sql)?;
    Ok(Json(match preview {
        Preview::Table { size, result } => {
            let rendered = quarry_sql::render_batches(
                &result.schema,
                &result.batches,
                result.total_rows,
                None,
            );
            json!({
                "kind": "table",
                "size": size,
                "rows_shown": result.total_rows,
                "table": rendered.data_resource,
            })
        }
        Preview::Text {
            size,
            text,
            truncated,
        } => json!({"kind": "text", "size": size, "text": text, "truncated": truncated}),
        Preview::Binary { size } => json!({"kind": "binary", "size": size}),
    }))
}
