//! A kubelet stand-in: every pod created without a node is "scheduled" here
//! and its first container runs as a local process — the image's entrypoint
//! (a script standing for the image), the pod's args and env, volumes as
//! folders — with status.podIP 127.0.0.1. Deleting the pod kills the process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use std::os::unix::fs::PermissionsExt as _;

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::process::Command;
use tokio::sync::oneshot;

use super::api::Cluster;

/// How the stand-in turns a pod into a process.
#[derive(Debug, Clone)]
pub struct KubeletConfig {
    /// Runs when a container has no `command` (the image's ENTRYPOINT).
    pub entrypoint: PathBuf,
    /// Pods' sandboxes (volumes, logs) live here.
    pub root: PathBuf,
    /// Environment every container starts with (the image's ENV).
    pub image_env: Vec<(String, String)>,
}

const NODE: &str = "fake-node";
const POD_IP: &str = "127.0.0.1";
const KILL_GRACE: Duration = Duration::from_secs(5);

/// Watches the store and runs pods until the cluster is dropped.
pub async fn run(cluster: Arc<Cluster>, config: KubeletConfig) {
    let mut events = cluster.store.lock().expect("store").subscribe();
    let mut running: HashMap<String, oneshot::Sender<()>> = HashMap::new();
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!("kubelet missed {n} events");
                continue;
            }
            Err(_) => break,
        };
        if event.resource != "pods" {
            continue;
        }
        let object = &event.object["object"];
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let key = format!("{namespace}/{name}");
        match event.object["type"].as_str() {
            Some("ADDED")
                if object["spec"]["nodeName"]
                    .as_str()
                    .is_none_or(str::is_empty) =>
            {
                match start(&cluster, &config, object.clone()).await {
                    Ok(kill) => {
                        running.insert(key, kill);
                    }
                    Err(e) => tracing::warn!("kubelet could not start {key}: {e}"),
                }
            }
            Some("DELETED") => {
                if let Some(kill) = running.remove(&key) {
                    let _ = kill.send(());
                }
            }
            _ => {}
        }
    }
    for (_, kill) in running {
        let _ = kill.send(());
    }
}

/// Values for `valueFrom.fieldRef`, as the downward API gives them.
fn field_value(pod: &Value, path: &str) -> String {
    match path {
        "status.podIP" | "status.hostIP" => POD_IP.into(),
        "spec.nodeName" => NODE.into(),
        other => {
            let mut node = pod;
            for key in other.split('.') {
                node = &node[key];
            }
            node.as_str().unwrap_or_default().to_string()
        }
    }
}

/// Makes a folder per volume; config maps and secrets are written out as
/// files (secrets decoded from base64, readable by the owner only).
fn prepare_volumes(
    cluster: &Cluster,
    pod: &Value,
    sandbox: &Path,
) -> std::io::Result<HashMap<String, PathBuf>> {
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let mut folders = HashMap::new();
    for volume in pod["spec"]["volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let name = volume["name"].as_str().unwrap_or("volume").to_string();
        let folder = sandbox.join("volumes").join(&name);
        std::fs::create_dir_all(&folder)?;
        if let Some(map_name) = volume["configMap"]["name"].as_str() {
            let map = cluster
                .store
                .lock()
                .expect("store")
                .get("configmaps", namespace, map_name);
            for (file, content) in map
                .and_then(|m| m["data"].as_object().cloned())
                .unwrap_or_default()
            {
                std::fs::write(folder.join(file), content.as_str().unwrap_or_default())?;
            }
        }
        if let Some(secret_name) = volume["secret"]["secretName"].as_str() {
            let secret =
                cluster
                    .store
                    .lock()
                    .expect("store")
                    .get("secrets", namespace, secret_name);
            let Some(secret) = secret else {
                // The kubelet keeps such a pod in ContainerCreating.
                return Err(std::io::Error::other(format!(
                    "secret \"{secret_name}\" not found"
                )));
            };
            for (file, content) in secret["data"].as_object().cloned().unwrap_or_default() {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(content.as_str().unwrap_or_default())
                    .map_err(std::io::Error::other)?;
                let path = folder.join(file);
                std::fs::write(&path, bytes)?;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400))?;
            }
        }
        folders.insert(name, folder);
    }
    Ok(folders)
}

