//! The connection file Jupyter writes for a kernel it starts.

use std::path::{Path, PathBuf};

use jupyter_protocol::ConnectionInfo;

/// A parsed, validated Jupyter connection file.
#[derive(Debug, Clone)]
pub struct ConnectionFile {
    /// The ports, transport, key and signature scheme Jupyter gave.
    pub info: ConnectionInfo,
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
    /// A signature scheme the transport cannot verify.
    #[error("signature scheme '{scheme}' is not supported: use hmac-sha256")]
    UnsupportedScheme {
        /// The scheme the file names.
        scheme: String,
    },
}

impl ConnectionFile {
    /// Reads a connection file as Jupyter writes it.
    pub fn read(path: &Path) -> Result<Self, ConnectionFileError> {
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
            tracing::warn!("connection file has an empty key: messages will not be authenticated");
        }
        Ok(ConnectionFile { info })
    }
}
