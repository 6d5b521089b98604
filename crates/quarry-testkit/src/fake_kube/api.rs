//! The HTTP face of the fake API server: the REST paths Spark's fabric8
//! client, kube-rs and kubernetes_asyncio use (core, RBAC and networking
//! groups), TokenRequest, SelfSubjectAccessReview, pod logs, and a few
//! `/fake/*` controls for tests.
//!
//! Every request is authenticated by its bearer token and, when it names a
//! resource, authorized by RBAC ([`super::rbac`]) before a handler sees it;
//! what non-admin callers were allowed to do is recorded, so tests can
//! check that a Role grants no more than what was used.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Extension, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Value, json};

use super::admission::{self, AdmissionRequest, Operation};
use super::rbac::{self, UserInfo};
use super::request::{self, RequestInfo};
use super::selectors::{FieldSelector, LabelSelector};
use super::store::{Refusal, Store, kind_info};
use super::watch::watch;

/// One permission a caller used: what RBAC allowed, not what was asked of
/// SelfSubjectAccessReview.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Use {
    pub user: String,
    pub verb: String,
    pub group: String,
    /// `resource` or `resource/subresource`.
    pub resource: String,
    pub namespace: String,
}

/// State shared by the routes and the kubelet.
pub struct Cluster {
    pub store: Mutex<Store>,
    tokens: Mutex<HashMap<String, UserInfo>>,
    audit: Mutex<BTreeSet<Use>>,
    /// Where the kubelet keeps each pod's log, by `namespace/name`.
    pub logs: Mutex<HashMap<String, PathBuf>>,
}

impl Cluster {
    /// A cluster holding only the bootstrap RBAC objects.
    pub fn new() -> Arc<Cluster> {
        let mut store = Store::default();
        rbac::bootstrap(&mut store);
        Arc::new(Cluster {
            store: Mutex::new(store),
            tokens: Mutex::new(HashMap::new()),
            audit: Mutex::new(BTreeSet::new()),
            logs: Mutex::new(HashMap::new()),
        })
    }

    /// A new bearer token that authenticates as `user`.
    pub fn issue_token(&self, user: UserInfo) -> String {
        let token = uuid::Uuid::new_v4().simple().to_string();
        self.tokens
            .lock()
            .expect("tokens")
            .insert(token.clone(), user);
        token
    }

    fn user_of(&self, headers: &HeaderMap) -> Option<UserInfo> {
        let token = headers
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?;
        self.tokens.lock().expect("tokens").get(token).cloned()
    }

    /// What non-admin callers were allowed to do so far.
    pub fn uses(&self) -> Vec<Use> {
        self.audit.lock().expect("audit").iter().cloned().collect()
    }
}

pub(super) type Shared = Arc<Cluster>;

/// Who is calling and, for resource requests, what they ask.
#[derive(Debug, Clone)]
struct Caller {
    user: UserInfo,
    info: Option<RequestInfo>,
}

pub fn router(cluster: Shared) -> Router {
    Router::new()
        .route(
            "/version",
            get(|| async {
                Json(json!({"major": "1", "minor": "34", "gitVersion": "v1.34.0-quarry-fake"}))
            }),
        )
        .route(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            post(access_review),
        )
        .route("/fake/compact", post(compact))
        .route("/fake/audit", get(audit))
        .fallback(resource_request)
        .layer(middleware::from_fn_with_state(cluster.clone(), gatekeeper))
        .with_state(cluster)
}

/// Authentication, authorization and the audit record, in front of every
/// route; 503 for websocket upgrades (fabric8 then falls back to a streamed
/// HTTP watch).
async fn gatekeeper(State(cluster): State<Shared>, mut request: Request, next: Next) -> Response {
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
    let Some(user) = cluster.user_of(headers) else {
        return status_response(&Refusal {
            code: 401,
            reason: "Unauthorized",
            message: "Unauthorized".into(),
        });
    };
    let path = request.uri().path().to_string();
    let info = request::resolve(request.method().as_str(), &path, request.uri().query());
    match &info {
        None if path.starts_with("/fake/") && !user.is_admin() => {
            return status_response(&Refusal {
                code: 403,
                reason: "Forbidden",
                message: format!(
                    "forbidden: User \"{}\" cannot post path \"{path}\"",
                    user.name
                ),
            });
        }
        None => {}
        Some(info) => {
            let allowed = rbac::authorize(&cluster.store.lock().expect("store"), &user, info);
            if !allowed {
                return forbidden(&user, info);
            }
            if !user.is_admin() {
                cluster.audit.lock().expect("audit").insert(Use {
                    user: user.name.clone(),
                    verb: info.verb.clone(),
                    group: info.group.clone(),
                    resource: info.full_resource(),
                    namespace: info.namespace.clone(),
                });
            }
        }
    }
    request.extensions_mut().insert(Caller { user, info });
    next.run(request).await
}

