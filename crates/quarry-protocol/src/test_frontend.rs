//! A test frontend: real ZeroMQ sockets to a kernel that [`run_kernel`]
//! serves in the same process, around any [`Handler`] — as amalthea's
//! `DummyFrontend` does for ark. This crate's tests drive it with a stub
//! handler; `quarry-kernel`'s drive Quarry's own cells with it.
//!
//! Always compiled, not behind a feature: a feature only tests turn on
//! would give the test build its own copy of this crate and every crate
//! above it (see `crates/README.md`, "Packaging"). It is small and links
//! nothing the kernel does not already link.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use jupyter_protocol::{ConnectionInfo, JupyterMessage, JupyterMessageContent, Transport};
use jupyter_zmq_client as zmq;
use tokio::task::JoinHandle;

use crate::{BindError, ConnectionFile, Handler, KernelExit, run_kernel};

/// The HMAC key the test kernel signs with.
pub const KEY: &str = "a-test-key";
/// How long a test waits for any one message.
pub const WAIT: Duration = Duration::from_secs(10);

/// The kernel under test and a client connected to each of its sockets.
pub struct Frontend<H> {
    /// The kernel's connection file, as a frontend would read it.
    pub info: ConnectionInfo,
    /// The shell socket (requests and their replies).
    pub shell: zmq::ClientShellConnection,
    /// The control socket (interrupt, shutdown).
    pub control: zmq::ClientControlConnection,
    /// The IOPub subscription (status, outputs, comm messages).
    pub iopub: zmq::ClientIoPubConnection,
    /// The kernel's task: it ends with [`run_kernel`]'s result.
    pub kernel: JoinHandle<Result<KernelExit, BindError>>,
    /// The handler the kernel drives, for the test to look into.
    pub handler: Arc<H>,
    /// This frontend's session id.
    pub session: String,
}

impl<H: Handler + Default + 'static> Frontend<H> {
    /// [`Frontend::start_with`] a default handler.
    pub async fn start() -> Frontend<H> {
        Frontend::start_with(Arc::new(H::default())).await
    }
}

impl<H: Handler + 'static> Frontend<H> {
    /// Serves `handler` on free loopback ports in this process and
    /// connects to it.
    pub async fn start_with(handler: Arc<H>) -> Frontend<H> {
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

    /// Sends `content` on control; returns the request.
    pub async fn control_request(
        &mut self,
        content: impl Into<JupyterMessageContent>,
    ) -> JupyterMessage {
        let request = JupyterMessage::new(content, None).with_session(&self.session);
        self.control.send(request.clone()).await.unwrap();
        request
    }

    /// The next shell reply, within [`WAIT`].
    pub async fn shell_reply(&mut self) -> JupyterMessage {
        tokio::time::timeout(WAIT, self.shell.read())
            .await
            .expect("a shell reply")
            .unwrap()
    }

    /// The next control reply, within [`WAIT`].
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
