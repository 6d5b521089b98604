//! The long-lived DataFusion session behind a kernel.

use std::sync::Arc;

use std::time::Duration;

use datafusion::execution::SessionStateBuilder;
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{FairSpillPool, MemoryPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use quarry_s3::S3Stores;

use crate::engine::MemoryBudget;
use crate::engine::error::SqlError;
use crate::engine::options::QuarryOptions;
use crate::engine::parameters::Parameters;
use crate::engine::pod_share::{PodPool, PodShare};
use crate::engine::registry::S3AwareRegistry;
use crate::lakehouse::read_ahead::ReadAheadRule;
use crate::notebook::results::ResultStore;

/// How to build a [`SqlSession`].
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// How much memory queries may use.
    pub memory: MemoryBudget,
    /// Parallelism of scans and joins; `None` picks [`default_target_partitions`].
    pub target_partitions: Option<usize>,
    /// The pod's kernel registry this kernel's pool is held to; `None`
    /// for a process that is alone with its budget (the panel backend).
    pub pod: Option<Arc<PodShare>>,
    /// Where sorts, joins and aggregations spill and how much they may
    /// write; `None` leaves DataFusion's default (the OS temporary
    /// directory, up to 100 GB — on a node, that is everyone's disk).
    pub spill: Option<SpillSettings>,
    /// The user's table catalog file (see `catalog`); `None` keeps
    /// nothing beyond the session (the panel backend, tests).
    pub catalog: Option<std::path::PathBuf>,
}

/// A sized place for spill files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpillSettings {
    /// The directory (created if needed): the home volume or a sized
    /// scratch volume, not the node's disk.
    pub dir: std::path::PathBuf,
    /// The most all spill files together may take; a query that needs
    /// more fails in one sentence.
    pub max_bytes: u64,
}

/// How long a folder's file list is reused before S3 is listed again.
///
/// DataFusion caches listings for the whole session by default, so files
/// that someone else (a colleague, a Spark job, `%s3 cp`) adds under a
/// table's prefix would never show up in this kernel. Ten seconds keeps
/// repeated queries from re-listing while a notebook is being worked
/// through, and Quarry's own writes forget the listings at once
/// ([`SqlSession::forget_listings`]).
pub const LISTING_FRESH_FOR: Duration = Duration::from_secs(10);

/// Partitions per query when not configured: four per core, at least 8.
///
/// Reading Parquet from S3 is bound by request latency, not CPU: each
/// partition keeps one row group's ranged GETs in flight, so DataFusion's
/// default (one partition per core) leaves a 2-core notebook pod waiting on
/// the network. Measured on TPC-H sf1 over S3 (2 cores): 8 partitions cut
/// Q1/Q6/Q17/Q18 by 20–30 % against 2; 16 gained little more.
pub fn default_target_partitions() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores * 4).max(8)
}

/// A DataFusion session reading S3 through `quarry-s3`. Cheap to clone: every
/// clone shares the same tables.
#[derive(Clone)]
pub struct SqlSession {
    ctx: SessionContext,
    s3: Arc<S3Stores>,
    memory: MemoryBudget,
    parameters: Parameters,
    results: Arc<ResultStore>,
    pod: Option<Arc<PodShare>>,
    kept: Option<Arc<crate::lakehouse::catalog::KeptSchema>>,
}

impl std::fmt::Debug for SqlSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlSession")
            .field("session_id", &self.ctx.session_id())
            .field("memory", &self.memory)
            .finish()
    }
}

/// DataFusion's runtime: the memory pool, the spill directory and its
/// limit, the S3-aware object stores and the folder listing cache.
fn runtime_env(
    s3: &Arc<S3Stores>,
    options: &SessionOptions,
    pool: Arc<dyn MemoryPool>,
) -> Result<Arc<datafusion::execution::runtime_env::RuntimeEnv>, SqlError> {
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(spill) = &options.spill {
        std::fs::create_dir_all(&spill.dir).map_err(|e| {
            SqlError::config(format!(
                "Could not create the spill directory {}: {e}",
                spill.dir.display()
            ))
        })?;
        runtime = runtime.with_disk_manager_builder(
            DiskManagerBuilder::default()
                .with_mode(DiskManagerMode::Directories(vec![spill.dir.clone()]))
                .with_max_temp_directory_size(spill.max_bytes),
        );
    }
    runtime
        .with_memory_pool(pool)
        .with_object_store_registry(Arc::new(S3AwareRegistry::new(Arc::clone(s3))))
        .with_cache_manager(
            CacheManagerConfig::default().with_list_files_cache_ttl(Some(LISTING_FRESH_FOR)),
        )
        .build_arc()
        .map_err(|e| SqlError::config(format!("Could not start the SQL engine: {e}")))
}

