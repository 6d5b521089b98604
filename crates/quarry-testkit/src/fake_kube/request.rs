//! What a request asks for, in the terms authorization speaks: verb, API
//! group, resource, subresource, namespace, name — resolved from the method
//! and path as the API server's `RequestInfoResolver` does.

/// The attributes RBAC decides on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestInfo {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
    /// `deletecollection`.
    pub verb: String,
    /// `""` for the core group.
    pub group: String,
    pub resource: String,
    pub subresource: String,
    /// `""` for cluster-scoped requests.
    pub namespace: String,
    /// `""` for collection requests.
    pub name: String,
}

impl RequestInfo {
    /// `resource/subresource`, the form RBAC rules name.
    pub fn full_resource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

/// Resolves a resource request; `None` for non-resource paths (`/version`,
/// `/fake/...`, discovery).
pub fn resolve(method: &str, path: &str, query: Option<&str>) -> Option<RequestInfo> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, rest) = match parts.as_slice() {
        ["api", "v1", rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => return None,
    };
    if rest.is_empty() {
        return None;
    }
    let mut info = RequestInfo {
        group: group.to_string(),
        ..RequestInfo::default()
    };
    // `/namespaces/{ns}/{resource}...` is namespaced; `/namespaces` and
    // `/namespaces/{name}` are the Namespace objects themselves.
    let rest: Vec<&str> = if rest[0] == "namespaces" && rest.len() > 2 {
        info.namespace = rest[1].to_string();
        rest[2..].to_vec()
    } else {
        rest.to_vec()
    };
    info.resource = rest[0].to_string();
    info.name = rest.get(1).map_or("", |n| *n).to_string();
    info.subresource = rest.get(2).map_or("", |s| *s).to_string();
    let watching = query.is_some_and(|q| {
        q.split('&')
            .any(|pair| pair == "watch=true" || pair == "watch=1")
    });
    info.verb = match (method, info.name.is_empty()) {
        ("GET" | "HEAD", false) => "get",
        ("GET" | "HEAD", true) if watching => "watch",
        ("GET" | "HEAD", true) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", false) => "delete",
        ("DELETE", true) => "deletecollection",
        _ => return None,
    }
    .to_string();
    Some(info)
}

#[cfg(test)]
mod tests {
    use super::{RequestInfo, resolve};

    fn info(
        verb: &str,
        group: &str,
        resource: &str,
        sub: &str,
        ns: &str,
        name: &str,
    ) -> RequestInfo {
        RequestInfo {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            namespace: ns.into(),
            name: name.into(),
        }
    }

    #[test]
    fn paths_resolve_as_the_api_server_does() {
        assert_eq!(
            resolve("GET", "/api/v1/namespaces/a/pods", None),
            Some(info("list", "", "pods", "", "a", ""))
        );
        assert_eq!(
            resolve(
                "GET",
                "/api/v1/namespaces/a/pods",
                Some("labelSelector=x&watch=true")
            ),
            Some(info("watch", "", "pods", "", "a", ""))
        );
        assert_eq!(
            resolve(
                "GET",
                "/api/v1/namespaces/a/pods/p/log",
                Some("tailLines=5")
            ),
            Some(info("get", "", "pods", "log", "a", "p"))
        );
        assert_eq!(
            resolve(
                "DELETE",
                "/api/v1/namespaces/a/configmaps",
                Some("labelSelector=x")
            ),
            Some(info("deletecollection", "", "configmaps", "", "a", ""))
        );
        assert_eq!(
            resolve(
                "POST",
                "/api/v1/namespaces/a/serviceaccounts/sa/token",
                None
            ),
            Some(info("create", "", "serviceaccounts", "token", "a", "sa"))
        );
        assert_eq!(
            resolve("GET", "/api/v1/namespaces/a", None),
            Some(info("get", "", "namespaces", "", "", "a"))
        );
        assert_eq!(
            resolve("POST", "/api/v1/namespaces", None),
            Some(info("create", "", "namespaces", "", "", ""))
        );
        assert_eq!(
            resolve(
                "PATCH",
                "/apis/rbac.authorization.k8s.io/v1/namespaces/a/roles/r",
                None
            ),
            Some(info(
                "patch",
                "rbac.authorization.k8s.io",
                "roles",
                "",
                "a",
                "r"
            ))
        );
        assert_eq!(
            resolve(
                "GET",
                "/apis/rbac.authorization.k8s.io/v1/clusterroles",
                None
            ),
            Some(info(
                "list",
                "rbac.authorization.k8s.io",
                "clusterroles",
                "",
                "",
                ""
            ))
        );
        assert_eq!(resolve("GET", "/version", None), None);
        assert_eq!(resolve("GET", "/api/v1", None), None);
        assert_eq!(resolve("POST", "/fake/compact", None), None);
    }
}
