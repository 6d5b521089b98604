//! Validating admission policies (`ValidatingAdmissionPolicy` and its
//! binding, `admissionregistration.k8s.io/v1`), applied to writes as the API
//! server applies them: which policies a request matches (resource rules,
//! namespace and object selectors of the policy and of the binding, match
//! conditions), their
//! parameters (`paramKind`/`paramRef`), `variables`, and each validation's
//! expression, message and reason — with Kubernetes' own denial text.
//!
//! Expressions run in a real CEL implementation ([`expressions`]) with
//! Kubernetes' quantity library ([`quantity`]). Only the `Deny` action is
//! enforced (`Warn` and `Audit` do not refuse a request).

pub mod expressions;
pub mod quantity;

use std::collections::HashMap;

use cel::Value as Cel;
use serde_json::{Value, json};

use super::psa;
use super::rbac::UserInfo;
use super::selectors::LabelSelector;
use super::store::{Kind, Refusal, Store, kind_named};
use expressions::{ExpressionError, evaluate, value};

/// What a write does, as admission names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
        }
    }
}

/// One write, as the admission chain sees it.
pub struct AdmissionRequest<'a> {
    pub operation: Operation,
    pub user: &'a UserInfo,
    pub kind: &'static Kind,
    /// `""` for cluster-scoped objects.
    pub namespace: &'a str,
    pub name: &'a str,
    pub object: &'a Value,
    /// The stored object, for an update.
    pub old_object: Option<&'a Value>,
}

/// The validating admission a write passes before it is stored, in the API
/// server's order: Pod Security (pods created in a namespace enforcing
/// `restricted`), then the admission policies. Quota, the last step, is
/// the store's.
pub fn admit(store: &Store, request: &AdmissionRequest) -> Result<(), Refusal> {
    if request.kind.resource == "pods"
        && request.operation == Operation::Create
        && psa::enforces_restricted(store.object("namespaces", "", request.namespace))
        && let Some(message) = psa::refusal(request.name, request.object)
    {
        return Err(Refusal {
            code: 403,
            reason: "Forbidden",
            message,
        });
    }
    validate(store, request)
}

/// Runs every bound policy that matches `request`; the first denial wins.
pub fn validate(store: &Store, request: &AdmissionRequest) -> Result<(), Refusal> {
    for binding in store.list("validatingadmissionpolicybindings", None) {
        let spec = &binding["spec"];
        let denies = spec["validationActions"]
            .as_array()
            .is_some_and(|actions| actions.iter().any(|a| a == "Deny"));
        let Some(policy) = spec["policyName"]
            .as_str()
            .and_then(|name| store.get("validatingadmissionpolicies", "", name))
        else {
            continue;
        };
        if !denies
            || !matches(store, &policy["spec"]["matchConstraints"], request, false)
            || !matches(store, &spec["matchResources"], request, true)
        {
            continue;
        }
        let denial =
            |message: String, reason: &str| refusal(request, &policy, &binding, &message, reason);
        let params = match params(store, &policy, &binding, request) {
            Params::Found(params) => params,
            Params::SkipPolicy => continue,
            Params::Missing(message) => return Err(denial(message, "Forbidden")),
        };
        let bound = bindings(store, request, params);
        match match_conditions(&policy["spec"], &bound) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(message) => return Err(denial(message, "Invalid")),
        }
        if let Err((message, reason)) = check(&policy["spec"], bound) {
            return Err(denial(message, &reason));
        }
    }
    Ok(())
}

/// Whether a policy's `matchConstraints` (or a binding's `matchResources`,
/// where empty rules match everything the policy matched) covers `request`.
fn matches(
    store: &Store,
    constraints: &Value,
    request: &AdmissionRequest,
    empty_matches: bool,
) -> bool {
    let rules = constraints["resourceRules"].as_array();
    let rule_matches = match rules {
        Some(rules) if !rules.is_empty() => rules.iter().any(|rule| rule_covers(rule, request)),
        _ => empty_matches,
    };
    let excluded = constraints["excludeResourceRules"]
        .as_array()
        .is_some_and(|rules| rules.iter().any(|rule| rule_covers(rule, request)));
    rule_matches
        && !excluded
        && selector_matches(
            &constraints["namespaceSelector"],
            namespace_labels(store, request),
        )
        && selector_matches(&constraints["objectSelector"], Some(request.object))
}

fn rule_covers(rule: &Value, request: &AdmissionRequest) -> bool {
    let lists = |field: &str, wanted: &str| {
        rule[field]
            .as_array()
            .is_some_and(|items| items.iter().any(|item| item == "*" || item == wanted))
    };
    lists("apiGroups", request.kind.group)
        && lists("apiVersions", "v1")
        && lists("operations", request.operation.name())
        && lists("resources", request.kind.resource)
}

/// The object whose labels a namespace selector reads: the namespace the
/// object lives in, or the Namespace being written.
fn namespace_labels<'a>(store: &'a Store, request: &'a AdmissionRequest) -> Option<&'a Value> {
    if request.kind.resource == "namespaces" {
        Some(request.object)
    } else if request.namespace.is_empty() {
        None
    } else {
        store.object("namespaces", "", request.namespace)
    }
}

fn selector_matches(selector: &Value, object: Option<&Value>) -> bool {
    if selector.is_null() {
        return true;
    }
    match (LabelSelector::from_object(selector), object) {
        (Ok(selector), Some(object)) => selector.matches(object),
        // A cluster-scoped object matches any namespace selector.
        (Ok(_), None) => true,
        (Err(_), _) => false,
    }
}

enum Params {
    Found(Cel),
    SkipPolicy,
    Missing(String),
}

