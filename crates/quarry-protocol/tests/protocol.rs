//! The protocol layer over real sockets, with a stub handler: message
//! order, errors, malformed and unsigned requests, interrupt and shutdown.

mod frontend;

use std::sync::atomic::Ordering;
use std::time::Duration;

use frontend::{Frontend, kinds};
use jupyter_protocol::{
    ExecuteRequest, InterruptRequest, JupyterMessage, JupyterMessageContent, KernelInfoRequest,
    ReplyStatus, ShutdownRequest, UnknownMessage,
};
use quarry_protocol::KernelExit;
use serde_json::json;

fn execute(code: &str) -> ExecuteRequest {
    ExecuteRequest::new(code.to_string())
}

#[tokio::test]
async fn a_cell_publishes_busy_input_outputs_and_idle_around_its_reply() {
    let mut f = Frontend::start().await;
    let request = f.shell_request(execute("SELECT 1")).await;
    let reply = f.shell_reply().await;
    let JupyterMessageContent::ExecuteReply(reply) = &reply.content else {
        panic!("expected execute_reply, got {:?}", reply.content);
    };
    assert_eq!(reply.status, ReplyStatus::Ok);
    assert_eq!(reply.execution_count.value(), 1);
    let published = f.iopub_until_idle(&request).await;
    assert_eq!(
        kinds(&published),
        [
            "status:busy",
            "execute_input",
            "stream",
            "execute_result",
            "status:idle"
        ]
    );
}

#[tokio::test]
async fn a_failed_cell_is_an_error_message_and_an_error_reply() {
    let mut f = Frontend::start().await;
    let request = f.shell_request(execute("fail")).await;
    let reply = f.shell_reply().await;
    let JupyterMessageContent::ExecuteReply(reply) = &reply.content else {
        panic!("expected execute_reply");
    };
    assert_eq!(reply.status, ReplyStatus::Error);
    assert_eq!(reply.error.as_ref().unwrap().ename, "StubError");
    let published = f.iopub_until_idle(&request).await;
    assert_eq!(
        kinds(&published),
        ["status:busy", "execute_input", "error", "status:idle"]
    );
}

#[tokio::test]
async fn a_malformed_request_is_answered_and_not_run() {
    let mut f = Frontend::start().await;
    // Well signed, but `code` is not a string.
    f.shell_request(UnknownMessage {
        msg_type: "execute_request".into(),
        content: json!({"code": 5, "silent": false}),
    })
    .await;
    let reply = f.shell_reply().await;
    assert_eq!(reply.header.msg_type, "execute_reply");
    let content = serde_json::to_value(&reply.content).unwrap();
    assert_eq!(content["status"], "error");
    assert_eq!(content["ename"], "MalformedRequest");
    assert_eq!(f.handler.executed.load(Ordering::SeqCst), 0);
    // The kernel still serves the next request.
    f.shell_request(KernelInfoRequest {}).await;
    assert_eq!(f.shell_reply().await.header.msg_type, "kernel_info_reply");
}

#[tokio::test]
async fn a_request_signed_with_another_key_is_never_run() {
    let mut f = Frontend::start().await;
    let mut forger = jupyter_zmq_client::create_client_shell_connection_with_identity(
        &jupyter_protocol::ConnectionInfo {
            key: "not-the-key".into(),
            ..f.info.clone()
        },
        &f.session,
        jupyter_zmq_client::peer_identity_for_session("forger").unwrap(),
    )
    .await
    .unwrap();
    forger
        .send(JupyterMessage::new(execute("forged"), None))
        .await
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_millis(800), forger.read()).await;
    assert!(answer.is_err(), "a forged request was answered: {answer:?}");
    assert_eq!(f.handler.executed.load(Ordering::SeqCst), 0);
    // Genuine requests still work.
    f.shell_request(execute("real")).await;
    f.shell_reply().await;
    assert_eq!(f.handler.executed.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_unknown_request_gets_an_error_reply() {
    let mut f = Frontend::start().await;
    f.shell_request(UnknownMessage {
        msg_type: "frobnicate_request".into(),
        content: json!({}),
    })
    .await;
    let reply = f.shell_reply().await;
    assert_eq!(reply.header.msg_type, "frobnicate_reply");
    assert_eq!(
        serde_json::to_value(&reply.content).unwrap()["ename"],
        "NotImplemented"
    );
}

#[tokio::test]
async fn interrupt_on_control_stops_the_running_cell() {
    let mut f = Frontend::start().await;
    f.shell_request(execute("wait")).await;
    while f.handler.executed.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Control is answered while shell is busy with the cell.
    f.control_request(InterruptRequest {}).await;
    assert_eq!(f.control_reply().await.header.msg_type, "interrupt_reply");
    let reply = f.shell_reply().await;
    let JupyterMessageContent::ExecuteReply(reply) = &reply.content else {
        panic!("expected execute_reply");
    };
    assert_eq!(reply.error.as_ref().unwrap().ename, "Interrupted");
}

#[tokio::test]
async fn shutdown_is_replied_then_run_kernel_returns() {
    let mut f = Frontend::start().await;
    let request = f.control_request(ShutdownRequest { restart: true }).await;
    let reply = f.control_reply().await;
    assert_eq!(reply.header.msg_type, "shutdown_reply");
    assert_eq!(
        reply.parent_header.as_ref().unwrap().msg_id,
        request.header.msg_id
    );
    let exit = tokio::time::timeout(frontend::WAIT, f.kernel)
        .await
        .expect("run_kernel returns after a shutdown")
        .unwrap()
        .unwrap();
    assert_eq!(exit, KernelExit::ShutdownRequested { restart: true });
    assert_eq!(*f.handler.shutdowns.lock().unwrap(), [true]);
}

#[tokio::test]
async fn a_replayed_request_is_not_run_twice() {
    let mut f = Frontend::start().await;
    let request = f.shell_request(execute("once")).await;
    f.shell_reply().await;
    // The very same signed frames again, as someone who saw them could send.
    f.shell.send(request.clone()).await.unwrap();
    let again = tokio::time::timeout(Duration::from_millis(800), f.shell.read()).await;
    assert!(again.is_err(), "a replay was answered: {again:?}");
    assert_eq!(f.handler.executed.load(Ordering::SeqCst), 1);
    // A new message with the same code is not a replay.
    f.shell_request(execute("once")).await;
    f.shell_reply().await;
    assert_eq!(f.handler.executed.load(Ordering::SeqCst), 2);
}
