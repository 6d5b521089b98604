//! One memory budget per pod: every kernel in a pod (one cgroup) shares it.
//!
//! Each kernel used to size its DataFusion pool from the pod's limit as if
//! it were alone, so two notebooks (or one beside a Spark driver)
//! over-committed the pod and the OOM killer took every kernel. Now each
//! kernel joins a small registry in a directory the pod's kernels share —
//! one file per kernel, held with `flock` while it lives, so a killed
//! kernel's entry is known stale at once — and may use
//! `budget / live kernels`, less what its own Spark driver takes. The share
//! is re-read at most once a second, as kernels come and go; a query that
//! would pass it fails (or spills) like one that passes the whole budget.
//!
//! ```text
//!   /tmp/quarry-kernels-<uid>/   4711.kernel (flock)   4712.kernel (flock)
//!   kernel 4711: share = 60 % of limit / 2 − its Spark driver
//! ```

use std::fs::{File, OpenOptions};
use std::sync::Arc;

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::memory_pool::{
    MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a counted share is reused before the registry is read again.
const RECOUNT_EVERY: Duration = Duration::from_secs(1);
/// The least a kernel keeps for queries whatever its Spark driver takes.
const FLOOR: usize = 64 << 20;
/// A file this young may belong to a kernel that has not locked it yet.
const GRACE: Duration = Duration::from_secs(5);

/// This kernel's place in the pod's registry.
#[derive(Debug)]
pub struct PodShare {
    dir: PathBuf,
    me: PathBuf,
    _lock: File,
    budget: usize,
    /// Bytes this kernel's Spark driver may take (heap and overhead).
    outside: AtomicUsize,
    counted: Mutex<(Instant, usize)>,
}

impl PodShare {
    /// Joins the registry in `dir` (created if needed) for a pod-wide
    /// budget of `budget` bytes.
    pub fn join(dir: &Path, budget: usize) -> std::io::Result<PodShare> {
        std::fs::create_dir_all(dir)?;
        let me = dir.join(format!("{}.kernel", std::process::id()));
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&me)?;
        // SAFETY: flock(2) on a descriptor this function owns.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let share = PodShare {
            dir: dir.to_path_buf(),
            me,
            _lock: lock,
            budget,
            outside: AtomicUsize::new(0),
            counted: Mutex::new((Instant::now() - RECOUNT_EVERY * 2, 1)),
        };
        Ok(share)
    }

    /// The registry's default place: per user, in the machine's (the
    /// pod's) temporary directory `temp`, which kernels of one pod share
    /// and other pods do not.
    pub fn default_dir(temp: &Path) -> PathBuf {
        // SAFETY: getuid has no preconditions and cannot fail.
        let uid = unsafe { libc::getuid() };
        temp.join(format!("quarry-kernels-{uid}"))
    }

    /// The pod-wide budget.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Kernels alive in the pod now (this one included), counted at most
    /// once a second.
    pub fn live_kernels(&self) -> usize {
        let mut counted = self.counted.lock().unwrap_or_else(|p| p.into_inner());
        if counted.0.elapsed() >= RECOUNT_EVERY {
            *counted = (Instant::now(), self.count().max(1));
        }
        counted.1
    }

    /// Bytes this kernel's DataFusion pool may hold now: its part of the
    /// budget less its Spark driver, but never below a small floor, so
    /// catalog lookups and small queries still run beside a big driver.
    pub fn share(&self) -> usize {
        let part = self.budget / self.live_kernels();
        part.saturating_sub(self.outside.load(Ordering::Relaxed))
            .max(part.min(FLOOR))
    }

    /// Sets what this kernel's Spark driver may take (0 when none runs):
    /// it comes off this kernel's share.
    pub fn set_outside(&self, bytes: usize) {
        self.outside.store(bytes, Ordering::Relaxed);
    }

    /// The share in words: "1.2 GiB: a third of 3.6 GiB, shared by 3 kernels, less 1 GiB for Spark".
    pub fn describe(&self) -> String {
        let kernels = self.live_kernels();
        let outside = self.outside.load(Ordering::Relaxed);
        let mut text = format!(
            "{} now",
            quarry_text::numbers::human_bytes(self.share() as u64)
        );
        if kernels > 1 {
            text.push_str(&format!(
                ": {} shared by {kernels} kernels in this pod",
                quarry_text::numbers::human_bytes(self.budget as u64)
            ));
        }
        if outside > 0 {
            text.push_str(&format!(
                ", less {} for this kernel's Spark driver",
                quarry_text::numbers::human_bytes(outside as u64)
            ));
        }
        text
    }

    /// Counts the locked entries, removing those whose kernel is gone.
    fn count(&self) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return 1;
        };
        let mut live = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "kernel") {
                continue;
            }
            if path == self.me || is_held(&path) {
                live += 1;
            } else if entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|at| at.elapsed().unwrap_or_default() > GRACE)
            {
                let _ = std::fs::remove_file(&path);
            }
        }
        live
    }
}

