//! The first rows of a table file, or the head of a text file.

use axum::Json;
use axum::extract::State;
use quarry_s3::S3Location;
use quarry_sql::notebook::Preview;
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
            let rendered = quarry_sql::notebook::render_batches(
                &result.schema,
                &result.batches,
                result.total_rows,
                None,
            );
            let mut answer = json!({
                "kind": "table",
                "size": size,
                "rows_shown": result.total_rows,
                "table": rendered.data_resource,
            });
            if target.key.ends_with(".parquet") {
                answer["parquet"] = parquet_summary(&state, &target).await?;
            }
            answer
        }
        Preview::Text {
            size,
            text,
            truncated,
        } => json!({"kind": "text", "size": size, "text": text, "truncated": truncated}),
        Preview::Binary { size } => json!({"kind": "binary", "size": size}),
    }))
}

/// A Parquet file's footer: rows, row groups and each column's statistics
/// (one small ranged read; no data pages).
async fn parquet_summary(
    state: &AppState,
    target: &S3Location,
) -> Result<serde_json::Value, ApiError> {
    let footers = state
        .sql
        .parquet_footers(&target.to_string())
        .await
        .map_err(ApiError::from_sql)?;
    Ok(match footers {
        Some(f) => json!({
            "rows": f.rows,
            "row_groups": f.row_groups,
            "columns": f.columns.iter().map(|c| json!({
                "name": c.name,
                "type": c.data_type,
                "nulls": c.nulls,
                "min": c.min,
                "max": c.max,
                "compressed_bytes": c.compressed_bytes,
            })).collect::<Vec<_>>(),
        }),
        None => serde_json::Value::Null,
    })
}
