//! What the cache holds: byte ranges of known object versions, and values
//! derived from whole objects (decoded tables), within one byte budget,
//! least recently used first out.
//!
//! Pure bookkeeping with no IO, so every rule about staleness and eviction
//! is unit-tested here; [`super::CachingStore`] does the fetching.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use object_store::ObjectMeta;
use object_store::path::Path;

/// An object in one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ObjectKey {
    pub bucket: String,
    pub path: Path,
}

impl ObjectKey {
    pub(crate) fn new(bucket: &str, path: &Path) -> Self {
        ObjectKey {
            bucket: bucket.to_string(),
            path: path.clone(),
        }
    }
}

/// Whether two observations of an object describe the same bytes.
///
/// ETags decide when both sides have one. Without them, size and the
/// modification time to the second (listings carry milliseconds, GET headers
/// only seconds) must both match.
pub(crate) fn same_version(a: &ObjectMeta, b: &ObjectMeta) -> bool {
    match (&a.e_tag, &b.e_tag) {
        (Some(x), Some(y)) => x == y && a.size == b.size,
        _ => a.size == b.size && a.last_modified.timestamp() == b.last_modified.timestamp(),
    }
}

/// Counters for `%config` and the benchmark report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// The byte budget.
    pub capacity: usize,
    /// Bytes held now.
    pub used: usize,
    /// Ranges answered from memory.
    pub hits: u64,
    /// Ranges that had to be fetched.
    pub misses: u64,
    /// Bytes answered from memory.
    pub hit_bytes: u64,
    /// Bytes fetched from S3 through the cache.
    pub fetched_bytes: u64,
    /// Of `used`, the bytes of derived values (decoded CSV/JSON tables).
    pub derived_bytes: usize,
    /// Derived values answered from memory.
    pub derived_hits: u64,
}

/// A value computed from whole objects — a CSV file decoded into Arrow, a
/// schema inferred from it — kept beside the bytes under the same budget.
/// The cache does not know what it is; its owner downcasts it.
pub type Derived = Arc<dyn Any + Send + Sync>;

struct DerivedEntry {
    value: Derived,
    bytes: usize,
    last_used: u64,
}

/// What a use tick points at.
enum Slot {
    Chunk(ObjectKey, u64),
    Derived(String),
}

struct Chunk {
    bytes: Bytes,
    last_used: u64,
}

/// One object's current version and the chunks held of it. Chunks never
/// contain one another (a chunk that covers others replaces them), so sorted
/// by start they are sorted by end too: the only chunk that can cover a range
/// is the last one starting at or before it.
struct Held {
    meta: ObjectMeta,
    chunks: BTreeMap<u64, Chunk>,
}

struct State {
    objects: HashMap<ObjectKey, Held>,
    derived: HashMap<String, DerivedEntry>,
    /// Use order: tick → which chunk or derived value.
    by_use: BTreeMap<u64, Slot>,
    tick: u64,
    stats: CacheStats,
    /// When a range was last looked up or kept.
    last_used: Instant,
}

/// Byte ranges of S3 objects kept in memory between queries.
///
/// Ranges are only answered for the object version last seen in a listing or
/// HEAD — the same observation DataFusion plans a query with — so an object
/// rewritten by anyone is read afresh as soon as it is listed again.
pub struct RangeCache {
    /// May change while the cache is in use (the pod's kernels come and go).
    capacity: std::sync::atomic::AtomicUsize,
    state: Mutex<State>,
}

impl std::fmt::Debug for RangeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RangeCache")
            .field("stats", &self.stats())
            .finish()
    }
}

