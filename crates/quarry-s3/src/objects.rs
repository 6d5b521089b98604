//! Listing, inspecting, reading and deleting objects: the S3 operations
//! the `%s3` magics and the panel's REST routes both perform.
//!
//! They live here once so both agree on the rules S3 leaves to clients:
//! a `prefix/` object is a folder marker, not a file in that folder; a
//! DELETE of a missing key is reported as missing (S3 itself answers 204);
//! every failure is explained in the same words ([`crate::failure`]).

use std::ops::Range;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt as _, TryStreamExt as _};
use object_store::path::Path as StorePath;
use object_store::{GetOptions, GetRange, ObjectStore as _, ObjectStoreExt as _};

use crate::{S3Failure, S3Location, S3Stores};

/// S3 answers at most this many keys per listing request.
const LIST_PAGE: usize = 1000;

/// A bucket the credentials can list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketEntry {
    /// The bucket name.
    pub name: String,
    /// When S3 says it was created (RFC 3339), if it says.
    pub created: Option<String>,
}

/// One object in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEntry {
    /// The full key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// When it was last written (RFC 3339), if S3 says.
    pub last_modified: Option<String>,
    /// Without S3's surrounding quotes.
    pub etag: Option<String>,
}

/// One folder level (delimiter `/`) of a bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderLevel {
    /// Sub-folders, as full prefixes ending in `/`.
    pub prefixes: Vec<String>,
    /// Objects directly in this folder; never the folder's own marker.
    pub objects: Vec<ObjectEntry>,
    /// The listed prefix has a `prefix/` marker object: the folder exists
    /// even when it holds nothing.
    pub has_marker: bool,
    /// Where the next page starts; `None` when the level was listed to the end.
    pub next_token: Option<String>,
}

impl FolderLevel {
    /// Folders plus objects.
    pub fn len(&self) -> usize {
        self.prefixes.len() + self.objects.len()
    }

    /// Whether the level holds neither folders nor objects.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An object's metadata (HEAD).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Size in bytes.
    pub size: u64,
    /// When it was last written (RFC 3339), if S3 says.
    pub last_modified: Option<String>,
    /// Without S3's surrounding quotes.
    pub etag: Option<String>,
    /// The `Content-Type` it was stored with.
    pub content_type: Option<String>,
}

/// A byte range of an object to read, as HTTP `Range` states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=a-b`: from `start` up to but not including `end`.
    Bounded(Range<u64>),
    /// `bytes=a-`: from an offset to the end.
    From(u64),
    /// `bytes=-n`: the last `n` bytes.
    Last(u64),
}

/// An object being read: its total size, the part being sent and the bytes.
pub struct ObjectBody {
    /// The object's whole size in bytes.
    pub size: u64,
    /// The byte range the stream holds (all of it without a range).
    pub range: Range<u64>,
    /// The bytes of `range`, in order.
    pub stream: BoxStream<'static, Result<Bytes, S3Failure>>,
}

/// The buckets these credentials can list.
pub async fn list_buckets(stores: &S3Stores) -> Result<Vec<BucketEntry>, S3Failure> {
    let out = stores
        .client()
        .list_buckets()
        .send()
        .await
        .map_err(|e| sdk_failure(stores, &e, "your bucket list"))?;
    Ok(out
        .buckets()
        .iter()
        .map(|b| BucketEntry {
            name: b.name().unwrap_or_default().to_string(),
            created: b.creation_date().map(|d| d.to_string()),
        })
        .collect())
}

