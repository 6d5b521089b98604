//! The HTTP face of the fake API server: the core/v1 REST paths Spark's
//! fabric8 client and kube-rs use, SelfSubjectAccessReview, pod logs, and a
//! few `/fake/*` controls for tests.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt;
use serde_json::{Value, json};

use super::selectors::{FieldSelector, LabelSelector};
use super::store::{Refusal, Store, kind_of};

/// State shared by the routes and the kubelet.
pub struct Cluster {
    pub store: Mutex<Store>,
    pub token: String,
    /// `(resource, verb)` pairs the service account may NOT do.
    pub denied: Mutex<BTreeSet<(String, String)>>,
    /// Where the kubelet keeps each pod's log, by `namespace/name`.
    pub logs: Mutex<HashMap<String, PathBuf>>,
}

impl Cluster {
    pub fn new(token: String) -> Arc<Cluster> {
        Arc::new(Cluster {
            store: Mutex::new(Store::default()),
            token,
            denied: Mutex::new(BTreeSet::new()),
            logs: Mutex::new(HashMap::new()),
        })
    }

    fn allowed(&self, resource: &str, verb: &str) -> bool {
        !self
            .denied
            .lock()
            .expect("denied")
            .contains(&(resource.to_string(), verb.to_string()))
    }
}

type Shared = Arc<Cluster>;

pub fn router(cluster: Shared) -> Router {
    Router::new()
        .route(
            "/version",
            get(|| async {
                axum::Json(
                    json!({"major": "1", "minor": "34", "gitVersion": "v1.34.0-quarry-fake"}),
                )
            }),
        )
        .route(
            "/api/v1/namespaces/{ns}/{resource}",
            get(list_or_watch).post(create).delete(delete_collection),
        )
        .route(
            "/api/v1/namespaces/{ns}/{resource}/{name}",
            get(read).put(replace).patch(patch).delete(delete_one),
        )
        .route("/api/v1/namespaces/{ns}/pods/{name}/log", get(pod_log))
        .route("/api/v1/{resource}", get(list_all))
        .route(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            post(access_review),
        )
        .route("/fake/deny", post(set_denied))
        .route("/fake/compact", post(compact))
        .layer(middleware::from_fn_with_state(cluster.clone(), gatekeeper))
        .with_state(cluster)
}

/// Bearer-token check, and 503 for websocket upgrades (fabric8 then falls
/// back to a streamed HTTP watch).
async fn gatekeeper(State(cluster): State<Shared>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    if headers
        .get(header::UPGRADE)
        .is_some_and(|u| u.as_bytes().eq_ignore_ascii_case(b"websocket"))
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "websocket watches are not served here",
        )
            .into_response();
    }
    let expected = format!("Bearer {}", cluster.token);
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(expected.as_str())
    {
        let refusal = Refusal {
            code: 401,
            reason: "Unauthorized",
            message: "Unauthorized".into(),
        };
        return status_response(&refusal);
    }
    next.run(request).await
}

fn status_response(refusal: &Refusal) -> Response {
    let code = StatusCode::from_u16(refusal.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, axum::Json(refusal.status())).into_response()
}

fn forbidden(resource: &str, verb: &str, namespace: &str) -> Response {
    let (group_resource, sub) = resource
        .split_once('/')
        .map_or((resource, ""), |(r, s)| (r, s));
    let what = if sub.is_empty() {
        group_resource.to_string()
    } else {
        format!("{group_resource}/{sub}")
    };
    status_response(&Refusal {
        code: 403,
        reason: "Forbidden",
        message: format!(
            "{what} is forbidden: User \"system:serviceaccount:{namespace}:quarry-spark\" cannot {verb} resource \"{what}\" in API group \"\" in the namespace \"{namespace}\""
        ),
    })
}

fn unknown(resource: &str) -> Response {
    status_response(&Refusal {
        code: 404,
        reason: "NotFound",
        message: format!("the server could not find the requested resource ({resource})"),
    })
}

fn ok_json(value: Value) -> Response {
    axum::Json(value).into_response()
}

fn created(value: Value) -> Response {
    (StatusCode::CREATED, axum::Json(value)).into_response()
}

fn result(outcome: Result<Value, Refusal>, on_ok: fn(Value) -> Response) -> Response {
    match outcome {
        Ok(value) => on_ok(value),
        Err(refusal) => status_response(&refusal),
    }
}

fn selectors(params: &HashMap<String, String>) -> Result<(LabelSelector, FieldSelector), Response> {
    let bad = |message: String| {
        status_response(&Refusal {
            code: 400,
            reason: "BadRequest",
            message,
        })
    };
    let labels = LabelSelector::parse(params.get("labelSelector").map_or("", String::as_str))
        .map_err(bad)?;
    let fields = FieldSelector::parse(params.get("fieldSelector").map_or("", String::as_str))
        .map_err(bad)?;
    Ok((labels, fields))
}

async fn list_all(
    State(cluster): State<Shared>,
    Path(resource): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    list_inner(cluster, resource, None, params).await
}

