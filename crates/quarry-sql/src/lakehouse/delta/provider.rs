//! A Delta table as DataFusion sees it: always the log's newest version,
//! or one pinned version for time travel.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{Session, TableProvider, TableProviderFactory};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{
    CreateExternalTable, Expr, LogicalPlan, TableProviderFilterPushDown,
};
use datafusion::physical_plan::ExecutionPlan;
use deltalake_core::DeltaTable;
use deltalake_core::kernel::StructType;
use deltalake_core::kernel::engine::arrow_conversion::TryIntoKernel as _;
use tokio::sync::Mutex;

use super::{DeltaError, DeltaLocation, TableVersion};

/// A Delta table registered in a session.
///
/// DataFusion asks for a table's schema while planning (synchronously) and
/// scans it later: the schema is the one loaded when the table was
/// registered, and each scan or insert first reads the commits made since
/// (by this kernel, another kernel, Spark), so a query never answers from
/// a stale version. A pinned table (time travel) never moves.
#[derive(Debug)]
pub(crate) struct LiveDeltaTable {
    location: DeltaLocation,
    pinned: bool,
    schema: SchemaRef,
    table: Mutex<DeltaTable>,
}

impl LiveDeltaTable {
    /// The table at `location`, loaded at `version` (pinned unless
    /// [`TableVersion::Latest`]).
    pub(crate) async fn open(
        runtime: &RuntimeEnv,
        location: DeltaLocation,
        version: TableVersion,
    ) -> Result<Self, DeltaError> {
        let table = location.load(runtime, version).await?;
        let provider = provider_of(&table).await.map_err(|e| DeltaError::Log {
            url: location.url().to_string(),
            source: deltalake_core::DeltaTableError::Generic(e.to_string()),
        })?;
        Ok(LiveDeltaTable {
            location,
            pinned: version != TableVersion::Latest,
            schema: provider.schema(),
            table: Mutex::new(table),
        })
    }

    /// Where the table lives.
    pub(crate) fn location(&self) -> &DeltaLocation {
        &self.location
    }

    /// The table at the version to read now: brought up to date unless
    /// pinned. deltalake reads only the commits after the one it holds.
    async fn current(&self) -> Result<Arc<dyn TableProvider>> {
        let mut table = self.table.lock().await;
        if !self.pinned {
            table.update_state().await.map_err(|source| {
                DeltaError::Log {
                    url: self.location.url().to_string(),
                    source,
                }
                .into_datafusion()
            })?;
        }
        let provider = provider_of(&table).await?;
        // DataFusion planned against the columns this table was registered
        // with; a writer that changed them since (a new column) makes the
        // plan's column numbers wrong, so say so rather than misread.
        if provider.schema().fields() != self.schema.fields() {
            return Err(DataFusionError::Plan(format!(
                "The Delta table at {} changed its columns since this kernel registered it: run its CREATE EXTERNAL TABLE again (CREATE OR REPLACE for a kept table)",
                self.location.url()
            )));
        }
        Ok(provider)
    }
}

/// deltalake's scan over the table as loaded. It is handed the loaded
/// file list (the eager snapshot): given only the log's position, the scan
/// would replay the log's commits again at every query.
async fn provider_of(table: &DeltaTable) -> Result<Arc<dyn TableProvider>> {
    let mut builder = table.table_provider();
    if let Ok(state) = table.snapshot() {
        builder = builder.with_eager_snapshot(state.snapshot().clone());
    }
    builder
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))
}

#[async_trait]
impl TableProvider for LiveDeltaTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // deltalake prunes files with what it can; DataFusion applies the
        // filters again above the scan.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.current()
            .await?
            .scan(state, projection, filters, limit)
            .await
    }

    async fn insert_into(
        &self,
        state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if self.pinned {
            return Err(DataFusionError::Plan(format!(
                "An old version of the Delta table at {} is read only: insert into the table itself",
                self.location.url()
            )));
        }
        self.current()
            .await?
            .insert_into(state, input, insert_op)
            .await
    }
}

