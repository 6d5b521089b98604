//! Arrow results as notebook output: text, an HTML table and a
//! tabular-data-resource, all from the same batches.

use quarry_text::markup::escape_html;
use std::fmt::Write as _;
use std::time::Duration;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::arrow::util::pretty::pretty_format_batches_with_schema;
use serde_json::{Map, Value, json};

/// The three renderings of a result, ready to become a MIME bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedTable {
    /// A fixed-width table for terminals.
    pub plain: String,
    /// An HTML table for notebooks.
    pub html: String,
    /// `application/vnd.dataresource+json`.
    pub data_resource: Value,
}

const NULL: &str = "NULL";

/// Renders `batches` (already capped for display) of a result with
/// `total_rows` rows in all.
pub fn render_batches(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    total_rows: u64,
    elapsed: Option<Duration>,
) -> RenderedTable {
    let shown: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let footer = footer(shown as u64, total_rows, elapsed);
    let options = FormatOptions::default().with_null(NULL);
    let plain = match pretty_format_batches_with_schema(schema.clone(), batches) {
        Ok(table) => format!("{table}\n{footer}"),
        Err(e) => format!("(could not format the result: {e})\n{footer}"),
    };
    RenderedTable {
        plain,
        html: html_table(schema, batches, &options, &footer),
        data_resource: data_resource(schema, batches, &options),
    }
}

fn footer(shown: u64, total: u64, elapsed: Option<Duration>) -> String {
    let rows = |n: u64| {
        format!(
            "{} row{}",
            group_thousands(n),
            if n == 1 { "" } else { "s" }
        )
    };
    let mut text = if shown < total {
        format!(
            "Showing the first {} of {} (%config max_rows N shows more)",
            group_thousands(shown),
            rows(total)
        )
    } else {
        rows(total)
    };
    if let Some(elapsed) = elapsed {
        let _ = write!(text, " in {}", human_duration(elapsed));
    }
    text
}

/// Counts and durations as people read them: one wording, in `quarry-text`.
use quarry_text::numbers::{group_thousands, human_duration};

fn html_table(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    options: &FormatOptions,
    footer: &str,
) -> String {
    let mut html =
        String::from("<div class=\"quarry-result\"><table class=\"dataframe\">\n<thead><tr>");
    for field in schema.fields() {
        let _ = write!(
            html,
            "<th title=\"{ty}\">{name}</th>",
            name = escape_html(field.name()),
            ty = escape_html(&field.data_type().to_string())
        );
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    for batch in batches {
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), options))
            .collect();
        for row in 0..batch.num_rows() {
            html.push_str("<tr>");
            for (col, formatter) in formatters.iter().enumerate() {
                let cell = match formatter {
                    Ok(f) if batch.column(col).is_null(row) => {
                        let _ = f;
                        "<td class=\"null\"><i>NULL</i></td>".to_string()
                    }
                    Ok(f) => format!("<td>{}</td>", escape_html(&f.value(row).to_string())),
                    Err(_) => "<td>?</td>".to_string(),
                };
                html.push_str(&cell);
            }
            html.push_str("</tr>\n");
        }
    }
    let _ = write!(
        html,
        "</tbody></table>\n<p class=\"quarry-footer\">{}</p></div>",
        escape_html(footer)
    );
    html
}

/// Frictionless table schema type for an Arrow type.
fn resource_type(data_type: &DataType) -> &'static str {
    match data_type {
        t if t.is_integer() => "integer",
        t if t.is_floating() => "number",
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => "number",
        DataType::Boolean => "boolean",
        DataType::Date32 | DataType::Date64 => "date",
        DataType::Timestamp(..) => "datetime",
        DataType::Time32(_) | DataType::Time64(_) => "time",
        DataType::Duration(_) | DataType::Interval(_) => "duration",
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => "array",
        DataType::Struct(_) | DataType::Map(..) => "object",
        _ => "string",
    }
}

