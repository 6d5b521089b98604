//! The shell socket: requests handled one at a time, in arrival order.

use std::sync::Arc;

use jupyter_protocol::{
    CommClose, CommInfoReply, ErrorOutput, ExecuteInput, ExecuteReply, ExecuteRequest,
    ExecutionCount, HistoryReply, JupyterMessage, JupyterMessageContent, ReplyError, ReplyStatus,
};
use jupyter_zmq_client::KernelShellConnection;

use super::control::{answer_shutdown, answer_unknown};
use super::history::History;
use super::wire::{self, Incoming};
use super::{Handler, Iopub, Outputs};
use crate::replay::SignatureHistory;

struct Shell {
    socket: KernelShellConnection,
    handler: Arc<dyn Handler>,
    iopub: Iopub,
    execution_count: usize,
    history: History,
}

/// Serves shell requests until a shutdown was answered, then tells
/// `run_kernel` through `shutdown` (with the `restart` flag).
pub(super) async fn serve(
    socket: KernelShellConnection,
    handler: Arc<dyn Handler>,
    iopub: Iopub,
    shutdown: tokio::sync::mpsc::Sender<bool>,
    history: Arc<SignatureHistory>,
) {
    let mut shell = Shell {
        socket,
        handler,
        iopub,
        execution_count: 0,
        history: History::default(),
    };
    loop {
        let request = match wire::read(&mut shell.socket, &history).await {
            Ok(Incoming::Message(request)) => *request,
            Ok(Incoming::Unanswerable { reply, reason }) => {
                tracing::warn!("answering an unreadable shell request with an error: {reason}");
                if let Err(e) = shell.socket.send(*reply).await {
                    tracing::warn!("could not send error reply: {e}");
                }
                continue;
            }
            // Bad signatures and truncated frames are dropped here, before
            // anything could act on them.
            Err(e) => {
                tracing::warn!("dropped a shell message: {e}");
                continue;
            }
        };
        shell.iopub.busy(&request);
        if let JupyterMessageContent::ShutdownRequest(r) = &request.content {
            answer_shutdown(&mut shell.socket, &shell.handler, &shell.iopub, &request, r).await;
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
            C::CommInfoRequest(_) => CommInfoReply {
                status: ReplyStatus::Ok,
                comms: Default::default(),
                error: None,
            }
            .into(),
            C::CommOpen(open) => {
                // No comm targets exist; closing tells the frontend at once
                // instead of leaving it waiting.
                tracing::debug!(target = %open.target_name, "rejecting comm_open");
                self.iopub.send(
                    CommClose {
                        comm_id: open.comm_id.clone(),
                        data: Default::default(),
                    },
                    request,
                );
                return None;
            }
            C::CommMsg(_) | C::CommClose(_) => return None,
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
