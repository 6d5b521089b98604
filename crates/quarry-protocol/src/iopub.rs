//! The IOPub publisher.
//!
//! One task owns the XPUB socket: it publishes what the rest of the kernel
//! queues and, per JEP 65, greets each new subscriber with `iopub_welcome`
//! (clients wait for it instead of guessing when IOPub is connected). The
//! socket must also be read continuously: zeromq only records a
//! subscription when the subscribe frame is received.

use bytes::Bytes;
use jupyter_protocol::{IoPubWelcome, JupyterMessage, JupyterMessageContent, Status};
use jupyter_zmq_client::{KernelIoPubXPubConnection, SubscriptionEvent};
use tokio::sync::{mpsc, oneshot};

enum Command {
    Publish(Box<JupyterMessage>),
    /// Answered once everything queued before it has been written.
    Flush(oneshot::Sender<()>),
}

/// A cheap, cloneable handle for publishing on IOPub.
#[derive(Clone)]
pub struct Iopub {
    queue: mpsc::UnboundedSender<Command>,
}

impl Iopub {
    pub(super) fn spawn(connection: KernelIoPubXPubConnection) -> Self {
        let (queue, commands) = mpsc::unbounded_channel();
        tokio::spawn(run(connection, commands));
        Iopub { queue }
    }

    /// Publishes `content` as a child of `parent`.
    pub fn send(&self, content: impl Into<JupyterMessageContent>, parent: &JupyterMessage) {
        let content = content.into();
        let mut message = JupyterMessage::new(content, Some(parent));
        // IOPub's first frame is a topic, not the requester's routing id.
        let topic = format!("kernel.{}", message.message_type());
        message.zmq_identities = vec![Bytes::from(topic)];
        let _ = self.queue.send(Command::Publish(Box::new(message)));
    }

    /// Announces that the kernel is working on `parent`.
    pub fn busy(&self, parent: &JupyterMessage) {
        self.send(Status::busy(), parent);
    }

    /// Announces that the kernel finished `parent`.
    pub fn idle(&self, parent: &JupyterMessage) {
        self.send(Status::idle(), parent);
    }

    /// Waits until every message queued so far has been handed to the socket.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.queue.send(Command::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

async fn run(
    mut socket: KernelIoPubXPubConnection,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    loop {
        tokio::select! {
            biased;
            command = commands.recv() => match command {
                Some(Command::Publish(message)) => {
                    if let Err(e) = socket.send(*message).await {
                        tracing::warn!("iopub publish failed: {e}");
                    }
                }
                Some(Command::Flush(done)) => {
                    let _ = done.send(());
                }
                None => return,
            },
            event = socket.recv_subscription() => match event {
                Ok(SubscriptionEvent::Subscribe(topic)) => {
                    tracing::debug!(%topic, "iopub subscriber joined");
                    let mut welcome: JupyterMessage =
                        JupyterMessageContent::IoPubWelcome(IoPubWelcome::new(topic.clone())).into();
                    welcome.zmq_identities = vec![Bytes::from(topic)];
                    if let Err(e) = socket.send(welcome).await {
                        tracing::warn!("iopub_welcome failed: {e}");
                    }
                }
                Ok(SubscriptionEvent::Unsubscribe(_)) => {}
                Err(e) => tracing::debug!("iopub subscription frame ignored: {e}"),
            },
        }
    }
}