fn data_resource(schema: &SchemaRef, batches: &[RecordBatch], options: &FormatOptions) -> Value {
    let fields: Vec<Value> = schema
        .fields()
        .iter()
        .map(|f| json!({"name": f.name(), "type": resource_type(f.data_type())}))
        .collect();
    let mut rows = Vec::new();
    for batch in batches {
        let columns: Vec<Vec<Value>> = batch
            .columns()
            .iter()
            .map(|c| json_values(c.as_ref(), options))
            .collect();
        for row in 0..batch.num_rows() {
            let mut object = Map::new();
            for (field, values) in schema.fields().iter().zip(&columns) {
                object.insert(field.name().clone(), values[row].clone());
            }
            rows.push(Value::Object(object));
        }
    }
    json!({"schema": {"fields": fields}, "data": rows})
}

/// A column as JSON values: numbers and booleans natively, everything else
/// as its display string, nulls as `null`.
fn json_values(array: &dyn Array, options: &FormatOptions) -> Vec<Value> {
    let len = array.len();
    let null_or = |i: usize, v: Value| if array.is_null(i) { Value::Null } else { v };
    let data_type = array.data_type();
    if data_type.is_integer()
        && !matches!(data_type, DataType::UInt64)
        && let Ok(ints) = cast(array, &DataType::Int64)
    {
        let ints = ints.as_primitive::<Int64Type>();
        return (0..len).map(|i| null_or(i, json!(ints.value(i)))).collect();
    }
    if data_type.is_numeric()
        && let Ok(floats) = cast(array, &DataType::Float64)
    {
        let floats = floats.as_primitive::<Float64Type>();
        return (0..len)
            .map(|i| {
                null_or(
                    i,
                    serde_json::Number::from_f64(floats.value(i))
                        .map_or(Value::Null, Value::Number),
                )
            })
            .collect();
    }
    if let DataType::Boolean = data_type {
        let bools = array.as_boolean();
        return (0..len)
            .map(|i| null_or(i, json!(bools.value(i))))
            .collect();
    }
    match ArrayFormatter::try_new(array, options) {
        Ok(f) => (0..len)
            .map(|i| null_or(i, json!(f.value(i).to_string())))
            .collect(),
        Err(_) => vec![Value::Null; len],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Float64Array, Int32Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    fn sample() -> (SchemaRef, RecordBatch) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int32, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("value", DataType::Float64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int32Array::from(vec![1, 2])),
                Arc::new(StringArray::from(vec![Some("<b>x</b>"), None])),
                Arc::new(Float64Array::from(vec![Some(1.5), None])),
            ],
        )
        .unwrap();
        (schema, batch)
    }

    #[test]
    fn all_three_renderings_agree() {
        let (schema, batch) = sample();
        let r = render_batches(&schema, &[batch], 2, None);
        assert!(r.plain.contains("| id | name"), "{}", r.plain);
        assert!(r.plain.ends_with("2 rows"));
        assert!(
            r.html.contains("&lt;b&gt;x&lt;/b&gt;"),
            "HTML must be escaped"
        );
        assert!(!r.html.contains("<b>x</b>"));
        assert!(r.html.contains("<i>NULL</i>"));
        assert_eq!(
            r.data_resource["schema"]["fields"][0],
            json!({"name": "id", "type": "integer"})
        );
        assert_eq!(
            r.data_resource["data"][0],
            json!({"id": 1, "name": "<b>x</b>", "value": 1.5})
        );
        assert_eq!(r.data_resource["data"][1]["name"], Value::Null);
    }

    #[test]
    fn capped_results_state_the_true_count() {
        let (schema, batch) = sample();
        let r = render_batches(
            &schema,
            &[batch],
            1_234_567,
            Some(Duration::from_millis(1500)),
        );
        assert!(
            r.plain.contains("Showing the first 2 of 1,234,567 rows"),
            "{}",
            r.plain
        );
        assert!(r.plain.contains("in 1.50 s"));
        assert!(r.html.contains("1,234,567 rows"));
    }

    #[test]
    fn empty_results_still_show_columns() {
        let (schema, _) = sample();
        let r = render_batches(&schema, &[], 0, None);
        assert!(r.plain.contains("name"));
        assert!(r.plain.ends_with("0 rows"));
        assert_eq!(r.data_resource["data"], json!([]));
    }
}
