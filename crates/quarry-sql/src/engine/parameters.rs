//! Typed query parameters: `%set city = "Lyon"`, then `$city` in SQL.
//!
//! Values are bound as DataFusion placeholders — replaced in the planned
//! query by typed literals — and never spliced into the SQL text, so a
//! value is data whatever characters it holds (`"x'; DROP TABLE t; --"` is
//! just a string to compare with).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use chrono::{NaiveDate, NaiveDateTime};
use datafusion::arrow::datatypes::DataType;
#[cfg(test)]
use datafusion::arrow::datatypes::Field;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::LogicalPlan;

use crate::engine::error::{ErrorKind, SqlError};

/// One parameter: its typed value and how the user wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// The value bound for `$name`.
    pub value: ScalarValue,
    /// The value as `%set` was given it.
    pub text: String,
}

impl Parameter {
    /// The value's SQL type, for listings ("Utf8", "Date32", "List(Int64)").
    pub fn type_name(&self) -> String {
        match self.value.data_type() {
            DataType::List(item) => format!("List({})", item.data_type()),
            other => other.to_string(),
        }
    }
}

/// The parameters of one session (shared by its clones).
#[derive(Debug, Clone, Default)]
pub struct Parameters(Arc<RwLock<BTreeMap<String, Parameter>>>);

fn usage(message: impl Into<String>) -> SqlError {
    SqlError::new(ErrorKind::Parameter, message)
}

impl Parameters {
    /// Sets `name` to the value written as `text` (see [`parse_value`]).
    pub fn set(&self, name: &str, text: &str) -> Result<Parameter, SqlError> {
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(usage(format!(
                "'{name}' cannot be a parameter name: use letters, digits and _, starting with a letter (then write ${name} in SQL)."
            )));
        }
        let parameter = Parameter {
            value: parse_value(text)?,
            text: text.trim().to_string(),
        };
        self.0
            .write()
            .expect("parameters lock")
            .insert(name.to_string(), parameter.clone());
        Ok(parameter)
    }

    /// Removes `name`; `false` when it was not set.
    pub fn unset(&self, name: &str) -> bool {
        self.0
            .write()
            .expect("parameters lock")
            .remove(name.trim_start_matches('$'))
            .is_some()
    }

    /// Every parameter, by name.
    pub fn list(&self) -> Vec<(String, Parameter)> {
        let map = self.0.read().expect("parameters lock");
        map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Replaces the plan's `$name` placeholders with their values. A name
    /// that is not set is one sentence naming those that are.
    pub(crate) fn bind(&self, plan: LogicalPlan) -> Result<LogicalPlan, SqlError> {
        let used = plan
            .get_parameter_types()
            .map_err(|e| usage(format!("The query's parameters cannot be read: {e}.")))?;
        if used.is_empty() {
            return Ok(plan);
        }
        let map = self.0.read().expect("parameters lock");
        let mut values = HashMap::new();
        let mut names: Vec<&String> = used.keys().collect();
        names.sort();
        for id in names {
            let name = id.trim_start_matches('$');
            let Some(parameter) = map.get(name) else {
                return Err(unknown(id, &map));
            };
            values.insert(name.to_string(), parameter.value.clone());
        }
        drop(map);
        plan.with_param_values(values).map_err(|e| {
            usage(format!(
                "A parameter does not fit where the query uses it: {e}."
            ))
        })
    }
}

fn unknown(id: &str, map: &BTreeMap<String, Parameter>) -> SqlError {
    let set = if map.is_empty() {
        "none is set".to_string()
    } else {
        let names: Vec<String> = map.keys().map(|k| format!("${k}")).collect();
        format!("set: {}", names.join(", "))
    };
    let hint = if id[1..].chars().all(|c| c.is_ascii_digit()) {
        " (positional $1, $2 … are not used; name them)"
    } else {
        ""
    };
    usage(format!(
        "The query uses {id}, which is not set{hint}; {set} (%set name = value sets one)."
    ))
}

/// A `%set` value: a `"…"` or `'…'` string, a whole or decimal number,
/// `true`/`false`, a date (`2024-05-01`), a timestamp
/// (`2024-05-01T08:30:00` or with a space), or a `[…]` list of one of those.
pub fn parse_value(text: &str) -> Result<ScalarValue, SqlError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(usage(
            "%set needs a value: %set name = value (a number, \"text\", 2024-05-01, [1, 2]).",
        ));
    }
    if let Some(inner) = text.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| usage(format!("The list {text} is missing its closing ].")))?;
        return parse_list(inner);
    }
    parse_scalar(text)
}

