//! The fake API server's state: objects by kind, namespace and name; one
//! resourceVersion counter; an event history for watches (trimmed, so old
//! versions answer 410 Gone); quota admission (the last admission step;
//! Pod Security and policies run before, in [`super::admission`]) and
//! ownerReference cascade.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Value, json};
use tokio::sync::broadcast;

/// A kind the fake server stores: its plural resource name (unique across
/// the groups served here), its API group and whether it lives in a
/// namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub resource: &'static str,
    pub kind: &'static str,
    /// `""` for the core group.
    pub group: &'static str,
    pub namespaced: bool,
}

impl Kind {
    const fn core(resource: &'static str, kind: &'static str) -> Kind {
        Kind {
            resource,
            kind,
            group: "",
            namespaced: true,
        }
    }

    const fn of(resource: &'static str, kind: &'static str, group: &'static str) -> Kind {
        Kind {
            resource,
            kind,
            group,
            namespaced: true,
        }
    }

    const fn cluster(self) -> Kind {
        Kind {
            namespaced: false,
            ..self
        }
    }

    /// The `apiVersion` objects of this kind carry.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            "v1".to_string()
        } else {
            format!("{}/v1", self.group)
        }
    }

    /// The resource as Kubernetes names it in messages: `pods`,
    /// `roles.rbac.authorization.k8s.io`.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_string()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
}

const RBAC: &str = "rbac.authorization.k8s.io";
const ADMISSION: &str = "admissionregistration.k8s.io";

/// The kinds served.
pub const KINDS: &[Kind] = &[
    Kind::core("pods", "Pod"),
    Kind::core("services", "Service"),
    Kind::core("configmaps", "ConfigMap"),
    Kind::core("persistentvolumeclaims", "PersistentVolumeClaim"),
    Kind::core("resourcequotas", "ResourceQuota"),
    Kind::core("limitranges", "LimitRange"),
    Kind::core("secrets", "Secret"),
    Kind::core("serviceaccounts", "ServiceAccount"),
    Kind::core("events", "Event"),
    Kind::core("namespaces", "Namespace").cluster(),
    Kind::of("roles", "Role", RBAC),
    Kind::of("rolebindings", "RoleBinding", RBAC),
    Kind::of("clusterroles", "ClusterRole", RBAC).cluster(),
    Kind::of("clusterrolebindings", "ClusterRoleBinding", RBAC).cluster(),
    Kind::of("networkpolicies", "NetworkPolicy", "networking.k8s.io"),
    Kind::of("priorityclasses", "PriorityClass", "scheduling.k8s.io").cluster(),
    Kind::of(
        "validatingadmissionpolicies",
        "ValidatingAdmissionPolicy",
        ADMISSION,
    )
    .cluster(),
    Kind::of(
        "validatingadmissionpolicybindings",
        "ValidatingAdmissionPolicyBinding",
        ADMISSION,
    )
    .cluster(),
];

/// How many events watches can resume from.
const HISTORY: usize = 2000;

/// The kind stored under a plural resource name.
pub fn kind_info(resource: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.resource == resource)
}

/// The kind name (`Pod`) of a plural resource name (`pods`).
pub fn kind_of(resource: &str) -> Option<&'static str> {
    kind_info(resource).map(|k| k.kind)
}

/// The kind stored for a manifest's `kind:` (`Role` → roles).
pub fn kind_named(kind: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.kind == kind)
}

/// A change, as a watch sends it.
#[derive(Debug, Clone)]
pub struct Event {
    pub resource_version: u64,
    pub resource: String,
    pub kind: &'static str,
    pub object: Value,
}

/// Why a write was refused, as an HTTP status and Kubernetes Status reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
}

impl Refusal {
    pub fn status(&self) -> Value {
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code,
        })
    }
}

type Key = (String, String, String);

fn api_version(resource: &str) -> String {
    kind_info(resource).map_or_else(|| "v1".to_string(), Kind::api_version)
}

