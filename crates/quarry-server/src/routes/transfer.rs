//! Downloads, chunked uploads, deletes and new folders.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt as _;
use object_store::path::Path as StorePath;
use object_store::{GetOptions, GetRange, ObjectStore as _};
use serde::Deserialize;
use serde_json::json;

use super::browse::ObjectQuery;
use crate::{ApiError, AppState, validate};

/// How long a presigned download link works.
const PRESIGNED_FOR: Duration = Duration::from_secs(300);

#[derive(Deserialize)]
pub struct DownloadQuery {
    bucket: String,
    key: String,
    /// `stream` sends the bytes through this backend (with Range support);
    /// it is also what happens without a browser-reachable S3 endpoint
    /// (`QUARRY_S3_PUBLIC_ENDPOINT`).
    mode: Option<String>,
}

pub async fn download(
    State(state): State<AppState>,
    Query(q): Query<DownloadQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let validate::Target { bucket, key, url } = validate::target(&q.bucket, &q.key)?;
    let name = key
        .rsplit('/')
        .next()
        .unwrap_or("download")
        .replace('"', "");
    // A redirect only to an address the browser can reach; otherwise the
    // bytes come through this backend.
    let presigner = state.s3.presigning_client();
    if let (Some(presigner), false) = (presigner, q.mode.as_deref() == Some("stream")) {
        // Check first, so a missing object is a clear 404 here rather than
        // an XML error page from S3 in the user's browser.
        state.head_object(bucket, key, &url).await?;
        let presigned = presigner
            .get_object()
            .bucket(bucket)
            .key(key)
            .response_content_disposition(format!("attachment; filename=\"{name}\""))
            .presigned(PresigningConfig::expires_in(PRESIGNED_FOR).expect("valid duration"))
            .await
            .map_err(|e| state.sdk_error(&e, &url))?;
        return Ok((
            StatusCode::FOUND,
            [(header::LOCATION, presigned.uri().to_string())],
        )
            .into_response());
    }
    let store = state.s3.store(bucket).map_err(|e| ApiError::from_s3(&e))?;
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_range);
    let options = GetOptions {
        range: range.clone(),
        ..Default::default()
    };
    let result = store
        .get_opts(&StorePath::from(key), options)
        .await
        .map_err(|e| {
            ApiError::from_failure(quarry_s3::explain_store_failure(
                &e,
                &url,
                &state.endpoint(),
            ))
        })?;
    let total = result.meta.size;
    let served = result.range.clone();
    let stream = result.into_stream().map_err(std::io::Error::other);
    let mut response = Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        )
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_LENGTH, served.end - served.start);
    if range.is_some() {
        response = response.status(StatusCode::PARTIAL_CONTENT).header(
            header::CONTENT_RANGE,
            format!(
                "bytes {}-{}/{total}",
                served.start,
                served.end.saturating_sub(1)
            ),
        );
    }
    response
        .body(Body::from_stream(stream))
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` (single ranges only).
fn parse_range(value: &str) -> Option<GetRange> {
    let spec = value.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    match (start.trim(), end.trim()) {
        ("", n) => n.parse().ok().map(GetRange::Suffix),
        (a, "") => a.parse().ok().map(GetRange::Offset),
        (a, b) => {
            let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
            (b >= a).then_some(GetRange::Bounded(a..b + 1))
        }
    }
}

/// Deletes an object, or everything under a prefix when the key ends in `/`.
pub async fn delete(
    State(state): State<AppState>,
    Query(q): Query<ObjectQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let validate::Target { bucket, key, url } = validate::target(&q.bucket, &q.key)?;
    if key.ends_with('/') {
        let deleted = quarry_s3::delete_prefix(&state.s3, bucket, key, |_| {})
            .await
            .map_err(|e| match e {
                quarry_s3::DeletePrefixError::S3(failure) => ApiError::from_failure(failure),
                refused => ApiError::forbidden("access_denied", refused.message(&url)),
            })?;
        if deleted == 0 {
            return Err(ApiError::from_failure(quarry_s3::not_found_failure(&url)));
        }
        return Ok(Json(json!({"deleted": deleted})));
    }
    // S3 answers 204 for missing keys too; say 404 instead of pretending.
    state.head_object(bucket, key, &url).await?;
    state
        .s3
        .client()
        .delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| state.sdk_error(&e, &url))?;
    Ok(Json(json!({"deleted": 1})))
}

#[derive(Deserialize)]
pub struct FolderQuery {
    bucket: String,
    prefix: String,
}

/// Creates an empty `prefix/` marker object, which S3 browsers show as a
/// folder.
pub async fn folder(
    State(state): State<AppState>,
    Query(q): Query<FolderQuery>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let bucket = validate::bucket(&q.bucket)?;
    let prefix = format!("{}/", validate::key(q.prefix.trim_end_matches('/'))?);
    let url = format!("s3://{bucket}/{prefix}");
    state
        .s3
        .client()
        .put_object()
        .bucket(bucket)
        .key(&prefix)
        .body(Vec::new().into())
        .send()
        .await
        .map_err(|e| state.sdk_error(&e, &url))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"bucket": bucket, "prefix": prefix})),
    ))
}

#[derive(Deserialize)]
pub struct UploadQuery {
    bucket: String,
    key: String,
    /// 1-based chunk number; chunks must arrive in order.
    part: u32,
    upload_id: Option<String>,
    /// Set on the final chunk.
    #[serde(default)]
    last: bool,
}

/// One chunk of an upload. The first chunk (no `upload_id`) starts it and
/// gets the id back; chunks are buffered into ≥ 5 MiB S3 parts; the chunk
/// with `last=true` completes it. A failure aborts the multipart upload.
pub async fn upload(
    State(state): State<AppState>,
    Query(q): Query<UploadQuery>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let bucket = validate::bucket(&q.bucket)?;
    let key = validate::key(&q.key)?;
    if key.ends_with('/') {
        return Err(ApiError::bad_request(
            "Upload to a file name, not a folder (the key ends with '/').",
        ));
    }
    let outcome = state
        .uploads
        .chunk(
            &state,
            bucket,
            key,
            q.part,
            q.upload_id.as_deref(),
            body,
            q.last,
        )
        .await?;
    Ok(Json(outcome))
}

#[derive(Deserialize)]
pub struct CancelQuery {
    upload_id: String,
}

/// Cancels an unfinished upload.
pub async fn cancel_upload(
    State(state): State<AppState>,
    Query(q): Query<CancelQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(state.uploads.cancel(&state, &q.upload_id).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_byte_ranges() {
        assert!(matches!(parse_range("bytes=0-99"), Some(GetRange::Bounded(r)) if r == (0..100)));
        assert!(matches!(
            parse_range("bytes=100-"),
            Some(GetRange::Offset(100))
        ));
        assert!(matches!(parse_range("bytes=-5"), Some(GetRange::Suffix(5))));
        assert!(parse_range("bytes=5-1").is_none());
        assert!(parse_range("bytes=0-1,5-6").is_none());
        assert!(parse_range("items=1-2").is_none());
    }
}
