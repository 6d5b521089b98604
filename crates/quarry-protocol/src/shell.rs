//! The shell socket: requests handled one at a time, in arrival order.

use std::sync::Arc;

use jupyter_protocol::{
    CommInfoReply, CommOpen, ErrorOutput, ExecuteInput, ExecuteReply, ExecuteRequest,
    ExecutionCount, HistoryReply, JupyterMessage, JupyterMessageContent, ReplyError, ReplyStatus,
};
use jupyter_zmq_client::KernelShellConnection;

use super::comm::OpenComms;
use super::control::{answer_shutdown, answer_unknown};
use super::history::History;
use super::wire::{self, Incoming};
use super::{Comm, Handler, Iopub, Outputs};
use crate::replay::SignatureHistory;
use serde_json::Value;

struct Shell {
    socket: KernelShellConnection,
    handler: Arc<dyn Handler>,
    iopub: Iopub,
    execution_count: usize,
    history: History,
    comms: OpenComms,
}

/// The next readable request; an unreadable one is answered with an error
/// reply, and a forged or truncated one dropped before anything could act
/// on it (`None` for both).
async fn next_request(
    socket: &mut KernelShellConnection,
    history: &SignatureHistory,
) -> Option<JupyterMessage> {
    match wire::read(socket, history).await {
        Ok(Incoming::Message(request)) => Some(*request),
        Ok(Incoming::Unanswerable { reply, reason }) => {
            tracing::warn!("answering an unreadable shell request with an error: {reason}");
            if let Err(e) = socket.send(*reply).await {
                tracing::warn!("could not send error reply: {e}");
            }
            None
        }
        Err(e) => {
            tracing::warn!("dropped a shell message: {e}");
            None
        }
    }
}

/// Serves shell requests until a shutdown was answered, then tells
/// `run_kernel` through `shutdown` (with the `restart` flag).
pub(super) async fn serve(
    socket: KernelShellConnection,
    handler: Arc<dyn Handler>,
    iopub: Iopub,
    comms: OpenComms,
    shutdown: tokio::sync::mpsc::Sender<bool>,
    history: Arc<SignatureHistory>,
) {
    let mut shell = Shell {
        socket,
        handler,
        iopub,
        execution_count: 0,
        history: History::default(),
        comms,
    };
    loop {
        let Some(request) = next_request(&mut shell.socket, &history).await else {
            continue;
        };
        shell.iopub.busy(&request);
        if let JupyterMessageContent::ShutdownRequest(r) = &request.content {
            answer_shutdown(
                &mut shell.socket,
                &shell.handler,
                &shell.iopub,
                &shell.comms,
                &request,
                r,
            )
            .await;
            let _ = shutdown.send(r.restart).await;
            return;
        }
        let reply = shell.dispatch(&request).await;
        if let Some(reply) = reply {
            // Outputs go out before the reply, so clients that stop reading
            // IOPub at the reply still see them.
            shell.iopub.flush().await;
            let message = JupyterMessage::new(reply, Some(&request));
            // A vanished client must not end the shell loop: the next one
            // (say, after a browser reload) needs it.
            if let Err(e) = shell.socket.send(message).await {
                tracing::warn!("could not send {} reply: {e}", request.message_type());
            }
        }
        shell.iopub.idle(&request);
    }
}

impl Shell {
    /// Opens a comm the handler serves; any other is closed at once (with
    /// the reason), so the frontend is never left waiting.
    async fn comm_open(&mut self, request: &JupyterMessage, open: &CommOpen) {
        let id = open.comm_id.0.clone();
        let comm = Comm::new(
            &id,
            &open.target_name,
            self.iopub.clone(),
            request.clone(),
            self.comms.clone(),
        );
        let refused = if self.handler.comm_targets().contains(&open.target_name) {
            self.comms.insert(&id, &open.target_name);
            let opened = self
                .handler
                .comm_open(&comm, &Value::Object(open.data.clone()))
                .await;
            opened.err()
        } else {
            Some(format!("Quarry has no comm target '{}'.", open.target_name))
        };
        if let Some(reason) = refused {
            tracing::debug!(target = %open.target_name, "closing comm_open: {reason}");
            self.comms.insert(&id, &open.target_name);
            comm.close(serde_json::json!({"error": reason}));
        }
    }

