//! CEL as the API server runs it for admission policies: the CEL standard
//! library with the strings and lists extensions and Kubernetes' quantity
//! library, over objects converted from their JSON form.
//!
//! The expressions are evaluated by the `cel` crate, an implementation of
//! the CEL specification; nothing here interprets a policy's expressions.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use cel::{Context, Env, Value};

use super::quantity;

/// The environment shared by every evaluation.
static ENVIRONMENT: LazyLock<Arc<Env>> = LazyLock::new(|| {
    let mut env = Env::stdlib();
    env.add_extension(cel::extensions::strings)
        .expect("the strings extension declares no overload twice");
    env.add_extension(cel::extensions::lists)
        .expect("the lists extension declares no overload twice");
    Arc::new(env)
});

/// A Kubernetes object (or any JSON) as a CEL value: numbers without a
/// fraction are `int`, as the API server's schemas make them.
pub fn value(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::String(Arc::new(s.clone())),
        serde_json::Value::Array(items) => Value::List(Arc::new(items.iter().map(value).collect())),
        serde_json::Value::Object(fields) => {
            let map: HashMap<String, Value> =
                fields.iter().map(|(k, v)| (k.clone(), value(v))).collect();
            Value::from(map)
        }
    }
}

/// Why an expression gave no usable answer, worded as the API server words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpressionError {
    #[error("compilation failed: {0}")]
    Compile(String),
    #[error("expression '{expression}' resulted in error: {message}")]
    Evaluate { expression: String, message: String },
}

/// Evaluates `expression` with `bindings` as its variables.
pub fn evaluate(expression: &str, bindings: &[(&str, Value)]) -> Result<Value, ExpressionError> {
    let program = ENVIRONMENT
        .compile(expression)
        .map_err(|e| ExpressionError::Compile(e.to_string()))?;
    let mut context = Context::with_env(Arc::clone(&ENVIRONMENT));
    quantity::register(&mut context).map_err(|e| ExpressionError::Compile(e.to_string()))?;
    for (name, bound) in bindings {
        context.add_variable_from_value(*name, bound.clone());
    }
    program
        .execute(&context)
        .map_err(|e| ExpressionError::Evaluate {
            expression: expression.to_string(),
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Value, evaluate, value};

    fn check(expression: &str, object: serde_json::Value) -> Value {
        evaluate(expression, &[("object", value(&object))]).unwrap()
    }

    #[test]
    fn objects_read_as_kubernetes_objects() {
        let pod =
            json!({"spec": {"containers": [{"name": "a", "image": "quarry/x:1"}], "replicas": 2}});
        assert_eq!(
            check(
                "object.spec.containers.all(c, c.image.startsWith('quarry/'))",
                pod.clone()
            ),
            Value::Bool(true)
        );
        assert_eq!(
            check("object.spec.replicas <= 5", pod.clone()),
            Value::Bool(true)
        );
        assert_eq!(
            check("has(object.spec.nodeName)", pod.clone()),
            Value::Bool(false)
        );
        assert_eq!(
            check("'a, b'.split(',').map(s, s.trim()) == ['a', 'b']", pod),
            Value::Bool(true)
        );
    }

    #[test]
    fn quantities_compare_as_in_kubernetes() {
        let pod = json!({"limits": {"memory": "64Gi", "small": "1536Mi"}});
        assert_eq!(
            check(
                "quantity(object.limits.memory).isGreaterThan(quantity('16Gi'))",
                pod.clone()
            ),
            Value::Bool(true)
        );
        assert_eq!(
            check(
                "quantity(object.limits.small).compareTo(quantity('1.5Gi')) == 0",
                pod.clone()
            ),
            Value::Bool(true)
        );
        assert_eq!(check("isQuantity('64gb')", pod.clone()), Value::Bool(false));
        let error = evaluate("quantity('64gb').isLessThan(quantity('1'))", &[]).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("expression 'quantity('64gb')"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_field_is_an_error_not_a_pass() {
        let error = evaluate(
            "object.spec.nodeName == ''",
            &[("object", value(&json!({"spec": {}})))],
        )
        .unwrap_err();
        assert!(
            matches!(error, super::ExpressionError::Evaluate { .. }),
            "{error:?}"
        );
    }
}
