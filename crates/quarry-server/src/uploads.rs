//! Chunked uploads, buffered into S3 multipart parts.
//!
//! Browsers (and jupyter-server-proxy, which buffers whole bodies) send
//! files in small chunks; S3 wants parts of at least 5 MiB except the last.
//! Chunks are appended to a per-upload buffer and flushed as parts when it
//! passes the minimum. Any failure aborts the S3 upload so no orphaned
//! parts are billed; uploads abandoned for an hour are aborted too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::{ApiError, AppState};

/// S3's minimum size for every part but the last.
const MIN_PART: usize = 5 << 20;
/// Part uploads running at once per upload (each holds ≥ 5 MiB).
const PARTS_IN_FLIGHT: usize = 4;
/// Abandoned uploads are aborted after this long without a chunk.
const ABANDONED_AFTER: Duration = Duration::from_secs(3600);

#[derive(Default)]
pub(crate) struct Uploads {
    active: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Pending>>>>,
}

enum Part {
    Sending(tokio::task::JoinHandle<Result<CompletedPart, ApiError>>),
    Stored(CompletedPart),
}

impl Part {
    /// Waits for the part to be stored (once; later calls return at once).
    async fn stored(&mut self) -> Result<CompletedPart, ApiError> {
        if let Part::Sending(handle) = self {
            let part = match handle.await {
                Ok(result) => result?,
                Err(e) => {
                    return Err(ApiError::internal(format!(
                        "A part upload stopped unexpectedly: {e}."
                    )));
                }
            };
            *self = Part::Stored(part);
        }
        match self {
            Part::Stored(part) => Ok(part.clone()),
            Part::Sending(_) => unreachable!("replaced above"),
        }
    }

    fn is_sending(&self) -> bool {
        matches!(self, Part::Sending(handle) if !handle.is_finished())
    }
}

struct Pending {
    bucket: String,
    key: String,
    s3_upload_id: String,
    buffer: Vec<u8>,
    next_chunk: u32,
    /// Parts sent so far, in order; each finishes in the background so the
    /// browser's next chunk is accepted while S3 stores the previous part.
    parts: Vec<Part>,
    received: u64,
    touched: Instant,
}

impl Uploads {
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn chunk(
        &self,
        state: &AppState,
        bucket: &str,
        key: &str,
        part: u32,
        upload_id: Option<&str>,
        body: Bytes,
        last: bool,
    ) -> Result<Value, ApiError> {
        let url = format!("s3://{bucket}/{key}");
        let client = state.s3.client();
        let Some(id) = upload_id else {
            if part != 1 {
                return Err(ApiError::bad_request(
                    "An upload starts with part=1 and no upload_id.",
                ));
            }
            if last {
                // Small files: one request, no multipart bookkeeping.
                let size = body.len();
                client
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .map_err(|e| state.sdk_error(&e, &url))?;
                return Ok(json!({"done": true, "bucket": bucket, "key": key, "size": size}));
            }
            let started = client
                .create_multipart_upload()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| state.sdk_error(&e, &url))?;
            let id = uuid::Uuid::new_v4().to_string();
            let pending = Pending {
                bucket: bucket.to_string(),
                key: key.to_string(),
                s3_upload_id: started.upload_id().unwrap_or_default().to_string(),
                buffer: Vec::new(),
                next_chunk: 1,
                parts: Vec::new(),
                received: 0,
                touched: Instant::now(),
            };
            self.active
                .lock()
                .expect("uploads lock")
                .insert(id.clone(), Arc::new(tokio::sync::Mutex::new(pending)));
            return self.append(state, &id, part, body, false).await;
        };
        self.append(state, id, part, body, last).await
    }

    async fn append(
        &self,
        state: &AppState,
        id: &str,
        part: u32,
        body: Bytes,
        last: bool,
    ) -> Result<Value, ApiError> {
        let pending = self
            .active
            .lock()
            .expect("uploads lock")
            .get(id)
            .cloned()
            .ok_or_else(|| {
                ApiError::not_found("This upload is unknown or has expired; start it again.")
            })?;
        let mut upload = pending.lock().await;
        if part != upload.next_chunk {
            return Err(ApiError::conflict(format!(
                "Expected chunk {} of this upload, got {part}.",
                upload.next_chunk
            )));
        }
        upload.next_chunk += 1;
        upload.received += body.len() as u64;
        upload.touched = Instant::now();
        upload.buffer.extend_from_slice(&body);
        let result = async {
            if upload.buffer.len() >= MIN_PART
                || (last && (!upload.buffer.is_empty() || upload.parts.is_empty()))
            {
                upload.flush_part(state).await?;
            }
            if last {
                upload.complete(state).await?;
            }
            Ok::<_, ApiError>(())
        }
        .await;
        let received = upload.received;
        let (bucket, key) = (upload.bucket.clone(), upload.key.clone());
        match result {
            Ok(()) if last => {
                drop(upload);
                self.active.lock().expect("uploads lock").remove(id);
                Ok(json!({"done": true, "bucket": bucket, "key": key, "size": received}))
            }
            Ok(()) => Ok(json!({"upload_id": id, "part": part, "received": received})),
            Err(e) => {
                upload.abort(&state.s3).await;
                drop(upload);
                self.active.lock().expect("uploads lock").remove(id);
                Err(e)
            }
        }
    }
}