/// A DataFusion pool held to this kernel's [`PodShare`]: the inner pool
/// (fair spilling, consumer tracking) is sized to the pod's budget, and a
/// reservation that would take this kernel past its share now is refused
/// as the inner pool would refuse one past the budget.
#[derive(Debug)]
pub(crate) struct PodPool {
    inner: Arc<dyn MemoryPool>,
    pod: Arc<PodShare>,
}

impl PodPool {
    pub(crate) fn new(inner: Arc<dyn MemoryPool>, pod: Arc<PodShare>) -> Self {
        PodPool { inner, pod }
    }
}

impl std::fmt::Display for PodPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PodPool({})", self.inner)
    }
}

impl MemoryPool for PodPool {
    fn name(&self) -> &str {
        "PodPool"
    }

    fn register(&self, consumer: &MemoryConsumer) {
        self.inner.register(consumer);
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        self.inner.unregister(consumer);
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.inner.grow(reservation, additional);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.inner.shrink(reservation, shrink);
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        let share = self.pod.share();
        let reserved = self.inner.reserved();
        if reserved + additional > share {
            return Err(DataFusionError::ResourcesExhausted(format!(
                "Failed to allocate additional {additional} bytes for {} with {reserved} bytes already allocated in this kernel's share of the pod's memory",
                reservation.consumer().name()
            )));
        }
        self.inner.try_grow(reservation, additional)
    }

    fn reserved(&self) -> usize {
        self.inner.reserved()
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.pod.share())
    }
}

impl Drop for PodShare {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.me);
    }
}

/// Whether a live process holds the entry's lock.
fn is_held(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    // SAFETY: flock(2) on a descriptor this function owns; released on drop.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) != 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    #[test]
    fn kernels_in_one_pod_divide_the_budget_and_a_dead_one_gives_its_share_back() {
        let dir = tempfile::tempdir().unwrap();
        let first = PodShare::join(dir.path(), 1200 * MIB).unwrap();
        assert_eq!(first.share(), 1200 * MIB);
        // A second kernel of the same pod (another process in real life:
        // here a second entry held by this one).
        let other = dir.path().join("999999.kernel");
        let held = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&other)
            .unwrap();
        // SAFETY: flock(2) on a descriptor the test owns.
        assert_eq!(
            unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
            0
        );
        let recount = || *first.counted.lock().unwrap() = (Instant::now() - RECOUNT_EVERY * 2, 0);
        recount();
        assert_eq!(first.live_kernels(), 2);
        assert_eq!(first.share(), 600 * MIB);
        first.set_outside(100 * MIB);
        assert_eq!(first.share(), 500 * MIB);
        assert_eq!(
            first.describe(),
            "500.0 MiB now: 1.2 GiB shared by 2 kernels in this pod, less 100.0 MiB for this kernel's Spark driver"
        );
        // A driver bigger than the share leaves the floor for small queries.
        first.set_outside(2000 * MIB);
        assert_eq!(first.share(), 64 * MIB);
        // The other kernel dies (its lock goes with it): its share returns.
        drop(held);
        recount();
        assert_eq!(first.live_kernels(), 1);
        first.set_outside(0);
        assert_eq!(first.share(), 1200 * MIB);
        drop(first);
        assert!(
            !dir.path()
                .join(format!("{}.kernel", std::process::id()))
                .exists()
        );
    }
}
