//! Object I/O: downloads, chunked uploads, deletes and new folders.

use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt as _;
use quarry_s3::ByteRange;
use serde::Deserialize;

use super::browse::ObjectQuery;
use crate::query::ApiQuery;
use crate::responses::{Cancelled, Deleted, FolderCreated, UploadProgress};
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
    ApiQuery(q): ApiQuery<DownloadQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let target = validate::target(&q.bucket, &q.key)?;
    let name = target
        .key
        .rsplit('/')
        .next()
        .unwrap_or("download")
        .replace('"', "");
    // A redirect only to an address the browser can reach; otherwise the
    // bytes come through this backend.
    if q.mode.as_deref() != Some("stream")
        && let Some(link) = quarry_s3::presigned_download(&state.s3, &target, &name, PRESIGNED_FOR)
            .await
            .map_err(ApiError::from_failure)?
    {
        return Ok((StatusCode::FOUND, [(header::LOCATION, link)]).into_response());
    }
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_range);
    let partial = range.is_some();
    let body = quarry_s3::get_object(&state.s3, &target, range)
        .await
        .map_err(ApiError::from_failure)?;
    let served = body.range.clone();
    let stream = body.stream.map_err(std::io::Error::other);
    let mut response = Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        )
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_LENGTH, served.end - served.start);
    if partial {
        response = response.status(StatusCode::PARTIAL_CONTENT).header(
            header::CONTENT_RANGE,
            format!(
                "bytes {}-{}/{}",
                served.start,
                served.end.saturating_sub(1),
                body.size
            ),
        );
    }
    response
        .body(Body::from_stream(stream))
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` (single ranges only).
fn parse_range(value: &str) -> Option<ByteRange> {
    let spec = value.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    match (start.trim(), end.trim()) {
        ("", n) => n.parse().ok().map(ByteRange::Last),
        (a, "") => a.parse().ok().map(ByteRange::From),
        (a, b) => {
            let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
            (b >= a).then_some(ByteRange::Bounded(a..b + 1))
        }
    }
}

/// Deletes an object, or everything under a prefix when the key ends in `/`.
pub async fn delete(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ObjectQuery>,
) -> Result<Json<Deleted>, ApiError> {
    let target = validate::target(&q.bucket, &q.key)?;
    if target.key.ends_with('/') {
        let url = target.to_string();
        let deleted = quarry_s3::delete_prefix(&state.s3, &target.bucket, &target.key, |_| {})
            .await
            .map_err(|e| match e {
                quarry_s3::DeletePrefixError::S3(failure) => ApiError::from_failure(failure),
                refused => ApiError::forbidden("access_denied", refused.message(&url)),
            })?;
        if deleted == 0 {
            return Err(ApiError::from_failure(quarry_s3::not_found_failure(&url)));
        }
        return Ok(Json(Deleted {
            deleted: deleted as u64,
        }));
    }
    quarry_s3::delete_object(&state.s3, &target)
        .await
        .map_err(ApiError::from_failure)?;
    Ok(Json(Deleted { deleted: 1 }))
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
    ApiQuery(q): ApiQuery<FolderQuery>,
) -> Result<(StatusCode, Json<FolderCreated>), ApiError> {
    let name = validate::key(q.prefix.trim_end_matches('/'))?;
    let folder = validate::folder(&q.bucket, &format!("{name}/"))?;
    quarry_s3::create_folder(&state.s3, &folder)
        .await
        .map_err(ApiError::from_failure)?;
    Ok((
        StatusCode::CREATED,
        Json(FolderCreated {
            bucket: folder.bucket,
            prefix: folder.key,
        }),
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
    ApiQuery(q): ApiQuery<UploadQuery>,
    body: Bytes,
) -> Result<Json<UploadProgress>, ApiError> {
    let target = validate::target(&q.bucket, &q.key)?;
    if target.key.ends_with('/') {
        return Err(ApiError::bad_request(
            "Upload to a file name, not a folder (the key ends with '/').",
        ));
    }
    let outcome = state
        .uploads
        .chunk(&state, target, q.part, q.upload_id.as_deref(), body, q.last)
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
    ApiQuery(q): ApiQuery<CancelQuery>,
) -> Result<Json<Cancelled>, ApiError> {
    Ok(Json(state.uploads.cancel(&q.upload_id).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_byte_ranges() {
        assert_eq!(parse_range("bytes=0-99"), Some(ByteRange::Bounded(0..100)));
        assert_eq!(parse_range("bytes=100-"), Some(ByteRange::From(100)));
        assert_eq!(parse_range("bytes=-5"), Some(ByteRange::Last(5)));
        assert!(parse_range("bytes=5-1").is_none());
        assert!(parse_range("bytes=0-1,5-6").is_none());
        assert!(parse_range("items=1-2").is_none());
    }
}
