//! Pod Security Admission, `restricted` level: pods created in a namespace
//! labelled `pod-security.kubernetes.io/enforce: restricted` are refused
//! with Kubernetes' own message when they break a rule, so tests prove that
//! the notebook and executor pods Quarry makes would be admitted.
//!
//! The checks are the `restricted` profile's (which includes `baseline`'s):
//! no host namespaces, ports or paths; no privileged containers; only the
//! volume types the profile allows; `allowPrivilegeEscalation: false`;
//! `runAsNonRoot: true` and no `runAsUser: 0`; a `RuntimeDefault` or
//! `Localhost` seccomp profile; every capability dropped, none added but
//! `NET_BIND_SERVICE`.

use serde_json::Value;

/// The label that turns enforcement on, and the level enforced here.
pub const ENFORCE_LABEL: &str = "pod-security.kubernetes.io/enforce";

const ALLOWED_VOLUMES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// Whether `namespace` (the Namespace object) enforces `restricted`.
pub fn enforces_restricted(namespace: Option<&Value>) -> bool {
    namespace.is_some_and(|ns| ns["metadata"]["labels"][ENFORCE_LABEL] == "restricted")
}

fn containers(pod: &Value) -> Vec<&Value> {
    ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .filter_map(|field| pod["spec"][field].as_array())
        .flatten()
        .collect()
}

fn name(container: &Value) -> String {
    container["name"].as_str().unwrap_or("?").to_string()
}

/// The names of the containers for which `breaks` holds.
fn offending(all: &[&Value], breaks: impl Fn(&&Value) -> bool) -> Vec<String> {
    all.iter().filter(|c| breaks(c)).map(|c| name(c)).collect()
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn plural(names: &[String], one: &str, many: &str) -> String {
    if names.len() == 1 {
        format!("{one} {}", quoted(names))
    } else {
        format!("{many} {}", quoted(names))
    }
}

/// Every `restricted` rule `pod` breaks, worded as Kubernetes words them.
pub fn violations(pod: &Value) -> Vec<String> {
    let spec = &pod["spec"];
    let pod_context = &spec["securityContext"];
    let all = containers(pod);
    let mut found = Vec::new();
    let host: Vec<&str> = ["hostNetwork", "hostPID", "hostIPC"]
        .into_iter()
        .filter(|field| spec[*field] == true)
        .collect();
    if !host.is_empty() {
        let list = host
            .iter()
            .map(|h| format!("{h}=true"))
            .collect::<Vec<_>>()
            .join(", ");
        found.push(format!("host namespaces ({list})"));
    }
    let privileged = offending(&all, |c| c["securityContext"]["privileged"] == true);
    if !privileged.is_empty() {
        found.push(format!(
            "privileged ({} must not set securityContext.privileged=true)",
            plural(&privileged, "container", "containers")
        ));
    }
    let host_ports = offending(&all, |c| {
        c["ports"].as_array().is_some_and(|ports| {
            ports
                .iter()
                .any(|p| p["hostPort"].as_u64().unwrap_or(0) > 0)
        })
    });
    if !host_ports.is_empty() {
        found.push(format!(
            "hostPort ({} uses hostPorts)",
            plural(&host_ports, "container", "containers")
        ));
    }
    let mut bad_volumes = Vec::new();
    for volume in spec["volumes"].as_array().into_iter().flatten() {
        let kind = volume
            .as_object()
            .and_then(|v| v.keys().find(|k| *k != "name"))
            .cloned()
            .unwrap_or_default();
        if !ALLOWED_VOLUMES.contains(&kind.as_str()) {
            bad_volumes.push(format!(
                "\"{}\" uses restricted volume type \"{kind}\"",
                volume["name"].as_str().unwrap_or("?")
            ));
        }
    }
    if !bad_volumes.is_empty() {
        found.push(format!(
            "restricted volume types (volume {})",
            bad_volumes.join(", ")
        ));
    }
    let escalating = offending(&all, |c| {
        c["securityContext"]["allowPrivilegeEscalation"] != false
    });
    if !escalating.is_empty() {
        found.push(format!(
            "allowPrivilegeEscalation != false ({} must set securityContext.allowPrivilegeEscalation=false)",
            plural(&escalating, "container", "containers")
        ));
    }
    let unrestricted = offending(&all, |c| {
        let caps = &c["securityContext"]["capabilities"];
        let drops_all = caps["drop"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x == "ALL"));
        let adds_only_bind = caps["add"]
            .as_array()
            .is_none_or(|a| a.iter().all(|x| x == "NET_BIND_SERVICE"));
        !(drops_all && adds_only_bind)
    });
    if !unrestricted.is_empty() {
        found.push(format!(
            "unrestricted capabilities ({} must set securityContext.capabilities.drop=[\"ALL\"])",
            plural(&unrestricted, "container", "containers")
        ));
    }
    let pod_non_root = pod_context["runAsNonRoot"] == true;
    let root_allowed = offending(&all, |c| {
        match c["securityContext"]["runAsNonRoot"].as_bool() {
            Some(value) => !value,
            None => !pod_non_root,
        }
    });
    if !root_allowed.is_empty() {
        found.push(format!(
            "runAsNonRoot != true (pod or {} must set securityContext.runAsNonRoot=true)",
            plural(&root_allowed, "container", "containers")
        ));
    }
    let as_root =
        pod_context["runAsUser"] == 0 || all.iter().any(|c| c["securityContext"]["runAsUser"] == 0);
    if as_root {
        found.push("runAsUser=0 (pod and containers must not set runAsUser=0)".into());
    }
    let good_seccomp = |context: &Value| {
        matches!(
            context["seccompProfile"]["type"].as_str(),
            Some("RuntimeDefault" | "Localhost")
        )
    };
    let pod_seccomp = good_seccomp(pod_context);
    let no_seccomp = offending(&all, |c| {
        let own = &c["securityContext"]["seccompProfile"]["type"];
        if own.is_null() {
            !pod_seccomp
        } else {
            !good_seccomp(&c["securityContext"])
        }
    });
    if !no_seccomp.is_empty() {
        found.push(format!(
            "seccompProfile (pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")",
            plural(&no_seccomp, "container", "containers")
        ));
    }
    found
}

