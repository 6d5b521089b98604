//! The temporary views of a running Spark session, for the data explorer:
//! what `%%spark` cells can query by name right now.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use serde::Serialize;

use crate::{SparkError, SparkSession};

/// At most this many views are described (one `DESCRIBE` each).
const MAX_VIEWS: usize = 50;

/// One temporary view and its columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SparkView {
    /// The view's name.
    pub name: String,
    /// `(name, type)` per column, as Spark describes them.
    pub columns: Vec<(String, String)>,
}

impl SparkSession {
    /// The session's temporary views with their columns (the first
    /// [`MAX_VIEWS`], by name).
    pub async fn temp_views(&self) -> Result<Vec<SparkView>, SparkError> {
        let listed = self.sql("SHOW VIEWS", "quarry-explorer", |_| {}).await?;
        let mut names: Vec<String> = text_rows(&listed.batches)
            .into_iter()
            // namespace, viewName, isTemporary
            .filter(|row| row.get(2).is_some_and(|t| t == "true"))
            .filter_map(|row| row.get(1).cloned())
            .collect();
        names.sort();
        names.truncate(MAX_VIEWS);
        let mut views = Vec::with_capacity(names.len());
        for name in names {
            let described = self
                .sql(
                    &format!("DESCRIBE `{}`", name.replace('`', "``")),
                    "quarry-explorer",
                    |_| {},
                )
                .await?;
            let columns = text_rows(&described.batches)
                .into_iter()
                // col_name, data_type, comment; partition headers start with '#'.
                .take_while(|row| !row.first().is_some_and(|c| c.starts_with('#')))
                .filter_map(|row| Some((row.first()?.clone(), row.get(1)?.clone())))
                .collect();
            views.push(SparkView { name, columns });
        }
        Ok(views)
    }
}

/// Every row of `batches` with each value as text (`""` for null).
fn text_rows(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for batch in batches {
        let columns: Vec<_> = batch
            .columns()
            .iter()
            .filter_map(|c| cast(c, &DataType::Utf8).ok())
            .collect();
        for row in 0..batch.num_rows() {
            rows.push(
                columns
                    .iter()
                    .map(|c| {
                        let text = c.as_string::<i32>();
                        if text.is_null(row) {
                            String::new()
                        } else {
                            text.value(row).to_string()
                        }
                    })
                    .collect(),
            );
        }
    }
    rows
}