impl Uploads {
    /// Cancels an upload at the browser's request: the S3 multipart upload
    /// is aborted so no parts stay behind.
    pub(crate) async fn cancel(&self, state: &AppState, id: &str) -> Result<Value, ApiError> {
        let pending = self
            .active
            .lock()
            .expect("uploads lock")
            .remove(id)
            .ok_or_else(|| ApiError::not_found("This upload is unknown or already finished."))?;
        let mut upload = pending.lock().await;
        upload.abort(&state.s3).await;
        Ok(json!({"cancelled": true, "bucket": upload.bucket, "key": upload.key}))
    }
}

impl Pending {
    async fn flush_part(&mut self, state: &AppState) -> Result<(), ApiError> {
        // Bound the memory held by parts in flight.
        self.wait_for_parts(PARTS_IN_FLIGHT - 1).await?;
        let number = self.parts.len() as i32 + 1;
        let data = std::mem::take(&mut self.buffer);
        let url = format!("s3://{}/{}", self.bucket, self.key);
        let (state, bucket, key, upload_id) = (
            state.clone(),
            self.bucket.clone(),
            self.key.clone(),
            self.s3_upload_id.clone(),
        );
        self.parts.push(Part::Sending(tokio::spawn(async move {
            let out = state
                .s3
                .client()
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .body(ByteStream::from(data))
                .send()
                .await
                .map_err(|e| state.sdk_error(&e, &url))?;
            Ok(CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag().map(str::to_string))
                .build())
        })));
        Ok(())
    }

    /// Waits until at most `pending` part uploads are unfinished, surfacing
    /// the first failure.
    async fn wait_for_parts(&mut self, pending: usize) -> Result<(), ApiError> {
        let sending: Vec<usize> = (0..self.parts.len())
            .filter(|&i| self.parts[i].is_sending())
            .collect();
        for &i in sending.iter().take(sending.len().saturating_sub(pending)) {
            self.parts[i].stored().await?;
        }
        Ok(())
    }

    /// Every part, in order, once all are stored.
    async fn finished_parts(&mut self) -> Result<Vec<CompletedPart>, ApiError> {
        let mut done = Vec::with_capacity(self.parts.len());
        for part in &mut self.parts {
            done.push(part.stored().await?);
        }
        Ok(done)
    }

    async fn complete(&mut self, state: &AppState) -> Result<(), ApiError> {
        let url = format!("s3://{}/{}", self.bucket, self.key);
        let parts = self.finished_parts().await?;
        state
            .s3
            .client()
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.s3_upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| state.sdk_error(&e, &url))?;
        Ok(())
    }

    async fn abort(&mut self, s3: &quarry_s3::S3Stores) {
        // Let parts in flight finish or fail, so none lands after the abort.
        for part in &mut self.parts {
            let _ = part.stored().await;
        }
        quarry_s3::abort_multipart_upload(s3, &self.bucket, &self.key, &self.s3_upload_id).await;
    }
}

/// Aborts uploads nobody has touched for an hour (a closed browser tab).
pub(crate) async fn reap_stale(uploads: Arc<Uploads>, s3: Arc<quarry_s3::S3Stores>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        let candidates: Vec<(String, Arc<tokio::sync::Mutex<Pending>>)> = uploads
            .active
            .lock()
            .expect("uploads lock")
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect();
        for (id, pending) in candidates {
            let Ok(mut upload) = pending.try_lock() else {
                continue;
            };
            if upload.touched.elapsed() < ABANDONED_AFTER {
                continue;
            }
            upload.abort(&s3).await;
            drop(upload);
            uploads.active.lock().expect("uploads lock").remove(&id);
            tracing::info!(%id, "aborted an abandoned upload");
        }
    }
}
