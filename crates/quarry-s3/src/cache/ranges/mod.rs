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
mod tests;