impl RangeCache {
    /// A cache holding at most `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        RangeCache {
            capacity: std::sync::atomic::AtomicUsize::new(capacity),
            state: Mutex::new(State {
                objects: HashMap::new(),
                derived: HashMap::new(),
                by_use: BTreeMap::new(),
                tick: 0,
                stats: CacheStats {
                    capacity,
                    ..CacheStats::default()
                },
                last_used: Instant::now(),
            }),
        }
    }

    /// Holds at most `capacity` bytes from now on, dropping the least
    /// recently used ranges at once if it holds more.
    pub fn set_capacity(&self, capacity: usize) {
        self.capacity
            .store(capacity, std::sync::atomic::Ordering::Relaxed);
        let mut state = self.lock();
        state.stats.capacity = capacity;
        while state.stats.used > capacity {
            state.evict_oldest();
        }
    }

    fn capacity(&self) -> usize {
        self.capacity.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Hits, misses and bytes held so far.
    pub fn stats(&self) -> CacheStats {
        self.lock().stats
    }

    /// Drops everything held (the counters stay).
    pub fn clear(&self) {
        let mut state = self.lock();
        state.objects.clear();
        state.derived.clear();
        state.by_use.clear();
        state.stats.used = 0;
        state.stats.derived_bytes = 0;
    }

    /// Drops everything when nothing was read for `idle`: a notebook left
    /// open overnight should not keep its working set on the node. Returns
    /// the bytes released.
    pub fn release_if_idle(&self, idle: Duration) -> usize {
        let held = {
            let state = self.lock();
            if state.last_used.elapsed() < idle {
                return 0;
            }
            state.stats.used
        };
        if held > 0 {
            self.clear();
        }
        held
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves at worst a stale counter;
        // the cache stays usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the version a listing or HEAD reported. A different version
    /// than the one held drops the old bytes.
    pub(crate) fn observe(&self, key: &ObjectKey, meta: &ObjectMeta) {
        let mut state = self.lock();
        if let Some(held) = state.objects.get_mut(key)
            && same_version(&held.meta, meta)
        {
            held.meta = meta.clone();
            return;
        }
        state.remove(key);
        state.objects.insert(
            key.clone(),
            Held {
                meta: meta.clone(),
                chunks: BTreeMap::new(),
            },
        );
    }

    /// Forgets an object (it was written or deleted through this store).
    pub(crate) fn forget(&self, key: &ObjectKey) {
        self.lock().remove(key);
    }

    /// The current version of `key` and, per requested range, its bytes when
    /// held. `None` when no version is known: nothing can be answered or
    /// stored safely until a listing says which version is current.
    pub(crate) fn lookup(
        &self,
        key: &ObjectKey,
        ranges: &[Range<u64>],
    ) -> Option<(ObjectMeta, Vec<Option<Bytes>>)> {
        let mut guard = self.lock();
        let state = &mut *guard;
        state.last_used = Instant::now();
        let held = state.objects.get_mut(key)?;
        let meta = held.meta.clone();
        let mut found = Vec::with_capacity(ranges.len());
        for range in ranges {
            let covering = held
                .chunks
                .range_mut(..=range.start)
                .next_back()
                .filter(|(start, chunk)| **start + chunk.bytes.len() as u64 >= range.end);
            match covering {
                Some((start, chunk)) => {
                    state.by_use.remove(&chunk.last_used);
                    state.tick += 1;
                    chunk.last_used = state.tick;
                    state
                        .by_use
                        .insert(state.tick, Slot::Chunk(key.clone(), *start));
                    let from = (range.start - start) as usize;
                    let to = (range.end - start) as usize;
                    state.stats.hits += 1;
                    state.stats.hit_bytes += range.end - range.start;
                    found.push(Some(chunk.bytes.slice(from..to)));
                }
                None => {
                    state.stats.misses += 1;
                    found.push(None);
                }
            }
        }
        Some((meta, found))
    }

    /// Keeps `bytes` fetched from `start` of the object version `fetched`.
    ///
    /// Bytes of a version other than the one last listed are not kept, and
    /// the disagreement drops what is held: the object changed under us, and
    /// only the next listing can say which version a query is planned with.
    pub(crate) fn insert(&self, key: &ObjectKey, fetched: &ObjectMeta, start: u64, bytes: Bytes) {
        let mut guard = self.lock();
        let state = &mut *guard;
        state.stats.fetched_bytes += bytes.len() as u64;
        state.last_used = Instant::now();
        let Some(held) = state.objects.get_mut(key) else {
            return;
        };
        if !same_version(&held.meta, fetched) {
            state.remove(key);
            return;
        }
        // One chunk may not crowd out the rest of a working set.
        if bytes.is_empty() || bytes.len() > self.capacity() / 4 {
            return;
        }
        let end = start + bytes.len() as u64;
        let covered = held
            .chunks
            .range(..=start)
            .next_back()
            .is_some_and(|(s, c)| s + c.bytes.len() as u64 >= end);
        if covered {
            return;
        }
        let inside: Vec<u64> = held
            .chunks
            .range(start..end)
            .filter(|(s, c)| **s + c.bytes.len() as u64 <= end)
            .map(|(s, _)| *s)
            .collect();
        for s in inside {
            if let Some(old) = held.chunks.remove(&s) {
                state.by_use.remove(&old.last_used);
                state.stats.used -= old.bytes.len();
            }
        }
        state.tick += 1;
        state.stats.used += bytes.len();
        held.chunks.insert(
            start,
            Chunk {
                bytes,
                last_used: state.tick,
            },
        );
        state
            .by_use
            .insert(state.tick, Slot::Chunk(key.clone(), start));
        while state.stats.used > self.capacity() {
            state.evict_oldest();
        }
    }

    /// The value kept under `key`, if any.
    ///
    /// `key` must name the versions of the objects the value was computed
    /// from (as listed for the query asking): then a rewritten object can
    /// never be answered with an old value, exactly as for bytes.
    pub fn derived(&self, key: &str) -> Option<Derived> {
        let mut guard = self.lock();
        let state = &mut *guard;
        state.last_used = Instant::now();
        let entry = state.derived.get_mut(key)?;
        state.by_use.remove(&entry.last_used);
        state.tick += 1;
        entry.last_used = state.tick;
        state
            .by_use
            .insert(state.tick, Slot::Derived(key.to_string()));
        state.stats.derived_hits += 1;
        Some(Arc::clone(&entry.value))
    }

    /// Keeps `value` (taking `bytes` of the budget) under `key`; see
    /// [`RangeCache::derived`] for what the key must name. A value over half
    /// the budget is not kept, so one table cannot evict everything else.
    /// Returns whether it was kept.
    pub fn keep_derived(&self, key: String, value: Derived, bytes: usize) -> bool {
        if bytes == 0 || bytes > self.capacity() / 2 {
            return false;
        }
        let mut guard = self.lock();
        let state = &mut *guard;
        state.last_used = Instant::now();
        state.remove_derived(&key);
        state.tick += 1;
        state.stats.used += bytes;
        state.stats.derived_bytes += bytes;
        state.by_use.insert(state.tick, Slot::Derived(key.clone()));
        state.derived.insert(
            key,
            DerivedEntry {
                value,
                bytes,
                last_used: state.tick,
            },
        );
        while state.stats.used > self.capacity() {
            state.evict_oldest();
        }
        true
    }
}

impl State {
    fn remove(&mut self, key: &ObjectKey) {
        if let Some(held) = self.objects.remove(key) {
            for chunk in held.chunks.values() {
                self.by_use.remove(&chunk.last_used);
                self.stats.used -= chunk.bytes.len();
            }
        }
    }

    fn remove_derived(&mut self, key: &str) {
        if let Some(entry) = self.derived.remove(key) {
            self.by_use.remove(&entry.last_used);
            self.stats.used -= entry.bytes;
            self.stats.derived_bytes -= entry.bytes;
        }
    }

    fn evict_oldest(&mut self) {
        match self.by_use.pop_first() {
            Some((_, Slot::Chunk(key, start))) => {
                if let Some(chunk) = self
                    .objects
                    .get_mut(&key)
                    .and_then(|held| held.chunks.remove(&start))
                {
                    self.stats.used -= chunk.bytes.len();
                }
            }
            Some((_, Slot::Derived(key))) => {
                if let Some(entry) = self.derived.remove(&key) {
                    self.stats.used -= entry.bytes;
                    self.stats.derived_bytes -= entry.bytes;
                }
            }
            None => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn key(path: &str) -> ObjectKey {
        ObjectKey::new("b", &Path::from(path))
    }

    fn meta(path: &str, e_tag: &str, size: u64) -> ObjectMeta {
        ObjectMeta {
            location: Path::from(path),
            last_modified: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
            size,
            e_tag: Some(e_tag.into()),
            version: None,
        }
    }

    fn bytes(n: usize, fill: u8) -> Bytes {
        Bytes::from(vec![fill; n])
    }

    #[test]
    fn a_smaller_capacity_drops_the_least_recently_used_at_once() {
        let cache = RangeCache::new(1000);
        let k = key("t.parquet");
        let v1 = meta("t.parquet", "v1", 1000);
        cache.observe(&k, &v1);
        cache.insert(&k, &v1, 0, bytes(200, 1));
        cache.insert(&k, &v1, 500, bytes(200, 2));
        assert_eq!(cache.stats().used, 400);
        // Another kernel joined the pod: this one's part halves, and more.
        cache.set_capacity(250);
        assert_eq!(cache.stats().used, 200);
        assert_eq!(cache.stats().capacity, 250);
        let (_, found) = cache.lookup(&k, &[0..10, 500..510]).unwrap();
        assert!(found[0].is_none(), "the older range went first");
        assert!(found[1].is_some());
    }

    #[test]
    fn nothing_is_answered_or_kept_before_a_version_is_listed() {
        let cache = RangeCache::new(1000);
        let k = key("t.parquet");
        assert!(cache.lookup(&k, &[0..10]).is_none());
        cache.insert(&k, &meta("t.parquet", "v1", 100), 0, bytes(10, 1));
        assert_eq!(cache.stats().used, 0);
    }

    #[test]
    fn contained_ranges_are_answered_from_one_chunk() {
        let cache = RangeCache::new(1000);
        let k = key("t.parquet");
        let v1 = meta("t.parquet", "v1", 100);
        cache.observe(&k, &v1);
        let data: Bytes = (0u8..50).collect::<Vec<_>>().into();
        cache.insert(&k, &v1, 10, data);
        let (current, found) = cache.lookup(&k, &[12..15, 5..15, 40..60, 59..61]).unwrap();
        assert_eq!(current, v1);
        assert_eq!(found[0].as_deref(), Some(&[2u8, 3, 4][..]));
        assert!(found[1].is_none(), "starts before the chunk");
        assert_eq!(found[2].as_ref().map(|b| b.len()), Some(20));
        assert!(found[3].is_none(), "runs past the chunk");
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.hit_bytes), (2, 2, 23));
    }

    #[test]
    fn a_new_version_drops_the_old_bytes() {
        let cache = RangeCache::new(1000);
        let k = key("t.parquet");
        let v1 = meta("t.parquet", "v1", 100);
        cache.observe(&k, &v1);
        cache.insert(&k, &v1, 0, bytes(100, 1));
        cache.observe(&k, &v1);
        assert!(cache.lookup(&k, &[0..10]).unwrap().1[0].is_some());
        let v2 = meta("t.parquet", "v2", 100);
        cache.observe(&k, &v2);
        assert_eq!(cache.stats().used, 0);
        let (current, found) = cache.lookup(&k, &[0..10]).unwrap();
        assert_eq!(current.e_tag.as_deref(), Some("v2"));
        assert!(found[0].is_none());
    }

    #[test]
    fn bytes_of_another_version_are_not_kept_and_stop_all_answers() {
        let cache = RangeCache::new(1000);
        let k = key("t.parquet");
        let v1 = meta("t.parquet", "v1", 100);
        cache.observe(&k, &v1);
        cache.insert(&k, &v1, 0, bytes(10, 1));
        // The object was rewritten after it was listed: the fetch saw v2.
        cache.insert(&k, &meta("t.parquet", "v2", 100), 20, bytes(10, 2));
        assert_eq!(cache.stats().used, 0);
        assert!(
            cache.lookup(&k, &[0..10]).is_none(),
            "unknown until listed again"
        );
    }

    #[test]
    fn without_etags_size_and_second_decide() {
        let mut a = meta("t", "x", 10);
        a.e_tag = None;
        let mut b = a.clone();
        b.last_modified = a.last_modified + chrono::Duration::milliseconds(400);
        assert!(same_version(&a, &b), "GET headers drop the milliseconds");
        b.last_modified = a.last_modified + chrono::Duration::seconds(2);
        assert!(!same_version(&a, &b));
        let mut c = a.clone();
        c.size = 11;
        assert!(!same_version(&a, &c));
    }

    #[test]
    fn a_covering_chunk_replaces_the_chunks_inside_it() {
        let cache = RangeCache::new(1000);
        let k = key("t");
        let v = meta("t", "v", 1000);
        cache.observe(&k, &v);
        cache.insert(&k, &v, 10, bytes(10, 1));
        cache.insert(&k, &v, 30, bytes(10, 1));
        cache.insert(&k, &v, 0, bytes(100, 2));
        assert_eq!(cache.stats().used, 100);
        cache.insert(&k, &v, 40, bytes(10, 3));
        assert_eq!(cache.stats().used, 100, "already covered");
        let (_, found) = cache.lookup(&k, &[35..45]).unwrap();
        assert_eq!(found[0].as_deref(), Some(&[2u8; 10][..]));
    }

    #[test]
    fn least_recently_used_chunks_go_first() {
        let cache = RangeCache::new(100);
        let k = key("t");
        let v = meta("t", "v", 1000);
        cache.observe(&k, &v);
        cache.insert(&k, &v, 0, bytes(25, 1));
        cache.insert(&k, &v, 100, bytes(25, 1));
        cache.insert(&k, &v, 200, bytes(25, 1));
        cache.insert(&k, &v, 300, bytes(25, 1));
        cache.lookup(&k, &[0..1]); // the first chunk is used again
        cache.insert(&k, &v, 400, bytes(25, 1));
        let (_, found) = cache
            .lookup(&k, &[0..1, 100..101, 200..201, 400..401])
            .unwrap();
        let held: Vec<bool> = found.iter().map(Option::is_some).collect();
        assert_eq!(held, [true, false, true, true]);
        assert_eq!(cache.stats().used, 100);
    }

    #[test]
    fn a_chunk_over_a_quarter_of_the_budget_is_not_kept() {
        let cache = RangeCache::new(100);
        let k = key("t");
        let v = meta("t", "v", 1000);
        cache.observe(&k, &v);
        cache.insert(&k, &v, 0, bytes(26, 1));
        assert_eq!(cache.stats().used, 0);
        assert_eq!(cache.stats().fetched_bytes, 26);
    }

    #[test]
    fn an_idle_cache_lets_go_of_its_bytes() {
        let cache = RangeCache::new(1000);
        let k = key("t");
        let v = meta("t", "v", 1000);
        cache.observe(&k, &v);
        cache.insert(&k, &v, 0, bytes(10, 1));
        assert_eq!(cache.release_if_idle(Duration::from_secs(60)), 0);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(cache.release_if_idle(Duration::from_millis(20)), 10);
        assert_eq!(cache.stats().used, 0);
    }

    #[test]
    fn forgetting_and_clearing_release_the_bytes() {
        let cache = RangeCache::new(1000);
        let (a, b) = (key("a"), key("b"));
        let (va, vb) = (meta("a", "1", 100), meta("b", "1", 100));
        cache.observe(&a, &va);
        cache.observe(&b, &vb);
        cache.insert(&a, &va, 0, bytes(10, 1));
        cache.insert(&b, &vb, 0, bytes(20, 1));
        cache.forget(&a);
        assert_eq!(cache.stats().used, 20);
        assert!(cache.lookup(&a, &[0..1]).is_none());
        cache.clear();
        assert_eq!(cache.stats().used, 0);
        assert!(cache.lookup(&b, &[0..1]).is_none());
    }

    #[test]
    fn derived_values_share_the_budget_and_the_use_order_with_bytes() {
        let cache = RangeCache::new(100);
        let a = key("a");
        cache.observe(&a, &meta("a", "v1", 1000));
        cache.insert(&a, &meta("a", "v1", 1000), 0, bytes(20, 1));
        assert!(cache.keep_derived("t@v1".into(), Arc::new(7_u32), 40));
        assert_eq!(cache.stats().used, 60);
        assert_eq!(cache.stats().derived_bytes, 40);
        let value = cache.derived("t@v1").expect("kept");
        assert_eq!(value.downcast_ref::<u32>(), Some(&7));
        assert!(
            cache.derived("t@v2").is_none(),
            "another version is another key"
        );
        // The bytes are now the least recently used: they go first.
        assert!(cache.keep_derived("u@v1".into(), Arc::new(8_u32), 45));
        assert_eq!(cache.stats().used, 85);
        assert!(cache.lookup(&a, &[0..20]).expect("known").1[0].is_none());
        assert!(cache.derived("t@v1").is_some());
        cache.clear();
        assert_eq!((cache.stats().used, cache.stats().derived_bytes), (0, 0));
        assert!(cache.derived("u@v1").is_none());
    }

    #[test]
    fn a_derived_value_over_half_the_budget_is_not_kept() {
        let cache = RangeCache::new(100);
        assert!(!cache.keep_derived("big".into(), Arc::new(()), 51));
        assert!(cache.derived("big").is_none());
        assert_eq!(cache.stats().used, 0);
        assert!(cache.keep_derived("k".into(), Arc::new(()), 50));
        assert!(
            cache.keep_derived("k".into(), Arc::new(()), 30),
            "kept again replaces"
        );
        assert_eq!(cache.stats().used, 30);
    }
}