fn parse_scalar(text: &str) -> Result<ScalarValue, SqlError> {
    for quote in ['"', '\''] {
        if let Some(inner) = text.strip_prefix(quote) {
            let inner = inner.strip_suffix(quote).ok_or_else(|| {
                usage(format!("The string {text} is missing its closing {quote}."))
            })?;
            return Ok(ScalarValue::Utf8(Some(inner.to_string())));
        }
    }
    if let Ok(n) = text.parse::<i64>() {
        return Ok(ScalarValue::Int64(Some(n)));
    }
    if let Ok(x) = text.parse::<f64>()
        && x.is_finite()
    {
        return Ok(ScalarValue::Float64(Some(x)));
    }
    match text.to_ascii_lowercase().as_str() {
        "true" => return Ok(ScalarValue::Boolean(Some(true))),
        "false" => return Ok(ScalarValue::Boolean(Some(false))),
        _ => {}
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
        return Ok(ScalarValue::Date32(Some((date - epoch).num_days() as i32)));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(ScalarValue::TimestampMicrosecond(
                Some(at.and_utc().timestamp_micros()),
                None,
            ));
        }
    }
    Err(usage(format!(
        "{text} is not a value %set understands: quote text (\"{text}\"), or give a number, true/false, a date (2024-05-01), a timestamp (2024-05-01T08:30:00) or a [list]."
    )))
}

fn parse_list(inner: &str) -> Result<ScalarValue, SqlError> {
    let items: Vec<ScalarValue> = split_items(inner)?
        .iter()
        .map(|item| parse_scalar(item))
        .collect::<Result<_, _>>()?;
    let Some(first) = items.first() else {
        return Err(usage(
            "An empty list [] has no type: give at least one value.",
        ));
    };
    let item_type = if items
        .iter()
        .all(|v| matches!(v, ScalarValue::Int64(_) | ScalarValue::Float64(_)))
        && items.iter().any(|v| matches!(v, ScalarValue::Float64(_)))
    {
        DataType::Float64
    } else {
        first.data_type()
    };
    let numeric = |t: &DataType| matches!(t, DataType::Int64 | DataType::Float64);
    let mixed = items.iter().any(|v| {
        let t = v.data_type();
        t != item_type && !(numeric(&t) && numeric(&item_type))
    });
    if mixed {
        return Err(usage(
            "A list's values must all be of one type (all numbers, all text, all dates …).",
        ));
    }
    let items: Vec<ScalarValue> = items
        .into_iter()
        .map(|v| {
            v.cast_to(&item_type)
                .map_err(|e| usage(format!("A list value does not fit the list's type: {e}.")))
        })
        .collect::<Result<_, _>>()?;
    Ok(ScalarValue::List(ScalarValue::new_list_from_iter(
        items.into_iter(),
        &item_type,
        true,
    )))
}

/// Splits list items on commas outside quotes.
fn split_items(inner: &str) -> Result<Vec<String>, SqlError> {
    let mut items = Vec::new();
    let mut item = String::new();
    let mut quote = None;
    for c in inner.chars() {
        match (c, quote) {
            ('"' | '\'', None) => {
                quote = Some(c);
                item.push(c);
            }
            (c, Some(q)) if c == q => {
                quote = None;
                item.push(c);
            }
            (',', None) => items.push(std::mem::take(&mut item).trim().to_string()),
            (c, _) => item.push(c),
        }
    }
    if quote.is_some() {
        return Err(usage("A string in the list is missing its closing quote."));
    }
    if !item.trim().is_empty() {
        items.push(item.trim().to_string());
    }
    Ok(items.into_iter().filter(|i| !i.is_empty()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_types() {
        assert_eq!(parse_value("42").unwrap(), ScalarValue::Int64(Some(42)));
        assert_eq!(parse_value("2.5").unwrap(), ScalarValue::Float64(Some(2.5)));
        assert_eq!(
            parse_value("'Lyon'").unwrap(),
            ScalarValue::Utf8(Some("Lyon".into()))
        );
        assert_eq!(
            parse_value("\"x'; DROP TABLE t; --\"").unwrap(),
            ScalarValue::Utf8(Some("x'; DROP TABLE t; --".into()))
        );
        assert_eq!(
            parse_value("TRUE").unwrap(),
            ScalarValue::Boolean(Some(true))
        );
        assert_eq!(
            parse_value("1970-01-11").unwrap(),
            ScalarValue::Date32(Some(10))
        );
        assert_eq!(
            parse_value("1970-01-01T00:00:01.5").unwrap(),
            ScalarValue::TimestampMicrosecond(Some(1_500_000), None)
        );
        let list = parse_value("[1, 2.5, 3]").unwrap();
        assert_eq!(
            list.data_type(),
            DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)))
        );
        let list = parse_value("['a,b', \"c\"]").unwrap();
        assert!(format!("{list}").contains("a,b"), "{list}");
    }

    #[test]
    fn bad_values_and_names_are_one_sentence() {
        let p = Parameters::default();
        for (name, value, expected) in [
            ("city", "Lyon", "quote text (\"Lyon\")"),
            ("city", "\"Lyon", "missing its closing \""),
            ("ids", "[1, 'a']", "must all be of one type"),
            ("ids", "['a', 1]", "must all be of one type"),
            ("ids", "[]", "empty list"),
            ("1st", "1", "cannot be a parameter name"),
            ("x", "", "needs a value"),
        ] {
            let message = p.set(name, value).unwrap_err().message;
            assert!(message.contains(expected), "{value}: {message}");
            assert!(!message.contains('\n'));
        }
        assert!(p.list().is_empty());
    }
}
