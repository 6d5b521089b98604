//! Runs the fake Kubernetes API server and kubelet stand-in for tests:
//!
//!     quarry-fake-kube --dir D --namespace quarry-alice --service-account quarry-spark \
//!         --manifests images/k8s/spark-rbac.yaml \
//!         --entrypoint images/spark-executor/entrypoint.sh --notebook-pod jupyter-alice
//!
//! creates the namespace, applies the manifests as the cluster admin would,
//! writes `D/serviceaccount/{token,namespace,ca.crt}` for the service
//! account (RBAC decides what it may do), `D/admin-token` (a
//! `system:masters` token for test set-up and controls), then
//! `D/ready.json` (`{"port": N}`) once it listens on 127.0.0.1.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use quarry_testkit::fake_kube::rbac::UserInfo;
use quarry_testkit::fake_kube::store::Store;
use quarry_testkit::fake_kube::{self, Cluster, Tls, kubelet};
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// Folder for the service account, pod sandboxes and ready.json.
    #[arg(long)]
    dir: PathBuf,
    /// The notebook pod's namespace (created at start).
    #[arg(long, default_value = "quarry-users")]
    namespace: String,
    /// The notebook pod's service account, whose token goes in `serviceaccount/`.
    #[arg(long, default_value = "quarry-spark")]
    service_account: String,
    /// YAML manifests applied at start, as `kubectl apply -f` by an admin (repeatable).
    #[arg(long)]
    manifests: Vec<PathBuf>,
    /// What runs for containers without a command (the image's entrypoint).
    #[arg(long)]
    entrypoint: PathBuf,
    /// Creates this pod (Running, podIP 127.0.0.1) to stand for the notebook pod.
    #[arg(long)]
    notebook_pod: Option<String>,
    /// A ResourceQuota with this many pods.
    #[arg(long)]
    pod_quota: Option<u32>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let tls = Tls::generate().context("generating certificates")?;
    let cluster = Cluster::new();
    let token = cluster.issue_token(UserInfo::service_account(
        &args.namespace,
        &args.service_account,
    ));
    fake_kube::write_service_account(
        &args.dir.join("serviceaccount"),
        &token,
        &args.namespace,
        &tls.ca_pem,
    )?;
    std::fs::write(
        args.dir.join("admin-token"),
        cluster.issue_token(UserInfo::admin()),
    )?;
    seed(&cluster, &args)?;
    let image_env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| {
            matches!(
                k.as_str(),
                "PATH" | "HOME" | "JAVA_HOME" | "SPARK_HOME" | "LANG"
            )
        })
        .collect();
    let config = kubelet::KubeletConfig {
        entrypoint: std::fs::canonicalize(&args.entrypoint).context("--entrypoint")?,
        root: args.dir.join("pods"),
        image_env,
    };
    tokio::spawn(kubelet::run(cluster.clone(), config));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let port = listener.local_addr()?.port();
    std::fs::write(
        args.dir.join("ready.json"),
        json!({"port": port}).to_string(),
    )?;
    tracing::info!("fake Kubernetes API on https://127.0.0.1:{port}");
    // Returning drops the runtime and with it every pod's process
    // (kill_on_drop), so stopping the server never leaves executors behind.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        served = fake_kube::serve(cluster, tls, listener) => served?,
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

/// The user's namespace, the manifests applied in it, and (when asked)
/// a pod quota and the notebook pod executors belong to.
fn seed(cluster: &Cluster, args: &Args) -> anyhow::Result<()> {
    {
        let mut store = cluster.store.lock().expect("store");
        let namespace = json!({"metadata": {"name": args.namespace}});
        store
            .create("namespaces", "", namespace)
            .map_err(|r| anyhow::anyhow!(r.message))?;
        for path in &args.manifests {
            apply(&mut store, path, &args.namespace)?;
        }
    }
    {
        let mut store = cluster.store.lock().expect("store");
        if let Some(limit) = args.pod_quota {
            store
                .create(
                    "resourcequotas",
                    &args.namespace,
                    json!({"metadata": {"name": "user-quota"}, "spec": {"hard": {"pods": limit.to_string()}}}),
                )
                .map_err(|r| anyhow::anyhow!(r.message))?;
        }
        if let Some(name) = &args.notebook_pod {
            store
                .create(
                    "pods",
                    &args.namespace,
                    json!({
                        "metadata": {"name": name, "labels": {"component": "singleuser-server"}},
                        "spec": {
                            "nodeName": "notebook-node",
                            "securityContext": {"runAsNonRoot": true, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
                            "containers": [{"name": "notebook", "image": "quarry/singleuser", "securityContext": {
                                "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}],
                        },
                        "status": {"phase": "Running", "podIP": "127.0.0.1"},
                    }),
                )
                .map_err(|r| anyhow::anyhow!(r.message))?;
        }
    }
    Ok(())
}

/// `kubectl apply -f path` as the cluster admin.
fn apply(store: &mut Store, path: &std::path::Path, default_namespace: &str) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    fake_kube::apply::apply(store, &text, &path.display().to_string(), default_namespace)?;
    Ok(())
}
