use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use quarry_kernel::{CellsConfig, ConnectionFile, KeyPolicy, Owner, QuarryHandler};
use quarry_s3::{Env, RangeCache, S3Stores, UploadJournal};
use quarry_sql::{
    MemoryBudget, PodShare, QueryExecutor, SessionOptions, SpillSettings, SqlSession,
    s3_cache_bytes,
};

/// Joins the pod's kernel registry (`QUARRY_POD_DIR`, else a per-user
/// directory in the temporary directory), so the kernels of one pod share
/// one memory budget; alone with the whole budget if that fails.
fn join_pod(memory: &MemoryBudget) -> Option<Arc<PodShare>> {
    let dir = std::env::var_os("QUARRY_POD_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(PodShare::default_dir);
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
pub(crate) fn upload_journal() -> UploadJournal {
    let dir = match std::env::var_os("QUARRY_UPLOAD_JOURNAL") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::env::var_os("HOME")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(std::env::temp_dir)
            .join(".cache/quarry/uploads"),
    };
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
fn spill_settings() -> anyhow::Result<SpillSettings> {
    let dir = match std::env::var_os("QUARRY_SPILL_DIR") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::env::var_os("HOME")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(std::env::temp_dir)
            .join(".cache/quarry/spill"),
    };
    let max_bytes = match std::env::var("QUARRY_SPILL_LIMIT") {
        Ok(raw) => quarry_sql::parse_byte_size(&raw).with_context(|| {
            format!("QUARRY_SPILL_LIMIT='{raw}' is not a size: write e.g. 10g or 512m")
        })? as u64,
        Err(_) => 10 << 30,
    };
    Ok(SpillSettings { dir, max_bytes })
}

/// The user's table catalog: `QUARRY_CATALOG`, else on the home volume.
fn catalog_path() -> std::path::PathBuf {
    match std::env::var_os("QUARRY_CATALOG") {
        Some(path) => std::path::PathBuf::from(path),
        None => quarry_sql::default_catalog_path(
            &std::env::var_os("HOME")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(std::env::temp_dir),
        ),
    }
}

/// The largest message a client may send, `QUARRY_MAX_MESSAGE` (default
/// 128 MiB); a client that passes it is disconnected.
fn max_message_bytes() -> anyhow::Result<u64> {
    match std::env::var("QUARRY_MAX_MESSAGE") {
        Ok(raw) => Ok(quarry_sql::parse_byte_size(&raw).with_context(|| {
            format!("QUARRY_MAX_MESSAGE='{raw}' is not a size: write e.g. 128m or 1g")
        })? as u64),
        Err(_) => Ok(quarry_kernel::DEFAULT_MAX_MESSAGE_BYTES),
    }
}

/// The S3 stores and the SQL session, sized as this kernel's part of the
/// pod's memory, with the background tasks that keep them so.
fn sql_session(executor: &QueryExecutor) -> anyhow::Result<SqlSession> {
    let memory = MemoryBudget::detect(std::env::var("QUARRY_MEMORY_LIMIT").ok().as_deref())?;
    let pod = join_pod(&memory);
    let kernels = pod.as_ref().map_or(1, |p| p.live_kernels());
    // The byte cache is this kernel's part of the pod's, kept so as
    // kernels come and go (`follow_pod`).
    let pod_cache = s3_cache_bytes(std::env::var("QUARRY_S3_CACHE").ok().as_deref(), &memory)?;
    let cache = pod_cache / kernels;
    let s3 = Arc::new(
        S3Stores::from_env(&Env::Process)
            .with_cache(cache)
            .with_upload_journal(upload_journal()),
    );
    tracing::info!(
        endpoint = %s3.settings().endpoint_display(),
        memory = %memory.describe(),
        kernels_in_pod = kernels,
        s3_cache = %quarry_sql::human_bytes(cache as u64),
        "starting the Quarry kernel"
    );
    let session = SqlSession::new(
        Arc::clone(&s3),
        &SessionOptions {
            memory,
            target_partitions: None,
            pod: pod.clone(),
            spill: Some(spill_settings()?),
            catalog: Some(catalog_path()),
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
pub fn run(connection_file: &Path, allow_unauthenticated: bool) -> anyhow::Result<()> {
    let keys = if allow_unauthenticated {
        KeyPolicy::AllowEmpty
    } else {
        KeyPolicy::Required
    };
    let connection =
        ConnectionFile::read(connection_file, keys)?.with_max_message_bytes(max_message_bytes()?);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let executor =
        Arc::new(QueryExecutor::new(cores).context("could not start the query runtime")?);
    let session = sql_session(&executor)?;
    let handler = Arc::new(QuarryHandler::new(
        session,
        executor,
        CellsConfig::default(),
    ));

    // The protocol tasks are light; one thread keeps them off the query
    // runtime's workers and makes interrupts prompt under load.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the protocol runtime")?;
    // Read before anything else can change it: a kernel follows the client
    // that started it (JPY_PARENT_PID), as ipykernel does.
    let owner = Owner::from_env();
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
