//! The shipped admission policy (images/k8s/user-pod-policy.yaml), applied
//! as an administrator would and evaluated by the fake API server's
//! admission chain: the pods Quarry and the hub make pass, and each way
//! around a limit is refused with Kubernetes' denial text.
//! (tests/test_tenancy.py sends the same attacks over HTTP with a user's
//! token; this is the fast, exhaustive check.)

use std::path::PathBuf;

use quarry_testkit::fake_kube::admission::{AdmissionRequest, Operation, admit};
use quarry_testkit::fake_kube::apply::apply;
use quarry_testkit::fake_kube::rbac::UserInfo;
use quarry_testkit::fake_kube::store::{Refusal, Store, kind_info};
use serde_json::{Value, json};

const NAMESPACE: &str = "quarry-bob";
const DENIED: &str = "pods \"p\" is forbidden: ValidatingAdmissionPolicy 'quarry-user-pods' with binding 'quarry-user-pods' denied request: ";

fn shipped_policy() -> String {
    let manifest = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let path = PathBuf::from(manifest).join("../../images/k8s/user-pod-policy.yaml");
    std::fs::read_to_string(path).expect("the shipped policy")
}

/// A store holding the shipped policy, its parameters filled in as an
/// administrator would, and one user namespace.
fn cluster() -> Store {
    let mut store = Store::default();
    let filled = shipped_policy().replace("<registry>", "registry.example.org");
    apply(&mut store, &filled, "user-pod-policy.yaml", "default").unwrap();
    let namespace = json!({"metadata": {"name": NAMESPACE, "labels": {"quarry.io/user": "bob"}}});
    store.create("namespaces", "", namespace).unwrap();
    store
        .create(
            "namespaces",
            "",
            json!({"metadata": {"name": "kube-system"}}),
        )
        .unwrap();
    store
}

fn admit_pod(store: &Store, namespace: &str, pod: &Value) -> Result<(), Refusal> {
    let user = UserInfo::service_account(namespace, "quarry-spark");
    admit(
        store,
        &AdmissionRequest {
            operation: Operation::Create,
            user: &user,
            kind: kind_info("pods").unwrap(),
            namespace,
            name: "p",
            object: pod,
            old_object: None,
        },
    )
}

/// An executor pod as Spark makes it for session `s1`.
fn executor() -> Value {
    json!({
        "metadata": {"name": "p", "labels": {"quarry.io/session": "s1", "spark-role": "executor"}},
        "spec": {
            "containers": [{
                "name": "spark-kubernetes-executor",
                "image": "registry.example.org/quarry-spark-executor:0.1.0",
                "resources": {"limits": {"memory": "1408Mi", "cpu": 1}, "requests": {"memory": "1408Mi", "cpu": "1"}},
                "env": [{"name": "SPARK_EXECUTOR_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
            }],
            "volumes": [
                {"name": "spark-local-dir-1", "emptyDir": {}},
                {"name": "quarry-spark-auth-s1-volume", "secret": {"secretName": "quarry-spark-auth-s1"}},
                {"name": "spark-conf-volume-exec", "configMap": {"name": "spark-exec-conf"}},
            ],
        },
    })
}

/// The notebook pod as the hub makes it with z2jh's defaults.
fn notebook() -> Value {
    json!({
        "metadata": {"name": "p", "labels": {"component": "singleuser-server"}},
        "spec": {
            "containers": [{"name": "notebook", "image": "registry.example.org/quarry-singleuser:0.1.0",
                            "resources": {"limits": {"memory": "8G", "cpu": 2}, "requests": {"memory": "2G", "cpu": 0.5}}}],
            "initContainers": [],
            "tolerations": [
                {"key": "hub.jupyter.org/dedicated", "operator": "Equal", "value": "user", "effect": "NoSchedule"},
                {"key": "hub.jupyter.org_dedicated", "operator": "Equal", "value": "user", "effect": "NoSchedule"},
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            ],
            "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "preference": {"matchExpressions": [
                    {"key": "hub.jupyter.org/node-purpose", "operator": "In", "values": ["user"]}]}}]}},
            "volumes": [
                {"name": "volume-bob", "persistentVolumeClaim": {"claimName": "claim-bob"}},
                {"name": "quarry-token", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
                {"name": "kube-api-access", "projected": {"sources": [
                    {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
                    {"configMap": {"name": "kube-root-ca.crt"}},
                    {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}},
            ],
        },
    })
}