/// Whether a quota's `scopeSelector` covers `pod`. The `PriorityClass`
/// scope reads the pod's `priorityClassName` (as the quota admission
/// plugin does: `Exists` means one is set); other scopes are taken to
/// cover every pod.
fn quota_covers(quota: &Value, pod: &Value) -> bool {
    let class = pod["spec"]["priorityClassName"]
        .as_str()
        .unwrap_or_default();
    quota["spec"]["scopeSelector"]["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["scopeName"] == "PriorityClass")
        .all(|expression| {
            let listed = expression["values"]
                .as_array()
                .is_some_and(|values| values.iter().any(|v| v == class));
            match expression["operator"].as_str() {
                Some("Exists") => !class.is_empty(),
                Some("DoesNotExist") => class.is_empty(),
                Some("In") => listed,
                Some("NotIn") => !listed,
                _ => true,
            }
        })
}

pub struct Store {
    objects: BTreeMap<Key, Value>,
    version: u64,
    history: VecDeque<Event>,
    events: broadcast::Sender<Event>,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            objects: BTreeMap::new(),
            version: 1,
            history: VecDeque::new(),
            events: broadcast::channel(4096).0,
        }
    }
}

impl Store {
    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    fn record(&mut self, resource: &str, kind: &'static str, event_type: &str, object: Value) {
        let event = Event {
            resource_version: self.version,
            resource: resource.to_string(),
            kind,
            object: json!({"type": event_type, "object": object}),
        };
        self.history.push_back(event.clone());
        while self.history.len() > HISTORY {
            self.history.pop_front();
        }
        let _ = self.events.send(event);
    }

    /// Forgets the watch history, as etcd compaction does.
    pub fn compact(&mut self) {
        self.history.clear();
    }

    /// Events after `version`, or `None` if that version is too old (410).
    pub fn events_since(&self, resource: &str, version: u64) -> Option<Vec<Event>> {
        let oldest = self
            .history
            .front()
            .map_or(self.version, |e| e.resource_version);
        if version + 1 < oldest {
            return None;
        }
        Some(
            self.history
                .iter()
                .filter(|e| e.resource == resource && e.resource_version > version)
                .cloned()
                .collect(),
        )
    }

