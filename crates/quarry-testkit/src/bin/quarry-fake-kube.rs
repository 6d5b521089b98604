//! Runs the fake Kubernetes API server and kubelet stand-in for tests:
//!
//!     quarry-fake-kube --dir D --namespace quarry-users \
//!         --entrypoint images/spark-executor/entrypoint.sh --notebook-pod jupyter-alice
//!
//! writes `D/serviceaccount/{token,namespace,ca.crt}`, then `D/ready.json`
//! (`{"port": N}`) once it listens on 127.0.0.1.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use quarry_testkit::fake_kube::{self, Cluster, Tls, kubelet};
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// Folder for the service account, pod sandboxes and ready.json.
    #[arg(long)]
    dir: PathBuf,
    #[arg(long, default_value = "quarry-users")]
    namespace: String,
    /// What runs for containers without a command (the image's entrypoint).
    #[arg(long)]
    entrypoint: PathBuf,
    /// Creates this pod (Running, podIP 127.0.0.1) to stand for the notebook pod.
    #[arg(long)]
    notebook_pod: Option<String>,
    /// `RESOURCE:VERB` the service account may not do (repeatable).
    #[arg(long)]
    deny: Vec<String>,
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
    let token = uuid::Uuid::new_v4().simple().to_string();
    let tls = Tls::generate().context("generating certificates")?;
    fake_kube::write_service_account(
        &args.dir.join("serviceaccount"),
        &token,
        &args.namespace,
        &tls.ca_pem,
    )?;
    let cluster = Cluster::new(token);
    for pair in &args.deny {
        let (resource, verb) = pair.split_once(':').context("--deny takes RESOURCE:VERB")?;
        cluster
            .denied
            .lock()
            .expect("denied")
            .insert((resource.into(), verb.into()));
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
                        "spec": {"nodeName": "notebook-node", "containers": [{"name": "notebook", "image": "quarry/singleuser"}]},
                        "status": {"phase": "Running", "podIP": "127.0.0.1"},
                    }),
                )
                .map_err(|r| anyhow::anyhow!(r.message))?;
        }
    }
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