fn status_response(refusal: &Refusal) -> Response {
    let code = StatusCode::from_u16(refusal.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, Json(refusal.status())).into_response()
}

fn forbidden(user: &UserInfo, info: &RequestInfo) -> Response {
    let qualified =
        kind_info(&info.resource).map_or_else(|| info.resource.clone(), |k| k.qualified());
    status_response(&Refusal {
        code: 403,
        reason: "Forbidden",
        message: rbac::forbidden_message(user, info, &qualified),
    })
}

fn unknown(resource: &str) -> Response {
    status_response(&Refusal {
        code: 404,
        reason: "NotFound",
        message: format!("the server could not find the requested resource ({resource})"),
    })
}

fn bad_request(message: String) -> Response {
    status_response(&Refusal {
        code: 400,
        reason: "BadRequest",
        message,
    })
}

fn not_found(resource: &str, name: &str) -> Response {
    status_response(&Refusal {
        code: 404,
        reason: "NotFound",
        message: format!("{resource} \"{name}\" not found"),
    })
}

fn ok_json(value: Value) -> Response {
    Json(value).into_response()
}

fn created(value: Value) -> Response {
    (StatusCode::CREATED, Json(value)).into_response()
}

fn result(outcome: Result<Value, Refusal>, on_ok: fn(Value) -> Response) -> Response {
    match outcome {
        Ok(value) => on_ok(value),
        Err(refusal) => status_response(&refusal),
    }
}

// A refusal is the response itself, sent at once: boxing it would only
// move the allocation.
#[allow(clippy::result_large_err)]
fn selectors(params: &HashMap<String, String>) -> Result<(LabelSelector, FieldSelector), Response> {
    let labels = LabelSelector::parse(params.get("labelSelector").map_or("", String::as_str))
        .map_err(bad_request)?;
    let fields = FieldSelector::parse(params.get("fieldSelector").map_or("", String::as_str))
        .map_err(bad_request)?;
    Ok((labels, fields))
}

/// Every resource path lands here once the gatekeeper has resolved and
/// authorized it; the verb picks the handler.
async fn resource_request(
    State(cluster): State<Shared>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(info) = caller.info else {
        return unknown("");
    };
    let Some(kind) = kind_info(&info.resource).filter(|k| k.group == info.group) else {
        return unknown(&info.resource);
    };
    // A namespaced kind may be listed across namespaces; anything else must
    // be addressed in its own scope.
    let across = info.namespace.is_empty() && matches!(info.verb.as_str(), "list" | "watch");
    if kind.namespaced == info.namespace.is_empty() && !(kind.namespaced && across) {
        return unknown(&info.resource);
    }
    match (info.subresource.as_str(), info.verb.as_str()) {
        ("log", "get") if info.resource == "pods" => pod_log(&cluster, &info, &params).await,
        ("token", "create") if info.resource == "serviceaccounts" => token_request(&cluster, &info),
        ("", "list" | "watch") => list_or_watch(cluster, &info, &params),
        ("", "get") => read(&cluster, &info),
        ("", "create") => create(&cluster, &caller.user, &info, &body),
        ("", "update") => replace(&cluster, &caller.user, &info, &body),
        ("", "patch") => patch(&cluster, &caller.user, &info, &headers, &body),
        ("", "delete") => delete_one(&cluster, &info),
        ("", "deletecollection") => delete_collection(&cluster, &info, &params),
        _ => unknown(&info.full_resource()),
    }
}