/// The parameter object a binding names, for a policy with a `paramKind`.
fn params(store: &Store, policy: &Value, binding: &Value, request: &AdmissionRequest) -> Params {
    let Some(kind) = policy["spec"]["paramKind"]["kind"].as_str() else {
        return Params::Found(Cel::Null);
    };
    let reference = &binding["spec"]["paramRef"];
    let found = kind_named(kind).and_then(|kind| {
        let namespace = match reference["namespace"].as_str() {
            Some(namespace) => namespace,
            None if kind.namespaced => request.namespace,
            None => "",
        };
        store.object(kind.resource, namespace, reference["name"].as_str()?)
    });
    match (found, reference["parameterNotFoundAction"].as_str()) {
        (Some(object), _) => Params::Found(value(object)),
        (None, Some("Allow")) => Params::SkipPolicy,
        (None, _) => Params::Missing(
            "failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction".into(),
        ),
    }
}

/// The variables every expression sees (`variables` is added by [`check`]).
fn bindings(store: &Store, request: &AdmissionRequest, params: Cel) -> Vec<(&'static str, Cel)> {
    let namespace_object = if request.namespace.is_empty() {
        Value::Null
    } else {
        store
            .object("namespaces", "", request.namespace)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let request_json = json!({
        "operation": request.operation.name(),
        "namespace": request.namespace,
        "name": request.name,
        "kind": {"group": request.kind.group, "version": "v1", "kind": request.kind.kind},
        "resource": {"group": request.kind.group, "version": "v1", "resource": request.kind.resource},
        "userInfo": {"username": request.user.name, "groups": request.user.groups},
    });
    vec![
        ("object", value(request.object)),
        ("oldObject", request.old_object.map_or(Cel::Null, value)),
        ("params", params),
        ("namespaceObject", value(&namespace_object)),
        ("request", value(&request_json)),
    ]
}

/// Whether every `matchConditions` expression holds (the policy applies).
/// An error fails the request unless the policy fails open.
fn match_conditions(spec: &Value, bound: &[(&'static str, Cel)]) -> Result<bool, String> {
    for condition in spec["matchConditions"].as_array().into_iter().flatten() {
        match evaluate(condition["expression"].as_str().unwrap_or_default(), bound) {
            Ok(Cel::Bool(true)) => {}
            Ok(_) => return Ok(false),
            Err(_) if spec["failurePolicy"] == "Ignore" => return Ok(false),
            Err(error) => return Err(error.to_string()),
        }
    }
    Ok(true)
}

/// Evaluates the policy's variables, then its validations in order. `Err`
/// carries the first failure's message and reason.
fn check(spec: &Value, mut bound: Vec<(&'static str, Cel)>) -> Result<(), (String, String)> {
    let fail_open = spec["failurePolicy"] == "Ignore";
    let on_error = |error: ExpressionError| {
        if fail_open {
            Ok(())
        } else {
            Err((error.to_string(), "Invalid".to_string()))
        }
    };
    let mut variables: HashMap<String, Cel> = HashMap::new();
    for variable in spec["variables"].as_array().into_iter().flatten() {
        let name = variable["name"].as_str().unwrap_or_default().to_string();
        let with_variables = with(&bound, &variables);
        match evaluate(
            variable["expression"].as_str().unwrap_or_default(),
            &with_variables,
        ) {
            Ok(result) => {
                variables.insert(name, result);
            }
            Err(error) => return on_error(error),
        }
    }
    bound.push(("variables", Cel::from(variables)));
    for validation in spec["validations"].as_array().into_iter().flatten() {
        let expression = validation["expression"].as_str().unwrap_or_default();
        match evaluate(expression, &bound) {
            Ok(Cel::Bool(true)) => {}
            Ok(Cel::Bool(false)) => {
                let reason = validation["reason"]
                    .as_str()
                    .unwrap_or("Invalid")
                    .to_string();
                return Err((message(validation, &bound), reason));
            }
            Ok(other) => {
                return on_error(ExpressionError::Evaluate {
                    expression: expression.to_string(),
                    message: format!("expected a bool, got {other:?}"),
                });
            }
            Err(error) => return on_error(error),
        }
    }
    Ok(())
}

fn with(
    bound: &[(&'static str, Cel)],
    variables: &HashMap<String, Cel>,
) -> Vec<(&'static str, Cel)> {
    let mut all = bound.to_vec();
    all.push(("variables", Cel::from(variables.clone())));
    all
}

/// A failed validation's message: `messageExpression`, else `message`, else
/// the expression itself, as Kubernetes chooses.
fn message(validation: &Value, bound: &[(&'static str, Cel)]) -> String {
    if let Some(expression) = validation["messageExpression"].as_str()
        && let Ok(Cel::String(text)) = evaluate(expression, bound)
        && !text.trim().is_empty()
    {
        return text.to_string();
    }
    match validation["message"].as_str() {
        Some(message) => message.to_string(),
        None => format!(
            "failed expression: {}",
            validation["expression"].as_str().unwrap_or_default()
        ),
    }
}

fn refusal(
    request: &AdmissionRequest,
    policy: &Value,
    binding: &Value,
    message: &str,
    reason: &str,
) -> Refusal {
    let (code, reason) = match reason {
        "Forbidden" => (403, "Forbidden"),
        "Unauthorized" => (401, "Unauthorized"),
        "RequestEntityTooLarge" => (413, "RequestEntityTooLarge"),
        _ => (422, "Invalid"),
    };
    Refusal {
        code,
        reason,
        message: format!(
            "{} \"{}\" is forbidden: ValidatingAdmissionPolicy '{}' with binding '{}' denied request: {message}",
            request.kind.qualified(),
            request.name,
            policy["metadata"]["name"].as_str().unwrap_or_default(),
            binding["metadata"]["name"].as_str().unwrap_or_default(),
        ),
    }
}
