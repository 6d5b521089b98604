//! An [`ObjectStore`] that answers repeated range reads from a
//! [`RangeCache`] and fetches the rest, coalesced and in parallel.

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    Attributes, CopyOptions, GetOptions, GetRange, GetResult, GetResultPayload, ListResult,
    MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions, PutPayload,
    PutResult, RenameOptions, Result,
};

use super::ranges::{ObjectKey, RangeCache, same_version};

/// Requested ranges this close together are fetched with one GET: a round
/// trip to S3 costs more than reading a few hundred KiB more. Same as
/// object_store's own default.
const COALESCE_GAP: u64 = 1024 * 1024;

/// GETs in flight per read call. Each scan partition makes its own calls,
/// so a query has partitions × this many requests in flight at most.
const PARALLEL_GETS: usize = 10;

/// Single reads larger than this stream through uncached: CSV and JSON
/// scans read whole file slices this way, and collecting them in memory
/// would hold what the scan would rather stream.
const LARGEST_CACHED_READ: u64 = 16 * 1024 * 1024;

/// Wraps one bucket's store; all buckets share one [`RangeCache`] budget.
#[derive(Debug)]
pub struct CachingStore {
    inner: Arc<dyn ObjectStore>,
    bucket: String,
    cache: Arc<RangeCache>,
}

impl CachingStore {
    /// Wraps `inner` (the store for `bucket`) so reads go through `cache`.
    pub fn new(inner: Arc<dyn ObjectStore>, bucket: &str, cache: Arc<RangeCache>) -> Self {
        CachingStore {
            inner,
            bucket: bucket.to_string(),
            cache,
        }
    }

    fn key(&self, location: &Path) -> ObjectKey {
        ObjectKey::new(&self.bucket, location)
    }

    /// Answers `ranges` from memory where possible; fetches the rest.
    async fn cached_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let key = self.key(location);
        let Some((current, mut found)) = self.cache.lookup(&key, ranges) else {
            return self.inner.get_ranges(location, ranges).await;
        };
        let missing: Vec<Range<u64>> = ranges
            .iter()
            .zip(&found)
            .filter(|(_, bytes)| bytes.is_none())
            .map(|(range, _)| range.clone())
            .collect();
        if missing.is_empty() {
            return Ok(found.into_iter().flatten().collect());
        }
        let spans = merge_ranges(&missing, COALESCE_GAP);
        let fetched: Vec<(Range<u64>, Bytes, ObjectMeta)> = futures::stream::iter(spans)
            .map(|span| self.fetch(location, &key, span))
            .buffered(PARALLEL_GETS)
            .try_collect()
            .await?;
        // Held ranges are of the listed version; fetched ones must be too, or
        // the reader would decode one file from two versions' bytes.
        if found.iter().any(Option::is_some)
            && fetched
                .iter()
                .any(|(_, _, meta)| !same_version(&current, meta))
        {
            return Err(object_store::Error::Generic {
                store: "S3",
                source: format!(
                    "s3://{}/{location} changed while it was being read; run the query again",
                    self.bucket
                )
                .into(),
            });
        }
        for (range, slot) in ranges.iter().zip(found.iter_mut()) {
            if slot.is_some() {
                continue;
            }
            let at = fetched.partition_point(|(span, ..)| span.start <= range.start) - 1;
            let (span, bytes, _) = &fetched[at];
            let from = (range.start - span.start) as usize;
            let to = ((range.end - span.start) as usize).min(bytes.len());
            *slot = Some(bytes.slice(from.min(to)..to));
        }
        Ok(found.into_iter().flatten().collect())
    }

    /// One ranged GET; keeps the bytes under the version S3 answered with.
    async fn fetch(
        &self,
        location: &Path,
        key: &ObjectKey,
        span: Range<u64>,
    ) -> Result<(Range<u64>, Bytes, ObjectMeta)> {
        let options = GetOptions {
            range: Some(GetRange::Bounded(span.clone())),
            ..GetOptions::default()
        };
        let result = self.inner.get_opts(location, options).await?;
        let meta = result.meta.clone();
        let bytes = result.bytes().await?;
        self.cache.insert(key, &meta, span.start, bytes.clone());
        Ok((span, bytes, meta))
    }

    fn observe_all(&self, objects: &[ObjectMeta]) {
        for meta in objects {
            self.cache.observe(&self.key(&meta.location), meta);
        }
    }
}

impl std::fmt::Display for CachingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cached({})", self.inner)
    }
}

