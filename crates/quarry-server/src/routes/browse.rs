//! Listing buckets and objects, and object metadata.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use crate::query::ApiQuery;
use crate::responses::{Bucket, Buckets, Listing, ObjectEntry, ObjectMeta};
use crate::{ApiError, AppState, validate};

pub async fn buckets(State(state): State<AppState>) -> Result<Json<Buckets>, ApiError> {
    let buckets: Vec<Bucket> = quarry_s3::list_buckets(&state.s3)
        .await
        .map_err(ApiError::from_failure)?
        .into_iter()
        .map(|b| Bucket {
            name: b.name,
            created: b.created,
        })
        .collect();
    Ok(Json(Buckets { buckets }))
}

#[derive(Deserialize)]
pub struct ListQuery {
    bucket: String,
    #[serde(default)]
    prefix: String,
    token: Option<String>,
    limit: Option<i32>,
}

/// One page of one folder level (delimiter `/`): never a whole bucket.
pub async fn objects(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Listing>, ApiError> {
    let folder = validate::folder(&q.bucket, &q.prefix)?;
    let limit = validate::limit(q.limit)?;
    let level = quarry_s3::list_level(&state.s3, &folder, q.token, limit)
        .await
        .map_err(ApiError::from_failure)?;
    Ok(Json(Listing {
        prefixes: level.prefixes,
        objects: level
            .objects
            .into_iter()
            .map(|o| ObjectEntry {
                key: o.key,
                size: o.size,
                last_modified: o.last_modified,
                etag: o.etag,
            })
            .collect(),
        next_token: level.next_token,
    }))
}

#[derive(Deserialize)]
pub struct ObjectQuery {
    pub bucket: String,
    pub key: String,
}

pub async fn object(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ObjectQuery>,
) -> Result<Json<ObjectMeta>, ApiError> {
    let target = validate::target(&q.bucket, &q.key)?;
    let head = quarry_s3::head_object(&state.s3, &target)
        .await
        .map_err(ApiError::from_failure)?;
    Ok(Json(ObjectMeta {
        bucket: target.bucket,
        key: target.key,
        size: head.size,
        last_modified: head.last_modified,
        etag: head.etag,
        content_type: head.content_type,
    }))
}