fn list_or_watch(
    cluster: Shared,
    info: &RequestInfo,
    params: &HashMap<String, String>,
) -> Response {
    let (labels, fields) = match selectors(params) {
        Ok(s) => s,
        Err(response) => return response,
    };
    let ns = Some(info.namespace.clone()).filter(|n| !n.is_empty());
    if info.verb == "watch" {
        return watch(cluster, info.resource.clone(), ns, labels, fields, params);
    }
    let store = cluster.store.lock().expect("store");
    let items: Vec<Value> = store
        .list(&info.resource, ns.as_deref())
        .into_iter()
        .filter(|o| labels.matches(o) && fields.matches(o))
        .collect();
    let kind = kind_info(&info.resource).expect("checked by the caller");
    ok_json(json!({
        "kind": format!("{}List", kind.kind), "apiVersion": kind.api_version(),
        "metadata": {"resourceVersion": store.version().to_string()},
        "items": items,
    }))
}

#[allow(clippy::result_large_err)]
fn parse_json(body: &Bytes) -> Result<Value, Response> {
    serde_json::from_slice(body).map_err(|e| bad_request(e.to_string()))
}

fn create(cluster: &Cluster, user: &UserInfo, info: &RequestInfo, body: &Bytes) -> Response {
    let mut object = match parse_json(body) {
        Ok(object) => object,
        Err(response) => return response,
    };
    let mut store = cluster.store.lock().expect("store");
    if !info.namespace.is_empty() && store.get("namespaces", "", &info.namespace).is_none() {
        return not_found("namespaces", &info.namespace);
    }
    if matches!(
        info.resource.as_str(),
        "rolebindings" | "clusterrolebindings"
    ) && !rbac::binding_allowed(&store, user, &info.namespace, &object)
    {
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        return status_response(&Refusal {
            code: 403,
            reason: "Forbidden",
            message: format!(
                "{}.rbac.authorization.k8s.io \"{name}\" is forbidden: user \"{}\" (groups={:?}) is attempting to grant RBAC permissions not currently held",
                info.resource, user.name, user.groups
            ),
        });
    }
    // The name is generated before admission, as the API server does, so
    // that a refusal names the pod.
    if object["metadata"]["name"]
        .as_str()
        .is_none_or(str::is_empty)
        && let Some(prefix) = object["metadata"]["generateName"].as_str()
    {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        object["metadata"]["name"] = json!(format!("{prefix}{}", &suffix[..5]));
    }
    if let Err(refusal) = admit(&store, user, info, Operation::Create, &object, None) {
        return status_response(&refusal);
    }
    result(
        store.create(&info.resource, &info.namespace, object),
        created,
    )
}

/// Runs the admission chain for a write of `object`.
fn admit(
    store: &Store,
    user: &UserInfo,
    info: &RequestInfo,
    operation: Operation,
    object: &Value,
    old_object: Option<&Value>,
) -> Result<(), Refusal> {
    let Some(kind) = kind_info(&info.resource) else {
        return Ok(());
    };
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or(info.name.as_str());
    admission::admit(
        store,
        &AdmissionRequest {
            operation,
            user,
            kind,
            namespace: &info.namespace,
            name,
            object,
            old_object,
        },
    )
}

fn read(cluster: &Cluster, info: &RequestInfo) -> Response {
    let store = cluster.store.lock().expect("store");
    match store.get(&info.resource, &info.namespace, &info.name) {
        Some(object) => ok_json(object),
        None => not_found(&info.resource, &info.name),
    }
}

fn replace(cluster: &Cluster, user: &UserInfo, info: &RequestInfo, body: &Bytes) -> Response {
    let object = match parse_json(body) {
        Ok(object) => object,
        Err(response) => return response,
    };
    let mut store = cluster.store.lock().expect("store");
    update(&mut store, user, info, object)
}

/// Stores `object` over the existing one after admission.
fn update(store: &mut Store, user: &UserInfo, info: &RequestInfo, object: Value) -> Response {
    let old = store.get(&info.resource, &info.namespace, &info.name);
    if let Some(old) = &old
        && let Err(refusal) = admit(store, user, info, Operation::Update, &object, Some(old))
    {
        return status_response(&refusal);
    }
    result(
        store.replace(&info.resource, &info.namespace, &info.name, object),
        ok_json,
    )
}