async fn list_or_watch(
    State(cluster): State<Shared>,
    Path((ns, resource)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    list_inner(cluster, resource, Some(ns), params).await
}

async fn list_inner(
    cluster: Shared,
    resource: String,
    ns: Option<String>,
    params: HashMap<String, String>,
) -> Response {
    let Some(kind) = kind_of(&resource) else {
        return unknown(&resource);
    };
    let namespace = ns.clone().unwrap_or_default();
    let watching = params.get("watch").is_some_and(|w| w == "true" || w == "1");
    let verb = if watching { "watch" } else { "list" };
    if !cluster.allowed(&resource, verb) {
        return forbidden(&resource, verb, &namespace);
    }
    let (labels, fields) = match selectors(&params) {
        Ok(s) => s,
        Err(response) => return response,
    };
    if watching {
        return watch(cluster, resource, ns, labels, fields, &params);
    }
    let store = cluster.store.lock().expect("store");
    let items: Vec<Value> = store
        .list(&resource, ns.as_deref())
        .into_iter()
        .filter(|o| labels.matches(o) && fields.matches(o))
        .collect();
    ok_json(json!({
        "kind": format!("{kind}List"), "apiVersion": "v1",
        "metadata": {"resourceVersion": store.version().to_string()},
        "items": items,
    }))
}

/// A streamed watch: newline-delimited JSON events from `resourceVersion`
/// (or the current state first, when none is given).
fn watch(
    cluster: Shared,
    resource: String,
    ns: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    params: &HashMap<String, String>,
) -> Response {
    let timeout = params
        .get("timeoutSeconds")
        .and_then(|t| t.parse().ok())
        .unwrap_or(300u64);
    let since = params
        .get("resourceVersion")
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|v| *v > 0);
    let (initial, receiver) = {
        let store = cluster.store.lock().expect("store");
        let receiver = store.subscribe();
        let initial: Vec<Value> = match since {
            Some(version) => match store.events_since(&resource, version) {
                Some(events) => events.into_iter().map(|e| e.object).collect(),
                None => {
                    let gone = Refusal {
                        code: 410,
                        reason: "Expired",
                        message: format!(
                            "too old resource version: {version} ({})",
                            store.version()
                        ),
                    };
                    // Watches report expiry as an ERROR event in the stream.
                    let event = json!({"type": "ERROR", "object": gone.status()});
                    return Response::builder()
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(Body::from(format!("{event}\n")))
                        .expect("response");
                }
            },
            None => store
                .list(&resource, ns.as_deref())
                .into_iter()
                .map(|o| json!({"type": "ADDED", "object": o}))
                .collect(),
        };
        (initial, receiver)
    };
    let matches = move |event: &Value| {
        let object = &event["object"];
        ns.as_deref()
            .is_none_or(|n| object["metadata"]["namespace"] == n)
            && labels.matches(object)
            && fields.matches(object)
    };
    let initial = futures::stream::iter(initial);
    let resource_for_live = resource.clone();
    let live = tokio_stream::wrappers::BroadcastStream::new(receiver).filter_map(move |event| {
        let resource = resource_for_live.clone();
        async move {
            match event {
                Ok(event) if event.resource == resource => Some(event.object),
                _ => None,
            }
        }
    });
    let matches_live = matches.clone();
    let stream = initial
        .filter(move |e| futures::future::ready(matches(e)))
        .chain(live.filter(move |e| futures::future::ready(matches_live(e))))
        .map(|event| Ok::<_, std::io::Error>(Bytes::from(format!("{event}\n"))))
        .take_until(tokio::time::sleep(Duration::from_secs(timeout)));
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .expect("response")
}

async fn create(
    State(cluster): State<Shared>,
    Path((ns, resource)): Path<(String, String)>,
    axum::Json(object): axum::Json<Value>,
) -> Response {
    if kind_of(&resource).is_none() {
        return unknown(&resource);
    }
    if !cluster.allowed(&resource, "create") {
        return forbidden(&resource, "create", &ns);
    }
    let outcome = cluster
        .store
        .lock()
        .expect("store")
        .create(&resource, &ns, object);
    result(outcome, created)
}

async fn read(
    State(cluster): State<Shared>,
    Path((ns, resource, name)): Path<(String, String, String)>,
) -> Response {
    if !cluster.allowed(&resource, "get") {
        return forbidden(&resource, "get", &ns);
    }
    let store = cluster.store.lock().expect("store");
    match store.get(&resource, &ns, &name) {
        Some(object) => ok_json(object),
        None => status_response(&Refusal {
            code: 404,
            reason: "NotFound",
            message: format!("{resource} \"{name}\" not found"),
        }),
    }
}

async fn replace(
    State(cluster): State<Shared>,
    Path((ns, resource, name)): Path<(String, String, String)>,
    axum::Json(object): axum::Json<Value>,
) -> Response {
    if !cluster.allowed(&resource, "update") {
        return forbidden(&resource, "update", &ns);
    }
    let outcome = cluster
        .store
        .lock()
        .expect("store")
        .replace(&resource, &ns, &name, object);
    result(outcome, ok_json)
}

