//! Chunked uploads, buffered into S3 multipart parts.
//!
//! Browsers (and jupyter-server-proxy, which buffers whole bodies) send
//! files in small chunks; S3 wants parts of at least 5 MiB except the last.
//! Chunks are appended to a per-upload buffer and flushed as parts when it
//! passes the minimum. Any failure aborts the S3 upload so no orphaned
//! parts are billed; uploads abandoned for 15 minutes are aborted too.
//!
//! What all uploads buffer together (chunks not yet a part, parts still
//! being sent) is bounded by [`BUFFER_LIMIT`]: a chunk that would pass it
//! is refused with 503 `busy` (the browser retries), so many uploads at
//! once cannot take the pod's memory. Each buffered byte is a [`Charge`]
//! that gives itself back when the bytes are dropped, whatever path (sent,
//! aborted, failed) they leave by.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use quarry_s3::{MIN_PART_BYTES, MultipartUpload, S3Location, UploadedPart};

use crate::responses::{Cancelled, UploadProgress};
use crate::{ApiError, AppState};
/// Part uploads running at once per upload (each holds ≥ 5 MiB).
const PARTS_IN_FLIGHT: usize = 4;
/// Abandoned uploads are aborted after this long without a chunk (a
/// browser sends one every few seconds while an upload runs).
const ABANDONED_AFTER: Duration = Duration::from_secs(15 * 60);
/// The most all uploads may buffer at once: eight uploads at full speed.
pub(crate) const BUFFER_LIMIT: usize = 8 * (PARTS_IN_FLIGHT + 1) * MIN_PART_BYTES;

pub(crate) struct Uploads {
    active: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Pending>>>>,
    buffered: Arc<AtomicUsize>,
    limit: usize,
}

impl Default for Uploads {
    fn default() -> Self {
        Uploads::with_limit(BUFFER_LIMIT)
    }
}

/// Bytes counted against the uploads' buffer limit until dropped.
struct Charge {
    bytes: usize,
    counter: Arc<AtomicUsize>,
}

impl Charge {
    /// Adds `other`'s bytes to this charge.
    fn absorb(&mut self, mut other: Charge) {
        self.bytes += std::mem::take(&mut other.bytes);
    }

