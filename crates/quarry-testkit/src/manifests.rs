//! Kubernetes manifests, checked against `k8s-openapi`'s types.

use std::path::Path;

use k8s_openapi::api::{
    admissionregistration::v1 as admission, core::v1 as core, networking::v1 as networking,
    rbac::v1 as rbac, scheduling::v1 as scheduling,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize as _, Serialize};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: document {index} is not YAML: {source}")]
    Yaml {
        path: String,
        index: usize,
        source: serde_yaml_ng::Error,
    },
    #[error("{what}: not a valid {kind}: {source}")]
    Invalid {
        what: String,
        kind: String,
        source: serde_json::Error,
    },
    #[error("{what}: `{field}` is not part of {kind} (misspelled or misplaced?)")]
    UnknownField {
        what: String,
        kind: String,
        field: String,
    },
    #[error("{what}: Quarry ships no checker for {api_version} {kind}")]
    UnsupportedKind {
        what: String,
        api_version: String,
        kind: String,
    },
}

/// The YAML documents of a manifest file, as JSON values (empty documents
/// skipped).
pub fn documents(path: &Path) -> Result<Vec<Value>, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let mut out = Vec::new();
    for (index, document) in serde_yaml_ng::Deserializer::from_str(&text).enumerate() {
        let value = Value::deserialize(document).map_err(|source| ManifestError::Yaml {
            path: path.display().to_string(),
            index,
            source,
        })?;
        if !value.is_null() {
            out.push(value);
        }
    }
    Ok(out)
}

/// Checks one manifest document; returns its `Kind/namespace/name`.
pub fn check(document: &Value) -> Result<String, ManifestError> {
    let api_version = document["apiVersion"].as_str().unwrap_or_default();
    let kind = document["kind"].as_str().unwrap_or_default();
    let name = document["metadata"]["name"].as_str().unwrap_or("?");
    let namespace = document["metadata"]["namespace"].as_str().unwrap_or("-");
    let what = format!("{kind}/{namespace}/{name}");
    match (api_version, kind) {
        ("v1", "Namespace") => round_trip::<core::Namespace>(document, &what),
        ("v1", "ServiceAccount") => round_trip::<core::ServiceAccount>(document, &what),
        ("v1", "ResourceQuota") => round_trip::<core::ResourceQuota>(document, &what),
        ("v1", "ConfigMap") => round_trip::<core::ConfigMap>(document, &what),
        ("v1", "Pod") => round_trip::<core::Pod>(document, &what),
        ("v1", "LimitRange") => round_trip::<core::LimitRange>(document, &what),
        ("rbac.authorization.k8s.io/v1", "Role") => round_trip::<rbac::Role>(document, &what),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => {
            round_trip::<rbac::RoleBinding>(document, &what)
        }
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => {
            round_trip::<rbac::ClusterRole>(document, &what)
        }
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            round_trip::<rbac::ClusterRoleBinding>(document, &what)
        }
        ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy") => {
            round_trip::<admission::ValidatingAdmissionPolicy>(document, &what)
        }
        ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding") => {
            round_trip::<admission::ValidatingAdmissionPolicyBinding>(document, &what)
        }
        ("scheduling.k8s.io/v1", "PriorityClass") => {
            round_trip::<scheduling::PriorityClass>(document, &what)
        }
        ("networking.k8s.io/v1", "NetworkPolicy") => {
            round_trip::<networking::NetworkPolicy>(document, &what)
        }
        _ => Err(ManifestError::UnsupportedKind {
            what: what.clone(),
            api_version: api_version.to_string(),
            kind: kind.to_string(),
        }),
    }?;
    Ok(what)
}

/// Parses `document` as `T` and serialises it back: anything `T` does not
/// know is dropped on the way, and shows up as a difference.
fn round_trip<T: DeserializeOwned + Serialize>(
    document: &Value,
    what: &str,
) -> Result<(), ManifestError> {
    let kind = std::any::type_name::<T>()
        .rsplit("::")
        .next()
        .unwrap_or("object")
        .to_string();
    let typed: T =
        serde_json::from_value(document.clone()).map_err(|source| ManifestError::Invalid {
            what: what.to_string(),
            kind: kind.clone(),
            source,
        })?;
    let back = serde_json::to_value(&typed).expect("k8s-openapi types serialise");
    match first_dropped(document, &back, String::new()) {
        None => Ok(()),
        Some(field) => Err(ManifestError::UnknownField {
            what: what.to_string(),
            kind,
            field,
        }),
    }
}

/// The first path present in `written` but missing or different in `back`.
fn first_dropped(written: &Value, back: &Value, at: String) -> Option<String> {
    match (written, back) {
        (Value::Object(w), Value::Object(b)) => w.iter().find_map(|(key, value)| {
            let path = if at.is_empty() {
                key.clone()
            } else {
                format!("{at}.{key}")
            };
            match b.get(key) {
                Some(other) => first_dropped(value, other, path),
                None => Some(path),
            }
        }),
        (Value::Array(w), Value::Array(b)) => {
            if w.len() != b.len() {
                return Some(at);
            }
            w.iter()
                .zip(b)
                .enumerate()
                .find_map(|(i, (x, y))| first_dropped(x, y, format!("{at}[{i}]")))
        }
        // Quantities and int-or-string ports may come back as the other form.
        (Value::Number(w), Value::String(b)) | (Value::String(b), Value::Number(w)) => {
            (w.to_string() != *b).then_some(at)
        }
        (w, b) => (w != b).then_some(at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_misplaced_field_is_caught() {
        let role = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "r", "namespace": "n"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verb": ["get"]}]
        });
        let err = check(&role).unwrap_err().to_string();
        assert!(err.contains("rules[0].verb"), "{err}");
    }

    #[test]
    fn a_wrong_type_is_caught_and_a_good_one_passes() {
        let mut quota = json!({
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "q", "namespace": "n"},
            "spec": {"hard": {"pods": "10"}}
        });
        assert_eq!(check(&quota).unwrap(), "ResourceQuota/n/q");
        quota["spec"]["hard"] = json!(["pods"]);
        assert!(matches!(check(&quota), Err(ManifestError::Invalid { .. })));
        let unknown = json!({"apiVersion": "v9", "kind": "Gizmo", "metadata": {"name": "g"}});
        assert!(matches!(
            check(&unknown),
            Err(ManifestError::UnsupportedKind { .. })
        ));
    }
}
