//! The executor pod template: what makes Spark's executor pods pass Pod
//! Security Admission `restricted`, which every user namespace enforces.
//!
//! Spark builds executor pods itself and has no settings for security
//! contexts, but it starts from a template file when given one
//! (`spark.kubernetes.executor.podTemplateFile`, which users may not
//! override). The template asks for a non-root user (185, the executor
//! image's `spark` user), no privilege escalation, no capabilities and the
//! runtime's default seccomp profile; Spark fills in the rest.

use std::path::{Path, PathBuf};

use crate::SparkError;

/// The user the executor image runs as (`images/spark-executor`).
pub const EXECUTOR_UID: u32 = 185;

/// The template, as Kubernetes YAML (JSON is YAML).
pub fn template() -> String {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "spec": {
            "securityContext": {
                "runAsNonRoot": true,
                "runAsUser": EXECUTOR_UID,
                "runAsGroup": EXECUTOR_UID,
                "fsGroup": EXECUTOR_UID,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "automountServiceAccountToken": false,
            "containers": [{
                "name": "spark-executor",
                "securityContext": {
                    "allowPrivilegeEscalation": false,
                    "runAsNonRoot": true,
                    "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
            }],
        },
    })
    .to_string()
}

/// Writes the template into `dir`; returns its path for the Spark setting.
pub fn write(dir: &Path) -> Result<PathBuf, SparkError> {
    let path = dir.join("executor-pod-template.yaml");
    std::fs::write(&path, template())
        .map_err(SparkError::local("write the executor pod template"))?;
    Ok(path)
}

/// The Spark settings that use the template at `path`.
pub fn spark_settings(path: &Path) -> Vec<(String, String)> {
    vec![
        (
            "spark.kubernetes.executor.podTemplateFile".to_string(),
            path.display().to_string(),
        ),
        (
            "spark.kubernetes.executor.podTemplateContainerName".to_string(),
            "spark-executor".to_string(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_asks_for_everything_restricted_requires() {
        let pod: serde_json::Value = serde_json::from_str(&template()).unwrap();
        let spec = &pod["spec"];
        assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
        assert_eq!(
            spec["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        let container = &spec["containers"][0]["securityContext"];
        assert_eq!(container["allowPrivilegeEscalation"], false);
        assert_eq!(
            container["capabilities"]["drop"],
            serde_json::json!(["ALL"])
        );
        // Executors never talk to the API server: no token in their pods.
        assert_eq!(spec["automountServiceAccountToken"], false);
    }
}