/// Whether a plan writes into a Delta table (whose own commit protocol
/// keeps unfinished writes invisible, so its writes are not staged).
pub(crate) fn is_delta_target(plan: &LogicalPlan) -> bool {
    let LogicalPlan::Dml(dml) = plan else {
        return false;
    };
    let Ok(provider) = datafusion::datasource::source_as_provider(&dml.target) else {
        return false;
    };
    if provider.is::<LiveDeltaTable>() {
        return true;
    }
    provider
        .get_table_definition()
        .and_then(crate::lakehouse::catalog::kept_delta_location)
        .is_some()
}

/// `CREATE EXTERNAL TABLE … STORED AS DELTATABLE LOCATION '…'`: the table
/// the folder's log describes, or, for a folder with no log and a column
/// list, a new empty table with those columns (version 0).
#[derive(Debug, Default)]
pub(crate) struct DeltaTableFactory;

#[async_trait]
impl TableProviderFactory for DeltaTableFactory {
    async fn create(
        &self,
        state: &dyn Session,
        command: &CreateExternalTable,
    ) -> Result<Arc<dyn TableProvider>> {
        let [location] = command.locations.as_slice() else {
            return Err(DataFusionError::Plan(
                "A Delta table has one location: its folder".to_string(),
            ));
        };
        let location = DeltaLocation::parse(location).map_err(DeltaError::into_datafusion)?;
        let opened =
            LiveDeltaTable::open(state.runtime_env(), location.clone(), TableVersion::Latest).await;
        let table = match opened {
            Err(DeltaError::NotATable { .. }) if !command.schema.fields().is_empty() => {
                create_version_zero(
                    state.runtime_env(),
                    &location,
                    command.name.table(),
                    command.schema.as_arrow(),
                    &command.table_partition_cols,
                )
                .await?;
                LiveDeltaTable::open(state.runtime_env(), location, TableVersion::Latest).await
            }
            other => other,
        }
        .map_err(DeltaError::into_datafusion)?;
        Ok(Arc::new(table))
    }
}

/// `columns` with the types Delta cannot store given the nearest it can,
/// without losing a value: timestamps of any unit become microseconds
/// (Delta's one unit; seconds and milliseconds fit exactly, nanoseconds are
/// truncated as Spark truncates them) and unsigned integers the next wider
/// signed type. Rows are cast on the way in, as an `INSERT` casts to its
/// table's columns.
fn storable(columns: &Schema) -> Schema {
    let fields: Vec<Field> = columns
        .fields()
        .iter()
        .map(|field| {
            let stored = match field.data_type() {
                DataType::Timestamp(_, zone) => {
                    DataType::Timestamp(TimeUnit::Microsecond, zone.clone())
                }
                DataType::UInt8 => DataType::Int16,
                DataType::UInt16 => DataType::Int32,
                DataType::UInt32 | DataType::UInt64 => DataType::Int64,
                other => other.clone(),
            };
            field.as_ref().clone().with_data_type(stored)
        })
        .collect();
    Schema::new_with_metadata(fields, columns.metadata().clone())
}

/// Writes version 0 of a new, empty table with `columns`.
pub(crate) async fn create_version_zero(
    runtime: &RuntimeEnv,
    location: &DeltaLocation,
    name: &str,
    columns: &Schema,
    partitions: &[String],
) -> Result<()> {
    let columns: StructType = (&storable(columns)).try_into_kernel().map_err(|e| {
        DataFusionError::Plan(format!("A Delta table cannot have these columns: {e}"))
    })?;
    let table = location
        .table(runtime)
        .map_err(DeltaError::into_datafusion)?;
    table
        .create()
        .with_table_name(name)
        .with_columns(columns.fields().cloned())
        .with_partition_columns(partitions.to_vec())
        .await
        .map_err(|source| {
            DeltaError::Log {
                url: location.url().to_string(),
                source,
            }
            .into_datafusion()
        })?;
    Ok(())
}
