//! `quarry serve`: the S3 panel backend.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use quarry_s3::{Env, S3Stores};
use quarry_sql::{MemoryBudget, SessionOptions, SqlSession};

#[derive(Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct ServeArgs {
    /// Listen on this Unix socket (jupyter-server-proxy's `{unix_socket}`).
    #[arg(long, value_name = "PATH")]
    unix_socket: Option<PathBuf>,
    /// Listen on 127.0.0.1:PORT instead.
    #[arg(long)]
    port: Option<u16>,
}

pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let s3 = Arc::new(
        S3Stores::from_env(&Env::Process).with_upload_journal(crate::kernel::upload_journal()),
    );
    // Previews read a few rows; a small budget keeps the panel's memory
    // out of the kernel's way.
    let memory = MemoryBudget::detect(Some("256m"))?;
    let sql = SqlSession::new(
        Arc::clone(&s3),
        &SessionOptions {
            memory,
            target_partitions: Some(2),
            pod: None,
            spill: None,
            catalog: None,
        },
    )?;
    let state_s3 = Arc::clone(&s3);
    let mut state = quarry_server::AppState::new(s3, sql);
    if let Ok(raw) = std::env::var("QUARRY_UPLOAD_BUFFER") {
        let bytes = quarry_sql::parse_byte_size(&raw).with_context(|| {
            format!("QUARRY_UPLOAD_BUFFER='{raw}' is not a size: write e.g. 256m")
        })?;
        state = state.with_upload_buffer(bytes);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("could not start the server runtime")?;
    runtime.block_on(async {
        tokio::spawn(crate::kernel::reap_uploads(Arc::clone(&state_s3)));
        match (&args.unix_socket, args.port) {
            (Some(path), _) => quarry_server::serve_unix(path, state).await,
            (None, Some(port)) => quarry_server::serve_tcp(port, state).await,
            (None, None) => unreachable!("clap requires one"),
        }
    })?;
    Ok(())
}
