//! `kubectl apply` as the cluster admin: objects from YAML into the store.

use serde_json::json;

use super::store::{Store, kind_named};

/// Why a manifest could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The text is not YAML objects.
    #[error("{source_name}: {source}")]
    Yaml {
        /// Where the text came from (a file name), for messages.
        source_name: String,
        /// What did not parse.
        #[source]
        source: serde_yaml_ng::Error,
    },
    /// A kind the fake API server does not serve.
    #[error("{source_name}: kind {kind} is not served")]
    UnknownKind {
        /// Where the text came from.
        source_name: String,
        /// The kind named.
        kind: String,
    },
    /// The store refused an object (Kubernetes' own message).
    #[error("{source_name}: {message}")]
    Refused {
        /// Where the text came from.
        source_name: String,
        /// The API server's message.
        message: String,
    },
}

/// Creates every document of `yaml` (objects that exist are kept).
/// Namespaced objects without a namespace land in `default_namespace`,
/// which is created when missing.
pub fn apply(
    store: &mut Store,
    yaml: &str,
    source_name: &str,
    default_namespace: &str,
) -> Result<(), ApplyError> {
    let refused = |message: String| ApplyError::Refused {
        source_name: source_name.to_string(),
        message,
    };
    for document in serde_yaml_ng::Deserializer::from_str(yaml) {
        let object: serde_json::Value =
            serde::Deserialize::deserialize(document).map_err(|source| ApplyError::Yaml {
                source_name: source_name.to_string(),
                source,
            })?;
        if object.is_null() {
            continue;
        }
        let kind_name = object["kind"].as_str().unwrap_or_default();
        let kind = kind_named(kind_name).ok_or_else(|| ApplyError::UnknownKind {
            source_name: source_name.to_string(),
            kind: kind_name.to_string(),
        })?;
        let namespace = if kind.namespaced {
            object["metadata"]["namespace"]
                .as_str()
                .unwrap_or(default_namespace)
                .to_string()
        } else {
            String::new()
        };
        if kind.namespaced && store.get("namespaces", "", &namespace).is_none() {
            store
                .create("namespaces", "", json!({"metadata": {"name": namespace}}))
                .map_err(|r| refused(r.message))?;
        }
        match store.create(kind.resource, &namespace, object) {
            Ok(_) => {}
            Err(refusal) if refusal.code == 409 => {}
            Err(refusal) => return Err(refused(refusal.message)),
        }
    }
    Ok(())
}
