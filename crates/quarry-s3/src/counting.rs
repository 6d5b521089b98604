//! An in-memory object store that counts what is read from it, for tests
//! of the layers above a store (the byte cache here, scans in
//! `quarry-sql`). Always compiled, not behind a feature: a feature that
//! only tests turn on would give the test build its own copy of every crate
//! above this one, and `cargo build -p quarry` (the lab, the wheel) could
//! not reuse what `cargo test --workspace` built.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use async_trait::async_trait;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

/// [`InMemory`], counting the GETs that read bytes and how many bytes they
/// asked for (HEADs are not counted).
#[derive(Debug, Default)]
pub struct CountingStore {
    inner: InMemory,
    gets: AtomicUsize,
    bytes: AtomicU64,
}

impl CountingStore {
    /// GETs so far (ranged or whole).
    pub fn gets(&self) -> usize {
        self.gets.load(Ordering::SeqCst)
    }

    /// Bytes those GETs returned.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::SeqCst)
    }
}

impl std::fmt::Display for CountingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CountingStore")
    }
}

#[async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(&self, l: &Path, p: PutPayload, o: PutOptions) -> Result<PutResult> {
        self.inner.put_opts(l, p, o).await
    }

    async fn put_multipart_opts(
        &self,
        l: &Path,
        o: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(l, o).await
    }

    async fn get_opts(&self, l: &Path, o: GetOptions) -> Result<GetResult> {
        let head = o.head;
        let result = self.inner.get_opts(l, o).await?;
        if !head {
            self.gets.fetch_add(1, Ordering::SeqCst);
            self.bytes
                .fetch_add(result.range.end - result.range.start, Ordering::SeqCst);
        }
        Ok(result)
    }

    fn delete_stream(
        &self,
        l: futures::stream::BoxStream<'static, Result<Path>>,
    ) -> futures::stream::BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(l)
    }

    fn list(&self, p: Option<&Path>) -> futures::stream::BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(p)
    }

    async fn list_with_delimiter(&self, p: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(p).await
    }

    async fn copy_opts(&self, f: &Path, t: &Path, o: CopyOptions) -> Result<()> {
        self.inner.copy_opts(f, t, o).await
    }
}
