//! The wire guard: the only thing listening on the connection file's ports.
//!
//! ```text
//!  client ──tcp──▶ guard (FrameScanner per connection) ──unix socket──▶ zeromq
//!         ◀──────────────────────── copied back as is ◀────────────────
//! ```
//!
//! zeromq 0.7 reads a frame's announced length and reserves that many bytes
//! before it reads one of them, and it has no `ZMQ_MAXMSGSIZE`: twelve
//! bytes announcing a 2^62-byte frame abort the process, before any
//! signature is checked. So zeromq listens on unix sockets in a private
//! directory (0700, removed when the kernel ends) and each TCP connection is
//! forwarded to it through a [`FrameScanner`], which follows the client's
//! ZMTP 3 framing without buffering it and closes the connection the moment
//! a frame or a message would pass the maximum message size. What the
//! kernel sends back is trusted and copied unread.
//!
//! A client that asked for the `ipc` transport reaches zeromq directly: its
//! socket files are guarded by the file system, as Jupyter intends.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use jupyter_protocol::{ConnectionInfo, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixStream};
use tokio::task::JoinHandle;

#[cfg(test)]
mod tests;

/// The ZMTP 3 greeting: signature, version, mechanism, as-server, filler.
const GREETING_BYTES: usize = 64;
/// Frame flags (ZMTP 3.1, section "Framing").
const MORE: u8 = 0x01;
const LONG: u8 = 0x02;
const COMMAND: u8 = 0x04;

/// A frame or message that passes the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLarge {
    /// The bytes announced so far: the frame's size, or the message's.
    pub(crate) bytes: u64,
}

/// Where the scanner is in the client's byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// Inside the greeting, with this many bytes to go.
    Greeting(usize),
    /// At a frame's flags byte.
    Flags,
    /// Reading a frame's size (1 byte, or 8 big-endian when `LONG`).
    Size { flags: u8, read: usize, value: u64 },
    /// Skipping a frame's body.
    Body { flags: u8, left: u64 },
}

/// Follows one client's ZMTP framing as bytes arrive, in any pieces, and
/// says when a frame or a message passes `limit` bytes. Pure: it holds a
/// few counters, never the bytes.
#[derive(Debug, Clone)]
pub(crate) struct FrameScanner {
    limit: u64,
    position: Position,
    /// The bytes of the message being received (its frames so far).
    message: u64,
}

impl FrameScanner {
    pub(crate) fn new(limit: u64) -> Self {
        Self {
            limit,
            position: Position::Greeting(GREETING_BYTES),
            message: 0,
        }
    }

    /// Reads `bytes`, the next part of the client's stream.
    pub(crate) fn scan(&mut self, mut bytes: &[u8]) -> Result<(), TooLarge> {
        while !bytes.is_empty() {
            bytes = match self.position {
                Position::Greeting(left) => {
                    let take = left.min(bytes.len());
                    self.position = match left - take {
                        0 => Position::Flags,
                        rest => Position::Greeting(rest),
                    };
                    &bytes[take..]
                }
                Position::Flags => {
                    self.position = Position::Size {
                        flags: bytes[0],
                        read: 0,
                        value: 0,
                    };
                    &bytes[1..]
                }
                Position::Size { flags, read, value } => {
                    let value = (value << 8) | u64::from(bytes[0]);
                    let width = if flags & LONG == 0 { 1 } else { 8 };
                    if read + 1 < width {
                        self.position = Position::Size {
                            flags,
                            read: read + 1,
                            value,
                        };
                    } else {
                        self.frame_announced(flags, value)?;
                    }
                    &bytes[1..]
                }
                Position::Body { flags, left } => {
                    let take = left.min(bytes.len() as u64);
                    let rest = left - take;
                    if rest == 0 {
                        self.frame_done(flags);
                    } else {
                        self.position = Position::Body { flags, left: rest };
                    }
                    // `take` is at most `bytes.len()`, so it fits a usize.
                    &bytes[usize::try_from(take).unwrap_or(bytes.len())..]
                }
            };
        }
        Ok(())
    }

    /// A frame's size is known: check it (and its message) before any of
    /// its body passes.
    fn frame_announced(&mut self, flags: u8, size: u64) -> Result<(), TooLarge> {
        if size > self.limit {
            return Err(TooLarge { bytes: size });
        }
        if flags & COMMAND == 0 {
            self.message = self.message.saturating_add(size);
            if self.message > self.limit {
                return Err(TooLarge {
                    bytes: self.message,
                });
            }
        }
        if size == 0 {
            self.frame_done(flags);
        } else {
            self.position = Position::Body { flags, left: size };
        }
        Ok(())
    }

    fn frame_done(&mut self, flags: u8) {
        // Commands (READY, PING…) stand alone; a message ends at the first
        // frame without MORE.
        if flags & COMMAND == 0 && flags & MORE == 0 {
            self.message = 0;
        }
        self.position = Position::Flags;
    }
}

