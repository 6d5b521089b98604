//! Authentication by bearer token and authorization by RBAC, from the Role,
//! ClusterRole, RoleBinding and ClusterRoleBinding objects in the store —
//! the same objects the shipped manifests and the hub create — so a test
//! that passes here passes because of the rules a real cluster would hold.
//!
//! What follows Kubernetes closely (tests depend on it): rule matching by
//! API group, resource or `resource/subresource`, verb, resource names and
//! `*`; subjects by ServiceAccount, User and Group (service accounts are in
//! `system:serviceaccounts` and `system:serviceaccounts:<ns>`, everyone in
//! `system:authenticated`); RoleBindings that reference a ClusterRole; the
//! `system:masters` group; the bootstrap `system:basic-user` binding that
//! lets everyone ask SelfSubjectAccessReview; and the Forbidden texts.
//!
//! Simplified: creating a binding needs the `bind` verb on the role it names
//! (Kubernetes also accepts holding every permission of that role), and
//! aggregated ClusterRoles are not expanded.

use serde_json::{Value, json};

use super::request::RequestInfo;
use super::store::Store;

/// Who a token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub groups: Vec<String>,
}

impl UserInfo {
    /// The cluster administrator (`system:masters`): no rule applies.
    pub fn admin() -> UserInfo {
        UserInfo {
            name: "kubernetes-admin".into(),
            groups: vec!["system:masters".into(), "system:authenticated".into()],
        }
    }

    /// A service account, as its token authenticates.
    pub fn service_account(namespace: &str, name: &str) -> UserInfo {
        UserInfo {
            name: format!("system:serviceaccount:{namespace}:{name}"),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".into(),
            ],
        }
    }

    pub fn is_admin(&self) -> bool {
        self.groups.iter().any(|g| g == "system:masters")
    }

    fn is_subject(&self, subject: &Value) -> bool {
        let name = subject["name"].as_str().unwrap_or_default();
        match subject["kind"].as_str() {
            Some("ServiceAccount") => {
                let namespace = subject["namespace"].as_str().unwrap_or_default();
                self.name == format!("system:serviceaccount:{namespace}:{name}")
            }
            Some("User") => self.name == name,
            Some("Group") => self.groups.iter().any(|g| g == name),
            _ => false,
        }
    }
}

/// The objects every cluster starts with that the tests rely on.
pub fn bootstrap(store: &mut Store) {
    let objects = [
        (
            "clusterroles",
            json!({
                "metadata": {"name": "system:basic-user"},
                "rules": [{
                    "apiGroups": ["authorization.k8s.io"],
                    "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                    "verbs": ["create"],
                }],
            }),
        ),
        (
            "clusterrolebindings",
            json!({
                "metadata": {"name": "system:basic-user"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:basic-user"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"}],
            }),
        ),
    ];
    for (resource, object) in objects {
        store
            .create(resource, "", object)
            .expect("bootstrap objects are valid");
    }
}

/// Whether `user` may do what `info` asks.
pub fn authorize(store: &Store, user: &UserInfo, info: &RequestInfo) -> bool {
    if user.is_admin() {
        return true;
    }
    rules_for(store, user, &info.namespace)
        .iter()
        .any(|rule| rule_allows(rule, info))
}

/// Every rule that applies to `user` in `namespace` (`""`: cluster scope):
/// ClusterRoleBindings everywhere, RoleBindings only in their namespace.
pub fn rules_for(store: &Store, user: &UserInfo, namespace: &str) -> Vec<Value> {
    let mut bindings: Vec<(Value, String)> = store
        .list("clusterrolebindings", None)
        .into_iter()
        .map(|b| (b, String::new()))
        .collect();
    if !namespace.is_empty() {
        bindings.extend(
            store
                .list("rolebindings", Some(namespace))
                .into_iter()
                .map(|b| (b, namespace.to_string())),
        );
    }
    let mut rules = Vec::new();
    for (binding, binding_namespace) in bindings {
        let subjects = binding["subjects"].as_array().cloned().unwrap_or_default();
        if !subjects.iter().any(|s| user.is_subject(s)) {
            continue;
        }
        let role_name = binding["roleRef"]["name"].as_str().unwrap_or_default();
        let role = match binding["roleRef"]["kind"].as_str() {
            Some("ClusterRole") => store.get("clusterroles", "", role_name),
            Some("Role") => store.get("roles", &binding_namespace, role_name),
            _ => None,
        };
        if let Some(role) = role {
            rules.extend(role["rules"].as_array().cloned().unwrap_or_default());
        }
    }
    rules
}

