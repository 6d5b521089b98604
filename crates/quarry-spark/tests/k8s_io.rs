//! Quarry's Kubernetes calls against the fake API server in-process, as
//! the notebook pod's service account with the role the platform ships
//! (`images/k8s/spark-rbac.yaml`): preflight, the executor watch and
//! cleanup, each with the answer that would be wrong on the wrong design.

use std::sync::Arc;
use std::time::Duration;

use quarry_spark::k8s::{Executors, cleanup, detect_cluster, kube_client, preflight};
use quarry_testkit::fake_kube::rbac::UserInfo;
use quarry_testkit::fake_kube::{self, Cluster, Tls};
use serde_json::json;

const NAMESPACE: &str = "quarry-alice";
const ACCOUNT: &str = "quarry-spark";
const SELECTOR: &str = "quarry.io/session=s1";

struct FakeCluster {
    cluster: Arc<Cluster>,
    client: kube::Client,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for FakeCluster {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The user's namespace with the Spark role bound to the notebook's
/// service account (as the hub binds it), or with `rules` instead.
async fn fake_cluster(rules: Option<serde_json::Value>) -> FakeCluster {
    let cluster = Cluster::new();
    {
        let mut store = cluster.store.lock().unwrap();
        // Run-time directory: a binary built in another checkout sharing
        // the target dir may be reused.
        let manifest = std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
        let role = format!("{manifest}/../../images/k8s/spark-rbac.yaml");
        let yaml = std::fs::read_to_string(&role).unwrap();
        fake_kube::apply::apply(&mut store, &yaml, &role, NAMESPACE).unwrap();
        let role_ref = match rules {
            None => {
                json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "quarry-spark"})
            }
            Some(rules) => {
                store
                    .create(
                        "roles",
                        NAMESPACE,
                        json!({"metadata": {"name": "narrow"}, "rules": rules}),
                    )
                    .unwrap();
                json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "narrow"})
            }
        };
        store
            .create(
                "rolebindings",
                NAMESPACE,
                json!({
                    "metadata": {"name": "quarry-spark"},
                    "roleRef": role_ref,
                    "subjects": [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": NAMESPACE}],
                }),
            )
            .unwrap();
    }
    let tls = Tls::generate().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token = cluster.issue_token(UserInfo::service_account(NAMESPACE, ACCOUNT));
    fake_kube::write_service_account(dir.path(), &token, NAMESPACE, &tls.ca_pem).unwrap();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let server = tokio::spawn(fake_kube::serve(Arc::clone(&cluster), tls, listener));
    let sa_dir = dir.path().display().to_string();
    let pod = detect_cluster(|name| match name {
        "KUBERNETES_SERVICE_HOST" => Some("127.0.0.1".into()),
        "KUBERNETES_SERVICE_PORT" => Some(port.clone()),
        "QUARRY_KUBE_SERVICEACCOUNT_DIR" => Some(sa_dir.clone()),
        _ => None,
    })
    .expect("the service account files make this a pod");
    assert_eq!(pod.namespace, NAMESPACE);
    let client = kube_client(&pod).unwrap();
    FakeCluster {
        cluster,
        client,
        server,
        _dir: dir,
    }
}

fn pod(name: &str, labels: serde_json::Value) -> serde_json::Value {
    json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "executor", "image": "quarry/spark-executor"}]},
    })
}

#[tokio::test]
async fn preflight_passes_with_the_shipped_role() {
    let fake = fake_cluster(None).await;
    preflight(&fake.client, NAMESPACE).await.unwrap();
}

#[tokio::test]
async fn preflight_names_what_a_narrower_role_lacks() {
    // Pods may be read but not created: Spark could never start executors.
    let fake = fake_cluster(Some(json!([
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
    ])))
    .await;
    let refused = preflight(&fake.client, NAMESPACE)
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("create pods"), "{refused}");
    assert!(refused.contains(NAMESPACE), "{refused}");
    assert!(!refused.contains("list pods"), "list is allowed: {refused}");
}

#[tokio::test]
async fn the_executor_watch_sees_only_the_sessions_pods() {
    let fake = fake_cluster(None).await;
    let executors = Executors::watch(&fake.client, NAMESPACE, SELECTOR);
    {
        let mut store = fake.cluster.store.lock().unwrap();
        store
            .create(
                "pods",
                NAMESPACE,
                pod("exec-1", json!({"quarry.io/session": "s1"})),
            )
            .unwrap();
        store
            .create(
                "pods",
                NAMESPACE,
                pod("other", json!({"quarry.io/session": "s2"})),
            )
            .unwrap();
    }
    let mut names = Vec::new();
    for _ in 0..100 {
        names = executors.views().into_iter().map(|v| v.name).collect();
        if !names.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(names, ["exec-1"]);
}

#[tokio::test]
async fn cleanup_deletes_the_sessions_objects_and_nothing_else() {
    let fake = fake_cluster(None).await;
    {
        let mut store = fake.cluster.store.lock().unwrap();
        for name in ["exec-1", "exec-2"] {
            store
                .create(
                    "pods",
                    NAMESPACE,
                    pod(name, json!({"quarry.io/session": "s1"})),
                )
                .unwrap();
        }
        store
            .create(
                "pods",
                NAMESPACE,
                pod("someone-else", json!({"quarry.io/session": "s2"})),
            )
            .unwrap();
        store
            .create(
                "configmaps",
                NAMESPACE,
                json!({"metadata": {"name": "spark-conf", "labels": {"quarry.io/session": "s1"}}}),
            )
            .unwrap();
    }
    assert_eq!(cleanup(&fake.client, NAMESPACE, SELECTOR).await.unwrap(), 3);
    {
        let store = fake.cluster.store.lock().unwrap();
        assert!(store.get("pods", NAMESPACE, "exec-1").is_none());
        assert!(store.get("configmaps", NAMESPACE, "spark-conf").is_none());
        assert!(store.get("pods", NAMESPACE, "someone-else").is_some());
    }
    // Nothing left: a second cleanup finds nothing (and needs no delete).
    assert_eq!(cleanup(&fake.client, NAMESPACE, SELECTOR).await.unwrap(), 0);
}

#[tokio::test]
async fn a_watch_the_api_server_refuses_says_so() {
    // The rights changed under a running session: pods may be read one by
    // one but no longer listed or watched.
    let fake = fake_cluster(Some(json!([
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
    ])))
    .await;
    let executors = Executors::watch(&fake.client, NAMESPACE, SELECTOR);
    let mut failing = None;
    for _ in 0..100 {
        failing = executors.failing();
        if failing.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let why = failing.expect("the refused watch is reported");
    assert!(why.contains("forbidden"), "{why}");
    let status = quarry_spark::k8s::describe_executors(&executors.views(), 2, Some(&why));
    assert!(status.text.contains("no longer shows"), "{}", status.text);
    assert!(status.html.contains("forbidden"), "{}", status.html);
}