fn refused(store: &Store, pod: &Value) -> String {
    let refusal = admit_pod(store, NAMESPACE, pod).expect_err("refused");
    assert_eq!(
        (refusal.code, refusal.reason),
        (403, "Forbidden"),
        "{refusal:?}"
    );
    refusal
        .message
        .strip_prefix(DENIED)
        .unwrap_or_else(|| panic!("not Kubernetes' denial text: {}", refusal.message))
        .to_string()
}

/// `pod` with the value at `pointer` replaced (or the field added).
fn with(mut pod: Value, pointer: &str, value: Value) -> Value {
    if let Some(slot) = pod.pointer_mut(pointer) {
        *slot = value;
    } else {
        let (parent, field) = pointer.rsplit_once('/').unwrap();
        pod.pointer_mut(parent).unwrap()[field] = value;
    }
    pod
}

#[test]
fn the_pods_quarry_and_the_hub_make_are_admitted() {
    let store = cluster();
    admit_pod(&store, NAMESPACE, &executor()).unwrap();
    admit_pod(&store, NAMESPACE, &notebook()).unwrap();
    let platform_class = with(notebook(), "/spec/priorityClassName", json!("quarry-user"));
    admit_pod(&store, NAMESPACE, &platform_class).unwrap();
}

#[test]
fn pods_outside_user_namespaces_are_not_this_policys_business() {
    let store = cluster();
    let anything = with(executor(), "/spec/containers/0/image", json!("busybox"));
    admit_pod(&store, "kube-system", &anything).unwrap();
}

#[test]
fn images_outside_the_list_are_refused_in_any_container() {
    let store = cluster();
    let allowed =
        "registry.example.org/quarry-singleuser:,registry.example.org/quarry-spark-executor:";
    let main = with(
        executor(),
        "/spec/containers/0/image",
        json!("busybox:latest"),
    );
    assert_eq!(
        refused(&store, &main),
        format!(
            "container \"spark-kubernetes-executor\" uses image \"busybox:latest\", which is not an image this platform allows ({allowed})"
        )
    );
    let init = with(
        notebook(),
        "/spec/initContainers",
        json!([{"name": "block-cloud-metadata", "image": "registry.example.org/quarry-singleuser-evil:1"}]),
    );
    assert!(refused(&store, &init).starts_with("container \"block-cloud-metadata\" uses image \"registry.example.org/quarry-singleuser-evil:1\""));
    let ephemeral = with(
        notebook(),
        "/spec/ephemeralContainers",
        json!([{"name": "debug", "image": "alpine"}]),
    );
    assert!(refused(&store, &ephemeral).starts_with("container \"debug\" uses image \"alpine\""));
}

