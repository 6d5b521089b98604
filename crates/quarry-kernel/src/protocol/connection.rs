use std::path::Path;

use anyhow::{Context as _, bail};
use jupyter_protocol::ConnectionInfo;

/// A parsed, validated Jupyter connection file.
#[derive(Debug, Clone)]
pub struct ConnectionFile {
    /// The ports, transport, key and signature scheme Jupyter gave.
    pub info: ConnectionInfo,
}

impl ConnectionFile {
    /// Reads a connection file as Jupyter writes it.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("could not read the connection file {}", path.display()))?;
        let info: ConnectionInfo = serde_json::from_str(&text).with_context(|| {
            format!("{} is not a valid Jupyter connection file", path.display())
        })?;
        // The transport layer only implements HMAC-SHA256; accepting another
        // scheme would silently skip verification.
        if !info.key.is_empty() && info.signature_scheme != "hmac-sha256" {
            bail!(
                "signature scheme '{}' is not supported: use hmac-sha256",
                info.signature_scheme
            );
        }
        if info.key.is_empty() {
            tracing::warn!("connection file has an empty key: messages will not be authenticated");
        }
        Ok(ConnectionFile { info })
    }
}
