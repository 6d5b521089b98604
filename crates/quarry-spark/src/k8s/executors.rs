//! The session's executor pods: a watch-fed view for `%spark status`, their
//! logs, what a Pending pod waits for in plain words, and cleanup.

use quarry_text::markup::{self, Cell, HtmlTable};
use std::collections::BTreeMap;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, ListParams, LogParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};

use crate::SparkError;

/// One executor pod as `%spark status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutorView {
    pub name: String,
    pub executor_id: String,
    pub phase: String,
    pub node: String,
    pub restarts: i32,
    /// Why it is not running, in plain words; empty when it is fine.
    pub problem: String,
}

impl ExecutorView {
    pub fn is_running(&self) -> bool {
        self.phase == "Running"
    }
}

/// What keeps one container of executor pod `name` from running, if
/// anything: waiting on its image or a crash loop, or ended badly.
fn container_problem(
    container: &k8s_openapi::api::core::v1::ContainerStatus,
    name: &str,
) -> Option<String> {
    let mut problem = None;
    if let Some(waiting) = container.state.as_ref().and_then(|s| s.waiting.as_ref()) {
        let reason = waiting.reason.as_deref().unwrap_or_default();
        let message = waiting.message.as_deref().unwrap_or_default();
        problem = Some(match reason {
            "ImagePullBackOff" | "ErrImagePull" => format!(
                "cannot pull its image {} (check --image and the registry){}",
                container.image,
                suffix(message)
            ),
            "CrashLoopBackOff" => format!(
                "keeps crashing ({} restarts): %spark logs {name} shows why",
                container.restart_count
            ),
            "CreateContainerConfigError" => format!("cannot be configured{}", suffix(message)),
            "ContainerCreating" | "PodInitializing" | "" => String::new(),
            other => format!("waiting: {other}{}", suffix(message)),
        });
    }
    if let Some(done) = container.state.as_ref().and_then(|s| s.terminated.as_ref()) {
        if done.reason.as_deref() == Some("OOMKilled") {
            problem = Some("ran out of memory (raise --executor-memory)".into());
        } else if done.exit_code != 0 {
            problem = Some(format!(
                "exited with code {}: %spark logs {name} shows why",
                done.exit_code
            ));
        }
    }
    problem
}

/// Reads a pod the way a notebook user wants to hear about it.
pub fn executor_view(pod: &Pod) -> ExecutorView {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    let status = pod.status.clone().unwrap_or_default();
    let phase = status.phase.clone().unwrap_or_else(|| "Pending".into());
    let containers = status.container_statuses.clone().unwrap_or_default();
    let restarts = containers.iter().map(|c| c.restart_count).sum();
    let mut problem = String::new();
    for container in &containers {
        if let Some(found) = container_problem(container, &name) {
            problem = found;
        }
    }
    if problem.is_empty() && phase == "Pending" {
        for condition in status.conditions.clone().unwrap_or_default() {
            if condition.type_ == "PodScheduled" && condition.status == "False" {
                let message = condition.message.unwrap_or_default();
                problem = if condition.reason.as_deref() == Some("Unschedulable") {
                    format!("no node has room for it yet{}", suffix(&message))
                } else {
                    format!("not scheduled yet{}", suffix(&message))
                };
            }
        }
    }
    ExecutorView {
        executor_id: labels.get("spark-exec-id").cloned().unwrap_or_default(),
        node: pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default(),
        name,
        phase,
        restarts,
        problem,
    }
}

fn suffix(message: &str) -> String {
    let message = message.trim().trim_end_matches('.');
    if message.is_empty() {
        String::new()
    } else {
        format!(" — {message}")
    }
}

/// The watcher's error in the API server's words.
fn watch_failure(error: &watcher::Error) -> String {
    match error {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => crate::error::api_message(e),
        watcher::Error::WatchError(status) => status.message.trim_end_matches('.').to_string(),
        other => other.to_string(),
    }
}

/// A table of executors, ordered by executor id, as text and HTML (pod
/// names and Kubernetes' reasons are shown as text, never markup).
/// `failing` is why the watch cannot see them, which then comes first: an
/// empty table would otherwise read as "no pods yet".
pub fn describe_executors(views: &[ExecutorView], wanted: u32, failing: Option<&str>) -> Shown {
    let running = views.iter().filter(|v| v.is_running()).count();
    let mut shown = Shown::default();
    shown.heading(&format!("Executors: {running} of {wanted} running"));
    if let Some(why) = failing {
        shown.line(&format!(
            "Kubernetes no longer shows this session's executor pods ({why}); what follows is the last state seen."
        ));
    }
    if views.is_empty() {
        shown.line("No executor pods exist yet.");
        return shown;
    }
    let mut table = HtmlTable::new([
        ("executor", Cell::Number),
        ("pod", Cell::Code),
        ("phase", Cell::Text),
        ("node", Cell::Text),
        ("restarts", Cell::Number),
        ("note", Cell::Text),
    ]);
    let mut sorted = views.to_vec();
    sorted.sort_by_key(|v| {
        (
            v.executor_id.parse::<u64>().unwrap_or(u64::MAX),
            v.name.clone(),
        )
    });
    for v in sorted {
        let restarts = v.restarts.to_string();
        let row = [
            v.executor_id.as_str(),
            &v.name,
            &v.phase,
            &v.node,
            &restarts,
            &v.problem,
        ];
        shown.text.push_str(&format!("  {}\n", row.join("  ")));
        table.row(row);
    }
    shown.html.push_str(&table.to_html());
    shown
}

