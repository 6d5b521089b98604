//! A statement's writes, held back until the statement succeeds.
//!
//! DataFusion writes `COPY … TO 's3://…'` and `INSERT INTO` output through
//! `object_store` as the rows come, and when the query fails half way (a
//! division by zero in row 5 million, S3 going away, an interrupt) its
//! writers see their input end and *complete* the files they had begun: a
//! partial object appears where the user asked for a result, and an upload
//! whose part failed is left on S3 unfinished. So while a write statement
//! runs, every bucket store stages its writes in a [`StagedWrites`]:
//!
//! ```text
//!  DataFusion writer ──put──────────▶ kept in memory (small files only)
//!                    ──put_part────▶ S3 (parts are invisible until completion)
//!                    ──complete────▶ noted, not sent
//!  statement ok  ──publish()──▶ PUTs sent, uploads completed: objects appear
//!  statement err ──discard()──▶ uploads aborted (retried while S3 is away)
//! ```
//!
//! A kernel runs one statement at a time, so one scope at a time is
//! current for all of a session's stores; reads are never staged.

use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
    UploadPart,
};

use crate::abort_retry::{ATTEMPT, AbortBackoff};

/// The scope that is current for all of one [`crate::S3Stores`]'s buckets.
#[derive(Debug, Default)]
pub(crate) struct Staging {
    current: Mutex<Option<Arc<Scope>>>,
}

impl Staging {
    fn current(&self) -> Option<Arc<Scope>> {
        self.current.lock().expect("staging lock").clone()
    }
}

/// What one statement wrote, not yet visible.
#[derive(Default)]
struct Scope {
    puts: Mutex<Vec<StagedPut>>,
    uploads: Mutex<Vec<Arc<Mutex<HeldUpload>>>>,
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope").finish_non_exhaustive()
    }
}

struct StagedPut {
    store: Arc<dyn ObjectStore>,
    location: Path,
    payload: PutPayload,
    options: PutOptions,
}

struct HeldUpload {
    /// `None` once completed or aborted.
    upload: Option<Box<dyn MultipartUpload>>,
    /// The writer called `complete`: publishing may complete it.
    finished_by_writer: bool,
}

/// The writes of the statement now running. Publish them when it succeeds,
/// discard them when it fails; dropped unpublished (an interrupt), they
/// are discarded in the background.
#[must_use = "publish() the writes when the statement succeeds"]
pub struct StagedWrites {
    staging: Arc<Staging>,
    scope: Arc<Scope>,
    settled: bool,
}

/// What [`StagedWrites::discard`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Discarded {
    /// Writes that had begun (files kept back and uploads started).
    pub writes: usize,
    /// Uploads S3 did not let go of yet: their aborts are being retried in
    /// the background.
    pub aborts_pending: usize,
}

impl StagedWrites {
    pub(crate) fn begin(staging: &Arc<Staging>) -> Self {
        let scope = Arc::new(Scope::default());
        *staging.current.lock().expect("staging lock") = Some(Arc::clone(&scope));
        StagedWrites {
            staging: Arc::clone(staging),
            scope,
            settled: false,
        }
    }

    /// Makes the statement's output visible: sends the files kept back and
    /// completes its uploads. Returns how many objects were written. On an
    /// error the rest are discarded.
    pub async fn publish(mut self) -> Result<usize> {
        self.end_scope();
        self.settled = true;
        let puts = std::mem::take(&mut *self.scope.puts.lock().expect("puts lock"));
        let uploads = std::mem::take(&mut *self.scope.uploads.lock().expect("uploads lock"));
        let mut written = 0;
        let mut failure = None;
        for put in puts {
            match put
                .store
                .put_opts(&put.location, put.payload, put.options)
                .await
            {
                Ok(_) => written += 1,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        for slot in uploads {
            let (upload, finished) = take(&slot);
            let Some(mut upload) = upload else { continue };
            if failure.is_none() && finished {
                match upload.complete().await {
                    Ok(_) => written += 1,
                    Err(e) => failure = Some(e),
                }
            } else {
                abort_or_retry(upload).await;
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(written),
        }
    }

    /// Drops the statement's output: nothing it wrote becomes visible.
    pub async fn discard(mut self) -> Discarded {
        self.end_scope();
        self.settled = true;
        discard_scope(&self.scope).await
    }

    fn end_scope(&self) {
        let mut current = self.staging.current.lock().expect("staging lock");
        if current
            .as_ref()
            .is_some_and(|scope| Arc::ptr_eq(scope, &self.scope))
        {
            *current = None;
        }
    }
}

impl Drop for StagedWrites {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        self.end_scope();
        let scope = Arc::clone(&self.scope);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                discard_scope(&scope).await;
            });
        }
    }
}