impl SqlSession {
    /// A session over `s3` with `options` (memory pool, partitions, spill).
    pub fn new(s3: Arc<S3Stores>, options: &SessionOptions) -> Result<Self, SqlError> {
        // FairSpillPool lets spilling operators (sort, hash aggregate) share
        // the budget; TrackConsumersPool names the biggest consumers when a
        // query still runs out, which makes the error actionable.
        let mut pool: Arc<dyn MemoryPool> = Arc::new(TrackConsumersPool::new(
            FairSpillPool::new(options.memory.pool_bytes),
            std::num::NonZeroUsize::new(3).expect("non-zero"),
        ));
        if let Some(pod) = &options.pod {
            pool = Arc::new(PodPool::new(pool, Arc::clone(pod)));
        }
        let results = Arc::new(ResultStore::new(
            Arc::clone(&pool),
            options.memory.pool_bytes,
        ));
        let runtime = runtime_env(&s3, options, Arc::clone(&pool))?;
        let mut config = SessionConfig::new()
            .with_information_schema(true)
            .with_create_default_catalog_and_schema(true)
            .with_option_extension(QuarryOptions::default());
        let partitions = options
            .target_partitions
            .unwrap_or_else(default_target_partitions);
        config = config.with_target_partitions(partitions.max(1));
        let read_ahead = ReadAheadRule::new(Arc::clone(&runtime.object_store_registry));
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .with_physical_optimizer_rule(Arc::new(read_ahead))
            .build();
        let ctx = crate::lakehouse::delta::install(SessionContext::new_with_state(state));
        crate::lakehouse::decoded::install(&mut ctx.state_ref().write(), s3.cache());
        let kept = options
            .catalog
            .as_deref()
            .map(|path| crate::lakehouse::catalog::install(&ctx, path));
        Ok(SqlSession {
            ctx,
            s3,
            memory: options.memory,
            parameters: Parameters::default(),
            results,
            pod: options.pod.clone(),
            kept,
        })
    }

    /// The same session (tables, memory, parameters) planning every query
    /// as one partition, so rows come out in the order they are read: a
    /// file's first rows, a held result's own order. Slower on big scans;
    /// for answers whose order matters and whose size is small.
    pub fn in_one_lane(&self) -> SqlSession {
        let mut state = self.ctx.state();
        state.config_mut().options_mut().execution.target_partitions = 1;
        SqlSession {
            ctx: SessionContext::new_with_state(state),
            ..self.clone()
        }
    }

    /// The results kept for the grid.
    pub fn results(&self) -> &ResultStore {
        &self.results
    }

    /// DataFusion's context, for callers that register tables themselves.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Forgets cached folder listings, after this kernel wrote to S3 (the
    /// next query lists again and sees the new files).
    pub fn forget_listings(&self) {
        if let Some(cache) = self.ctx.runtime_env().cache_manager.get_list_files_cache() {
            cache.clear();
        }
    }

    /// The S3 stores queries read through.
    pub fn s3(&self) -> &Arc<S3Stores> {
        &self.s3
    }

    /// The `$name` parameters `%set` gave this session.
    pub fn parameters(&self) -> &Parameters {
        &self.parameters
    }

    /// The memory budget queries run within: the whole budget, or this
    /// kernel's share of the pod's now.
    pub fn memory(&self) -> MemoryBudget {
        match &self.pod {
            Some(pod) => MemoryBudget {
                pool_bytes: pod.share(),
                ..self.memory
            },
            None => self.memory,
        }
    }

    /// The memory budget in words, with the pod's sharing when there is
    /// any ("600 MiB now: 1.2 GiB shared by 2 kernels in this pod").
    pub fn memory_in_words(&self) -> String {
        match &self.pod {
            Some(pod) if pod.live_kernels() > 1 || pod.share() < pod.budget() => pod.describe(),
            _ => self.memory.describe(),
        }
    }

    /// The default schema backed by the user's catalog, if there is one.
    pub(crate) fn kept_schema(&self) -> Option<&Arc<crate::lakehouse::catalog::KeptSchema>> {
        self.kept.as_ref()
    }

    /// The pod registry this kernel's memory is shared through.
    pub fn pod(&self) -> Option<&Arc<PodShare>> {
        self.pod.as_ref()
    }

    /// Every table a user registered, qualified when outside the default
    /// schema, sorted.
    pub fn table_names(&self) -> Vec<String> {
        let state = self.ctx.state();
        let defaults = &state.config().options().catalog;
        let mut names = Vec::new();
        for catalog_name in self.ctx.catalog_names() {
            let Some(catalog) = self.ctx.catalog(&catalog_name) else {
                continue;
            };
            for schema_name in catalog.schema_names() {
                if schema_name == "information_schema" {
                    continue;
                }
                let Some(schema) = catalog.schema(&schema_name) else {
                    continue;
                };
                let is_default = catalog_name == defaults.default_catalog
                    && schema_name == defaults.default_schema;
                for table in schema.table_names() {
                    names.push(if is_default {
                        table
                    } else {
                        format!("{schema_name}.{table}")
                    });
                }
            }
        }
        names.sort();
        names
    }
}

/// A session with no S3 credentials and a small memory budget, for tests.
#[cfg(test)]
pub(crate) fn test_session() -> SqlSession {
    let s3 = Arc::new(S3Stores::from_env(&quarry_s3::Env::from_pairs([])));
    SqlSession::new(
        s3,
        &SessionOptions {
            memory: MemoryBudget::of(256 << 20),
            target_partitions: Some(1),
            pod: None,
            spill: None,
            catalog: None,
        },
    )
    .expect("session")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_partitions_favour_s3_latency_over_core_count() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(default_target_partitions(), (cores * 4).max(8));
        let s3 = Arc::new(S3Stores::from_env(&quarry_s3::Env::from_pairs([])));
        let options = SessionOptions {
            memory: MemoryBudget::of(256 << 20),
            target_partitions: None,
            pod: None,
            spill: None,
            catalog: None,
        };
        let session = SqlSession::new(s3, &options).expect("session");
        let configured = session.context().state().config().target_partitions();
        assert_eq!(configured, default_target_partitions());
    }
}
