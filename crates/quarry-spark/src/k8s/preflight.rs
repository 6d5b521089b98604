//! Before a JVM starts: may this pod's service account run executors?
//! One SelfSubjectAccessReview per verb; the first refusal becomes one
//! sentence naming the permission and the manifest that grants it.

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};

use crate::SparkError;

/// What Spark's Kubernetes backend and Quarry's own watch and cleanup do,
/// as `(resource, verb)` — measured, not guessed: the fake API server
/// records every call of the cluster tests, and `tests/test_spark_cluster.py`
/// fails if images/k8s/spark-rbac.yaml grants anything beyond this.
pub const REQUIRED: &[(&str, &str)] = &[
    // Executors: created one by one, watched and listed by Spark and by
    // `%spark status`, the notebook pod read for ownerReferences, all
    // deleted by label at stop.
    ("pods", "create"),
    ("pods", "get"),
    ("pods", "list"),
    ("pods", "watch"),
    ("pods", "deletecollection"),
    ("pods/log", "get"),
    // The executors' configuration map, made at start, deleted by label.
    ("configmaps", "create"),
    ("configmaps", "list"),
    ("configmaps", "deletecollection"),
    // The session's shared secret (k8s::auth): made at start, deleted by
    // name at stop; never read back.
    ("secrets", "create"),
    ("secrets", "delete"),
];

/// The sentence for the first refused `(resource, verb)`, if any.
pub fn missing_permission_sentence(namespace: &str, refused: &[(&str, &str)]) -> Option<String> {
    let (resource, verb) = refused.first()?;
    let others = refused.len() - 1;
    let more = if others > 0 {
        format!(
            " (and {others} more permission{})",
            if others == 1 { "" } else { "s" }
        )
    } else {
        String::new()
    };
    Some(format!(
        "This notebook's service account may not {verb} {resource} in namespace {namespace}{more}, so Spark cannot run executors: \
         an administrator applies images/k8s/spark-rbac.yaml (the ClusterRole quarry-spark) and the hub binds it in {namespace} (RoleBinding quarry-spark)."
    ))
}

/// Asks the API server about every [`REQUIRED`] permission.
pub async fn preflight(client: &kube::Client, namespace: &str) -> Result<(), SparkError> {
    let reviews: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let mut refused = Vec::new();
    for (resource, verb) in REQUIRED {
        let (resource_name, subresource) = match resource.split_once('/') {
            Some((r, s)) => (r, Some(s.to_string())),
            None => (*resource, None),
        };
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    namespace: Some(namespace.to_string()),
                    verb: Some(verb.to_string()),
                    resource: Some(resource_name.to_string()),
                    subresource,
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let answer = reviews
            .create(&PostParams::default(), &review)
            .await
            .map_err(SparkError::api(
                "check this notebook's Kubernetes permissions",
            ))?;
        if !answer.status.is_some_and(|s| s.allowed) {
            refused.push((*resource, *verb));
        }
    }
    match missing_permission_sentence(namespace, &refused) {
        Some(sentence) => Err(SparkError::Kubernetes(sentence)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_permission_and_the_manifest() {
        assert!(missing_permission_sentence("ns", &[]).is_none());
        let one = missing_permission_sentence("quarry-users", &[("pods", "create")]).unwrap();
        assert_eq!(
            one,
            "This notebook's service account may not create pods in namespace quarry-users, so Spark cannot run executors: \
             an administrator applies images/k8s/spark-rbac.yaml (the ClusterRole quarry-spark) and the hub binds it in quarry-users (RoleBinding quarry-spark)."
        );
        let three = missing_permission_sentence(
            "ns",
            &[
                ("pods", "watch"),
                ("pods", "deletecollection"),
                ("configmaps", "create"),
            ],
        )
        .unwrap();
        assert!(
            three.contains("may not watch pods in namespace ns (and 2 more permissions)"),
            "{three}"
        );
    }

    #[test]
    fn the_shipped_role_grants_everything_required() {
        let manifest = include_str!("../../../../images/k8s/spark-rbac.yaml");
        for (resource, verb) in REQUIRED {
            let granted = manifest.split("- apiGroups").any(|rule| {
                rule.contains(&"verbs: [".to_string())
                    && rule_lists(rule, "resources", resource)
                    && rule_lists(rule, "verbs", verb)
            });
            assert!(granted, "spark-rbac.yaml does not grant {verb} {resource}");
        }
    }

    #[test]
    fn the_shipped_role_grants_nothing_more() {
        let manifest = include_str!("../../../../images/k8s/spark-rbac.yaml");
        for rule in manifest.split("- apiGroups").skip(1) {
            let list = |field: &str| -> Vec<String> {
                rule.lines()
                    .find(|l| l.trim_start().starts_with(&format!("{field}:")))
                    .map(|l| {
                        l.split_once('[')
                            .and_then(|(_, rest)| rest.split_once(']'))
                            .map(|(items, _)| {
                                items.split(',').map(|i| i.trim().to_string()).collect()
                            })
                            .unwrap_or_default()
                    })
                    .unwrap_or_default()
            };
            for resource in list("resources") {
                for verb in list("verbs") {
                    assert!(
                        REQUIRED.contains(&(resource.as_str(), verb.as_str())),
                        "spark-rbac.yaml grants {verb} {resource}, which Spark and Quarry never call"
                    );
                }
            }
        }
    }

    fn rule_lists(rule: &str, field: &str, item: &str) -> bool {
        rule.lines()
            .find(|l| l.trim_start().starts_with(&format!("{field}:")))
            .is_some_and(|l| l.split(['[', ']', ',', ' ']).any(|w| w.trim() == item))
    }
}
