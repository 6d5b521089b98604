//! A Delta table's history: `DESCRIBE HISTORY t`, or the table function
//! `delta_history('t')` it stands for, one row per commit, newest first.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, RecordBatch, StringArray, TimestampMillisecondArray, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use deltalake_core::kernel::CommitInfo;
use futures::TryStreamExt;

use super::time_travel::resolve;
use super::{DeltaError, TableVersion};

/// The name `DESCRIBE HISTORY` is planned through.
pub(crate) const HISTORY_FUNCTION: &str = "delta_history";

/// `DESCRIBE HISTORY name` as the query it stands for.
pub(crate) fn describe_history(table: &str) -> String {
    format!(
        "SELECT * FROM {HISTORY_FUNCTION}('{}')",
        table.replace('\'', "''")
    )
}

/// The `delta_history` table function.
#[derive(Debug, Default)]
pub(crate) struct DeltaHistory;

impl TableFunctionImpl for DeltaHistory {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let table = match args.exprs() {
            [Expr::Literal(value, _)] if value.try_as_str().flatten().is_some() => {
                value.try_as_str().flatten().unwrap_or_default().to_string()
            }
            _ => {
                return Err(DataFusionError::Plan(format!(
                    "{HISTORY_FUNCTION} takes one argument: a Delta table's name or folder, in quotes"
                )));
            }
        };
        Ok(Arc::new(HistoryTable { table }))
    }
}

/// One table's history; read when scanned.
#[derive(Debug)]
struct HistoryTable {
    table: String,
}

fn history_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("version", DataType::UInt64, false),
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ),
        Field::new("operation", DataType::Utf8, true),
        Field::new("parameters", DataType::Utf8, true),
        Field::new("read_version", DataType::UInt64, true),
        Field::new("blind_append", DataType::Boolean, true),
        Field::new("engine", DataType::Utf8, true),
    ]))
}

#[async_trait]
impl TableProvider for HistoryTable {
    fn schema(&self) -> SchemaRef {
        history_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let location = resolve(state, &self.table)
            .await
            .map_err(DeltaError::into_datafusion)?;
        let table = location
            .load(state.runtime_env(), TableVersion::Latest)
            .await
            .map_err(DeltaError::into_datafusion)?;
        let latest = table.version().unwrap_or_default();
        let commits: Vec<CommitInfo> =
            table.history(None).try_collect().await.map_err(|source| {
                DeltaError::Log {
                    url: location.url().to_string(),
                    source,
                }
                .into_datafusion()
            })?;
        let batch = history_batch(latest, &commits)?;
        let exec = MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            history_schema(),
            projection.cloned(),
        )?;
        Ok(exec)
    }
}

/// The commits (newest first, as deltalake streams them) as one batch;
/// versions count down from `latest`, as the log holds them without gaps.
fn history_batch(latest: u64, commits: &[CommitInfo]) -> Result<RecordBatch> {
    let versions = (0..commits.len() as u64).map(|i| latest.saturating_sub(i));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt64Array::from_iter_values(versions)),
        Arc::new(
            TimestampMillisecondArray::from_iter(commits.iter().map(|c| c.timestamp))
                .with_timezone("UTC"),
        ),
        Arc::new(StringArray::from_iter(
            commits.iter().map(|c| c.operation.clone()),
        )),
        Arc::new(StringArray::from_iter(commits.iter().map(|c| {
            c.operation_parameters
                .as_ref()
                .map(|p| serde_json::to_string(p).unwrap_or_default())
        }))),
        Arc::new(UInt64Array::from_iter(
            commits.iter().map(|c| c.read_version),
        )),
        Arc::new(BooleanArray::from_iter(
            commits.iter().map(|c| c.is_blind_append),
        )),
        Arc::new(StringArray::from_iter(
            commits.iter().map(|c| c.engine_info.clone()),
        )),
    ];
    Ok(RecordBatch::try_new(history_schema(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_history_quotes_the_name() {
        assert_eq!(
            describe_history("it's"),
            "SELECT * FROM delta_history('it''s')"
        );
    }

    #[test]
    fn versions_count_down_from_the_latest() {
        let commit = |op: &str| CommitInfo {
            operation: Some(op.to_string()),
            timestamp: Some(1_700_000_000_000),
            ..Default::default()
        };
        let batch = history_batch(
            2,
            &[commit("DELETE"), commit("WRITE"), commit("CREATE TABLE")],
        )
        .unwrap();
        let versions = batch
            .column(0)
            .as_any()
            .downcast_ref::<UInt64Array>()
            .unwrap();
        assert_eq!(versions.values(), &[2, 1, 0]);
        let ops = batch
            .column(2)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(ops.value(0), "DELETE");
    }
}
