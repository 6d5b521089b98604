//! Listing buckets and objects, and object metadata.

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};

use crate::{ApiError, AppState, validate};

#[derive(Serialize)]
pub struct Bucket {
    name: String,
    created: Option<String>,
}

pub async fn buckets(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let out = state
        .s3
        .client()
        .list_buckets()
        .send()
        .await
        .map_err(|e| state.sdk_error(&e, "your bucket list"))?;
    let buckets: Vec<Bucket> = out
        .buckets()
        .iter()
        .map(|b| Bucket {
            name: b.name().unwrap_or_default().to_string(),
            created: b.creation_date().map(|d| d.to_string()),
        })
        .collect();
    Ok(Json(serde_json::json!({ "buckets": buckets })))
}

#[derive(Deserialize)]
pub struct ListQuery {
    bucket: String,
    #[serde(default)]
    prefix: String,
    token: Option<String>,
    limit: Option<i32>,
}

#[derive(Serialize)]
pub struct ObjectEntry {
    key: String,
    size: u64,
    last_modified: Option<String>,
    etag: Option<String>,
}

#[derive(Serialize)]
pub struct Listing {
    prefixes: Vec<String>,
    objects: Vec<ObjectEntry>,
    /// Pass back as `token` for the next page; `null` on the last page.
    next_token: Option<String>,
}

/// One page of one folder level (delimiter `/`): never a whole bucket.
pub async fn objects(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Listing>, ApiError> {
    let bucket = validate::bucket(&q.bucket)?;
    let prefix = validate::prefix(&q.prefix)?;
    let limit = validate::limit(q.limit)?;
    let place = format!("s3://{bucket}/{prefix}");
    let page = state
        .s3
        .client()
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .delimiter("/")
        .max_keys(limit)
        .set_continuation_token(q.token)
        .send()
        .await
        .map_err(|e| state.sdk_error(&e, &place))?;
    Ok(Json(Listing {
        prefixes: page
            .common_prefixes()
            .iter()
            .filter_map(|p| p.prefix().map(str::to_string))
            .collect(),
        objects: page
            .contents()
            .iter()
            // The folder marker object itself ("dir/") is not a file in it.
            .filter(|o| o.key() != Some(prefix) || prefix.is_empty())
            .map(|o| ObjectEntry {
                key: o.key().unwrap_or_default().to_string(),
                size: o.size().unwrap_or(0).max(0) as u64,
                last_modified: o.last_modified().map(|d| d.to_string()),
                etag: o.e_tag().map(|e| e.trim_matches('"').to_string()),
            })
            .collect(),
        next_token: page.next_continuation_token().map(str::to_string),
    }))
}

#[derive(Deserialize)]
pub struct ObjectQuery {
    pub bucket: String,
    pub key: String,
}

pub async fn object(
    State(state): State<AppState>,
    Query(q): Query<ObjectQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let validate::Target {
        bucket,
        key,
        url: place,
    } = validate::target(&q.bucket, &q.key)?;
    let head = state.head_object(bucket, key, &place).await?;
    Ok(Json(serde_json::json!({
        "bucket": bucket,
        "key": key,
        "size": head.content_length().unwrap_or(0).max(0),
        "last_modified": head.last_modified().map(|d| d.to_string()),
        "etag": head.e_tag().map(|e| e.trim_matches('"').to_string()),
        "content_type": head.content_type(),
    })))
}