#[test]
fn scheduling_onto_other_tenants_or_system_nodes_is_refused() {
    let store = cluster();
    let preempting = with(
        executor(),
        "/spec/priorityClassName",
        json!("system-cluster-critical"),
    );
    assert_eq!(
        refused(&store, &preempting),
        "priorityClassName \"system-cluster-critical\" is not one a user pod may use (quarry-user)"
    );
    let pinned = with(executor(), "/spec/nodeName", json!("hub-node"));
    assert_eq!(
        refused(&store, &pinned),
        "spec.nodeName may not be set: the scheduler places user pods"
    );
    let tolerations = "hub.jupyter.org/dedicated=user,hub.jupyter.org_dedicated=user,node.kubernetes.io/not-ready,node.kubernetes.io/unreachable";
    for toleration in [
        json!({"key": "hub.jupyter.org/dedicated", "operator": "Equal", "value": "core", "effect": "NoSchedule"}),
        json!({"key": "hub.jupyter.org/dedicated", "operator": "Exists"}),
        json!({"operator": "Exists"}),
        json!({"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}),
    ] {
        let pod = with(executor(), "/spec/tolerations", json!([toleration]));
        assert_eq!(
            refused(&store, &pod),
            format!("a toleration onto nodes user pods may not use; allowed: {tolerations}"),
            "{toleration}"
        );
    }
    let system = "a node selector or required node affinity onto system nodes (hub.jupyter.org/node-purpose=core,node-role.kubernetes.io/control-plane,node-role.kubernetes.io/master) is not allowed for user pods";
    let selector = with(
        executor(),
        "/spec/nodeSelector",
        json!({"hub.jupyter.org/node-purpose": "core"}),
    );
    assert_eq!(refused(&store, &selector), system);
    let control_plane = with(
        executor(),
        "/spec/nodeSelector",
        json!({"node-role.kubernetes.io/control-plane": ""}),
    );
    assert_eq!(refused(&store, &control_plane), system);
    let affinity = with(
        executor(),
        "/spec/affinity",
        json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "hub.jupyter.org/node-purpose", "operator": "In", "values": ["user", "core"]}]}]}}}),
    );
    assert_eq!(refused(&store, &affinity), system);
    let by_field = with(
        executor(),
        "/spec/affinity",
        json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["hub-node"]}]}]}}}),
    );
    assert_eq!(refused(&store, &by_field), system);
    let user_nodes = with(
        executor(),
        "/spec/nodeSelector",
        json!({"hub.jupyter.org/node-purpose": "user"}),
    );
    admit_pod(&store, NAMESPACE, &user_nodes).unwrap();
}

#[test]
fn host_access_and_other_secrets_are_refused() {
    let store = cluster();
    let host = with(executor(), "/spec/hostNetwork", json!(true));
    assert_eq!(
        refused(&store, &host),
        "host namespaces (hostNetwork, hostPID, hostIPC) are not allowed for user pods"
    );
    let volumes = "user pods may use only configMap, emptyDir, downwardAPI, persistentVolumeClaim, ephemeral and projected volumes (no hostPath, no projected Secret)";
    let host_path = with(
        executor(),
        "/spec/volumes",
        json!([{"name": "root", "hostPath": {"path": "/"}}]),
    );
    assert_eq!(refused(&store, &host_path), volumes);
    let projected = with(
        executor(),
        "/spec/volumes",
        json!([{"name": "s", "projected": {"sources": [{"secret": {"name": "hub-secret"}}]}}]),
    );
    assert_eq!(refused(&store, &projected), volumes);
    let own_only = "this pod may use only its Spark session's Secret \"quarry-spark-auth-s1\"";
    let other_session = with(
        executor(),
        "/spec/volumes/1/secret/secretName",
        json!("quarry-spark-auth-s2"),
    );
    assert_eq!(refused(&store, &other_session), own_only);
    let env = with(
        executor(),
        "/spec/containers/0/env",
        json!([{"name": "T", "valueFrom": {"secretKeyRef": {"name": "default-token", "key": "token"}}}]),
    );
    assert_eq!(refused(&store, &env), own_only);
    let env_from = with(
        executor(),
        "/spec/containers/0/envFrom",
        json!([{"secretRef": {"name": "default-token"}}]),
    );
    assert_eq!(refused(&store, &env_from), own_only);
    let unlabelled = with(
        notebook(),
        "/spec/volumes/0",
        json!({"name": "s", "secret": {"secretName": "quarry-spark-auth-s1"}}),
    );
    assert_eq!(
        refused(&store, &unlabelled),
        "a user pod may not use a Secret (only a Spark executor its own session's)"
    );
}

