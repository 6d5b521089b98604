//! Copy and move (rename) inside S3, for single objects and whole folders.
//!
//! S3 has no rename: a move is a server-side copy followed by a delete of
//! the source, and a folder move does that for every object under it. The
//! source is only deleted once every copy succeeded, so a failure part-way
//! leaves the source complete (and possibly a partial copy, which the
//! message says).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use quarry_s3::{S3Failure, S3Location};
use serde::Deserialize;

use crate::query::ApiQuery;
use crate::responses::CopyResult;
use crate::{ApiError, AppState, validate};

#[derive(Deserialize)]
pub struct CopyQuery {
    bucket: String,
    key: String,
    /// Defaults to `bucket`.
    to_bucket: Option<String>,
    to_key: String,
    /// Replace an existing object at the destination (default: refuse).
    #[serde(default)]
    overwrite: bool,
}

pub async fn copy(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<CopyQuery>,
) -> Result<(StatusCode, Json<CopyResult>), ApiError> {
    let outcome = copy_or_move(&state, &q, false).await?;
    Ok((StatusCode::CREATED, Json(outcome)))
}

pub async fn rename(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<CopyQuery>,
) -> Result<(StatusCode, Json<CopyResult>), ApiError> {
    let outcome = copy_or_move(&state, &q, true).await?;
    Ok((StatusCode::CREATED, Json(outcome)))
}

async fn copy_or_move(
    state: &AppState,
    q: &CopyQuery,
    remove_source: bool,
) -> Result<CopyResult, ApiError> {
    let from = validate::target(&q.bucket, &q.key)?;
    let to = validate::target(q.to_bucket.as_deref().unwrap_or(&q.bucket), &q.to_key)?;
    refuse_impossible(state, q, &from, &to).await?;
    if from.key.ends_with('/') {
        copy_folder(state, from, to, remove_source).await
    } else {
        copy_one(state, from, to, remove_source).await
    }
}

/// A copy or move that cannot work (file onto folder, onto itself, into
/// itself, over an object without `overwrite`) is refused before any S3 work.
async fn refuse_impossible(
    state: &AppState,
    q: &CopyQuery,
    from: &S3Location,
    to: &S3Location,
) -> Result<(), ApiError> {
    let folder = from.key.ends_with('/');
    if folder != to.key.ends_with('/') {
        return Err(ApiError::bad_request(
            "A folder (key ending in '/') can only be copied to a folder, and a file only to a file name.",
        ));
    }
    if from == to {
        return Err(ApiError::bad_request(format!(
            "{from} is already there: choose another name."
        )));
    }
    if folder && from.bucket == to.bucket && to.key.starts_with(&from.key) {
        return Err(ApiError::bad_request(format!(
            "Cannot put {from} inside itself ({to})."
        )));
    }
    if !q.overwrite
        && quarry_s3::exists(&state.s3, to)
            .await
            .map_err(ApiError::from_failure)?
    {
        return Err(ApiError::conflict(format!(
            "{to} already exists: choose another name or delete it first."
        )));
    }
    Ok(())
}

/// One object: a server-side copy, then (for a move) the original deleted.
async fn copy_one(
    state: &AppState,
    from: S3Location,
    to: S3Location,
    remove_source: bool,
) -> Result<CopyResult, ApiError> {
    let size = quarry_s3::copy_object(&state.s3, &from, &to, |_, _| {})
        .await
        .map_err(ApiError::from_failure)?;
    if remove_source {
        quarry_s3::delete_object(&state.s3, &from)
            .await
            .map_err(|failure| {
                ApiError::from_failure(S3Failure {
                    message: format!(
                        "Copied {from} to {to} but could not delete the original: {}",
                        failure.message
                    ),
                    ..failure
                })
            })?;
    }
    Ok(CopyResult {
        bucket: to.bucket,
        key: to.key,
        size: Some(size),
        objects: 1,
    })
}

/// Every object under a folder; the originals are deleted (for a move)
/// only once every copy succeeded.
async fn copy_folder(
    state: &AppState,
    from: S3Location,
    to: S3Location,
    remove_source: bool,
) -> Result<CopyResult, ApiError> {
    let verb = if remove_source { "move" } else { "copy" };
    let copied = quarry_s3::copy_prefix(&state.s3, &from, &to, |_| {})
        .await
        .map_err(|failure| {
            ApiError::from_failure(S3Failure {
                message: format!(
                    "Could not {verb} {from} to {to} completely; the original is untouched: {}",
                    failure.message
                ),
                ..failure
            })
        })?;
    if copied == 0 {
        return Err(ApiError::from_failure(quarry_s3::not_found_failure(
            &from.to_string(),
        )));
    }
    if remove_source {
        quarry_s3::delete_prefix(&state.s3, &from.bucket, &from.key, |_| {})
            .await
            .map_err(|e| {
                ApiError::internal(format!(
                    "Copied {copied} objects to {to} but could not delete all of {from}: {}",
                    e.message(&from.to_string())
                ))
            })?;
    }
    Ok(CopyResult {
        bucket: to.bucket,
        key: to.key,
        size: None,
        objects: copied as u64,
    })
}
