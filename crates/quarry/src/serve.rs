//! `quarry serve`: the S3 panel backend.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;

use crate::config::{Environment, variables as var};
use clap::Args;
use quarry_s3::S3Stores;
use quarry_sql::{SqlSession, engine::MemoryBudget, engine::SessionOptions};

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

pub fn run(env: &Environment, args: &ServeArgs) -> anyhow::Result<()> {
    let s3 = Arc::new(
        S3Stores::from_env(&env.s3()).with_upload_journal(crate::kernel::upload_journal(env)),
    );
    // Previews read a few rows; a small budget keeps the panel's memory
    // out of the kernel's way.
    let memory = MemoryBudget::of(256 << 20);
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
    let mut state =
        quarry_server::AppState::new(s3, sql).with_hub_user(env.text(var::JUPYTERHUB_USER));
    if let Some(bytes) = env.size(var::QUARRY_UPLOAD_BUFFER)? {
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
