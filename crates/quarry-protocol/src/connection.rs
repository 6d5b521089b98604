//! The connection file Jupyter writes for a kernel it starts.

use std::path::{Path, PathBuf};

use jupyter_protocol::ConnectionInfo;

/// The default largest message a client may send: 128 MiB. Jupyter's own
/// messages are small; the largest a notebook sends is a cell or a comm
/// message, and a cell of 128 MiB is not SQL anyone writes.
pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = 128 << 20;

/// A parsed, validated Jupyter connection file.
#[derive(Debug, Clone)]
pub struct ConnectionFile {
    /// The ports, transport, key and signature scheme Jupyter gave.
    pub info: ConnectionInfo,
    /// A client whose frame or message would pass this many bytes is
    /// disconnected before the kernel reserves memory for it.
    pub max_message_bytes: u64,
}

/// Why a connection file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionFileError {
    /// The file could not be read.
    #[error("could not read the connection file {}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not the JSON Jupyter writes.
    #[error("{} is not a valid Jupyter connection file", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What did not parse.
        #[source]
        source: serde_json::Error,
    },
    /// No key: anyone who can reach the ports could run code.
    #[error(
        "{} has an empty key, so messages could not be authenticated: \
         refusing to start (pass --allow-unauthenticated to accept this on a trusted machine)",
        path.display()
    )]
    EmptyKey {
        /// The file.
        path: PathBuf,
    },
    /// A signature scheme the transport cannot verify.
    #[error("signature scheme '{scheme}' is not supported: use hmac-sha256")]
    UnsupportedScheme {
        /// The scheme the file names.
        scheme: String,
    },
}

/// Whether a connection file without a key is acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPolicy {
    /// Refuse an empty key (the default: every Jupyter client writes one).
    Required,
    /// Accept it, with a warning (an explicit choice on a trusted machine).
    AllowEmpty,
}

impl ConnectionFile {
    /// A connection file for `info`, with the default message limit.
    pub fn new(info: ConnectionInfo) -> Self {
        ConnectionFile {
            info,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }

    /// The same, with another maximum message size.
    #[must_use]
    pub fn with_max_message_bytes(mut self, bytes: u64) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    /// Reads a connection file as Jupyter writes it.
    pub fn read(path: &Path, keys: KeyPolicy) -> Result<Self, ConnectionFileError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConnectionFileError::Unreadable {
                path: path.to_path_buf(),
                source,
            })?;
        let info: ConnectionInfo =
            serde_json::from_str(&text).map_err(|source| ConnectionFileError::Invalid {
                path: path.to_path_buf(),
                source,
            })?;
        // The transport layer only implements HMAC-SHA256; accepting another
        // scheme would silently skip verification.
        if !info.key.is_empty() && info.signature_scheme != "hmac-sha256" {
            return Err(ConnectionFileError::UnsupportedScheme {
                scheme: info.signature_scheme,
            });
        }
        if info.key.is_empty() {
            if keys == KeyPolicy::Required {
                return Err(ConnectionFileError::EmptyKey {
                    path: path.to_path_buf(),
                });
            }
            tracing::warn!("connection file has an empty key: messages will not be authenticated");
        }
        Ok(ConnectionFile::new(info))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(key: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let info = serde_json::json!({
            "ip": "127.0.0.1", "transport": "tcp", "shell_port": 1, "iopub_port": 2,
            "stdin_port": 3, "control_port": 4, "hb_port": 5, "key": key,
            "signature_scheme": "hmac-sha256", "kernel_name": "quarry",
        });
        std::fs::write(file.path(), info.to_string()).unwrap();
        file
    }

    #[test]
    fn an_empty_key_is_refused_unless_allowed() {
        let empty = file("");
        let refused = ConnectionFile::read(empty.path(), KeyPolicy::Required).unwrap_err();
        assert!(matches!(refused, ConnectionFileError::EmptyKey { .. }));
        assert!(refused.to_string().contains("--allow-unauthenticated"));
        assert!(ConnectionFile::read(empty.path(), KeyPolicy::AllowEmpty).is_ok());
        assert!(ConnectionFile::read(file("k").path(), KeyPolicy::Required).is_ok());
    }
}
