//! S3 operations that several Quarry components perform the same way.

use crate::{S3Failure, S3Stores};

/// S3 deletes at most this many keys per request.
const DELETE_BATCH: i32 = 1000;

/// Why a prefix could not be deleted completely.
#[derive(Debug)]
pub enum DeletePrefixError {
    /// A listing or delete request failed.
    S3(S3Failure),
    /// S3 refused some keys; `deleted` objects were removed before.
    Refused {
        deleted: usize,
        key: String,
        code: String,
    },
}

impl DeletePrefixError {
    pub fn message(&self, place: &str) -> String {
        match self {
            DeletePrefixError::S3(failure) => failure.message.clone(),
            DeletePrefixError::Refused { deleted, key, code } => format!(
                "Deleted {deleted} objects under {place}, then S3 refused {key} ({code}); the rest are untouched."
            ),
        }
    }
}

/// Deletes every object under `prefix` in batches of 1,000, calling
/// `progress` with the running total after each batch. Returns how many
/// objects were deleted (0 when nothing was there).
pub async fn delete_prefix(
    stores: &S3Stores,
    bucket: &str,
    prefix: &str,
    mut progress: impl FnMut(usize),
) -> Result<usize, DeletePrefixError> {
    let client = stores.client();
    let endpoint = stores.settings().endpoint_display();
    let place = format!("s3://{bucket}/{prefix}");
    let explain = |e: &dyn Fn() -> S3Failure| DeletePrefixError::S3(e());
    let mut token = None;
    let mut deleted = 0usize;
    loop {
        let page = client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .max_keys(DELETE_BATCH)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| explain(&|| crate::explain_sdk_failure(&e, &place, &endpoint)))?;
        let keys: Vec<_> = page
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .filter_map(|k| {
                aws_sdk_s3::types::ObjectIdentifier::builder()
                    .key(k)
                    .build()
                    .ok()
            })
            .collect();
        if !keys.is_empty() {
            let batch = keys.len();
            let delete = aws_sdk_s3::types::Delete::builder()
                .set_objects(Some(keys))
                .quiet(true)
                .build()
                .expect("objects are set");
            let out = client
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| explain(&|| crate::explain_sdk_failure(&e, &place, &endpoint)))?;
            if let Some(failed) = out.errors().first() {
                return Err(DeletePrefixError::Refused {
                    deleted,
                    key: format!("s3://{bucket}/{}", failed.key().unwrap_or("?")),
                    code: failed.code().unwrap_or("error").to_string(),
                });
            }
            deleted += batch;
            progress(deleted);
        }
        token = page.next_continuation_token().map(str::to_string);
        if token.is_none() {
            return Ok(deleted);
        }
    }
}
