use jupyter_zmq_client::KernelStdinConnection;

/// Quarry never asks for input, but the socket must exist and be drained so
/// that stray replies do not pile up.
pub(super) async fn serve(mut stdin: KernelStdinConnection) {
    loop {
        match stdin.read().await {
            Ok(message) => {
                tracing::debug!(msg_type = message.message_type(), "ignoring stdin message")
            }
            Err(e) => tracing::warn!("dropped a stdin message: {e}"),
        }
    }
}
