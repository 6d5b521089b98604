//! The wire guard over real sockets: a client announcing a huge frame, or
//! sending a message past the maximum size, is disconnected, and the kernel
//! goes on answering everyone else.

// The shared frontend's other helpers serve protocol.rs.
#[allow(dead_code, unused_imports)]
mod frontend;

use std::time::Duration;

use frontend::Frontend;
use jupyter_protocol::{JupyterMessageContent, KernelInfoRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A ZMTP 3.0 greeting with the NULL mechanism, as a client sends it.
fn greeting() -> Vec<u8> {
    let mut greeting = vec![0u8; 64];
    greeting[0] = 0xff;
    greeting[9] = 0x7f;
    greeting[10] = 3;
    greeting[12..16].copy_from_slice(b"NULL");
    greeting
}

/// The READY command of a DEALER: after it zeromq takes messages.
fn ready() -> Vec<u8> {
    let mut body = b"\x05READY".to_vec();
    let (name, value) = (b"Socket-Type", b"DEALER");
    body.push(u8::try_from(name.len()).unwrap());
    body.extend_from_slice(name);
    body.extend_from_slice(&u32::try_from(value.len()).unwrap().to_be_bytes());
    body.extend_from_slice(value);
    let mut command = vec![0x04, u8::try_from(body.len()).unwrap()];
    command.extend(body);
    command
}

/// Reads until the other side closes; false if it stays open for 10 s.
async fn closed_by_kernel(stream: &mut TcpStream) -> bool {
    let mut sink = [0u8; 4096];
    let wait = async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .is_ok()
}

async fn still_answers(f: &mut Frontend) {
    f.shell_request(KernelInfoRequest {}).await;
    let reply = f.shell_reply().await;
    assert!(
        matches!(reply.content, JupyterMessageContent::KernelInfoReply(_)),
        "{:?}",
        reply.content
    );
    assert!(!f.kernel.is_finished(), "the kernel ended");
}

#[tokio::test]
async fn a_huge_announced_frame_closes_that_connection_only() {
    let mut f = Frontend::start().await;
    for port in [f.info.shell_port, f.info.control_port, f.info.iopub_port] {
        let mut hostile = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut bytes = greeting();
        bytes.extend(ready());
        // A long frame announcing 2^62 bytes: zeromq alone would try to
        // reserve them and abort the process.
        bytes.push(0x02);
        bytes.extend_from_slice(&(1u64 << 62).to_be_bytes());
        hostile.write_all(&bytes).await.unwrap();
        assert!(
            closed_by_kernel(&mut hostile).await,
            "port {port} stayed open"
        );
        still_answers(&mut f).await;
    }
}

#[tokio::test]
async fn a_message_of_many_frames_is_cut_at_the_maximum_size() {
    let mut f = Frontend::start().await;
    let mut hostile = TcpStream::connect(("127.0.0.1", f.info.shell_port))
        .await
        .unwrap();
    let mut handshake = greeting();
    handshake.extend(ready());
    hostile.write_all(&handshake).await.unwrap();
    // 200 frames of 1 MiB, all MORE: one 200 MiB message in the making.
    let mut frame = vec![0x03];
    frame.extend_from_slice(&(1u64 << 20).to_be_bytes());
    frame.extend(vec![7u8; 1 << 20]);
    let mut sent = 0usize;
    for _ in 0..200 {
        if hostile.write_all(&frame).await.is_err() {
            break;
        }
        sent += frame.len();
    }
    let mib = sent >> 20;
    // Cut at 128 MiB (what the socket buffers took on top is slack); not
    // before 100 MiB, which would mean something else closed it.
    assert!(
        (100..=140).contains(&mib),
        "{mib} MiB went through before the cut"
    );
    still_answers(&mut f).await;
}