/// The guard's listeners, running until it is dropped; its directory of
/// unix sockets goes with it.
pub(crate) struct WireGuard {
    tasks: Vec<JoinHandle<()>>,
    _sockets: Option<tempfile::TempDir>,
}

impl Drop for WireGuard {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The five channels, by the name logs use and the port Jupyter gave.
fn channels(info: &ConnectionInfo) -> [(&'static str, u16); 5] {
    [
        ("shell", info.shell_port),
        ("iopub", info.iopub_port),
        ("stdin", info.stdin_port),
        ("control", info.control_port),
        ("heartbeat", info.hb_port),
    ]
}

/// Why the guard could not start.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// The private directory for zeromq's sockets.
    #[error("could not create a private directory for the kernel's sockets")]
    Directory(#[source] std::io::Error),
    /// A port of the connection file.
    #[error("could not listen on {ip}:{port} for the {channel} channel")]
    Listen {
        /// Which channel.
        channel: &'static str,
        /// The connection file's address.
        ip: String,
        /// The connection file's port.
        port: u16,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
}

/// Where zeromq should bind so that only the guard reaches it: the same
/// ports, on unix sockets in a new private directory. An `ipc` connection
/// file is used as it is (and needs no guard).
pub(crate) fn inner_endpoints(
    info: &ConnectionInfo,
) -> Result<(ConnectionInfo, Option<tempfile::TempDir>), GuardError> {
    if matches!(info.transport, Transport::IPC) {
        return Ok((info.clone(), None));
    }
    let dir = tempfile::Builder::new()
        .prefix("quarry-wire-")
        .tempdir()
        .map_err(GuardError::Directory)?;
    let mut inner = info.clone();
    inner.transport = Transport::IPC;
    inner.ip = dir.path().join("k").to_string_lossy().into_owned();
    Ok((inner, Some(dir)))
}

/// Listens on the connection file's TCP ports and forwards each connection
/// to zeromq's socket for that channel (bound already, at `inner`).
pub(crate) async fn start(
    outer: &ConnectionInfo,
    inner: &ConnectionInfo,
    sockets: Option<tempfile::TempDir>,
    max_message_bytes: u64,
) -> Result<WireGuard, GuardError> {
    let mut guard = WireGuard {
        tasks: Vec::new(),
        _sockets: sockets,
    };
    if matches!(outer.transport, Transport::IPC) {
        return Ok(guard);
    }
    // Jupyter writes `*` or `0.0.0.0` for every interface.
    let ip = if outer.ip == "*" {
        "0.0.0.0"
    } else {
        &outer.ip
    };
    for ((channel, port), (_, inner_port)) in channels(outer).into_iter().zip(channels(inner)) {
        let listen_error = |source| GuardError::Listen {
            channel,
            ip: outer.ip.clone(),
            port,
            source,
        };
        let address: SocketAddr = format!("{ip}:{port}")
            .parse()
            .or_else(|_| format!("[{ip}]:{port}").parse())
            .map_err(|_| listen_error(std::io::Error::other("not an IP address")))?;
        let listener = TcpListener::bind(address).await.map_err(listen_error)?;
        let target = PathBuf::from(format!("{}-{inner_port}", inner.ip));
        guard.tasks.push(tokio::spawn(accept(
            channel,
            listener,
            target,
            max_message_bytes,
        )));
    }
    Ok(guard)
}

async fn accept(channel: &'static str, listener: TcpListener, target: PathBuf, limit: u64) {
    loop {
        match listener.accept().await {
            Ok((client, peer)) => {
                let _ = client.set_nodelay(true);
                let target = target.clone();
                tokio::spawn(async move {
                    if let Err(e) = forward(channel, client, &target, limit).await {
                        tracing::debug!(channel, %peer, "connection ended: {e}");
                    }
                });
            }
            Err(e) => {
                // Out of file descriptors, say: wait instead of spinning.
                tracing::warn!(channel, "could not accept a connection: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

/// Copies one client connection to zeromq and back until either side
/// closes, or the client passes the limit (then both are closed).
async fn forward(
    channel: &'static str,
    client: TcpStream,
    target: &Path,
    limit: u64,
) -> std::io::Result<()> {
    let kernel = UnixStream::connect(target).await?;
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_kernel, mut to_kernel) = kernel.into_split();
    let upstream = async {
        let mut scanner = FrameScanner::new(limit);
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let read = from_client.read(&mut buffer).await?;
            if read == 0 {
                return Ok(());
            }
            if let Err(TooLarge { bytes }) = scanner.scan(&buffer[..read]) {
                tracing::warn!(
                    channel,
                    announced = bytes,
                    limit,
                    "closing a connection whose message passes the maximum message size (QUARRY_MAX_MESSAGE)"
                );
                return Ok(());
            }
            to_kernel.write_all(&buffer[..read]).await?;
        }
    };
    let downstream = tokio::io::copy(&mut from_kernel, &mut to_client);
    // Whichever direction ends first ends the connection: zeromq sees a
    // peer disconnect, the client a closed socket.
    tokio::select! {
        result = upstream => result,
        result = downstream => result.map(|_| ()),
    }
}