/// A GET the cache can answer: a bounded range of whatever version is
/// current, with no conditions attached.
fn cacheable(options: &GetOptions) -> Option<Range<u64>> {
    let plain = options.if_match.is_none()
        && options.if_none_match.is_none()
        && options.if_modified_since.is_none()
        && options.if_unmodified_since.is_none()
        && options.version.is_none()
        && !options.head;
    match &options.range {
        Some(GetRange::Bounded(r)) if plain && r.end - r.start <= LARGEST_CACHED_READ => {
            Some(r.clone())
        }
        _ => None,
    }
}

/// Sorted spans covering `ranges`, merging those less than `gap` apart.
fn merge_ranges(ranges: &[Range<u64>], gap: u64) -> Vec<Range<u64>> {
    let mut sorted = ranges.to_vec();
    sorted.sort_unstable_by_key(|r| r.start);
    let mut spans: Vec<Range<u64>> = Vec::with_capacity(sorted.len());
    for range in sorted {
        match spans.last_mut() {
            Some(last) if range.start <= last.end.saturating_add(gap) => {
                last.end = last.end.max(range.end);
            }
            _ => spans.push(range),
        }
    }
    spans
}

fn answered(bytes: Bytes, meta: ObjectMeta, range: Range<u64>) -> GetResult {
    GetResult {
        payload: GetResultPayload::Stream(futures::stream::once(async { Ok(bytes) }).boxed()),
        meta,
        range,
        attributes: Attributes::default(),
    }
}

#[async_trait]
impl ObjectStore for CachingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.cache.forget(&self.key(location));
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.cache.forget(&self.key(location));
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let Some(range) = cacheable(&options) else {
            // A HEAD or plain GET reports the current version; a GET of a
            // named older version does not.
            let current = options.version.is_none();
            let result = self.inner.get_opts(location, options).await?;
            if current {
                self.cache.observe(&self.key(location), &result.meta);
            }
            return Ok(result);
        };
        let key = self.key(location);
        if let Some((meta, found)) = self.cache.lookup(&key, std::slice::from_ref(&range)) {
            if let Some(bytes) = found.into_iter().next().flatten() {
                return Ok(answered(bytes, meta, range));
            }
            let (range, bytes, meta) = self.fetch(location, &key, range).await?;
            return Ok(answered(bytes, meta, range));
        }
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.cached_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: futures::stream::BoxStream<'static, Result<Path>>,
    ) -> futures::stream::BoxStream<'static, Result<Path>> {
        let cache = Arc::clone(&self.cache);
        let bucket = self.bucket.clone();
        self.inner
            .delete_stream(locations)
            .inspect_ok(move |path| cache.forget(&ObjectKey::new(&bucket, path)))
            .boxed()
    }

    fn list(
        &self,
        prefix: Option<&Path>,
    ) -> futures::stream::BoxStream<'static, Result<ObjectMeta>> {
        observed(self, self.inner.list(prefix))
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> futures::stream::BoxStream<'static, Result<ObjectMeta>> {
        observed(self, self.inner.list_with_offset(prefix, offset))
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let listed = self.inner.list_with_delimiter(prefix).await?;
        self.observe_all(&listed.objects);
        Ok(listed)
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.cache.forget(&self.key(to));
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.cache.forget(&self.key(from));
        self.cache.forget(&self.key(to));
        self.inner.rename_opts(from, to, options).await
    }
}

