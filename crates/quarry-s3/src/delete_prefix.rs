//! Deleting a folder: every object under a prefix, in batches.

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
        /// Objects deleted before the refusal.
        deleted: usize,
        /// The `s3://` URL of the refused key.
        key: String,
        /// S3's error code for it.
        code: String,
    },
}

impl DeletePrefixError {
    /// One sentence for the user, naming `place` (the prefix's URL).
    pub fn message(&self, place: &str) -> String {
        match self {
            DeletePrefixError::S3(failure) => failure.message.clone(),
            DeletePrefixError::Refused { deleted, key, code } => format!(
                "Deleted {deleted} objects under {place}, then S3 refused {key} ({code}); the rest are untouched."
            ),
        }
    }
}

/// One `DeleteObjects` request for `keys` (at most [`DELETE_BATCH`]),
/// quiet: only failures come back.
async fn delete_batch(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    keys: &[&str],
) -> Result<
    aws_sdk_s3::operation::delete_objects::DeleteObjectsOutput,
    aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::delete_objects::DeleteObjectsError>,
> {
    let objects = keys
        .iter()
        .filter_map(|k| {
            aws_sdk_s3::types::ObjectIdentifier::builder()
                .key(*k)
                .build()
                .ok()
        })
        .collect();
    let delete = aws_sdk_s3::types::Delete::builder()
        .set_objects(Some(objects))
        .quiet(true)
        .build()
        .expect("objects are set");
    client
        .delete_objects()
        .bucket(bucket)
        .delete(delete)
        .send()
        .await
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
    let mut folders = std::collections::BTreeSet::new();
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
        if prefix.is_empty() || prefix.ends_with('/') {
            for key in page.contents().iter().filter_map(|o| o.key()) {
                folders.extend(folders_between(prefix, key));
            }
        }
        let keys: Vec<&str> = page.contents().iter().filter_map(|o| o.key()).collect();
        if !keys.is_empty() {
            let out = delete_batch(client, bucket, &keys)
                .await
                .map_err(|e| explain(&|| crate::explain_sdk_failure(&e, &place, &endpoint)))?;
            if let Some(failed) = out.errors().first() {
                return Err(DeletePrefixError::Refused {
                    deleted,
                    key: format!("s3://{bucket}/{}", failed.key().unwrap_or("?")),
                    code: failed.code().unwrap_or("error").to_string(),
                });
            }
            deleted += keys.len();
            progress(deleted);
        }
        token = page.next_continuation_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    remove_folder_entries(stores, bucket, folders).await;
    Ok(deleted)
}

/// The folder prefixes from `prefix` down to `key`'s parent:
/// `("a/", "a/b/c/d.csv")` → `a/`, `a/b/`, `a/b/c/`.
fn folders_between(prefix: &str, key: &str) -> Vec<String> {
    let mut out = Vec::new();
    if !prefix.is_empty() {
        out.push(prefix.to_string());
    }
    let rest = key.get(prefix.len()..).unwrap_or_default();
    let mut end = prefix.len();
    for segment in rest
        .split('/')
        .collect::<Vec<_>>()
        .iter()
        .rev()
        .skip(1)
        .rev()
    {
        end += segment.len() + 1;
        out.push(key[..end].to_string());
    }
    out
}

/// Servers that keep real directories (SeaweedFS) go on listing a folder
/// whose objects are all gone until the directory entry itself is
/// deleted; S3 answers these deletes with "nothing to do". Deepest first,
/// so each directory is empty when its turn comes. Best effort: a leftover
/// empty folder is cosmetic.
async fn remove_folder_entries(
    stores: &S3Stores,
    bucket: &str,
    folders: std::collections::BTreeSet<String>,
) {
    let mut folders: Vec<String> = folders.into_iter().collect();
    folders.sort_by_key(|f| std::cmp::Reverse(f.matches('/').count()));
    for folder in folders {
        if let Err(e) = stores
            .client()
            .delete_object()
            .bucket(bucket)
            .key(&folder)
            .send()
            .await
        {
            tracing::debug!(%bucket, %folder, "could not remove a folder entry: {e}");
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::folders_between;

    #[test]
    fn folders_between_a_prefix_and_a_key() {
        assert_eq!(
            folders_between("a/", "a/b/c/d.csv"),
            ["a/", "a/b/", "a/b/c/"]
        );
        assert_eq!(folders_between("a/", "a/d.csv"), ["a/"]);
        assert_eq!(folders_between("", "x/y.csv"), ["x/"]);
        assert_eq!(folders_between("", "y.csv"), Vec::<String>::new());
    }
}
