//! Recognising "inside a pod" and talking to the API server as the pod's
//! service account.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::SparkError;
use crate::conf::Cluster;
use crate::policy::AdminPolicy;

/// Where Kubernetes mounts the pod's service account.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The cluster this process runs in, from `KUBERNETES_SERVICE_HOST`/`_PORT`
/// and the service account files (`QUARRY_KUBE_SERVICEACCOUNT_DIR` moves
/// them, for unusual mounts and for tests). `None` means off-cluster.
pub fn detect_cluster(env: impl Fn(&str) -> Option<String>) -> Option<Cluster> {
    let host = env("KUBERNETES_SERVICE_HOST").filter(|h| !h.is_empty())?;
    let port = env("KUBERNETES_SERVICE_PORT").unwrap_or_else(|| "443".into());
    let dir = PathBuf::from(
        env("QUARRY_KUBE_SERVICEACCOUNT_DIR").unwrap_or_else(|| SERVICE_ACCOUNT_DIR.into()),
    );
    let token_file = dir.join("token");
    if !token_file.exists() {
        return None;
    }
    let namespace = std::fs::read_to_string(dir.join("namespace"))
        .map(|n| n.trim().to_string())
        .unwrap_or_else(|_| "default".into());
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    Some(Cluster {
        api_url: format!("https://{host}:{port}"),
        namespace,
        pod_name: env("HOSTNAME").unwrap_or_default(),
        pod_ip: env("QUARRY_POD_IP").unwrap_or_default(),
        token_file,
        ca_file: dir.join("ca.crt"),
        default_image: env("QUARRY_SPARK_EXECUTOR_IMAGE").filter(|i| !i.is_empty()),
        policy: AdminPolicy::from_env(&env),
        driver_ports: (crate::conf::DRIVER_PORT, crate::conf::BLOCK_MANAGER_PORT),
    })
}

/// A client authenticated with the service account token (re-read as the
/// kubelet rotates it) and trusting the cluster CA.
pub fn kube_client(cluster: &Cluster) -> Result<kube::Client, SparkError> {
    let unreachable = |why: String| {
        SparkError::Kubernetes(format!(
            "Cannot set up the Kubernetes client for {}: {why}.",
            cluster.api_url
        ))
    };
    // The dependency tree enables two rustls crypto backends, so rustls
    // cannot pick one by itself; choose once for the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = cluster
        .api_url
        .parse()
        .map_err(|e| unreachable(format!("{e}")))?;
    let mut config = kube::Config::new(url);
    config.default_namespace = cluster.namespace.clone();
    config.root_cert = Some(read_pem_certs(&cluster.ca_file).map_err(unreachable)?);
    config.auth_info.token_file = Some(cluster.token_file.display().to_string());
    kube::Client::try_from(config).map_err(|e| unreachable(e.to_string()))
}

fn read_pem_certs(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read the cluster CA {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no certificate", path.display()));
    }
    Ok(certs.into_iter().map(|c| c.as_ref().to_vec()).collect())
}

/// The notebook pod's IP: `QUARRY_POD_IP` when the spawner passes it in,
/// else the pod's own status.
pub async fn pod_ip(client: &kube::Client, cluster: &Cluster) -> Result<String, SparkError> {
    if !cluster.pod_ip.is_empty() {
        return Ok(cluster.pod_ip.clone());
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), &cluster.namespace);
    let pod = pods
        .get(&cluster.pod_name)
        .await
        .map_err(SparkError::api(format!(
            "read this notebook's pod {} to learn its IP",
            cluster.pod_name
        )))?;
    pod.status
        .and_then(|s| s.pod_ip)
        .filter(|ip| !ip.is_empty())
        .ok_or_else(|| {
            SparkError::Kubernetes(format!(
                "The notebook pod {} has no IP yet.",
                cluster.pod_name
            ))
        })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn in_cluster_needs_the_service_host_and_a_token() {
        let dir = tempfile::tempdir().unwrap();
        let sa = dir.path().display().to_string();
        let mut env: HashMap<&str, String> = HashMap::from([
            ("KUBERNETES_SERVICE_HOST", "10.96.0.1".to_string()),
            ("KUBERNETES_SERVICE_PORT", "443".to_string()),
            ("QUARRY_KUBE_SERVICEACCOUNT_DIR", sa.clone()),
            ("HOSTNAME", "jupyter-alice".to_string()),
        ]);
        let lookup = |env: &HashMap<&str, String>| {
            let env = env.clone();
            detect_cluster(move |name| env.get(name).cloned())
        };
        assert!(lookup(&env).is_none(), "no token file yet");
        std::fs::write(dir.path().join("token"), "t").unwrap();
        std::fs::write(dir.path().join("namespace"), "quarry-users\n").unwrap();
        let cluster = lookup(&env).unwrap();
        assert_eq!(cluster.api_url, "https://10.96.0.1:443");
        assert_eq!(cluster.namespace, "quarry-users");
        assert_eq!(cluster.pod_name, "jupyter-alice");
        assert_eq!(cluster.ca_file, dir.path().join("ca.crt"));
        env.remove("KUBERNETES_SERVICE_HOST");
        assert!(lookup(&env).is_none());
    }
}