async fn start(
    cluster: &Arc<Cluster>,
    config: &KubeletConfig,
    pod: Value,
) -> std::io::Result<oneshot::Sender<()>> {
    let namespace = pod["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let name = pod["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let sandbox = config.root.join(&namespace).join(&name);
    std::fs::create_dir_all(&sandbox)?;
    let volumes = prepare_volumes(cluster, &pod, &sandbox)?;
    let container = pod["spec"]["containers"][0].clone();

    // Mount paths become the volume folders, in paths and in env values.
    let mut mounts: Vec<(String, PathBuf)> = container["volumeMounts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|m| {
            Some((
                m["mountPath"].as_str()?.to_string(),
                volumes.get(m["name"].as_str()?)?.clone(),
            ))
        })
        .collect();
    mounts.sort_by_key(|(path, _)| std::cmp::Reverse(path.len()));
    // Anywhere in a value: JVM options such as `-Dkey=/mount/file` too.
    let remap = |value: &str| {
        let mut value = value.to_string();
        for (path, folder) in &mounts {
            value = value.replace(path.as_str(), &folder.display().to_string());
        }
        value
    };

    let mut command_line: Vec<String> = container["command"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if command_line.is_empty() {
        command_line.push(config.entrypoint.display().to_string());
    }
    command_line.extend(
        container["args"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str().map(remap)),
    );
    let mut command = Command::new(&command_line[0]);
    command
        .args(&command_line[1..])
        .env_clear()
        .envs(config.image_env.iter().cloned());
    command.env("HOSTNAME", &name);
    for variable in container["env"].as_array().cloned().unwrap_or_default() {
        let Some(key) = variable["name"].as_str() else {
            continue;
        };
        let value = match variable["value"].as_str() {
            Some(v) => remap(v),
            None => match variable["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
                Some(path) => field_value(&pod, path),
                None => String::new(),
            },
        };
        command.env(key, value);
    }
    let log_path = sandbox.join("container.log");
    let log = std::fs::File::create(&log_path)?;
    command
        .current_dir(&sandbox)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .kill_on_drop(true);
    // SAFETY: prctl is async-signal-safe; pods die with a killed stand-in.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = command.spawn()?;
    cluster
        .logs
        .lock()
        .expect("logs")
        .insert(format!("{namespace}/{name}"), log_path);
    let image = container["image"].clone();
    let container_name = container["name"].clone();
    set_status(cluster, &namespace, &name, |pod| {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        pod["spec"]["nodeName"] = json!(NODE);
        pod["status"] = json!({
            "phase": "Running", "podIP": POD_IP, "hostIP": POD_IP, "startTime": now,
            "podIPs": [{"ip": POD_IP}],
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "True"},
            ],
            "containerStatuses": [{
                "name": container_name, "image": image, "imageID": "", "ready": true,
                "restartCount": 0, "started": true, "state": {"running": {"startedAt": now}},
            }],
        });
    });

    let (kill, killed) = oneshot::channel::<()>();
    let cluster = Arc::clone(cluster);
    tokio::spawn(async move {
        tokio::select! {
            status = child.wait() => {
                let code = status.ok().and_then(|s| s.code()).unwrap_or(137);
                set_status(&cluster, &namespace, &name, |pod| {
                    pod["status"]["phase"] = json!(if code == 0 { "Succeeded" } else { "Failed" });
                    pod["status"]["containerStatuses"][0]["ready"] = json!(false);
                    pod["status"]["containerStatuses"][0]["state"] = json!({"terminated": {"exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" }}});
                });
            }
            _ = killed => {
                if let Some(pid) = child.id() {
                    // SAFETY: signalling the process group this stand-in started.
                    unsafe { libc::kill(-(pid as i32), libc::SIGTERM) };
                    if tokio::time::timeout(KILL_GRACE, child.wait()).await.is_err() {
                        unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
                        let _ = child.wait().await;
                    }
                }
            }
        }
    });
    Ok(kill)
}

fn set_status(cluster: &Cluster, namespace: &str, name: &str, change: impl FnOnce(&mut Value)) {
    let mut store = cluster.store.lock().expect("store");
    if let Some(mut pod) = store.get("pods", namespace, name) {
        change(&mut pod);
        let _ = store.replace("pods", namespace, name, pod);
    }
}