/// The Forbidden message for a refused pod, or `None` if it is admitted.
pub fn refusal(pod_name: &str, pod: &Value) -> Option<String> {
    let found = violations(pod);
    (!found.is_empty()).then(|| {
        format!(
            "pods \"{pod_name}\" is forbidden: violates PodSecurity \"restricted:latest\": {}",
            found.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compliant() -> Value {
        json!({"spec": {
            "securityContext": {"runAsNonRoot": true, "runAsUser": 185, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "spark", "securityContext": {
                "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}],
            "volumes": [{"name": "conf", "configMap": {"name": "c"}}, {"name": "s", "secret": {"secretName": "x"}}],
        }})
    }

    #[test]
    fn a_compliant_pod_is_admitted() {
        assert_eq!(violations(&compliant()), Vec::<String>::new());
    }

    #[test]
    fn a_plain_pod_breaks_four_rules_in_kubernetes_words() {
        let pod = json!({"spec": {"containers": [{"name": "c", "image": "busybox"}]}});
        assert_eq!(
            refusal("evil", &pod).unwrap(),
            "pods \"evil\" is forbidden: violates PodSecurity \"restricted:latest\": \
             allowPrivilegeEscalation != false (container \"c\" must set securityContext.allowPrivilegeEscalation=false), \
             unrestricted capabilities (container \"c\" must set securityContext.capabilities.drop=[\"ALL\"]), \
             runAsNonRoot != true (pod or container \"c\" must set securityContext.runAsNonRoot=true), \
             seccompProfile (pod or container \"c\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"
        );
    }

    #[test]
    fn host_access_and_privilege_are_refused() {
        let mut pod = compliant();
        pod["spec"]["hostPID"] = json!(true);
        pod["spec"]["volumes"] = json!([{"name": "root", "hostPath": {"path": "/"}}]);
        pod["spec"]["containers"][0]["securityContext"]["privileged"] = json!(true);
        let found = violations(&pod).join("; ");
        assert!(found.contains("host namespaces (hostPID=true)"), "{found}");
        assert!(
            found.contains("\"root\" uses restricted volume type \"hostPath\""),
            "{found}"
        );
        assert!(found.contains("privileged (container \"spark\""), "{found}");
        let mut root = compliant();
        root["spec"]["securityContext"]["runAsUser"] = json!(0);
        assert!(violations(&root).join(" ").contains("runAsUser=0"));
    }
}
