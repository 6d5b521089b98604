use jupyter_zmq_client::KernelHeartbeatConnection;
use zeromq::{SocketRecv as _, SocketSend as _};

/// Echoes every heartbeat ping back unchanged, as the protocol asks.
pub(super) async fn serve(mut heartbeat: KernelHeartbeatConnection) {
    loop {
        let ping = match heartbeat.socket.recv().await {
            Ok(ping) => ping,
            Err(e) => {
                tracing::debug!("heartbeat receive failed: {e}");
                continue;
            }
        };
        if let Err(e) = heartbeat.socket.send(ping).await {
            tracing::debug!("heartbeat reply failed: {e}");
        }
    }
}