#[test]
fn resources_over_the_limits_are_refused_whatever_the_unit() {
    let store = cluster();
    for (field, value, what, limit) in [
        ("limits/memory", json!("64Gi"), "memory", "16Gi"),
        ("requests/memory", json!("17179869185"), "memory", "16Gi"),
        ("limits/memory", json!("20G"), "memory", "16Gi"),
        ("limits/cpu", json!(64), "CPU", "4"),
        ("requests/cpu", json!("4001m"), "CPU", "4"),
        (
            "limits/ephemeral-storage",
            json!("100Gi"),
            "ephemeral storage",
            "20Gi",
        ),
    ] {
        let pod = with(
            executor(),
            &format!("/spec/containers/0/resources/{field}"),
            value.clone(),
        );
        assert_eq!(
            refused(&store, &pod),
            format!("a container asks for more {what} than a user container may have ({limit})"),
            "{field}={value}"
        );
    }
    let at_the_limit = with(
        executor(),
        "/spec/containers/0/resources/limits/memory",
        json!("16Gi"),
    );
    admit_pod(&store, NAMESPACE, &at_the_limit).unwrap();
}

#[test]
fn without_its_parameters_the_policy_refuses_everything() {
    let mut store = cluster();
    store
        .delete("configmaps", "quarry", "quarry-user-pod-limits")
        .unwrap();
    assert_eq!(
        refused(&store, &executor()),
        "failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction"
    );
}

/// The hub-scope policy (images/k8s/hub-scope-policy.yaml): the hub's
/// cluster-wide rights reach only user namespaces.
mod hub_scope {
    use super::*;

    const HUB_DENIED: &str = "ValidatingAdmissionPolicy 'quarry-hub-scope' with binding 'quarry-hub-scope' denied request: ";

    fn hub_store() -> Store {
        let mut store = cluster();
        let manifest = std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
        let path = PathBuf::from(manifest).join("../../images/k8s/hub-scope-policy.yaml");
        let yaml = std::fs::read_to_string(path).expect("the shipped hub policy");
        apply(&mut store, &yaml, "hub-scope-policy.yaml", "default").unwrap();
        store
    }

    fn write(
        store: &Store,
        user: &UserInfo,
        resource: &str,
        namespace: &str,
        object: &Value,
    ) -> Result<(), Refusal> {
        admit(
            store,
            &AdmissionRequest {
                operation: Operation::Create,
                user,
                kind: kind_info(resource).unwrap(),
                namespace,
                name: object["metadata"]["name"].as_str().unwrap(),
                object,
                old_object: None,
            },
        )
    }

    #[test]
    fn the_hub_writes_only_in_user_namespaces() {
        let store = hub_store();
        let hub = UserInfo::service_account("quarry", "hub");
        let pod = with(notebook(), "/metadata/name", json!("jupyter-bob"));
        write(&store, &hub, "pods", NAMESPACE, &pod).unwrap();
        let refusal = write(&store, &hub, "pods", "kube-system", &pod).unwrap_err();
        assert_eq!(
            refusal.message,
            format!(
                "pods \"jupyter-bob\" is forbidden: {HUB_DENIED}the hub may write only in user namespaces (labelled quarry.io/user), not in \"kube-system\""
            )
        );
        let binding = json!({"metadata": {"name": "quarry-spark"}, "roleRef": {"kind": "ClusterRole", "name": "quarry-spark"}});
        assert!(write(&store, &hub, "rolebindings", "kube-system", &binding).is_err());
        let namespace =
            json!({"metadata": {"name": "kube-system", "labels": {"quarry.io/user": "x"}}});
        assert_eq!(
            write(&store, &hub, "namespaces", "", &namespace)
                .unwrap_err()
                .message,
            format!(
                "namespaces \"kube-system\" is forbidden: {HUB_DENIED}the hub may create or change only user namespaces (quarry-*, labelled quarry.io/user), not \"kube-system\""
            )
        );
        let user_namespace =
            json!({"metadata": {"name": "quarry-carol", "labels": {"quarry.io/user": "carol"}}});
        write(&store, &hub, "namespaces", "", &user_namespace).unwrap();
        // Anyone else's writes are not this policy's business (match conditions).
        let admin = UserInfo::admin();
        write(&store, &admin, "pods", "kube-system", &pod).unwrap();
    }
}