/// What `%spark status` shows: text for terminals and the same as HTML.
#[derive(Debug, Default, Clone)]
pub struct Shown {
    /// Plain text.
    pub text: String,
    /// HTML built by [`quarry_text::markup`]: every piece of data escaped.
    pub html: String,
}

impl Shown {
    /// A bold line.
    pub fn heading(&mut self, line: &str) {
        self.text.push_str(&format!("{line}\n"));
        self.html.push_str(&format!(
            "<p><strong>{}</strong></p>",
            markup::escape_html(line)
        ));
    }

    /// A line of text.
    pub fn line(&mut self, line: &str) {
        self.text.push_str(&format!("{line}\n"));
        self.html.push_str(&markup::paragraphs([line]));
    }

    /// Preformatted text (a log).
    pub fn block(&mut self, block: &str) {
        self.text.push_str(&format!("{block}\n"));
        self.html
            .push_str(&format!("<pre>{}</pre>", markup::escape_html(block)));
    }

    /// Appends another part.
    pub fn append(&mut self, other: Shown) {
        self.text.push_str(&other.text);
        self.html.push_str(&other.html);
    }
}

/// A quota refusal from the API server, reworded; Spark only logs these
/// when it fails to create an executor pod.
pub fn quota_refusal(log: &str) -> Option<String> {
    let detail = crate::upstream::exceeded_quota(log)?;
    Some(format!(
        "Kubernetes refused the executor pods: {detail}. Stop other Spark sessions, ask for fewer or smaller executors (--executors, --executor-memory), or ask an administrator for a larger quota."
    ))
}

