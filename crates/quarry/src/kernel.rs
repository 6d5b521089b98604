use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use quarry_kernel::{CellsConfig, ConnectionFile, KeyPolicy, Owner, Platform, QuarryHandler};
use quarry_s3::{RangeCache, S3Stores, UploadJournal};
use quarry_sql::{
    SqlSession, engine::MemoryBudget, engine::PodShare, engine::QueryExecutor,
    engine::SessionOptions, engine::SpillSettings, engine::s3_cache_bytes,
};

use crate::config::{Environment, variables as var};

/// Joins the pod's kernel registry (`QUARRY_POD_DIR`, else a per-user
/// directory in the temporary directory), so the kernels of one pod share
/// one memory budget; alone with the whole budget if that fails.
fn join_pod(env: &Environment, memory: &MemoryBudget) -> Option<Arc<PodShare>> {
    let dir = env
        .path(var::QUARRY_POD_DIR)
        .unwrap_or_else(|| PodShare::default_dir(&std::env::temp_dir()));
    match PodShare::join(&dir, memory.pool_bytes) {
        Ok(pod) => Some(Arc::new(pod)),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), "could not join the pod's kernel registry, so this kernel counts on the whole memory budget: {e}");
            None
        }
    }
}

/// Where multipart uploads in flight are written down: `QUARRY_UPLOAD_JOURNAL`,
/// else `~/.cache/quarry/uploads` (the home volume outlives a killed pod).
pub(crate) fn upload_journal(env: &Environment) -> UploadJournal {
    let dir = env
        .path(var::QUARRY_UPLOAD_JOURNAL)
        .unwrap_or_else(|| env.quarry_cache("uploads"));
    UploadJournal::at(dir)
}

/// Aborts the uploads a killed kernel or panel left behind, in the background.
pub(crate) async fn reap_uploads(s3: Arc<S3Stores>) {
    if let Some(journal) = s3.upload_journal() {
        let reaped = journal.reap(&s3).await;
        if reaped > 0 {
            tracing::info!(reaped, "aborted uploads that ended processes left behind");
        }
    }
}

/// Spill files go to `QUARRY_SPILL_DIR` (default: the user's cache on the
/// home volume, not the node's disk) and take at most `QUARRY_SPILL_LIMIT`
/// (default 10g).
fn spill_settings(env: &Environment) -> anyhow::Result<SpillSettings> {
    Ok(SpillSettings {
        dir: env
            .path(var::QUARRY_SPILL_DIR)
            .unwrap_or_else(|| env.quarry_cache("spill")),
        max_bytes: env.size(var::QUARRY_SPILL_LIMIT)?.unwrap_or(10 << 30) as u64,
    })
}

/// The user's table catalog: `QUARRY_CATALOG`, else on the home volume.
fn catalog_path(env: &Environment) -> PathBuf {
    env.path(var::QUARRY_CATALOG)
        .unwrap_or_else(|| quarry_sql::lakehouse::default_catalog_path(&env.home()))
}

/// Where the kernel runs: the user, the hub, Spark and Java.
fn platform(env: &Environment) -> Platform {
    let spark_cluster = env.spark_cluster();
    let cluster = [
        var::KUBERNETES_SERVICE_HOST,
        var::KUBERNETES_SERVICE_PORT,
        var::QUARRY_KUBE_SERVICEACCOUNT_DIR,
        var::HOSTNAME,
        var::QUARRY_POD_IP,
        var::QUARRY_SPARK_EXECUTOR_IMAGE,
        var::QUARRY_SPARK_IMAGES,
        var::QUARRY_SPARK_MAX_EXECUTORS,
        var::QUARRY_SPARK_MAX_EXECUTOR_MEMORY,
    ]
    .iter()
    .filter_map(|v| Some((v.name.to_string(), spark_cluster(v.name)?)))
    .collect();
    Platform {
        hub_user: env.text(var::JUPYTERHUB_USER),
        system_user: env.text(var::USER),
        service_prefix: env.text(var::JUPYTERHUB_SERVICE_PREFIX),
        export_prefix: env.text(var::QUARRY_EXPORT_PREFIX),
        spark: quarry_spark::SparkHost {
            spark_home: env.path(var::SPARK_HOME),
            python: env.path(var::QUARRY_PYTHON),
            java_home: env.path(var::JAVA_HOME),
            search_path: env
                .os(var::PATH)
                .map(|p| std::env::split_paths(p).collect())
                .unwrap_or_default(),
            cache_dir: Some(
                env.path(var::XDG_CACHE_HOME)
                    .unwrap_or_else(|| env.home().join(".cache")),
            ),
        },
        cluster,
    }
}