/// Lists one folder level of `location` (its key is the prefix), starting
/// at `token`, until at least `limit` entries are gathered or the level
/// ends. `next_token` continues from there.
pub async fn list_level(
    stores: &S3Stores,
    location: &S3Location,
    token: Option<String>,
    limit: usize,
) -> Result<FolderLevel, S3Failure> {
    let place = location.to_string();
    let prefix = location.key.as_str();
    let mut level = FolderLevel {
        next_token: token,
        ..FolderLevel::default()
    };
    loop {
        let want = limit.saturating_sub(level.len()).clamp(1, LIST_PAGE);
        let page = stores
            .client()
            .list_objects_v2()
            .bucket(&location.bucket)
            .prefix(prefix)
            .delimiter("/")
            .max_keys(want as i32)
            .set_continuation_token(level.next_token.take())
            .send()
            .await
            .map_err(|e| sdk_failure(stores, &e, &place))?;
        level.prefixes.extend(
            page.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_string)),
        );
        for object in page.contents() {
            let key = object.key().unwrap_or_default();
            if is_marker_of(key, prefix) {
                level.has_marker = true;
                continue;
            }
            level.objects.push(ObjectEntry {
                key: key.to_string(),
                size: object.size().unwrap_or(0).max(0) as u64,
                last_modified: object.last_modified().map(|d| d.to_string()),
                etag: object.e_tag().map(|e| e.trim_matches('"').to_string()),
            });
        }
        level.next_token = page.next_continuation_token().map(str::to_string);
        if level.next_token.is_none() || level.len() >= limit {
            return Ok(level);
        }
    }
}

/// The folder-marker rule: the `dir/` object listed under prefix `dir/`
/// is the folder itself, not a file in it.
fn is_marker_of(key: &str, prefix: &str) -> bool {
    !prefix.is_empty() && prefix.ends_with('/') && key == prefix
}

/// Whether anything exists under a folder prefix (`dir/`), or, for a file,
/// the object itself.
pub async fn exists(stores: &S3Stores, location: &S3Location) -> Result<bool, S3Failure> {
    let folder = location.key.ends_with('/');
    let page = stores
        .client()
        .list_objects_v2()
        .bucket(&location.bucket)
        .prefix(&location.key)
        .max_keys(if folder { 1 } else { 2 })
        .send()
        .await
        .map_err(|e| sdk_failure(stores, &e, &location.to_string()))?;
    Ok(page
        .contents()
        .iter()
        .any(|o| folder || o.key() == Some(location.key.as_str())))
}

/// An object's metadata; a missing object is [`crate::FailureKind::NotFound`].
pub async fn head_object(
    stores: &S3Stores,
    location: &S3Location,
) -> Result<ObjectInfo, S3Failure> {
    let head = stores
        .client()
        .head_object()
        .bucket(&location.bucket)
        .key(&location.key)
        .send()
        .await
        .map_err(|e| sdk_failure(stores, &e, &location.to_string()))?;
    Ok(ObjectInfo {
        size: head.content_length().unwrap_or(0).max(0) as u64,
        last_modified: head.last_modified().map(|d| d.to_string()),
        etag: head.e_tag().map(|e| e.trim_matches('"').to_string()),
        content_type: head.content_type().map(str::to_string),
    })
}

/// Deletes one object. S3 answers 204 for a missing key too, so it is
/// looked up first and a missing one is reported as not found.
pub async fn delete_object(stores: &S3Stores, location: &S3Location) -> Result<(), S3Failure> {
    head_object(stores, location).await?;
    stores
        .client()
        .delete_object()
        .bucket(&location.bucket)
        .key(&location.key)
        .send()
        .await
        .map_err(|e| sdk_failure(stores, &e, &location.to_string()))?;
    Ok(())
}

/// Writes a whole object in one request (small files, folder markers).
pub async fn put_object(
    stores: &S3Stores,
    location: &S3Location,
    body: Bytes,
) -> Result<(), S3Failure> {
    stores
        .client()
        .put_object()
        .bucket(&location.bucket)
        .key(&location.key)
        .body(body.into())
        .send()
        .await
        .map_err(|e| sdk_failure(stores, &e, &location.to_string()))?;
    Ok(())
}

/// Creates the empty `prefix/` marker object S3 browsers show as a folder.
pub async fn create_folder(stores: &S3Stores, location: &S3Location) -> Result<(), S3Failure> {
    debug_assert!(location.key.ends_with('/'));
    put_object(stores, location, Bytes::new()).await
}