fn listed(rule: &Value, field: &str, wanted: &str) -> bool {
    rule[field]
        .as_array()
        .is_some_and(|items| items.iter().any(|i| i == "*" || i == wanted))
}

/// One PolicyRule against one request, as `RuleAllows` in Kubernetes.
pub fn rule_allows(rule: &Value, info: &RequestInfo) -> bool {
    let resource_matches = listed(rule, "resources", &info.full_resource())
        || (!info.subresource.is_empty()
            && listed(rule, "resources", &format!("*/{}", info.subresource)));
    let names = rule["resourceNames"].as_array().filter(|n| !n.is_empty());
    let name_matches = names.is_none_or(|names| names.iter().any(|n| n == info.name.as_str()));
    listed(rule, "verbs", &info.verb)
        && listed(rule, "apiGroups", &info.group)
        && resource_matches
        && name_matches
}

/// The escalation check for a binding's body: creating or changing a
/// binding needs `bind` on the role it grants, so no one hands out rights
/// they were not given.
pub fn binding_allowed(store: &Store, user: &UserInfo, namespace: &str, binding: &Value) -> bool {
    if user.is_admin() {
        return true;
    }
    let role_ref = &binding["roleRef"];
    let resource = match role_ref["kind"].as_str() {
        Some("ClusterRole") => "clusterroles",
        Some("Role") => "roles",
        _ => return false,
    };
    let bind = RequestInfo {
        verb: "bind".into(),
        group: "rbac.authorization.k8s.io".into(),
        resource: resource.into(),
        subresource: String::new(),
        namespace: namespace.into(),
        name: role_ref["name"].as_str().unwrap_or_default().into(),
    };
    rules_for(store, user, namespace)
        .iter()
        .any(|rule| rule_allows(rule, &bind))
}

