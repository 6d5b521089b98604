//! The Jupyter wire protocol, one module per socket, for Quarry's kernel.
//!
//! ```text
//!  client ─tcp─▶ guard (frame sizes) ─unix─▶ zeromq sockets:
//!  client ──shell────▶ shell::serve ──▶ Handler::execute/complete/inspect/…
//!         ──control──▶ control::serve ─▶ Handler::interrupt / shutdown
//!         ◀─iopub───── Iopub (status, execute_input, outputs), one task
//!         ──hb/stdin─▶ heartbeat::serve, stdin::serve
//!  owner (JPY_PARENT_PID) gone ──▶ Handler::shutdown, run_kernel returns
//! ```
//!
//! Shell requests are handled one at a time, in order, as every Jupyter
//! client assumes. Control runs on its own task so that `interrupt_request`
//! and `shutdown_request` are answered while a cell is still running.
//! Every request is read by [`wire`] (signature first, then content), so a
//! well-signed request this crate cannot parse still gets an error reply.
//! Before that, [`guard`] stands on the connection file's TCP ports and
//! disconnects a client whose frame or message passes the maximum message
//! size, because zeromq would reserve memory for whatever a frame announces.
//!
//! This crate knows nothing about SQL: a kernel implements [`Handler`] and
//! calls [`run_kernel`], which returns when the kernel should exit; the
//! binary decides how the process ends. Message types follow the
//! [messaging spec](https://jupyter-client.readthedocs.io/en/latest/messaging.html),
//! version 5.4.

#![warn(missing_docs)]

mod comm;
mod connection;
mod control;
mod guard;
mod handler;
mod heartbeat;
mod history;
mod iopub;
mod owner;
mod replay;
mod shell;
mod stdin;
pub mod test_frontend;
mod wire;

use std::sync::Arc;

use jupyter_zmq_client as zmq;

pub use comm::Comm;
pub use connection::{ConnectionFile, ConnectionFileError, DEFAULT_MAX_MESSAGE_BYTES, KeyPolicy};
pub use guard::GuardError;
pub use handler::{ExecuteError, Handler, Outputs};
pub use iopub::Iopub;
pub use owner::Owner;

/// Why the kernel ended: [`run_kernel`]'s answer, for the binary to turn
/// into an exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelExit {
    /// A client sent `shutdown_request` (replied to; the handler has shut
    /// down). With `restart`, the client starts a new kernel itself.
    ShutdownRequested {
        /// What the client asked for.
        restart: bool,
    },
    /// The process that started the kernel died; the handler has shut down.
    OwnerGone,
}

/// Why the kernel could not start.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// zeromq could not bind one of its sockets.
    #[error("could not bind the {socket} socket on {ip}")]
    Socket {
        /// Which socket.
        socket: &'static str,
        /// Where it was bound.
        ip: String,
        /// What the transport said.
        #[source]
        source: zmq::RuntimeError,
    },
    /// The guard could not listen on the connection file's ports.
    #[error(transparent)]
    Guard(#[from] GuardError),
}

/// Waits until the process that started the kernel is gone (forever when
/// none is followed), then releases what the kernel holds (the Spark JVM
/// above all): nobody is left to send `shutdown_request`.
async fn owner_gone(owner: Option<Owner>, handler: &Arc<dyn Handler>) {
    let Some(owner) = owner else {
        return std::future::pending().await;
    };
    owner.gone().await;
    tracing::warn!(
        pid = owner.pid(),
        "the process that started this kernel is gone; shutting down"
    );
    handler.shutdown(false).await;
}

/// Binds every socket described by `connection`, then serves requests until
/// a `shutdown_request` arrives or `owner`, the process that started the
/// kernel, dies. Either way the handler has released its resources when
/// this returns.
pub async fn run_kernel(
    connection: ConnectionFile,
    handler: Arc<dyn Handler>,
    owner: Option<Owner>,
) -> Result<KernelExit, BindError> {
    let (
        Sockets {
            iopub,
            shell,
            control,
            stdin,
            heartbeat,
        },
        _guard,
    ) = bind_sockets(&connection).await?;
    let iopub = Iopub::spawn(iopub);
    let (shutdown_tx, mut shutdown_rx) = tokio::sync::mpsc::channel(1);
    // One history for shell and control: a message replayed on the other
    // socket is a replay too.
    let history = Arc::new(replay::SignatureHistory::default());
    // Open comms, closed at shutdown whichever socket asks for it.
    let comms = comm::OpenComms::default();
    let tasks = [
        tokio::spawn(heartbeat::serve(heartbeat)),
        tokio::spawn(stdin::serve(stdin)),
        tokio::spawn(control::serve(
            control,
            Arc::clone(&handler),
            iopub.clone(),
            comms.clone(),
            shutdown_tx.clone(),
            Arc::clone(&history),
        )),
        tokio::spawn(interrupt_on_sigint(Arc::clone(&handler))),
        tokio::spawn(shell::serve(
            shell,
            Arc::clone(&handler),
            iopub,
            comms,
            shutdown_tx.clone(),
            history,
        )),
    ];
    let exit = tokio::select! {
        Some(restart) = shutdown_rx.recv() => KernelExit::ShutdownRequested { restart },
        () = owner_gone(owner, &handler) => KernelExit::OwnerGone,
    };
    for task in tasks {
        task.abort();
    }
    Ok(exit)
}

/// The kernel's zeromq sockets.
struct Sockets {
    iopub: zmq::KernelIoPubXPubConnection,
    shell: zmq::KernelShellConnection,
    control: zmq::KernelControlConnection,
    stdin: zmq::KernelStdinConnection,
    heartbeat: zmq::KernelHeartbeatConnection,
}

/// Binds zeromq behind the guard, then lets the guard listen on the
/// connection file's ports; the guard lives as long as the returned value.
async fn bind_sockets(
    connection: &ConnectionFile,
) -> Result<(Sockets, guard::WireGuard), BindError> {
    let (info, private_dir) = guard::inner_endpoints(&connection.info)?;
    let session_id = uuid::Uuid::new_v4().to_string();
    let bind = |socket: &'static str| {
        let ip = info.ip.clone();
        move |source| BindError::Socket { socket, ip, source }
    };
    let sockets = Sockets {
        iopub: zmq::create_kernel_iopub_xpub_connection(&info, &session_id)
            .await
            .map_err(bind("iopub"))?,
        shell: zmq::create_kernel_shell_connection(&info, &session_id)
            .await
            .map_err(bind("shell"))?,
        control: zmq::create_kernel_control_connection(&info, &session_id)
            .await
            .map_err(bind("control"))?,
        stdin: zmq::create_kernel_stdin_connection(&info, &session_id)
            .await
            .map_err(bind("stdin"))?,
        heartbeat: zmq::create_kernel_heartbeat_connection(&info)
            .await
            .map_err(bind("heartbeat"))?,
    };
    // zeromq is bound: only now may clients reach it.
    let guard = guard::start(
        &connection.info,
        &info,
        private_dir,
        connection.max_message_bytes,
    )
    .await?;
    tracing::info!(
        ip = %connection.info.ip,
        shell = connection.info.shell_port,
        max_message_bytes = connection.max_message_bytes,
        "kernel sockets bound"
    );
    Ok((sockets, guard))
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
