//! The control socket: interrupt and shutdown, answered even while a cell
//! runs on the shell task.

use std::sync::Arc;

use jupyter_protocol::{
    InterruptReply, JupyterMessage, JupyterMessageContent, ReplyStatus, ShutdownReply,
    ShutdownRequest, UnknownMessage,
};
use jupyter_zmq_client::{Connection, KernelControlConnection};
use serde_json::json;

use super::comm::OpenComms;
use super::wire::{self, Incoming};
use super::{Handler, Iopub};
use crate::replay::SignatureHistory;

/// Serves control requests until a shutdown was answered, then tells
/// `run_kernel` through `shutdown` (with the `restart` flag).
pub(super) async fn serve(
    mut socket: KernelControlConnection,
    handler: Arc<dyn Handler>,
    iopub: Iopub,
    comms: OpenComms,
    shutdown: tokio::sync::mpsc::Sender<bool>,
    history: Arc<SignatureHistory>,
) {
    loop {
        let request = match wire::read(&mut socket, &history).await {
            Ok(Incoming::Message(request)) => *request,
            Ok(Incoming::Unanswerable { reply, reason }) => {
                tracing::warn!("answering an unreadable control request with an error: {reason}");
                if let Err(e) = socket.send(*reply).await {
                    tracing::warn!("could not send error reply: {e}");
                }
                continue;
            }
            Err(e) => {
                tracing::warn!("dropped a control message: {e}");
                continue;
            }
        };
        iopub.busy(&request);
        use JupyterMessageContent as C;
        let reply: Option<JupyterMessageContent> = match &request.content {
            C::InterruptRequest(_) => {
                handler.interrupt();
                Some(InterruptReply::new().into())
            }
            C::ShutdownRequest(r) => {
                answer_shutdown(&mut socket, &handler, &iopub, &comms, &request, r).await;
                let _ = shutdown.send(r.restart).await;
                return;
            }
            C::KernelInfoRequest(_) => Some(handler.kernel_info().into()),
            C::UnknownMessage(unknown) => answer_unknown(unknown),
            other => {
                tracing::warn!(
                    msg_type = other.message_type(),
                    "unexpected message on control"
                );
                None
            }
        };
        if let Some(reply) = reply
            && let Err(e) = socket
                .send(JupyterMessage::new(reply, Some(&request)))
                .await
        {
            tracing::warn!("could not send {} reply: {e}", request.message_type());
        }
        iopub.idle(&request);
    }
}

/// Replies to a shutdown request, then lets the handler release its
/// resources.
///
/// The reply goes out (and to IOPub, as protocol 5.4 asks) before anything
/// slow happens, so the caller can end the process right after this
/// returns and a restart never waits for jupyter_client's 5 s escalation
/// to SIGKILL.
pub(super) async fn answer_shutdown<S: zeromq::SocketSend>(
    socket: &mut Connection<S>,
    handler: &Arc<dyn Handler>,
    iopub: &Iopub,
    comms: &OpenComms,
    request: &JupyterMessage,
    shutdown: &ShutdownRequest,
) {
    // Every open comm is closed first, so widgets know before the kernel goes.
    for id in comms.drain() {
        iopub.send(
            jupyter_protocol::CommClose {
                comm_id: jupyter_protocol::CommId(id),
                data: Default::default(),
            },
            request,
        );
    }
    let reply = ShutdownReply {
        restart: shutdown.restart,
        status: ReplyStatus::Ok,
        error: None,
    };
    iopub.send(reply.clone(), request);
    iopub.idle(request);
    if let Err(e) = socket
        .send(JupyterMessage::new(reply.clone(), Some(request)))
        .await
    {
        tracing::warn!("could not send shutdown_reply: {e}");
    }
    iopub.flush().await;
    tracing::info!(restart = shutdown.restart, "shutting down");
    handler.shutdown(shutdown.restart).await;
    // Give the sockets a moment to put the last frames on the wire.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
}

/// Requests this kernel does not implement still get a reply, so clients
/// never wait forever.
pub(super) fn answer_unknown(unknown: &UnknownMessage) -> Option<JupyterMessageContent> {
    if !unknown.msg_type.ends_with("_request") {
        tracing::debug!(msg_type = %unknown.msg_type, "ignoring message");
        return None;
    }
    tracing::info!(msg_type = %unknown.msg_type, "answering unsupported request with an error");
    Some(unknown.reply(json!({
        "status": "error",
        "ename": "NotImplemented",
        "evalue": format!("Quarry does not support {}.", unknown.msg_type),
        "traceback": [],
    })))
}
