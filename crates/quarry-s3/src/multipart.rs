//! Multipart uploads driven part by part by the caller.
//!
//! The panel receives a file as small browser chunks and decides itself
//! when a part is full; this is the S3 side of that: start, send numbered
//! parts (concurrently if wanted), complete, or abort so no parts stay
//! behind to be billed.

use bytes::Bytes;

use crate::objects::sdk_failure;
use crate::{S3Failure, S3Location, S3Stores};

/// S3's minimum size for every part but the last.
pub const MIN_PART_BYTES: usize = 5 << 20;

/// A started multipart upload. Cheap to clone: parts may be sent from
/// several tasks at once.
#[derive(Debug, Clone)]
pub struct MultipartUpload {
    client: aws_sdk_s3::Client,
    endpoint: String,
    location: S3Location,
    upload_id: String,
    /// Its entry in the stores' upload journal, struck off at the end.
    journaled: Option<std::path::PathBuf>,
}

/// A stored part, to be listed when completing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedPart {
    /// The part number, 1-based.
    pub number: i32,
    /// The ETag S3 gave the part.
    pub etag: Option<String>,
}

impl MultipartUpload {
    /// Starts an upload to `location`.
    pub async fn start(stores: &S3Stores, location: &S3Location) -> Result<Self, S3Failure> {
        let started = stores
            .client()
            .create_multipart_upload()
            .bucket(&location.bucket)
            .key(&location.key)
            .send()
            .await
            .map_err(|e| sdk_failure(stores, &e, &location.to_string()))?;
        let upload_id = started.upload_id().unwrap_or_default().to_string();
        let journaled = stores
            .upload_journal()
            .and_then(|journal| journal.record(location, &upload_id));
        Ok(MultipartUpload {
            client: stores.client().clone(),
            endpoint: stores.settings().endpoint_display(),
            location: location.clone(),
            upload_id,
            journaled,
        })
    }

    /// Where the object will appear.
    pub fn location(&self) -> &S3Location {
        &self.location
    }

    /// Sends part `number` (1-based; all but the last ≥ [`MIN_PART_BYTES`]).
    pub async fn upload_part(&self, number: i32, data: Bytes) -> Result<UploadedPart, S3Failure> {
        let out = self
            .client
            .upload_part()
            .bucket(&self.location.bucket)
            .key(&self.location.key)
            .upload_id(&self.upload_id)
            .part_number(number)
            .body(data.into())
            .send()
            .await
            .map_err(|e| self.failure(&e))?;
        Ok(UploadedPart {
            number,
            etag: out.e_tag().map(str::to_string),
        })
    }

    /// Copies `range` of the object `source` (`bucket/key`, encoded for
    /// the copy-source header) into part `number`, inside S3.
    pub(crate) async fn copy_part(
        &self,
        number: i32,
        source: &str,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<UploadedPart, S3Failure> {
        let out = self
            .client
            .upload_part_copy()
            .bucket(&self.location.bucket)
            .key(&self.location.key)
            .upload_id(&self.upload_id)
            .part_number(number)
            .copy_source(source)
            .copy_source_range(format!("bytes={}-{}", range.start(), range.end()))
            .send()
            .await
            .map_err(|e| self.failure(&e))?;
        Ok(UploadedPart {
            number,
            etag: out
                .copy_part_result()
                .and_then(|r| r.e_tag())
                .map(str::to_string),
        })
    }

    /// Makes the object visible from `parts`, in order.
    pub async fn complete(&self, parts: Vec<UploadedPart>) -> Result<(), S3Failure> {
        use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
        let parts = parts
            .into_iter()
            .map(|p| {
                CompletedPart::builder()
                    .part_number(p.number)
                    .set_e_tag(p.etag)
                    .build()
            })
            .collect();
        self.client
            .complete_multipart_upload()
            .bucket(&self.location.bucket)
            .key(&self.location.key)
            .upload_id(&self.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| self.failure(&e))?;
        self.strike();
        Ok(())
    }

    /// Aborts the upload so its parts are not kept (and billed). Best
    /// effort: the caller is already reporting what led here.
    ///
    /// When S3 does not answer (the upload failed because it went away),
    /// the abort is retried in the background and the journal entry stays
    /// until S3 lets go, so a process killed meanwhile leaves it to the
    /// next one's reaper. Returns whether S3 let go now.
    pub async fn abort(&self) -> bool {
        let attempt = || {
            tokio::time::timeout(
                crate::abort_retry::ATTEMPT,
                abort_upload(&self.client, &self.location, &self.upload_id),
            )
        };
        if matches!(attempt().await, Ok(true)) {
            self.strike();
            return true;
        }
        let upload = self.clone();
        tokio::spawn(async move {
            let mut backoff = crate::abort_retry::AbortBackoff::new();
            while backoff.wait().await {
                let retried = tokio::time::timeout(
                    crate::abort_retry::ATTEMPT,
                    abort_upload(&upload.client, &upload.location, &upload.upload_id),
                );
                if matches!(retried.await, Ok(true)) {
                    tracing::info!(location = %upload.location, "aborted an unfinished upload once S3 answered again");
                    upload.strike();
                    return;
                }
            }
        });
        false
    }

    fn strike(&self) {
        if let Some(path) = &self.journaled {
            crate::journal::strike(path);
        }
    }

    fn failure<E>(
        &self,
        err: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    ) -> S3Failure
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        crate::explain_sdk_failure(err, &self.location.to_string(), &self.endpoint)
    }
}

/// Aborts the multipart upload `upload_id` to `location`, logging a
/// failure; true when S3 let go of it (or had already).
pub(crate) async fn abort_upload(
    client: &aws_sdk_s3::Client,
    location: &S3Location,
    upload_id: &str,
) -> bool {
    let result = client
        .abort_multipart_upload()
        .bucket(&location.bucket)
        .key(&location.key)
        .upload_id(upload_id)
        .send()
        .await;
    match result {
        Ok(_) => true,
        // Already gone (aborted, or completed meanwhile): nothing is left.
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => true,
        Err(e) => {
            tracing::warn!(bucket = %location.bucket, key = %location.key, "could not abort a multipart upload: {e}");
            false
        }
    }
}