/// Kubernetes' Forbidden message for `info`, e.g. `pods "x" is forbidden:
/// User "system:serviceaccount:b:sa" cannot get resource "pods" in API
/// group "" in the namespace "a"`.
pub fn forbidden_message(user: &UserInfo, info: &RequestInfo, qualified_resource: &str) -> String {
    let what = if info.name.is_empty() {
        format!("{qualified_resource} is forbidden")
    } else {
        format!("{qualified_resource} \"{}\" is forbidden", info.name)
    };
    let scope = if info.namespace.is_empty() {
        "at the cluster scope".to_string()
    } else {
        format!("in the namespace \"{}\"", info.namespace)
    };
    format!(
        "{what}: User \"{}\" cannot {} resource \"{}\" in API group \"{}\" {scope}",
        user.name,
        info.verb,
        info.full_resource(),
        info.group
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(verb: &str, resource: &str, namespace: &str, name: &str) -> RequestInfo {
        let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
        RequestInfo {
            verb: verb.into(),
            group: String::new(),
            resource: resource.into(),
            subresource: subresource.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    fn cluster_with_alice() -> Store {
        let mut store = Store::default();
        bootstrap(&mut store);
        store
            .create(
                "clusterroles",
                "",
                json!({"metadata": {"name": "spark"}, "rules": [
                    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "create"]},
                    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
                    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"], "resourceNames": ["only-this"]},
                ]}),
            )
            .unwrap();
        store
            .create(
                "rolebindings",
                "quarry-alice",
                json!({"metadata": {"name": "spark"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "spark"},
                    "subjects": [{"kind": "ServiceAccount", "name": "quarry-spark", "namespace": "quarry-alice"}]}),
            )
            .unwrap();
        store
    }

    #[test]
    fn a_role_binding_grants_only_in_its_namespace() {
        let store = cluster_with_alice();
        let alice = UserInfo::service_account("quarry-alice", "quarry-spark");
        let bob = UserInfo::service_account("quarry-bob", "quarry-spark");
        assert!(authorize(
            &store,
            &alice,
            &request("list", "pods", "quarry-alice", "")
        ));
        assert!(authorize(
            &store,
            &alice,
            &request("get", "pods/log", "quarry-alice", "x")
        ));
        assert!(!authorize(
            &store,
            &alice,
            &request("list", "pods", "quarry-bob", "")
        ));
        assert!(!authorize(
            &store,
            &alice,
            &request("delete", "pods", "quarry-alice", "x")
        ));
        assert!(!authorize(
            &store,
            &alice,
            &request("get", "pods/exec", "quarry-alice", "x")
        ));
        assert!(!authorize(&store, &alice, &request("list", "pods", "", "")));
        assert!(!authorize(
            &store,
            &bob,
            &request("list", "pods", "quarry-alice", "")
        ));
        assert!(authorize(
            &store,
            &UserInfo::admin(),
            &request("delete", "pods", "quarry-bob", "x")
        ));
    }

    #[test]
    fn resource_names_limit_a_rule() {
        let store = cluster_with_alice();
        let alice = UserInfo::service_account("quarry-alice", "quarry-spark");
        assert!(authorize(
            &store,
            &alice,
            &request("get", "configmaps", "quarry-alice", "only-this")
        ));
        assert!(!authorize(
            &store,
            &alice,
            &request("get", "configmaps", "quarry-alice", "other")
        ));
        assert!(!authorize(
            &store,
            &alice,
            &request("list", "configmaps", "quarry-alice", "")
        ));
    }

    #[test]
    fn everyone_may_ask_what_they_may_do() {
        let store = cluster_with_alice();
        let stranger = UserInfo::service_account("elsewhere", "nobody");
        let review = RequestInfo {
            verb: "create".into(),
            group: "authorization.k8s.io".into(),
            resource: "selfsubjectaccessreviews".into(),
            ..RequestInfo::default()
        };
        assert!(authorize(&store, &stranger, &review));
    }

    #[test]
    fn binding_a_role_needs_bind_on_it() {
        let mut store = cluster_with_alice();
        let hub = UserInfo::service_account("quarry", "hub");
        let binding = json!({"roleRef": {"kind": "ClusterRole", "name": "spark"}});
        assert!(!binding_allowed(&store, &hub, "quarry-alice", &binding));
        store
            .create(
                "clusterroles",
                "",
                json!({"metadata": {"name": "hub"}, "rules": [{"apiGroups": ["rbac.authorization.k8s.io"],
                    "resources": ["clusterroles"], "verbs": ["bind"], "resourceNames": ["spark"]}]}),
            )
            .unwrap();
        store
            .create(
                "clusterrolebindings",
                "",
                json!({"metadata": {"name": "hub"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "hub"},
                    "subjects": [{"kind": "ServiceAccount", "name": "hub", "namespace": "quarry"}]}),
            )
            .unwrap();
        assert!(binding_allowed(&store, &hub, "quarry-alice", &binding));
        let admin_role = json!({"roleRef": {"kind": "ClusterRole", "name": "cluster-admin"}});
        assert!(!binding_allowed(&store, &hub, "quarry-alice", &admin_role));
    }

    #[test]
    fn forbidden_messages_are_kubernetes_own() {
        let bob = UserInfo::service_account("quarry-bob", "quarry-spark");
        assert_eq!(
            forbidden_message(
                &bob,
                &request("get", "pods", "quarry-alice", "jupyter-alice"),
                "pods"
            ),
            "pods \"jupyter-alice\" is forbidden: User \"system:serviceaccount:quarry-bob:quarry-spark\" cannot get resource \"pods\" in API group \"\" in the namespace \"quarry-alice\""
        );
        assert_eq!(
            forbidden_message(
                &bob,
                &request("list", "persistentvolumeclaims", "quarry-alice", ""),
                "persistentvolumeclaims"
            ),
            "persistentvolumeclaims is forbidden: User \"system:serviceaccount:quarry-bob:quarry-spark\" cannot list resource \"persistentvolumeclaims\" in API group \"\" in the namespace \"quarry-alice\""
        );
        assert_eq!(
            forbidden_message(&bob, &request("list", "namespaces", "", ""), "namespaces"),
            "namespaces is forbidden: User \"system:serviceaccount:quarry-bob:quarry-spark\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope"
        );
    }
}
