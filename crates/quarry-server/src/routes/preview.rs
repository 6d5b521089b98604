//! The first rows of a table file, or the head of a text file.

use axum::Json;
use axum::extract::State;
use quarry_s3::S3Location;
use quarry_sql::notebook::Preview;

use super::browse::ObjectQuery;
use crate::query::ApiQuery;
use crate::responses::{ParquetColumn, ParquetSummary, Preview as PreviewBody};
use crate::{ApiError, AppState, validate};

const PREVIEW_ROWS: usize = 50;
const TEXT_BYTES: u64 = 64 * 1024;

pub async fn preview(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ObjectQuery>,
) -> Result<Json<PreviewBody>, ApiError> {
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
            let parquet = if target.key.ends_with(".parquet") {
                Some(parquet_summary(&state, &target).await?)
            } else {
                None
            };
            PreviewBody::Table {
                size,
                rows_shown: result.total_rows,
                table: rendered.data_resource,
                parquet,
            }
        }
        Preview::Text {
            size,
            text,
            truncated,
        } => PreviewBody::Text {
            size,
            text,
            truncated,
        },
        Preview::Binary { size } => PreviewBody::Binary { size },
    }))
}

/// A Parquet file's footer: rows, row groups and each column's statistics
/// (one small ranged read; no data pages).
async fn parquet_summary(
    state: &AppState,
    target: &S3Location,
) -> Result<Option<ParquetSummary>, ApiError> {
    let footers = state
        .sql
        .parquet_footers(&target.to_string())
        .await
        .map_err(ApiError::from_sql)?;
    Ok(footers.map(|f| ParquetSummary {
        rows: f.rows,
        row_groups: f.row_groups as u64,
        columns: f
            .columns
            .into_iter()
            .map(|c| ParquetColumn {
                name: c.name,
                data_type: c.data_type,
                nulls: c.nulls,
                min: c.min,
                max: c.max,
                compressed_bytes: c.compressed_bytes,
            })
            .collect(),
    }))
}