/// The object's size and its first `max_bytes` bytes (previews).
pub async fn read_head(
    stores: &S3Stores,
    location: &S3Location,
    max_bytes: u64,
) -> Result<(u64, Bytes), S3Failure> {
    let place = location.to_string();
    let store = stores.store(&location.bucket).map_err(S3Failure::from)?;
    let path = StorePath::from(location.key.as_str());
    let meta = store
        .head(&path)
        .await
        .map_err(|e| crate::explain_store_failure(&e, &place, &endpoint(stores)))?;
    let end = meta.size.min(max_bytes);
    if end == 0 {
        return Ok((meta.size, Bytes::new()));
    }
    let bytes = store
        .get_range(&path, 0..end)
        .await
        .map_err(|e| crate::explain_store_failure(&e, &place, &endpoint(stores)))?;
    Ok((meta.size, bytes))
}

/// Opens an object (or a range of it) for streaming.
pub async fn get_object(
    stores: &S3Stores,
    location: &S3Location,
    range: Option<ByteRange>,
) -> Result<ObjectBody, S3Failure> {
    let place = location.to_string();
    let endpoint = endpoint(stores);
    let store = stores.store(&location.bucket).map_err(S3Failure::from)?;
    let options = GetOptions {
        range: range.map(|r| match r {
            ByteRange::Bounded(r) => GetRange::Bounded(r),
            ByteRange::From(start) => GetRange::Offset(start),
            ByteRange::Last(n) => GetRange::Suffix(n),
        }),
        ..GetOptions::default()
    };
    let result = store
        .get_opts(&StorePath::from(location.key.as_str()), options)
        .await
        .map_err(|e| crate::explain_store_failure(&e, &place, &endpoint))?;
    let (size, range) = (result.meta.size, result.range.clone());
    let stream = result
        .into_stream()
        .map_err(move |e| crate::explain_store_failure(&e, &place, &endpoint))
        .boxed();
    Ok(ObjectBody {
        size,
        range,
        stream,
    })
}

/// A link a browser can open to download `location` as `file_name` for
/// `valid_for`, or `None` when S3 is not reachable from browsers (no
/// `QUARRY_S3_PUBLIC_ENDPOINT`): then bytes must be streamed instead. The
/// object is looked up first, so a missing one is a clear not-found here
/// rather than an XML error page in the user's browser.
pub async fn presigned_download(
    stores: &S3Stores,
    location: &S3Location,
    file_name: &str,
    valid_for: std::time::Duration,
) -> Result<Option<String>, S3Failure> {
    let Some(presigner) = stores.presigning_client() else {
        return Ok(None);
    };
    head_object(stores, location).await?;
    let config =
        aws_sdk_s3::presigning::PresigningConfig::expires_in(valid_for).map_err(|e| S3Failure {
            kind: crate::FailureKind::Invalid,
            message: format!("A download link cannot be valid for {valid_for:?}: {e}."),
        })?;
    let presigned = presigner
        .get_object()
        .bucket(&location.bucket)
        .key(&location.key)
        .response_content_disposition(format!(
            "attachment; filename=\"{}\"",
            file_name.replace('"', "")
        ))
        .presigned(config)
        .await
        .map_err(|e| sdk_failure(stores, &e, &location.to_string()))?;
    Ok(Some(presigned.uri().to_string()))
}

/// Explains an SDK failure for `place` against these stores' endpoint.
pub(crate) fn sdk_failure<E>(
    stores: &S3Stores,
    err: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    place: &str,
) -> S3Failure
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    crate::explain_sdk_failure(err, place, &endpoint(stores))
}

fn endpoint(stores: &S3Stores) -> String {
    stores.settings().endpoint_display()
}

#[cfg(test)]
mod tests {
    use super::is_marker_of;

    #[test]
    fn a_folder_marker_is_not_a_file_in_its_folder() {
        assert!(is_marker_of("dir/", "dir/"));
        assert!(!is_marker_of("dir/a.csv", "dir/"));
        // Listing the bucket root or a name prefix: `dir/` is an entry.
        assert!(!is_marker_of("dir/", ""));
        assert!(!is_marker_of("dir", "dir"));
    }
}