    /// The open comm `id`, parented to `request`.
    fn comm(&self, request: &JupyterMessage, id: &str) -> Option<Comm> {
        let target = self.comms.target(id)?;
        Some(Comm::new(
            id,
            &target,
            self.iopub.clone(),
            request.clone(),
            self.comms.clone(),
        ))
    }

    async fn dispatch(&mut self, request: &JupyterMessage) -> Option<JupyterMessageContent> {
        use JupyterMessageContent as C;
        Some(match &request.content {
            C::KernelInfoRequest(_) => self.handler.kernel_info().into(),
            C::ExecuteRequest(execute) => self.execute(request, execute).await.into(),
            C::CompleteRequest(r) => self.handler.complete(&r.code, r.cursor_pos).await.into(),
            C::InspectRequest(r) => self
                .handler
                .inspect(&r.code, r.cursor_pos, r.detail_level.unwrap_or(0))
                .await
                .into(),
            C::IsCompleteRequest(r) => self.handler.is_complete(&r.code).into(),
            C::HistoryRequest(r) => HistoryReply::new(self.history.answer(r)).into(),
            C::CommInfoRequest(r) => CommInfoReply {
                status: ReplyStatus::Ok,
                comms: self.comms.info(r.target_name.as_deref()),
                error: None,
            }
            .into(),
            C::CommOpen(open) => {
                self.comm_open(request, open).await;
                return None;
            }
            C::CommMsg(message) => {
                if let Some(comm) = self.comm(request, &message.comm_id.0) {
                    self.handler
                        .comm_msg(&comm, &Value::Object(message.data.clone()))
                        .await;
                } else {
                    tracing::debug!(comm = %message.comm_id.0, "comm_msg for a comm that is not open");
                }
                return None;
            }
            C::CommClose(close) => {
                if let Some(comm) = self.comm(request, &close.comm_id.0) {
                    self.comms.remove(comm.id());
                    self.handler
                        .comm_close(&comm, &Value::Object(close.data.clone()))
                        .await;
                }
                return None;
            }
            C::UnknownMessage(unknown) => return answer_unknown(unknown),
            other => {
                tracing::warn!(
                    msg_type = other.message_type(),
                    "unexpected message on shell"
                );
                return None;
            }
        })
    }

    async fn execute(
        &mut self,
        request: &JupyterMessage,
        execute: &ExecuteRequest,
    ) -> ExecuteReply {
        // As in IPython: silent requests never touch the counter or history.
        let store_history = execute.store_history && !execute.silent;
        if store_history {
            self.execution_count += 1;
        }
        let count = ExecutionCount::new(self.execution_count);
        if !execute.silent {
            self.iopub.send(
                ExecuteInput {
                    code: execute.code.clone(),
                    execution_count: count,
                },
                request,
            );
        }
        let outputs = Outputs::new(self.iopub.clone(), request.clone(), count, execute.silent);
        let outcome = self.handler.execute(&execute.code, &outputs).await;
        if store_history {
            self.history.record(
                self.execution_count,
                &execute.code,
                outputs.take_result_text(),
            );
        }
        let mut reply = ExecuteReply {
            status: ReplyStatus::Ok,
            execution_count: count,
            payload: Vec::new(),
            // `None` would serialise as null, which the message schema rejects.
            user_expressions: Some(Default::default()),
            error: None,
        };
        if let Err(error) = outcome {
            if !execute.silent {
                self.iopub.send(
                    ErrorOutput {
                        ename: error.ename.clone(),
                        evalue: error.evalue.clone(),
                        traceback: error.traceback.clone(),
                    },
                    request,
                );
            }
            reply.status = ReplyStatus::Error;
            reply.error = Some(Box::new(ReplyError {
                ename: error.ename,
                evalue: error.evalue,
                traceback: error.traceback,
            }));
        }
        reply
    }
}