async fn discard_scope(scope: &Scope) -> Discarded {
    let puts = std::mem::take(&mut *scope.puts.lock().expect("puts lock"));
    let uploads = std::mem::take(&mut *scope.uploads.lock().expect("uploads lock"));
    let mut discarded = Discarded {
        writes: puts.len() + uploads.len(),
        aborts_pending: 0,
    };
    for slot in uploads {
        if let (Some(upload), _) = take(&slot)
            && !abort_or_retry(upload).await
        {
            discarded.aborts_pending += 1;
        }
    }
    discarded
}

fn take(slot: &Mutex<HeldUpload>) -> (Option<Box<dyn MultipartUpload>>, bool) {
    let mut held = slot.lock().expect("upload lock");
    (held.upload.take(), held.finished_by_writer)
}

/// Aborts `upload`; true if S3 let go of it now. When S3 does not answer,
/// the abort is retried in the background so no parts stay behind.
async fn abort_or_retry(mut upload: Box<dyn MultipartUpload>) -> bool {
    if matches!(
        tokio::time::timeout(ATTEMPT, upload.abort()).await,
        Ok(Ok(()))
    ) {
        return true;
    }
    tokio::spawn(async move {
        let mut backoff = AbortBackoff::new();
        while backoff.wait().await {
            match tokio::time::timeout(ATTEMPT, upload.abort()).await {
                Ok(Ok(())) => {
                    tracing::info!("aborted an unfinished upload once S3 answered again");
                    return;
                }
                Ok(Err(e)) => tracing::debug!("aborting an unfinished upload failed again: {e}"),
                Err(_) => tracing::debug!("aborting an unfinished upload timed out again"),
            }
        }
        tracing::warn!(
            "gave up aborting an unfinished upload; S3's lifecycle rules must remove it"
        );
    });
    false
}

/// A bucket's store that stages writes while a [`StagedWrites`] is current.
#[derive(Debug)]
pub(crate) struct StagingStore {
    inner: Arc<dyn ObjectStore>,
    staging: Arc<Staging>,
}

impl StagingStore {
    pub(crate) fn new(inner: Arc<dyn ObjectStore>, staging: Arc<Staging>) -> Self {
        StagingStore { inner, staging }
    }
}

impl fmt::Display for StagingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Staging({})", self.inner)
    }
}

/// What a writer hears back for a write that is only staged: no ETag or
/// version yet (DataFusion's writers use neither).
fn staged_result() -> PutResult {
    PutResult {
        e_tag: None,
        version: None,
    }
}

#[async_trait]
impl ObjectStore for StagingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        // A conditional put (a Delta commit, put only if absent) is a
        // decision made now: its answer cannot wait for the statement's end.
        let conditional = !matches!(opts.mode, PutMode::Overwrite);
        let Some(scope) = self.staging.current().filter(|_| !conditional) else {
            return self.inner.put_opts(location, payload, opts).await;
        };
        scope.puts.lock().expect("puts lock").push(StagedPut {
            store: Arc::clone(&self.inner),
            location: location.clone(),
            payload,
            options: opts,
        });
        Ok(staged_result())
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        let upload = self.inner.put_multipart_opts(location, opts).await?;
        let Some(scope) = self.staging.current() else {
            return Ok(upload);
        };
        let slot = Arc::new(Mutex::new(HeldUpload {
            upload: Some(upload),
            finished_by_writer: false,
        }));
        scope
            .uploads
            .lock()
            .expect("uploads lock")
            .push(Arc::clone(&slot));
        Ok(Box::new(DeferredUpload { slot }))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[std::ops::Range<u64>],
    ) -> Result<Vec<bytes::Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: futures::stream::BoxStream<'static, Result<Path>>,
    ) -> futures::stream::BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&Path>,
    ) -> futures::stream::BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> futures::stream::BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

/// A multipart upload whose completion waits for the statement: parts go
/// to S3 as they come (invisible until completion), `complete` only notes
/// that the writer finished.
#[derive(Debug)]
struct DeferredUpload {
    slot: Arc<Mutex<HeldUpload>>,
}

impl fmt::Debug for HeldUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeldUpload")
            .field("open", &self.upload.is_some())
            .field("finished_by_writer", &self.finished_by_writer)
            .finish()
    }
}

#[async_trait]
impl MultipartUpload for DeferredUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let mut held = self.slot.lock().expect("upload lock");
        match held.upload.as_mut() {
            Some(upload) => upload.put_part(data),
            None => Box::pin(futures::future::ready(Err(ended()))),
        }
    }

    async fn complete(&mut self) -> Result<PutResult> {
        let mut held = self.slot.lock().expect("upload lock");
        if held.upload.is_none() {
            return Err(ended());
        }
        held.finished_by_writer = true;
        Ok(staged_result())
    }

    async fn abort(&mut self) -> Result<()> {
        let upload = self.slot.lock().expect("upload lock").upload.take();
        match upload {
            Some(mut upload) => upload.abort().await,
            None => Ok(()),
        }
    }
}

fn ended() -> object_store::Error {
    object_store::Error::Generic {
        store: "S3",
        source: "the statement this upload belonged to has ended".into(),
    }
}

#[cfg(test)]
mod tests;
