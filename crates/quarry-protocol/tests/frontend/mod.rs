//! A test frontend: real ZeroMQ sockets to a kernel served by `run_kernel`
//! in this process, around a stub [`Handler`] (as amalthea's
//! `DummyFrontend` does for ark).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use jupyter_protocol::{
    CompleteReply, ConnectionInfo, InspectReply, IsCompleteReply, IsCompleteReplyStatus,
    JupyterMessage, JupyterMessageContent, KernelInfoReply, Media, MediaType, Transport,
};
use jupyter_zmq_client as zmq;
use quarry_protocol::{
    BindError, ConnectionFile, ExecuteError, Handler, KernelExit, Outputs, run_kernel,
};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub const KEY: &str = "a-test-key";
pub const WAIT: Duration = Duration::from_secs(10);

/// A handler whose cells are commands: `wait` runs until interrupted,
/// `fail` fails, anything else prints and returns a value.
#[derive(Default)]
pub struct Stub {
    pub executed: AtomicUsize,
    pub interrupted: Notify,
    pub shutdowns: std::sync::Mutex<Vec<bool>>,
}

#[async_trait]
impl Handler for Stub {
    fn kernel_info(&self) -> KernelInfoReply {
        serde_json::from_value(serde_json::json!({
            "status": "ok", "protocol_version": "5.4", "implementation": "stub",
            "implementation_version": "0", "banner": "stub",
            "language_info": {"name": "stub", "version": "0", "mimetype": "text/plain", "file_extension": ".txt"},
            "help_links": [], "debugger": false,
        }))
        .expect("a valid kernel_info_reply")
    }

    async fn execute(&self, code: &str, outputs: &Outputs) -> Result<(), ExecuteError> {
        self.executed.fetch_add(1, Ordering::SeqCst);
        match code {
            "wait" => tokio::select! {
                () = self.interrupted.notified() => Err(ExecuteError::new("Interrupted", "stopped")),
                () = tokio::time::sleep(Duration::from_secs(60)) => Ok(()),
            },
            "fail" => Err(ExecuteError::new("StubError", "it failed")),
            other => {
                outputs.stdout(&format!("ran {other}\n"));
                outputs.result(Media::new(vec![MediaType::Plain("42".into())]));
                Ok(())
            }
        }
    }

    async fn complete(&self, _code: &str, cursor_pos: usize) -> CompleteReply {
        serde_json::from_value(serde_json::json!({
            "status": "ok", "matches": ["stub"], "cursor_start": cursor_pos,
            "cursor_end": cursor_pos, "metadata": {},
        }))
        .expect("a valid complete_reply")
    }

    async fn inspect(&self, _code: &str, _pos: usize, _detail: usize) -> InspectReply {
        serde_json::from_value(
            serde_json::json!({"status": "ok", "found": false, "data": {}, "metadata": {}}),
        )
        .expect("a valid inspect_reply")
    }

    fn is_complete(&self, _code: &str) -> IsCompleteReply {
        IsCompleteReply::new(IsCompleteReplyStatus::Complete, String::new())
    }

    fn interrupt(&self) {
        // A permit is kept if the cell has not started waiting yet.
        self.interrupted.notify_one();
    }

    async fn shutdown(&self, restart: bool) {
        self.shutdowns.lock().unwrap().push(restart);
    }
}

/// The kernel under test and a client connected to each of its sockets.
pub struct Frontend {
    pub info: ConnectionInfo,
    pub shell: zmq::ClientShellConnection,
    pub control: zmq::ClientControlConnection,
    pub iopub: zmq::ClientIoPubConnection,
    pub kernel: JoinHandle<Result<KernelExit, BindError>>,
    pub handler: Arc<Stub>,
    pub session: String,
}

impl Frontend {
    pub async fn start() -> Frontend {
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let (ports, listeners) = zmq::peek_ports_with_listeners(ip, 5).await.unwrap();
        let info = ConnectionInfo {
            ip: ip.to_string(),
            transport: Transport::TCP,
            shell_port: ports[0],
            iopub_port: ports[1],
            stdin_port: ports[2],
            control_port: ports[3],
            hb_port: ports[4],
            key: KEY.into(),
            signature_scheme: "hmac-sha256".into(),
            kernel_name: Some("stub".into()),
        };
        drop(listeners);
        let handler = Arc::new(Stub::default());
        let kernel = tokio::spawn(run_kernel(
            ConnectionFile::new(info.clone()),
            Arc::clone(&handler) as Arc<dyn Handler>,
            None,
        ));
        let session = uuid::Uuid::new_v4().to_string();
        let mut iopub = zmq::create_client_iopub_connection(&info, "", &session)
            .await
            .unwrap();
        let identity = zmq::peer_identity_for_session(&session).unwrap();
        let shell = zmq::create_client_shell_connection_with_identity(&info, &session, identity)
            .await
            .unwrap();
        let control = zmq::create_client_control_connection(&info, &session)
            .await
            .unwrap();
        zmq::wait_for_iopub_welcome(&mut iopub, WAIT).await.unwrap();
        Frontend {
            info,
            shell,
            control,
            iopub,
            kernel,
            handler,
            session,
        }
    }

    /// Sends `content` on shell; returns the request (for its msg_id).
    pub async fn shell_request(
        &mut self,
        content: impl Into<JupyterMessageContent>,
    ) -> JupyterMessage {
        let request = JupyterMessage::new(content, None).with_session(&self.session);
        self.shell.send(request.clone()).await.unwrap();
        request
    }

    pub async fn control_request(
        &mut self,
        content: impl Into<JupyterMessageContent>,
    ) -> JupyterMessage {
        let request = JupyterMessage::new(content, None).with_session(&self.session);
        self.control.send(request.clone()).await.unwrap();
        request
    }

    pub async fn shell_reply(&mut self) -> JupyterMessage {
        tokio::time::timeout(WAIT, self.shell.read())
            .await
            .expect("a shell reply")
            .unwrap()
    }

    pub async fn control_reply(&mut self) -> JupyterMessage {
        tokio::time::timeout(WAIT, self.control.read())
            .await
            .expect("a control reply")
            .unwrap()
    }

    /// IOPub messages parented to `request`, through its `idle` status.
    pub async fn iopub_until_idle(&mut self, request: &JupyterMessage) -> Vec<JupyterMessage> {
        let mut seen = Vec::new();
        loop {
            let message = tokio::time::timeout(WAIT, self.iopub.read())
                .await
                .expect("iopub messages up to idle")
                .unwrap();
            if message.parent_header.as_ref().map(|h| &h.msg_id) != Some(&request.header.msg_id) {
                continue;
            }
            let idle = matches!(&message.content, JupyterMessageContent::Status(s)
                if s.execution_state == jupyter_protocol::ExecutionState::Idle);
            seen.push(message);
            if idle {
                return seen;
            }
        }
    }
}

/// The message types of `messages`, with a status's state spelled out.
pub fn kinds(messages: &[JupyterMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|m| match &m.content {
            JupyterMessageContent::Status(s) => {
                format!("status:{:?}", s.execution_state).to_lowercase()
            }
            other => other.message_type().to_string(),
        })
        .collect()
}
