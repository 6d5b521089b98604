//! Held results as the grid's JSON: typed columns, and cells as the same
//! text the HTML table shows (exact for every type, unlike JSON numbers
//! past 2⁵³), nested values as JSON so the grid can expand them.

use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use serde_json::Value;

use super::Held;
use super::contract::{ColumnKind, FirstPage, GridColumn, ResultBundleJson};
use quarry_text::numbers::human_bytes;

/// The MIME type of a result the grid can explore.
pub const RESULT_MIME: &str = "application/vnd.quarry.result+json";

/// The grid's kind for a column: how it aligns, filters and sorts.
fn kind(data_type: &DataType) -> ColumnKind {
    match data_type {
        t if t.is_numeric() => ColumnKind::Number,
        DataType::Boolean => ColumnKind::Boolean,
        DataType::Date32
        | DataType::Date64
        | DataType::Timestamp(..)
        | DataType::Time32(_)
        | DataType::Time64(_)
        | DataType::Duration(_)
        | DataType::Interval(_) => ColumnKind::Time,
        t if t.is_nested() => ColumnKind::Nested,
        _ => ColumnKind::Text,
    }
}

/// The columns as the grid describes them.
pub fn grid_columns(schema: &SchemaRef) -> Vec<GridColumn> {
    schema
        .fields()
        .iter()
        .map(|f| GridColumn {
            name: f.name().clone(),
            data_type: f.data_type().to_string(),
            kind: kind(f.data_type()),
        })
        .collect()
}

/// The rows of `batches` as arrays of cells: display text, `null`, or a
/// JSON value for nested columns.
pub fn grid_rows(batches: &[RecordBatch]) -> Vec<Value> {
    let options = FormatOptions::default();
    let mut rows = Vec::new();
    for batch in batches {
        let columns: Vec<Vec<Value>> = batch
            .columns()
            .iter()
            .map(|column| cells(column.as_ref(), &options))
            .collect();
        for row in 0..batch.num_rows() {
            rows.push(Value::Array(
                columns.iter().map(|cells| cells[row].clone()).collect(),
            ));
        }
    }
    rows
}

fn cells(array: &dyn Array, options: &FormatOptions) -> Vec<Value> {
    if array.data_type().is_nested()
        && let Some(values) = nested_json(array)
    {
        return values;
    }
    match ArrayFormatter::try_new(array, options) {
        Ok(formatter) => (0..array.len())
            .map(|i| {
                if array.is_null(i) {
                    Value::Null
                } else {
                    Value::String(formatter.value(i).to_string())
                }
            })
            .collect(),
        Err(_) => vec![Value::Null; array.len()],
    }
}

/// A nested column through Arrow's JSON writer, one value per row.
fn nested_json(array: &dyn Array) -> Option<Vec<Value>> {
    use datafusion::arrow::json::ArrayWriter;
    let field = Field::new("v", array.data_type().clone(), true);
    let batch = RecordBatch::try_new(
        std::sync::Arc::new(Schema::new(vec![field])),
        vec![datafusion::arrow::array::make_array(array.to_data())],
    )
    .ok()?;
    let mut writer = ArrayWriter::new(Vec::new());
    writer.write(&batch).ok()?;
    writer.finish().ok()?;
    let objects: Vec<Value> = serde_json::from_slice(&writer.into_inner()).ok()?;
    Some(
        objects
            .into_iter()
            .map(|mut o| o.get_mut("v").map(Value::take).unwrap_or(Value::Null))
            .collect(),
    )
}

/// The `application/vnd.quarry.result+json` of one result: what the grid
/// needs to draw the first page and ask for more.
#[derive(Debug, Clone)]
pub struct ResultBundle<'a> {
    /// The result's columns.
    pub schema: &'a SchemaRef,
    /// The rows shown first (those the HTML table shows).
    pub first_rows: &'a [RecordBatch],
    /// Every row of the result.
    pub total_rows: u64,
    /// Whether the kernel holds it for paging.
    pub held: &'a Held,
    /// What the grid should say about where these rows came from (a
    /// Spark result cut at its first rows), if anything.
    pub note: Option<String>,
}

impl ResultBundle<'_> {
    /// The bundle as JSON.
    pub fn to_json(&self) -> Value {
        let (result_id, held_note) = match self.held {
            Held::Yes(id) => (Some(id.clone()), None),
            Held::TooLarge { bytes, share } => (
                None,
                Some(format!(
                    "This result (at least {}) is larger than the {} the kernel keeps for exploring results, so only these rows can be shown; sort or filter in SQL, or give the kernel more memory (QUARRY_MEMORY_LIMIT).",
                    human_bytes(*bytes as u64),
                    human_bytes(*share as u64)
                )),
            ),
        };
        let notes: Vec<&str> = [self.note.as_deref(), held_note.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        let note = (!notes.is_empty()).then(|| notes.join(" "));
        let bundle = ResultBundleJson {
            version: 1,
            result_id,
            columns: grid_columns(self.schema),
            total_rows: self.total_rows,
            first_page: FirstPage {
                offset: 0,
                rows: grid_rows(self.first_rows),
            },
            note,
        };
        serde_json::to_value(bundle).unwrap_or(Value::Null)
    }
}