/// A listing that records each object's version as it streams past.
fn observed(
    store: &CachingStore,
    listing: futures::stream::BoxStream<'static, Result<ObjectMeta>>,
) -> futures::stream::BoxStream<'static, Result<ObjectMeta>> {
    let cache = Arc::clone(&store.cache);
    let bucket = store.bucket.clone();
    listing
        .inspect_ok(move |meta| cache.observe(&ObjectKey::new(&bucket, &meta.location), meta))
        .boxed()
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;
    use crate::counting::CountingStore;
    use object_store::ObjectStoreExt;

    fn setup() -> (Arc<CountingStore>, CachingStore, Arc<RangeCache>) {
        let counting = Arc::new(CountingStore::default());
        let cache = Arc::new(RangeCache::new(1 << 20));
        let store = CachingStore::new(counting.clone(), "b", Arc::clone(&cache));
        (counting, store, cache)
    }

    fn data(fill: u8) -> PutPayload {
        PutPayload::from(vec![fill; 10_000])
    }

    async fn list_all(store: &CachingStore) {
        let listed: Vec<_> = store.list(None).try_collect().await.unwrap();
        assert!(!listed.is_empty());
    }

    #[tokio::test]
    async fn repeated_reads_of_a_listed_object_are_served_from_memory() {
        let (counting, store, cache) = setup();
        let path = Path::from("t.parquet");
        store.put(&path, data(7)).await.unwrap();
        list_all(&store).await;
        let first = store
            .get_ranges(&path, &[0..100, 200..300, 5000..6000])
            .await
            .unwrap();
        assert_eq!(counting.gets(), 1, "close ranges share one GET");
        let again = store
            .get_ranges(&path, &[0..100, 250..300, 5000..6000])
            .await
            .unwrap();
        assert_eq!(counting.gets(), 1);
        assert_eq!(first[0], again[0]);
        assert_eq!(&again[1][..], &[7u8; 50][..]);
        let single = store.get_range(&path, 10..20).await.unwrap();
        assert_eq!(&single[..], &[7u8; 10][..]);
        assert_eq!(counting.gets(), 1);
        assert!(cache.stats().hits >= 4);
    }

    #[tokio::test]
    async fn a_rewritten_object_is_read_afresh_once_listed_again() {
        let (counting, store, _) = setup();
        let path = Path::from("t.csv");
        store.put(&path, data(1)).await.unwrap();
        list_all(&store).await;
        assert_eq!(&store.get_range(&path, 0..4).await.unwrap()[..], &[1u8; 4]);
        // Someone else rewrites the object (not through this store).
        counting.put(&path, data(2)).await.unwrap();
        list_all(&store).await;
        assert_eq!(&store.get_range(&path, 0..4).await.unwrap()[..], &[2u8; 4]);
        assert_eq!(counting.gets(), 2);
    }

    #[tokio::test]
    async fn bytes_of_two_versions_are_never_mixed_in_one_read() {
        let (counting, store, _) = setup();
        let path = Path::from("t.parquet");
        store.put(&path, data(1)).await.unwrap();
        list_all(&store).await;
        store.get_ranges(&path, &[0..10]).await.unwrap();
        // Rewritten behind the listing's back, then read before any relisting.
        counting.put(&path, data(2)).await.unwrap();
        let error = store
            .get_ranges(&path, &[0..10, 8000..8010])
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("s3://b/t.parquet changed while it was being read"),
            "{error}"
        );
        list_all(&store).await;
        let read = store.get_ranges(&path, &[0..10, 8000..8010]).await.unwrap();
        assert_eq!(&read[0][..], &[2u8; 10][..]);
        assert_eq!(&read[1][..], &[2u8; 10][..]);
    }

    #[tokio::test]
    async fn writes_through_the_store_forget_the_object() {
        let (_, store, cache) = setup();
        let path = Path::from("t.json");
        store.put(&path, data(1)).await.unwrap();
        list_all(&store).await;
        store.get_range(&path, 0..100).await.unwrap();
        assert_eq!(cache.stats().used, 100);
        store.put(&path, data(3)).await.unwrap();
        assert_eq!(cache.stats().used, 0);
        let read = store.get_range(&path, 0..4).await.unwrap();
        assert_eq!(
            &read[..],
            &[3u8; 4],
            "not cached until listed, read through"
        );
    }

    #[tokio::test]
    async fn unlisted_and_conditional_reads_pass_through() {
        let (counting, store, cache) = setup();
        let path = Path::from("t");
        counting.put(&path, data(5)).await.unwrap();
        store.get_ranges(&path, &[0..10]).await.unwrap();
        store.get_ranges(&path, &[0..10]).await.unwrap();
        assert_eq!(counting.gets(), 2);
        assert_eq!(cache.stats().used, 0);
        list_all(&store).await;
        let conditional = GetOptions {
            range: Some(GetRange::Bounded(0..10)),
            if_match: Some("nope".into()),
            ..GetOptions::default()
        };
        assert!(store.get_opts(&path, conditional).await.is_err());
        let whole = store.get(&path).await.unwrap().bytes().await.unwrap();
        assert_eq!(whole.len(), 10_000);
        assert_eq!(cache.stats().used, 0, "whole-object reads stream through");
    }

    #[test]
    fn merging_joins_ranges_within_the_gap() {
        assert_eq!(
            merge_ranges(&[10..20, 0..5, 100..110], 5),
            vec![0..20, 100..110]
        );
        assert_eq!(merge_ranges(&[0..50, 10..20], 0), vec![0..50]);
        assert!(merge_ranges(&[], 5).is_empty());
    }
}