    pub fn list(&self, resource: &str, namespace: Option<&str>) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|((r, ns, _), _)| r == resource && namespace.is_none_or(|n| n == ns))
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn get(&self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        self.object(resource, namespace, name).cloned()
    }

    /// The stored object, borrowed.
    pub fn object(&self, resource: &str, namespace: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(&(resource.into(), namespace.into(), name.into()))
    }

    fn not_found(resource: &str, name: &str) -> Refusal {
        Refusal {
            code: 404,
            reason: "NotFound",
            message: format!("{resource} \"{name}\" not found"),
        }
    }

    /// Creates an object, filling in server-set metadata.
    pub fn create(
        &mut self,
        resource: &str,
        namespace: &str,
        mut object: Value,
    ) -> Result<Value, Refusal> {
        let kind = kind_of(resource).ok_or_else(|| Self::not_found(resource, ""))?;
        let metadata = object["metadata"]
            .as_object_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        let mut metadata = Value::Object(metadata);
        let name = match metadata["name"].as_str() {
            Some(name) if !name.is_empty() => name.to_string(),
            _ => match metadata["generateName"].as_str() {
                Some(prefix) => format!(
                    "{prefix}{}",
                    &uuid::Uuid::new_v4().simple().to_string()[..5]
                ),
                None => {
                    return Err(Refusal {
                        code: 422,
                        reason: "Invalid",
                        message: format!(
                            "{kind} is invalid: metadata.name: Required value: name or generateName is required"
                        ),
                    });
                }
            },
        };
        if self.get(resource, namespace, &name).is_some() {
            return Err(Refusal {
                code: 409,
                reason: "AlreadyExists",
                message: format!("{resource} \"{name}\" already exists"),
            });
        }
        if resource == "pods" {
            self.admit_pod(namespace, &name, &object)?;
        }
        self.version += 1;
        metadata["name"] = json!(name);
        if namespace.is_empty() {
            // Cluster-scoped objects carry no namespace.
            metadata.as_object_mut().map(|m| m.remove("namespace"));
        } else {
            metadata["namespace"] = json!(namespace);
        }
        metadata["uid"] = json!(uuid::Uuid::new_v4().to_string());
        metadata["resourceVersion"] = json!(self.version.to_string());
        metadata["creationTimestamp"] =
            json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        object["metadata"] = metadata;
        object["kind"] = json!(kind);
        object["apiVersion"] = json!(api_version(resource));
        if resource == "pods" && object["status"].get("phase").is_none() {
            object["status"] = json!({"phase": "Pending"});
        }
        self.objects
            .insert((resource.into(), namespace.into(), name), object.clone());
        self.record(resource, kind, "ADDED", object.clone());
        if resource == "pods" {
            self.refresh_quota_usage(namespace);
        }
        // An owner that is already gone means the garbage collector takes
        // the new object at once, as the real one does shortly after.
        if self.has_missing_owner(&object) {
            let name = object["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            self.delete(resource, namespace, &name)?;
        }
        Ok(object)
    }

    fn has_missing_owner(&self, object: &Value) -> bool {
        let owners = object["metadata"]["ownerReferences"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        !owners.is_empty()
            && owners.iter().all(|owner| {
                let uid = owner["uid"].as_str().unwrap_or_default();
                !self.objects.values().any(|o| o["metadata"]["uid"] == uid)
            })
    }

    /// Quota admission: the count of non-terminal pods a quota covers
    /// (its `scopeSelector`) against its `pods` hard limit.
    fn admit_pod(&self, namespace: &str, name: &str, pod: &Value) -> Result<(), Refusal> {
        for quota in self.list("resourcequotas", Some(namespace)) {
            let Some(limit) = quota["spec"]["hard"]["pods"]
                .as_str()
                .and_then(|l| l.parse::<usize>().ok())
            else {
                continue;
            };
            if !quota_covers(&quota, pod) {
                continue;
            }
            let used = self.active_pods(namespace, &quota);
            if used + 1 > limit {
                let quota_name = quota["metadata"]["name"].as_str().unwrap_or_default();
                return Err(Refusal {
                    code: 403,
                    reason: "Forbidden",
                    message: format!(
                        "pods \"{name}\" is forbidden: exceeded quota: {quota_name}, requested: pods=1, used: pods={used}, limited: pods={limit}"
                    ),
                });
            }
        }
        Ok(())
    }

    /// Non-terminal pods in `namespace` that `quota` covers.
    fn active_pods(&self, namespace: &str, quota: &Value) -> usize {
        self.list("pods", Some(namespace))
            .iter()
            .filter(|p| !matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed")))
            .filter(|p| quota_covers(quota, p))
            .count()
    }

    fn refresh_quota_usage(&mut self, namespace: &str) {
        let usage: Vec<(String, String)> = self
            .list("resourcequotas", Some(namespace))
            .iter()
            .filter_map(|q| {
                let name = q["metadata"]["name"].as_str()?.to_string();
                Some((name, self.active_pods(namespace, q).to_string()))
            })
            .collect();
        for (name, used) in usage {
            let key = ("resourcequotas".to_string(), namespace.to_string(), name);
            if let Some(quota) = self.objects.get_mut(&key) {
                quota["status"] =
                    json!({"hard": quota["spec"]["hard"].clone(), "used": {"pods": used}});
            }
        }
    }

    /// Replaces an object (PUT, PATCH, kubelet status updates).
    pub fn replace(
        &mut self,
        resource: &str,
        namespace: &str,
        name: &str,
        mut object: Value,
    ) -> Result<Value, Refusal> {
        let kind = kind_of(resource).ok_or_else(|| Self::not_found(resource, name))?;
        let current = self
            .get(resource, namespace, name)
            .ok_or_else(|| Self::not_found(resource, name))?;
        self.version += 1;
        for field in ["uid", "creationTimestamp", "name", "namespace"] {
            if let Some(value) = current["metadata"].get(field) {
                object["metadata"][field] = value.clone();
            }
        }
        object["metadata"]["resourceVersion"] = json!(self.version.to_string());
        object["kind"] = json!(kind);
        object["apiVersion"] = json!(api_version(resource));
        self.objects.insert(
            (resource.into(), namespace.into(), name.into()),
            object.clone(),
        );
        self.record(resource, kind, "MODIFIED", object.clone());
        if resource == "pods" {
            self.refresh_quota_usage(namespace);
        }
        Ok(object)
    }

    /// Deletes an object and, like the garbage collector, everything that
    /// names it as owner.
    pub fn delete(
        &mut self,
        resource: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Value, Refusal> {
        let kind = kind_of(resource).ok_or_else(|| Self::not_found(resource, name))?;
        let object = self
            .objects
            .remove(&(resource.into(), namespace.into(), name.into()))
            .ok_or_else(|| Self::not_found(resource, name))?;
        self.version += 1;
        let mut gone = object.clone();
        gone["metadata"]["resourceVersion"] = json!(self.version.to_string());
        self.record(resource, kind, "DELETED", gone);
        let uid = object["metadata"]["uid"].clone();
        let dependents: Vec<Key> = self
            .objects
            .iter()
            .filter(|(_, o)| {
                o["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|owners| owners.iter().any(|owner| owner["uid"] == uid))
            })
            .map(|(key, _)| key.clone())
            .collect();
        for (r, ns, n) in dependents {
            let _ = self.delete(&r, &ns, &n);
        }
        if resource == "pods" {
            self.refresh_quota_usage(namespace);
        }
        Ok(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str) -> Value {
        json!({"metadata": {"name": name, "labels": {"app": "x"}}, "spec": {"containers": []}})
    }

    #[test]
    fn create_fills_metadata_and_versions_grow() {
        let mut store = Store::default();
        let a = store.create("pods", "ns", pod("a")).unwrap();
        let b = store
            .create("pods", "ns", json!({"metadata": {"generateName": "exec-"}}))
            .unwrap();
        assert_eq!(a["status"]["phase"], "Pending");
        assert!(b["metadata"]["name"].as_str().unwrap().starts_with("exec-"));
        let rv = |o: &Value| {
            o["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        };
        assert!(rv(&b) > rv(&a));
        assert_eq!(store.create("pods", "ns", pod("a")).unwrap_err().code, 409);
    }

    #[test]
    fn quota_refuses_with_the_real_message() {
        let mut store = Store::default();
        store
            .create(
                "resourcequotas",
                "ns",
                json!({"metadata": {"name": "user-quota"}, "spec": {"hard": {"pods": "1"}}}),
            )
            .unwrap();
        store.create("pods", "ns", pod("a")).unwrap();
        let refusal = store.create("pods", "ns", pod("b")).unwrap_err();
        assert_eq!(refusal.code, 403);
        assert_eq!(
            refusal.message,
            "pods \"b\" is forbidden: exceeded quota: user-quota, requested: pods=1, used: pods=1, limited: pods=1"
        );
        assert_eq!(
            store.get("resourcequotas", "ns", "user-quota").unwrap()["status"]["used"]["pods"],
            "1"
        );
    }

    #[test]
    fn deleting_an_owner_cascades() {
        let mut store = Store::default();
        let owner = store.create("pods", "ns", pod("driver")).unwrap();
        let uid = owner["metadata"]["uid"].clone();
        let mut child = pod("exec-1");
        child["metadata"]["ownerReferences"] =
            json!([{"uid": uid, "kind": "Pod", "name": "driver", "apiVersion": "v1"}]);
        store.create("pods", "ns", child).unwrap();
        let mut map = json!({"metadata": {"name": "conf"}});
        map["metadata"]["ownerReferences"] =
            json!([{"uid": uid, "kind": "Pod", "name": "driver", "apiVersion": "v1"}]);
        store.create("configmaps", "ns", map).unwrap();
        store.delete("pods", "ns", "driver").unwrap();
        assert!(store.list("pods", None).is_empty());
        assert!(store.list("configmaps", None).is_empty());
        // Orphans of a vanished owner are collected at once.
        let mut late = pod("exec-2");
        late["metadata"]["ownerReferences"] =
            json!([{"uid": uid, "kind": "Pod", "name": "driver", "apiVersion": "v1"}]);
        store.create("pods", "ns", late).unwrap();
        assert!(store.list("pods", None).is_empty());
    }

    #[test]
    fn stale_versions_are_gone_after_compaction() {
        let mut store = Store::default();
        store.create("pods", "ns", pod("a")).unwrap();
        let since = store.events_since("pods", 1).unwrap();
        assert_eq!(since.len(), 1);
        let now = store.version();
        store.compact();
        store.create("pods", "ns", pod("b")).unwrap();
        assert!(store.events_since("pods", 1).is_none());
        assert_eq!(store.events_since("pods", now).unwrap().len(), 1);
    }
}