/// The session's executor pods, kept current by a watch.
pub struct Executors {
    store: Store<Pod>,
    /// Why the watch is failing now (the API server's words), cleared by
    /// the next event that arrives.
    failing: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Executors {
    /// Starts watching pods labelled with `selector` in `namespace`.
    pub fn watch(client: &kube::Client, namespace: &str, selector: &str) -> Executors {
        let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let (store, writer) = reflector::store();
        let config = watcher::Config::default().labels(selector);
        let stream = watcher(pods, config)
            .default_backoff()
            .reflect(writer)
            .applied_objects();
        let failing = std::sync::Arc::new(std::sync::Mutex::new(None));
        let report = std::sync::Arc::clone(&failing);
        let task = tokio::spawn(async move {
            futures::pin_mut!(stream);
            while let Some(event) = stream.next().await {
                let now = match event {
                    Ok(_) => None,
                    Err(e) => {
                        tracing::debug!("executor watch: {e}");
                        Some(watch_failure(&e))
                    }
                };
                *report.lock().expect("watch state") = now;
            }
        });
        Executors {
            store,
            failing,
            task,
        }
    }

    /// Why the watch cannot see the pods now (e.g. 403 after the service
    /// account's rights changed), if it cannot.
    pub fn failing(&self) -> Option<String> {
        self.failing.lock().expect("watch state").clone()
    }

    /// What the watch knows now.
    pub fn views(&self) -> Vec<ExecutorView> {
        self.store
            .state()
            .iter()
            .map(|pod| executor_view(pod))
            .collect()
    }
}

impl Drop for Executors {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The log of one executor pod (by executor id or pod name), last lines.
pub async fn executor_log(
    client: &kube::Client,
    namespace: &str,
    views: &[ExecutorView],
    which: &str,
    tail_lines: i64,
) -> Result<String, SparkError> {
    let view = views
        .iter()
        .find(|v| v.executor_id == which || v.name == which)
        .ok_or_else(|| {
            let known: Vec<_> = views.iter().map(|v| v.executor_id.as_str()).collect();
            SparkError::usage(format!(
                "There is no executor '{which}' in this session; executors: {}.",
                if known.is_empty() {
                    "none yet".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let params = LogParams {
        tail_lines: Some(tail_lines),
        ..Default::default()
    };
    pods.logs(&view.name, &params)
        .await
        .map_err(SparkError::api(format!("read the log of {}", view.name)))
}

/// Deletes everything labelled `selector`: pods and config maps, the only
/// kinds a session creates (client mode makes no driver service, and
/// executor volumes cannot be configured; see `policy`). Returns how many
/// objects were still there.
pub async fn cleanup(
    client: &kube::Client,
    namespace: &str,
    selector: &str,
) -> Result<usize, SparkError> {
    let params = ListParams::default().labels(selector);
    let mut removed = 0;
    removed += delete_all::<Pod>(client, namespace, &params).await?;
    removed += delete_all::<ConfigMap>(client, namespace, &params).await?;
    Ok(removed)
}

async fn delete_all<K>(
    client: &kube::Client,
    namespace: &str,
    params: &ListParams,
) -> Result<usize, SparkError>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let kind = K::kind(&K::DynamicType::default()).to_string();
    let fail = || SparkError::api(format!("clean up the session's {kind}s"));
    let existing = api.list_metadata(params).await.map_err(fail())?.items.len();
    if existing > 0 {
        api.delete_collection(&DeleteParams::background(), params)
            .await
            .map_err(fail())?;
    }
    Ok(existing)
}

/// Executor pods by their phase, for progress lines.
pub fn count_by_phase(views: &[ExecutorView]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for v in views {
        *counts.entry(v.phase.clone()).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(json: serde_json::Value) -> Pod {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn running_pods_have_no_problem() {
        let view = executor_view(&pod(serde_json::json!({
            "metadata": {"name": "quarry-alice-1-exec-1", "labels": {"spark-exec-id": "1"}},
            "spec": {"nodeName": "node-a", "containers": []},
            "status": {"phase": "Running", "containerStatuses": [{
                "name": "spark-kubernetes-executor", "image": "img", "imageID": "", "ready": true,
                "restartCount": 1, "state": {"running": {}}
            }]}
        })));
        assert_eq!(view.executor_id, "1");
        assert_eq!(view.node, "node-a");
        assert_eq!(view.restarts, 1);
        assert!(view.is_running() && view.problem.is_empty());
    }

    #[test]
    fn pending_reasons_in_plain_words() {
        let unschedulable = executor_view(&pod(serde_json::json!({
            "metadata": {"name": "p"},
            "status": {"phase": "Pending", "conditions": [{
                "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient memory."
            }]}
        })));
        assert_eq!(
            unschedulable.problem,
            "no node has room for it yet — 0/3 nodes are available: 3 Insufficient memory"
        );
        let pull = executor_view(&pod(serde_json::json!({
            "metadata": {"name": "p"},
            "status": {"phase": "Pending", "containerStatuses": [{
                "name": "c", "image": "quarry/spark:nope", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}
            }]}
        })));
        assert_eq!(
            pull.problem,
            "cannot pull its image quarry/spark:nope (check --image and the registry) — Back-off pulling image"
        );
        let oom = executor_view(&pod(serde_json::json!({
            "metadata": {"name": "p"},
            "status": {"phase": "Failed", "containerStatuses": [{
                "name": "c", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}
            }]}
        })));
        assert_eq!(oom.problem, "ran out of memory (raise --executor-memory)");
    }

    #[test]
    fn quota_refusals_are_reworded() {
        let log = "26/11/23 WARN ExecutorPodsSnapshotsStoreImpl: x\n\
            26/11/23 ERROR ExecutorPodsAllocator: Failure executing: POST at: https://k/api/v1/namespaces/u/pods. \
            Message: pods \"quarry-alice-1-exec-2\" is forbidden: exceeded quota: user-quota, requested: pods=1, used: pods=2, limited: pods=2. Received status: Status(...)";
        let sentence = quota_refusal(log).unwrap();
        assert_eq!(
            sentence,
            "Kubernetes refused the executor pods: exceeded quota: user-quota, requested: pods=1, used: pods=2, limited: pods=2. \
             Stop other Spark sessions, ask for fewer or smaller executors (--executors, --executor-memory), or ask an administrator for a larger quota."
        );
        assert!(quota_refusal("all good").is_none());
    }

    #[test]
    fn status_table_counts_running_executors() {
        let views = vec![
            ExecutorView {
                name: "b".into(),
                executor_id: "2".into(),
                phase: "Pending".into(),
                node: String::new(),
                restarts: 0,
                problem: "no node has room for it yet".into(),
            },
            ExecutorView {
                name: "a".into(),
                executor_id: "1".into(),
                phase: "Running".into(),
                node: "n".into(),
                restarts: 0,
                problem: String::new(),
            },
        ];
        let shown = describe_executors(&views, 2, None);
        assert!(shown.text.starts_with("Executors: 1 of 2 running"));
        assert!(shown.text.find("  1  a  ").unwrap() < shown.text.find("  2  b  ").unwrap());
        assert!(
            shown
                .html
                .find("<code style=\"white-space: pre\">a</code>")
                .unwrap()
                < shown.html.find(">b</code>").unwrap()
        );
        assert_eq!(count_by_phase(&views).get("Running"), Some(&1));
    }
}