    /// Moves every byte of this charge into a new one (the part they go to).
    fn take(&mut self) -> Charge {
        Charge {
            bytes: std::mem::take(&mut self.bytes),
            counter: Arc::clone(&self.counter),
        }
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.counter.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

enum Part {
    Sending(tokio::task::JoinHandle<Result<UploadedPart, ApiError>>),
    Stored(UploadedPart),
}

impl Part {
    /// Waits for the part to be stored (once; later calls return at once).
    async fn stored(&mut self) -> Result<UploadedPart, ApiError> {
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
    s3: MultipartUpload,
    buffer: Vec<u8>,
    /// What `buffer` holds, counted against the limit.
    charge: Charge,
    next_chunk: u32,
    /// Parts sent so far, in order; each finishes in the background so the
    /// browser's next chunk is accepted while S3 stores the previous part.
    parts: Vec<Part>,
    received: u64,
    touched: Instant,
}

impl Uploads {
    /// Uploads that may buffer `limit` bytes in all.
    pub(crate) fn with_limit(limit: usize) -> Self {
        Uploads {
            active: Mutex::new(HashMap::new()),
            buffered: Arc::new(AtomicUsize::new(0)),
            limit,
        }
    }

    /// Counts `bytes` against the limit, or refuses them with 503.
    fn charge(&self, bytes: usize) -> Result<Charge, ApiError> {
        let before = self.buffered.fetch_add(bytes, Ordering::Relaxed);
        let charge = Charge {
            bytes,
            counter: Arc::clone(&self.buffered),
        };
        if before + bytes > self.limit {
            return Err(ApiError::busy(format!(
                "The panel is already buffering {} of uploads, its limit; this chunk was not taken, retry it in a moment.",
                quarry_text::numbers::human_bytes(before as u64)
            )));
        }
        Ok(charge)
    }

    pub(crate) async fn chunk(
        &self,
        state: &AppState,
        target: S3Location,
        part: u32,
        upload_id: Option<&str>,
        body: Bytes,
        last: bool,
    ) -> Result<UploadProgress, ApiError> {
        let Some(id) = upload_id else {
            if part != 1 {
                return Err(ApiError::bad_request(
                    "An upload starts with part=1 and no upload_id.",
                ));
            }
            if last {
                // Small files: one request, no multipart bookkeeping.
                let size = body.len();
                quarry_s3::put_object(&state.s3, &target, body)
                    .await
                    .map_err(ApiError::from_failure)?;
                return Ok(UploadProgress::done(target.bucket, target.key, size as u64));
            }
            let started = MultipartUpload::start(&state.s3, &target)
                .await
                .map_err(ApiError::from_failure)?;
            let id = uuid::Uuid::new_v4().to_string();
            let pending = Pending {
                s3: started,
                buffer: Vec::new(),
                charge: self.charge(0)?,
                next_chunk: 1,
                parts: Vec::new(),
                received: 0,
                touched: Instant::now(),
            };
            self.active
                .lock()
                .expect("uploads lock")
                .insert(id.clone(), Arc::new(tokio::sync::Mutex::new(pending)));
            return self.append(&id, part, body, false).await;
        };
        self.append(id, part, body, last).await
    }

    /// The upload `id` names, if it is still going.
    fn pending(&self, id: &str) -> Result<Arc<tokio::sync::Mutex<Pending>>, ApiError> {
        self.active
            .lock()
            .expect("uploads lock")
            .get(id)
            .cloned()
            .ok_or_else(|| {
                ApiError::not_found("This upload is unknown or has expired; start it again.")
            })
    }

    async fn append(
        &self,
        id: &str,
        part: u32,
        body: Bytes,
        last: bool,
    ) -> Result<UploadProgress, ApiError> {
        let pending = self.pending(id)?;
        let mut upload = pending.lock().await;
        if part != upload.next_chunk {
            return Err(ApiError::conflict(format!(
                "Expected chunk {} of this upload, got {part}.",
                upload.next_chunk
            )));
        }
        // Refused chunks are not consumed: the browser sends the same again.
        let charge = self.charge(body.len())?;
        upload.next_chunk += 1;
        upload.received += body.len() as u64;
        upload.touched = Instant::now();
        upload.buffer.extend_from_slice(&body);
        upload.charge.absorb(charge);
        let result = async {
            if upload.buffer.len() >= MIN_PART_BYTES
                || (last && (!upload.buffer.is_empty() || upload.parts.is_empty()))
            {
                upload.flush_part().await?;
            }
            if last {
                upload.complete().await?;
            }
            Ok::<_, ApiError>(())
        }
        .await;
        let received = upload.received;
        let S3Location { bucket, key } = upload.s3.location().clone();
        match result {
            Ok(()) if last => {
                drop(upload);
                self.active.lock().expect("uploads lock").remove(id);
                Ok(UploadProgress::done(bucket, key, received))
            }
            Ok(()) => Ok(UploadProgress::Taken {
                upload_id: id.to_string(),
                part,
                received,
            }),
            Err(e) => {
                upload.abort().await;
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
    pub(crate) async fn cancel(&self, id: &str) -> Result<Cancelled, ApiError> {
        let pending = self
            .active
            .lock()
            .expect("uploads lock")
            .remove(id)
            .ok_or_else(|| ApiError::not_found("This upload is unknown or already finished."))?;
        let mut upload = pending.lock().await;
        upload.abort().await;
        let location = upload.s3.location();
        Ok(Cancelled {
            cancelled: true,
            bucket: location.bucket.clone(),
            key: location.key.clone(),
        })
    }
}

impl Pending {
    async fn flush_part(&mut self) -> Result<(), ApiError> {
        // Bound the memory held by parts in flight.
        self.wait_for_parts(PARTS_IN_FLIGHT - 1).await?;
        let number = self.parts.len() as i32 + 1;
        let data = Bytes::from(std::mem::take(&mut self.buffer));
        // The part's bytes stay counted until it is sent (or fails).
        let charge = self.charge.take();
        let upload = self.s3.clone();
        self.parts.push(Part::Sending(tokio::spawn(async move {
            let stored = upload
                .upload_part(number, data)
                .await
                .map_err(ApiError::from_failure);
            drop(charge);
            stored
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
    async fn finished_parts(&mut self) -> Result<Vec<UploadedPart>, ApiError> {
        let mut done = Vec::with_capacity(self.parts.len());
        for part in &mut self.parts {
            done.push(part.stored().await?);
        }
        Ok(done)
    }

    async fn complete(&mut self) -> Result<(), ApiError> {
        let parts = self.finished_parts().await?;
        self.s3
            .complete(parts)
            .await
            .map_err(ApiError::from_failure)
    }

    async fn abort(&mut self) {
        // Let parts in flight finish or fail, so none lands after the abort.
        for part in &mut self.parts {
            let _ = part.stored().await;
        }
        self.s3.abort().await;
    }
}

/// Aborts uploads nobody has touched for 15 minutes (a closed browser tab).
pub(crate) async fn reap_stale(uploads: Arc<Uploads>) {
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
            upload.abort().await;
            drop(upload);
            uploads.active.lock().expect("uploads lock").remove(&id);
            tracing::info!(%id, "aborted an abandoned upload");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffered_bytes_are_bounded_and_given_back_however_they_leave() {
        let uploads = Uploads::with_limit(10);
        let mut first = uploads.charge(6).expect("within the limit");
        let refused = uploads.charge(6).err().expect("past the limit");
        assert_eq!(refused.status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            refused.message,
            "The panel is already buffering 6 B of uploads, its limit; this chunk was not taken, retry it in a moment."
        );
        assert_eq!(
            uploads.buffered.load(Ordering::Relaxed),
            6,
            "a refused charge gives its bytes back"
        );
        // Bytes moved into a part stay counted until the part is dropped.
        let part = first.take();
        drop(first);
        assert_eq!(uploads.buffered.load(Ordering::Relaxed), 6);
        let mut buffer = uploads.charge(0).unwrap();
        buffer.absorb(uploads.charge(4).unwrap());
        assert_eq!(uploads.buffered.load(Ordering::Relaxed), 10);
        drop(part);
        drop(buffer);
        assert_eq!(uploads.buffered.load(Ordering::Relaxed), 0);
    }
}