/// The S3 stores and the SQL session, sized as this kernel's part of the
/// pod's memory, with the background tasks that keep them so.
fn sql_session(env: &Environment, executor: &QueryExecutor) -> anyhow::Result<SqlSession> {
    let memory = MemoryBudget::detect(env.size(var::QUARRY_MEMORY_LIMIT)?);
    let pod = join_pod(env, &memory);
    let kernels = pod.as_ref().map_or(1, |p| p.live_kernels());
    // The byte cache is this kernel's part of the pod's, kept so as
    // kernels come and go (`follow_pod`).
    let pod_cache = s3_cache_bytes(env.size_or_off(var::QUARRY_S3_CACHE)?, &memory);
    let cache = pod_cache / kernels;
    let s3 = Arc::new(
        S3Stores::from_env(&env.s3())
            .with_cache(cache)
            .with_upload_journal(upload_journal(env)),
    );
    tracing::info!(
        endpoint = %s3.settings().endpoint_display(),
        memory = %memory.describe(),
        kernels_in_pod = kernels,
        s3_cache = %quarry_text::numbers::human_bytes(cache as u64),
        "starting the Quarry kernel"
    );
    let session = SqlSession::new(
        Arc::clone(&s3),
        &SessionOptions {
            memory,
            target_partitions: None,
            pod: pod.clone(),
            spill: Some(spill_settings(env)?),
            catalog: Some(catalog_path(env)),
        },
    )?;
    if let Some(cache) = s3.cache() {
        executor.spawn(release_when_idle(Arc::clone(cache)));
        if let Some(pod) = &pod {
            executor.spawn(follow_pod(Arc::clone(cache), Arc::clone(pod), pod_cache));
        }
    }
    executor.spawn(reap_uploads(s3));
    Ok(session)
}

/// Wires the S3 stores, the SQL session and the protocol together, and
/// exits the process when the kernel is done.
pub fn run(
    env: &Environment,
    connection_file: &Path,
    allow_unauthenticated: bool,
) -> anyhow::Result<()> {
    let keys = if allow_unauthenticated {
        KeyPolicy::AllowEmpty
    } else {
        KeyPolicy::Required
    };
    // The largest message a client may send (default 128 MiB); a client
    // that passes it is disconnected.
    let max_message = env
        .size(var::QUARRY_MAX_MESSAGE)?
        .map_or(quarry_kernel::DEFAULT_MAX_MESSAGE_BYTES, |bytes| {
            bytes as u64
        });
    let connection =
        ConnectionFile::read(connection_file, keys)?.with_max_message_bytes(max_message);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let executor =
        Arc::new(QueryExecutor::new(cores).context("could not start the query runtime")?);
    let session = sql_session(env, &executor)?;
    let handler = Arc::new(
        QuarryHandler::new(session, executor, CellsConfig::default()).with_platform(platform(env)),
    );

    // The protocol tasks are light; one thread keeps them off the query
    // runtime's workers and makes interrupts prompt under load.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the protocol runtime")?;
    // A kernel follows the client that started it (JPY_PARENT_PID), as
    // ipykernel does.
    let owner = Owner::from_parent_pid(env.text(var::JPY_PARENT_PID).as_deref());
    let exit = runtime.block_on(quarry_kernel::run_kernel(connection, handler, owner))?;
    tracing::info!(?exit, "kernel finished");
    // The handler has released everything (Spark stopped, pods deleted);
    // exit now rather than wait for query threads still unwinding, so a
    // restart never waits for jupyter_client's escalation to SIGKILL.
    std::process::exit(0)
}

/// How long the S3 byte cache survives without a query before it is dropped.
const CACHE_IDLE: Duration = Duration::from_secs(30 * 60);

/// Lets an idle kernel give its cached S3 bytes back: on a shared hub,
/// notebooks stay open long after anyone looks at them.
/// Keeps the byte cache at this kernel's part of the pod's cache as the
/// number of live kernels changes.
async fn follow_pod(cache: Arc<RangeCache>, pod: Arc<PodShare>, pod_cache: usize) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        cache.set_capacity(pod_cache / pod.live_kernels());
    }
}

async fn release_when_idle(cache: Arc<RangeCache>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        let released = cache.release_if_idle(CACHE_IDLE);
        if released > 0 {
            tracing::info!(
                bytes = released,
                "dropped the S3 cache after {} idle minutes",
                CACHE_IDLE.as_secs() / 60
            );
        }
    }
}
