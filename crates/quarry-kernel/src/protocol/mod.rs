//! The Jupyter wire protocol, one module per socket.
//!
//! Shell requests are handled one at a time, in order, as every Jupyter
//! client assumes. Control runs on its own task so that `interrupt_request`
//! and `shutdown_request` are answered while a cell is still running.

mod connection;
mod control;
mod handler;
mod heartbeat;
mod history;
mod iopub;
mod owner;
mod shell;
mod stdin;
mod wire;

use std::sync::Arc;

use anyhow::Context as _;
use jupyter_zmq_client as zmq;

pub use connection::ConnectionFile;
pub use handler::{ExecuteError, Handler, Outputs};
pub use iopub::Iopub;
pub use owner::Owner;

/// Binds every socket described by `connection`, then serves requests until
/// a `shutdown_request` arrives (which exits the process) or `owner`, the
/// process that started the kernel, dies (the handler is shut down and this
/// returns).
pub async fn run_kernel(
    connection: ConnectionFile,
    handler: Arc<dyn Handler>,
    owner: Option<Owner>,
) -> anyhow::Result<()> {
    let info = connection.info;
    let session_id = uuid::Uuid::new_v4().to_string();
    let bind = |what: &'static str| format!("could not bind the {what} socket on {}", info.ip);

    let iopub = zmq::create_kernel_iopub_xpub_connection(&info, &session_id)
        .await
        .with_context(|| bind("iopub"))?;
    let shell = zmq::create_kernel_shell_connection(&info, &session_id)
        .await
        .with_context(|| bind("shell"))?;
    let control = zmq::create_kernel_control_connection(&info, &session_id)
        .await
        .with_context(|| bind("control"))?;
    let stdin = zmq::create_kernel_stdin_connection(&info, &session_id)
        .await
        .with_context(|| bind("stdin"))?;
    let heartbeat = zmq::create_kernel_heartbeat_connection(&info)
        .await
        .with_context(|| bind("heartbeat"))?;
    tracing::info!(ip = %info.ip, shell = info.shell_port, "kernel sockets bound");

    let iopub = Iopub::spawn(iopub);
    tokio::spawn(heartbeat::serve(heartbeat));
    tokio::spawn(stdin::serve(stdin));
    tokio::spawn(control::serve(control, Arc::clone(&handler), iopub.clone()));
    tokio::spawn(interrupt_on_sigint(Arc::clone(&handler)));
    let owner_gone = async {
        match owner {
            Some(owner) => owner.gone().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = shell::serve(shell, Arc::clone(&handler), iopub) => {}
        () = owner_gone => {
            // Nobody is left to send shutdown_request: release what the
            // kernel holds (the Spark JVM above all) and leave.
            tracing::warn!(
                pid = owner.map(|o| o.pid()),
                "the process that started this kernel is gone; shutting down"
            );
            handler.shutdown(false).await;
        }
    }
    Ok(())
}

/// With `interrupt_mode: message` clients interrupt over the control channel,
/// but a terminal user (or an older client) may still send SIGINT; treat it
/// the same way instead of dying.
async fn interrupt_on_sigint(handler: Arc<dyn Handler>) {
    loop {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        tracing::info!("SIGINT received: interrupting the running cell");
        handler.interrupt();
    }
}
