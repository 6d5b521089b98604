//! Server-side copies: no object bytes pass through Quarry.
//!
//! `%s3 cp` and the panel's copy/rename both copy inside S3. Small objects
//! take one `CopyObject`; large ones go part by part (`UploadPartCopy`),
//! because S3 copies at most 5 GiB per request and parts give progress.

use crate::objects::sdk_failure;
use crate::{MultipartUpload, S3Failure, S3Location, S3Stores};

/// Above this size, copies go part by part.
const MULTIPART_COPY_ABOVE: u64 = 64 << 20;
/// Part size of a multipart copy.
const COPY_PART: u64 = 64 << 20;
/// S3 lists at most this many keys per request.
const LIST_PAGE: i32 = 1000;

/// Copies one object inside S3 and returns its size. `progress` gets
/// `(bytes copied, total)` after each part of a multipart copy. A failed
/// multipart copy is aborted so no parts are left behind.
pub async fn copy_object(
    stores: &S3Stores,
    from: &S3Location,
    to: &S3Location,
    progress: impl FnMut(u64, u64),
) -> Result<u64, S3Failure> {
    let size = crate::head_object(stores, from).await?.size;
    copy_sized(stores, from, to, size, progress).await?;
    Ok(size)
}

/// [`copy_object`] for an object whose size is already known (from a
/// listing), saving the HEAD request.
async fn copy_sized(
    stores: &S3Stores,
    from: &S3Location,
    to: &S3Location,
    size: u64,
    mut progress: impl FnMut(u64, u64),
) -> Result<(), S3Failure> {
    let source = copy_source(from);
    if size <= MULTIPART_COPY_ABOVE {
        stores
            .client()
            .copy_object()
            .bucket(&to.bucket)
            .key(&to.key)
            .copy_source(source)
            .send()
            .await
            .map_err(|e| sdk_failure(stores, &e, &to.to_string()))?;
        progress(size, size);
        return Ok(());
    }
    let upload = MultipartUpload::start(stores, to).await?;
    let copy = async {
        let mut parts = Vec::new();
        let mut offset = 0u64;
        while offset < size {
            let end = (offset + COPY_PART).min(size) - 1;
            let number = parts.len() as i32 + 1;
            parts.push(upload.copy_part(number, &source, offset..=end).await?);
            offset = end + 1;
            progress(offset, size);
        }
        upload.complete(parts).await
    };
    let outcome = copy.await;
    if outcome.is_err() {
        upload.abort().await;
    }
    outcome
}

/// Copies every object under `from` (a prefix ending in `/`) to the same
/// relative keys under `to`. Returns how many objects were copied (0 when
/// nothing was there); `progress` gets the running count.
pub async fn copy_prefix(
    stores: &S3Stores,
    from: &S3Location,
    to: &S3Location,
    mut progress: impl FnMut(usize),
) -> Result<usize, S3Failure> {
    let client = stores.client();
    let endpoint = stores.settings().endpoint_display();
    let place = from.to_string();
    let mut token = None;
    let mut copied = 0usize;
    loop {
        let page = client
            .list_objects_v2()
            .bucket(&from.bucket)
            .prefix(&from.key)
            .max_keys(LIST_PAGE)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| crate::explain_sdk_failure(&e, &place, &endpoint))?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            let relative = &key[from.key.len().min(key.len())..];
            let source = S3Location {
                bucket: from.bucket.clone(),
                key: key.to_string(),
            };
            let target = S3Location {
                bucket: to.bucket.clone(),
                key: format!("{}{relative}", to.key),
            };
            if key.ends_with('/') && object.size().unwrap_or(0) == 0 {
                // A folder marker: recreate it rather than copy it, since
                // servers that keep real directories (SeaweedFS) answer
                // CopyObject on one with NoSuchKey.
                crate::create_folder(stores, &target).await?;
            } else {
                let size = object.size().unwrap_or(0).max(0) as u64;
                copy_sized(stores, &source, &target, size, |_, _| {}).await?;
            }
            copied += 1;
            progress(copied);
        }
        token = page.next_continuation_token().map(str::to_string);
        if token.is_none() {
            return Ok(copied);
        }
    }
}

/// `bucket/key` percent-encoded for the `x-amz-copy-source` header
/// (keeping `/`).
fn copy_source(from: &S3Location) -> String {
    let mut out = String::with_capacity(from.bucket.len() + from.key.len() + 1);
    out.push_str(&from.bucket);
    out.push('/');
    for b in from.key.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_source_encodes_everything_but_slashes() {
        let from = S3Location {
            bucket: "b".into(),
            key: "dir/a b+c%.csv".into(),
        };
        assert_eq!(copy_source(&from), "b/dir/a%20b%2Bc%25.csv");
        let from = S3Location {
            bucket: "b".into(),
            key: "a b/ü.csv".into(),
        };
        assert_eq!(copy_source(&from), "b/a%20b/%C3%BC.csv");
    }
}