async fn patch(
    State(cluster): State<Shared>,
    Path((ns, resource, name)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !cluster.allowed(&resource, "patch") {
        return forbidden(&resource, "patch", &ns);
    }
    let bad = |message: String| {
        status_response(&Refusal {
            code: 400,
            reason: "BadRequest",
            message,
        })
    };
    let mut store = cluster.store.lock().expect("store");
    let Some(mut object) = store.get(&resource, &ns, &name) else {
        return status_response(&Refusal {
            code: 404,
            reason: "NotFound",
            message: format!("{resource} \"{name}\" not found"),
        });
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("application/json-patch+json") {
        let patch: json_patch::Patch = match serde_json::from_slice(&body) {
            Ok(p) => p,
            Err(e) => return bad(e.to_string()),
        };
        if let Err(e) = json_patch::patch(&mut object, &patch) {
            return status_response(&Refusal {
                code: 422,
                reason: "Invalid",
                message: e.to_string(),
            });
        }
    } else {
        // Merge and strategic-merge patches: a JSON merge is close enough
        // for the label and annotation changes Spark makes.
        let patch: Value = match serde_json::from_slice(&body) {
            Ok(p) => p,
            Err(e) => return bad(e.to_string()),
        };
        json_patch::merge(&mut object, &patch);
    }
    result(store.replace(&resource, &ns, &name, object), ok_json)
}

async fn delete_one(
    State(cluster): State<Shared>,
    Path((ns, resource, name)): Path<(String, String, String)>,
) -> Response {
    if !cluster.allowed(&resource, "delete") {
        return forbidden(&resource, "delete", &ns);
    }
    let outcome = cluster
        .store
        .lock()
        .expect("store")
        .delete(&resource, &ns, &name);
    result(outcome, ok_json)
}

async fn delete_collection(
    State(cluster): State<Shared>,
    Path((ns, resource)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some(kind) = kind_of(&resource) else {
        return unknown(&resource);
    };
    if !cluster.allowed(&resource, "deletecollection") {
        return forbidden(&resource, "deletecollection", &ns);
    }
    let (labels, fields) = match selectors(&params) {
        Ok(s) => s,
        Err(response) => return response,
    };
    let mut store = cluster.store.lock().expect("store");
    let names: Vec<String> = store
        .list(&resource, Some(&ns))
        .into_iter()
        .filter(|o| labels.matches(o) && fields.matches(o))
        .filter_map(|o| o["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    let mut items = Vec::new();
    for name in names {
        if let Ok(object) = store.delete(&resource, &ns, &name) {
            items.push(object);
        }
    }
    ok_json(
        json!({"kind": format!("{kind}List"), "apiVersion": "v1", "metadata": {}, "items": items}),
    )
}

async fn pod_log(
    State(cluster): State<Shared>,
    Path((ns, name)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if !cluster.allowed("pods/log", "get") {
        return forbidden("pods/log", "get", &ns);
    }
    let path = cluster
        .logs
        .lock()
        .expect("logs")
        .get(&format!("{ns}/{name}"))
        .cloned();
    let Some(path) = path else {
        return status_response(&Refusal {
            code: 400,
            reason: "BadRequest",
            message: format!("container for pod \"{name}\" is not running or has no log"),
        });
    };
    let text = tokio::fs::read_to_string(&path).await.unwrap_or_default();
    let text = match params
        .get("tailLines")
        .and_then(|t| t.parse::<usize>().ok())
    {
        Some(n) => {
            let lines: Vec<&str> = text.lines().collect();
            let mut tail = lines[lines.len().saturating_sub(n)..].join("\n");
            tail.push('\n');
            tail
        }
        None => text,
    };
    ([(header::CONTENT_TYPE, "text/plain")], text).into_response()
}

async fn access_review(
    State(cluster): State<Shared>,
    axum::Json(mut review): axum::Json<Value>,
) -> Response {
    let attributes = &review["spec"]["resourceAttributes"];
    let resource = attributes["resource"].as_str().unwrap_or_default();
    let resource = match attributes["subresource"].as_str().filter(|s| !s.is_empty()) {
        Some(sub) => format!("{resource}/{sub}"),
        None => resource.to_string(),
    };
    let verb = attributes["verb"].as_str().unwrap_or_default();
    let allowed = cluster.allowed(&resource, verb);
    review["status"] = if allowed {
        json!({"allowed": true, "reason": "allowed by the fake API server's table"})
    } else {
        json!({"allowed": false, "reason": format!("denied {verb} {resource} by the fake API server's table")})
    };
    review["kind"] = json!("SelfSubjectAccessReview");
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    created(review)
}

/// Replaces the deny table: a JSON list of `[resource, verb]` pairs.
async fn set_denied(
    State(cluster): State<Shared>,
    axum::Json(pairs): axum::Json<Vec<(String, String)>>,
) -> Response {
    *cluster.denied.lock().expect("denied") = pairs.into_iter().collect();
    StatusCode::NO_CONTENT.into_response()
}

async fn compact(State(cluster): State<Shared>) -> Response {
    cluster.store.lock().expect("store").compact();
    StatusCode::NO_CONTENT.into_response()
}
