//! How much memory DataFusion may use.
//!
//! In a Kubernetes pod the kernel shares a cgroup limit with JupyterLab and
//! (later) a Spark driver. Exceeding it gets the whole pod OOM-killed and the
//! user loses every session, so DataFusion gets a bounded pool: a query that
//! needs more fails with a clear error (or spills, for sorts and joins that
//! can) instead.

use std::path::Path;

/// Share of the memory limit DataFusion may use by default; the rest is for
/// the kernel itself, JupyterLab and Arrow buffers outside the pool.
pub const DEFAULT_FRACTION: f64 = 0.6;

/// The memory pool size and how it was chosen, for `%config` and errors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryBudget {
    /// Bytes DataFusion's memory pool may use.
    pub pool_bytes: usize,
    /// Where the limit came from.
    pub source: BudgetSource,
}

/// Where a budget's limit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetSource {
    /// `QUARRY_MEMORY_LIMIT` set explicitly.
    Configured,
    /// A fraction of the container's cgroup limit.
    Cgroup,
    /// A fraction of physical memory (no cgroup limit found).
    PhysicalMemory,
    /// Nothing could be read; a conservative fixed size.
    Fallback,
}

impl MemoryBudget {
    /// A budget of exactly `pool_bytes`, as `QUARRY_MEMORY_LIMIT` sets it.
    pub fn of(pool_bytes: usize) -> Self {
        MemoryBudget {
            pool_bytes,
            source: BudgetSource::Configured,
        }
    }

    /// Chooses the pool size: `configured` (`QUARRY_MEMORY_LIMIT`, parsed
    /// by the binary) wins; otherwise a fraction of the cgroup limit, else
    /// of physical memory.
    pub fn detect(configured: Option<usize>) -> Self {
        if let Some(pool_bytes) = configured {
            return MemoryBudget::of(pool_bytes);
        }
        let fraction = |bytes: u64| (bytes as f64 * DEFAULT_FRACTION) as usize;
        if let Some(limit) = cgroup_limit(Path::new("/sys/fs/cgroup")) {
            return MemoryBudget {
                pool_bytes: fraction(limit),
                source: BudgetSource::Cgroup,
            };
        }
        if let Some(total) = physical_memory() {
            return MemoryBudget {
                pool_bytes: fraction(total),
                source: BudgetSource::PhysicalMemory,
            };
        }
        MemoryBudget {
            pool_bytes: 2 << 30,
            source: BudgetSource::Fallback,
        }
    }

    /// The budget in words, for banners and `%config`.
    pub fn describe(&self) -> String {
        let why = match self.source {
            BudgetSource::Configured => "set by QUARRY_MEMORY_LIMIT",
            BudgetSource::Cgroup => "60% of the container memory limit",
            BudgetSource::PhysicalMemory => "60% of physical memory",
            BudgetSource::Fallback => "default",
        };
        format!("{} ({why})", human_bytes(self.pool_bytes as u64))
    }
}

/// Bytes of S3 reads kept in memory between queries (`quarry_s3::RangeCache`).
///
/// `configured` (`QUARRY_S3_CACHE`) wins (`0` turns the cache off); by default a quarter of
/// the DataFusion pool (15% of the limit), so pool and cache together stay
/// at three quarters of it and the rest is left for the kernel, JupyterLab
/// and a Spark driver.
/// TPC-H sf1's queried columns fit in ~250 MiB, a typical notebook's working
/// set in far less.
pub fn s3_cache_bytes(configured: Option<usize>, budget: &MemoryBudget) -> usize {
    configured.unwrap_or(budget.pool_bytes / 4)
}

/// Reads the cgroup v2 (`memory.max`) or v1 (`memory/memory.limit_in_bytes`)
/// limit under `root`. "max" and v1's near-`u64::MAX` sentinel mean no limit.
fn cgroup_limit(root: &Path) -> Option<u64> {
    let read = |p: &Path| std::fs::read_to_string(p).ok();
    let v2 = read(&root.join("memory.max"));
    let v1 = || read(&root.join("memory/memory.limit_in_bytes"));
    let raw = v2.or_else(v1)?;
    let limit: u64 = raw.trim().parse().ok()?;
    // v1 reports "unlimited" as a page-rounded i64::MAX.
    (limit < (1u64 << 60)).then_some(limit)
}

fn physical_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Sizes as people read them: one wording, in `quarry-text`.
use quarry_text::numbers::human_bytes;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_v2_and_v1_limits_are_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("memory.max"), "4294967296\n").unwrap();
        assert_eq!(cgroup_limit(dir.path()), Some(4 << 30));
        std::fs::write(dir.path().join("memory.max"), "max\n").unwrap();
        assert_eq!(cgroup_limit(dir.path()), None);

        let v1 = tempfile::tempdir().unwrap();
        std::fs::create_dir(v1.path().join("memory")).unwrap();
        std::fs::write(
            v1.path().join("memory/memory.limit_in_bytes"),
            "9223372036854771712",
        )
        .unwrap();
        assert_eq!(cgroup_limit(v1.path()), None);
        std::fs::write(v1.path().join("memory/memory.limit_in_bytes"), "1073741824").unwrap();
        assert_eq!(cgroup_limit(v1.path()), Some(1 << 30));
    }

    #[test]
    fn configured_limit_wins() {
        let budget = MemoryBudget::detect(Some(256 << 20));
        assert_eq!(budget.pool_bytes, 256 << 20);
        assert_eq!(budget.source, BudgetSource::Configured);
        assert!(MemoryBudget::detect(None).pool_bytes > 0);
    }

    #[test]
    fn the_s3_cache_is_a_quarter_of_the_pool_unless_configured() {
        let budget = MemoryBudget::of(4 << 30);
        assert_eq!(s3_cache_bytes(None, &budget), 1 << 30);
        assert_eq!(s3_cache_bytes(Some(256 << 20), &budget), 256 << 20);
        assert_eq!(s3_cache_bytes(Some(0), &budget), 0);
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
    }
}