fn patch(
    cluster: &Cluster,
    user: &UserInfo,
    info: &RequestInfo,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let mut store = cluster.store.lock().expect("store");
    let Some(mut object) = store.get(&info.resource, &info.namespace, &info.name) else {
        return not_found(&info.resource, &info.name);
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("application/json-patch+json") {
        let patch: json_patch::Patch = match serde_json::from_slice(body) {
            Ok(p) => p,
            Err(e) => return bad_request(e.to_string()),
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
        let patch = match parse_json(body) {
            Ok(p) => p,
            Err(response) => return response,
        };
        json_patch::merge(&mut object, &patch);
    }
    update(&mut store, user, info, object)
}

fn delete_one(cluster: &Cluster, info: &RequestInfo) -> Response {
    let outcome =
        cluster
            .store
            .lock()
            .expect("store")
            .delete(&info.resource, &info.namespace, &info.name);
    result(outcome, ok_json)
}

fn delete_collection(
    cluster: &Cluster,
    info: &RequestInfo,
    params: &HashMap<String, String>,
) -> Response {
    let (labels, fields) = match selectors(params) {
        Ok(s) => s,
        Err(response) => return response,
    };
    let mut store = cluster.store.lock().expect("store");
    let names: Vec<String> = store
        .list(&info.resource, Some(&info.namespace))
        .into_iter()
        .filter(|o| labels.matches(o) && fields.matches(o))
        .filter_map(|o| o["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    let mut items = Vec::new();
    for name in names {
        if let Ok(object) = store.delete(&info.resource, &info.namespace, &name) {
            items.push(object);
        }
    }
    let kind = kind_info(&info.resource).expect("checked by the caller");
    ok_json(json!({
        "kind": format!("{}List", kind.kind), "apiVersion": kind.api_version(),
        "metadata": {}, "items": items,
    }))
}

/// TokenRequest (`POST …/serviceaccounts/NAME/token`): a token that
/// authenticates as that service account.
fn token_request(cluster: &Cluster, info: &RequestInfo) -> Response {
    let exists = cluster
        .store
        .lock()
        .expect("store")
        .get("serviceaccounts", &info.namespace, &info.name)
        .is_some();
    if !exists {
        return not_found("serviceaccounts", &info.name);
    }
    let token = cluster.issue_token(UserInfo::service_account(&info.namespace, &info.name));
    let expires = chrono::Utc::now() + chrono::Duration::hours(1);
    created(json!({
        "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": info.name, "namespace": info.namespace},
        "spec": {"audiences": ["https://kubernetes.default.svc"], "expirationSeconds": 3600},
        "status": {"token": token, "expirationTimestamp": expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)},
    }))
}

async fn pod_log(
    cluster: &Cluster,
    info: &RequestInfo,
    params: &HashMap<String, String>,
) -> Response {
    let path = cluster
        .logs
        .lock()
        .expect("logs")
        .get(&format!("{}/{}", info.namespace, info.name))
        .cloned();
    let Some(path) = path else {
        return bad_request(format!(
            "container for pod \"{}\" is not running or has no log",
            info.name
        ));
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

/// SelfSubjectAccessReview, answered from the same RBAC rules that
/// authorize real requests.
async fn access_review(
    State(cluster): State<Shared>,
    Extension(caller): Extension<Caller>,
    Json(mut review): Json<Value>,
) -> Response {
    let attributes = &review["spec"]["resourceAttributes"];
    let field = |name: &str| attributes[name].as_str().unwrap_or_default().to_string();
    let asked = RequestInfo {
        verb: field("verb"),
        group: field("group"),
        resource: field("resource"),
        subresource: field("subresource"),
        namespace: field("namespace"),
        name: field("name"),
    };
    let allowed = rbac::authorize(&cluster.store.lock().expect("store"), &caller.user, &asked);
    review["status"] = if allowed {
        json!({"allowed": true, "reason": "RBAC: allowed by the roles bound to this user"})
    } else {
        json!({"allowed": false})
    };
    review["kind"] = json!("SelfSubjectAccessReview");
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    created(review)
}

async fn audit(State(cluster): State<Shared>) -> Response {
    Json(cluster.uses()).into_response()
}

async fn compact(State(cluster): State<Shared>) -> Response {
    cluster.store.lock().expect("store").compact();
    StatusCode::NO_CONTENT.into_response()
}
