//! Reading requests off a socket: signature first, then content.
//!
//! `jupyter_zmq_client`'s `read()` verifies the HMAC and parses in one step,
//! so a well-signed request whose content it cannot parse (a field a client
//! left out, a newer message shape) vanishes without a reply and the client
//! waits forever. Here the two steps are split: bad signatures are dropped,
//! but any authentic `*_request` gets an answer, even if only an error.

use bytes::Bytes;
use jupyter_protocol::{Header, JupyterMessage, JupyterMessageContent, UnknownMessage};
use jupyter_zmq_client::{Connection, RawMessage};
use serde_json::{Value, json};
use zeromq::SocketRecv;

use crate::replay::SignatureHistory;

/// What arrived on a socket.
pub(super) enum Incoming {
    /// A signed, well-formed message.
    Message(Box<JupyterMessage>),
    /// A signed request whose content could not be understood; the reply is
    /// an error message the caller should send back.
    Unanswerable {
        reply: Box<JupyterMessage>,
        reason: String,
    },
}

/// Why nothing useful arrived; the message is dropped.
#[derive(Debug, thiserror::Error)]
pub(super) enum Dropped {
    #[error("socket error: {0}")]
    Socket(#[from] zeromq::ZmqError),
    #[error("bad framing or signature: {0}")]
    Unauthentic(jupyter_zmq_client::RuntimeError),
    #[error("unreadable header: {0}")]
    Header(serde_json::Error),
    #[error("a replay of a message already received (same signature)")]
    Replayed,
}

/// The frame after `<IDS|MSG>`: the message's HMAC, hex-encoded.
fn signature_frame(frames: &zeromq::ZmqMessage) -> Option<Bytes> {
    let delimiter = frames.iter().position(|part| &part[..] == b"<IDS|MSG>")?;
    frames.get(delimiter + 1).cloned()
}

pub(super) async fn read<S: SocketRecv>(
    connection: &mut Connection<S>,
    history: &SignatureHistory,
) -> Result<Incoming, Dropped> {
    let frames = connection.socket.recv().await?;
    let signature = signature_frame(&frames);
    let raw = RawMessage::from_multipart(frames, &connection.mac).map_err(Dropped::Unauthentic)?;
    // Authentic, but is it new? (Without a key there is nothing to compare.)
    if connection.mac.is_some()
        && let Some(signature) = signature
        && !history.first_time(&signature)
    {
        return Err(Dropped::Replayed);
    }
    let header: Header = serde_json::from_slice(&raw.jparts[0]).map_err(Dropped::Header)?;
    let parent_header = serde_json::from_slice(&raw.jparts[1]).ok();
    let metadata = serde_json::from_slice(&raw.jparts[2]).unwrap_or_else(|_| json!({}));
    let buffers: Vec<Bytes> = raw
        .jparts
        .get(4..)
        .map(<[Bytes]>::to_vec)
        .unwrap_or_default();
    let mut message = JupyterMessage {
        zmq_identities: raw.zmq_identities,
        header,
        parent_header,
        metadata,
        content: JupyterMessageContent::UnknownMessage(UnknownMessage {
            msg_type: String::new(),
            content: Value::Null,
        }),
        buffers,
        channel: None,
    };
    let parsed = serde_json::from_slice::<Value>(&raw.jparts[3])
        .map_err(|e| e.to_string())
        .and_then(|content| {
            let content = with_defaults(&message.header.msg_type, content);
            JupyterMessageContent::from_type_and_content(&message.header.msg_type, content)
                .map_err(|e| e.to_string())
        });
    match parsed {
        Ok(content) => {
            message.content = content;
            Ok(Incoming::Message(Box::new(message)))
        }
        Err(reason) => Ok(unanswerable(&message, reason)),
    }
}

/// A request whose content does not parse: the error reply to send for it
/// (`MalformedRequest`, with why), and why for the log.
fn unanswerable(message: &JupyterMessage, reason: String) -> Incoming {
    let msg_type = message.header.msg_type.clone();
    let reply_type = msg_type.replace("_request", "_reply");
    let content = JupyterMessageContent::UnknownMessage(UnknownMessage {
        msg_type: reply_type,
        content: json!({
            "status": "error",
            "ename": "MalformedRequest",
            "evalue": format!("The {msg_type} could not be read: {reason}."),
            "traceback": [],
        }),
    });
    let reply = JupyterMessage::new(content, Some(message));
    Incoming::Unanswerable {
        reply: Box::new(reply),
        reason,
    }
}

/// Fills fields the protocol lets clients omit but the typed messages
/// require (jupyter_client leaves `n` and `unique` out of history searches).
fn with_defaults(msg_type: &str, mut content: Value) -> Value {
    let Some(object) = content.as_object_mut() else {
        return content;
    };
    if msg_type == "history_request" {
        for (key, value) in [
            ("output", json!(false)),
            ("raw", json!(true)),
            ("unique", json!(false)),
            ("n", json!(0)),
            ("pattern", json!("*")),
            ("start", json!(0)),
            ("stop", json!(0)),
        ] {
            object.entry(key).or_insert(value);
        }
        object.entry("hist_access_type").or_insert(json!("tail"));
    }
    content
}

#[cfg(test)]
mod tests {
    use super::*;
    use jupyter_protocol::HistoryRequest;

    #[test]
    fn history_search_without_optional_fields_parses() {
        let content = json!({"hist_access_type": "search", "pattern": "SELECT*", "raw": true, "output": false});
        let parsed = JupyterMessageContent::from_type_and_content(
            "history_request",
            with_defaults("history_request", content),
        )
        .unwrap();
        match parsed {
            JupyterMessageContent::HistoryRequest(HistoryRequest::Search {
                pattern,
                unique,
                n,
                ..
            }) => {
                assert_eq!((pattern.as_str(), unique, n), ("SELECT*", false, 0));
            }
            other => panic!("parsed as {other:?}"),
        }
    }
}
