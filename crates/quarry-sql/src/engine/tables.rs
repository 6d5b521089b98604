//! Moving whole tables in and out of the session: `%%spark -i` reads a
//! kernel table, `%%spark -o` keeps a Spark result as one.

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;

use crate::engine::error::ErrorKind;
use crate::{engine::SqlError, engine::SqlSession};

impl SqlSession {
    /// Every row of the table `name`, with its schema. A missing table is
    /// [`ErrorKind::MissingTable`].
    pub async fn collect_table(
        &self,
        name: &str,
    ) -> Result<(SchemaRef, Vec<RecordBatch>), SqlError> {
        let missing = || {
            SqlError::new(
                ErrorKind::MissingTable {
                    name: name.to_string(),
                },
                format!(
                    "There is no kernel table '{name}': CREATE it first, or keep a result with %%spark -o {name}."
                ),
            )
        };
        let frame = self.context().table(name).await.map_err(|_| missing())?;
        let schema = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.collect().await.map_err(|e| {
            SqlError::new(
                ErrorKind::Execution,
                format!("Reading table '{name}' failed: {e}."),
            )
        })?;
        Ok((schema, batches))
    }

    /// Keeps `batches` as the in-memory table `name`, replacing a table of
    /// that name.
    pub fn register_batches(
        &self,
        name: &str,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<(), SqlError> {
        let invalid = |e: datafusion::error::DataFusionError| {
            SqlError::new(
                ErrorKind::Plan,
                format!("Cannot keep the result as table '{name}': {e}."),
            )
        };
        let table = MemTable::try_new(schema, vec![batches]).map_err(invalid)?;
        let _ = self.context().deregister_table(name);
        self.context()
            .register_table(name, Arc::new(table))
            .map_err(invalid)?;
        Ok(())
    }
}

impl SqlSession {
    /// Forgets the table `name` if it is registered (in-memory tables free
    /// their batches).
    pub fn drop_table(&self, name: &str) {
        let _ = self.context().deregister_table(name);
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::ErrorKind;
    use crate::engine::session::test_session;

    #[tokio::test]
    async fn tables_go_out_and_come_back() {
        let session = test_session();
        session
            .run_cell(
                "CREATE TABLE t AS SELECT * FROM generate_series(1, 5) AS g(x)",
                0,
                Default::default(),
            )
            .await
            .unwrap();
        let (schema, batches) = session.collect_table("t").await.unwrap();
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 5);
        session.register_batches("copy", schema, batches).unwrap();
        let outcome = session
            .run_cell("SELECT sum(x) AS s FROM copy", 1, Default::default())
            .await
            .unwrap();
        assert_eq!(outcome.result.unwrap().total_rows, 1);
        let missing = session.collect_table("nope").await.unwrap_err();
        assert_eq!(
            missing.kind,
            ErrorKind::MissingTable {
                name: "nope".into()
            }
        );
    }
}

/// A table (or view) the session knows, with its columns.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableInfo {
    /// The schema it lives in (`public` by default).
    pub schema: String,
    /// Its name.
    pub name: String,
    /// `BASE TABLE`, `VIEW`, … as `information_schema` says.
    pub kind: String,
    /// `(name, type)` per column, in order.
    pub columns: Vec<(String, String)>,
    /// Kept in the user's catalog (every kernel sees it, after restarts
    /// too), rather than this kernel's own.
    pub kept: bool,
}

impl SqlSession {
    /// Every table and view outside `information_schema`, with columns,
    /// read from `information_schema` (for the data explorer).
    pub async fn catalog(&self) -> Result<Vec<TableInfo>, SqlError> {
        let texts = |sql: &'static str| string_rows(self, sql);
        let tables = texts(
            "SELECT table_schema, table_name, table_type FROM information_schema.tables \
             WHERE table_schema <> 'information_schema' ORDER BY table_schema, table_name",
        )
        .await?;
        let columns = texts(
            "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns \
             WHERE table_schema <> 'information_schema' ORDER BY table_schema, table_name, ordinal_position",
        )
        .await?;
        Ok(tables
            .into_iter()
            .map(|t| TableInfo {
                columns: columns
                    .iter()
                    .filter(|c| c[0] == t[0] && c[1] == t[1])
                    .map(|c| (c[2].clone(), c[3].clone()))
                    .collect(),
                kept: t[0] == "public" && !self.is_kernel_table(&t[1]),
                schema: t[0].clone(),
                name: t[1].clone(),
                kind: t[2].clone(),
            })
            .collect())
    }
}

/// Every row of `sql`'s answer, each value as text.
async fn string_rows(session: &SqlSession, sql: &str) -> Result<Vec<Vec<String>>, SqlError> {
    use datafusion::arrow::array::AsArray;
    let outcome = session
        .run_cell(sql, usize::MAX, Default::default())
        .await?;
    let Some(result) = outcome.result else {
        return Ok(Vec::new());
    };
    let unreadable = |e: datafusion::arrow::error::ArrowError| {
        SqlError::new(
            ErrorKind::Execution,
            format!("Reading the catalog failed: {e}."),
        )
    };
    let mut rows = Vec::new();
    for batch in &result.batches {
        let columns: Vec<_> = (0..batch.num_columns())
            .map(|i| {
                datafusion::arrow::compute::cast(
                    batch.column(i),
                    &datafusion::arrow::datatypes::DataType::Utf8,
                )
            })
            .collect::<Result<_, _>>()
            .map_err(unreadable)?;
        for row in 0..batch.num_rows() {
            rows.push(
                columns
                    .iter()
                    .map(|c| c.as_string::<i32>().value(row).to_string())
                    .collect(),
            );
        }
    }
    Ok(rows)
}
