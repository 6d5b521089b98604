//! Kept tables as the session sees them before they are used.
//!
//! A kept external table is known by its stored columns, so a kernel with
//! two hundred kept tables starts, lists them, plans over them and drops
//! them without a single S3 request. The real table (DataFusion's listing
//! table, which lists and may infer from S3) is built the first time a
//! query scans or inserts into it, from the kept statement, exactly as
//! `CREATE EXTERNAL TABLE` built it.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{DdlStatement, Expr, LogicalPlan, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use tokio::sync::OnceCell;

/// A kept external table, built on first scan.
#[derive(Debug)]
pub(crate) struct LazyTable {
    name: String,
    statement: String,
    schema: SchemaRef,
    built: OnceCell<Arc<dyn TableProvider>>,
}

impl LazyTable {
    pub(crate) fn new(name: &str, statement: &str, schema: SchemaRef) -> Self {
        LazyTable {
            name: name.to_string(),
            statement: statement.to_string(),
            schema,
            built: OnceCell::new(),
        }
    }

    async fn built(&self, state: &dyn Session) -> Result<&Arc<dyn TableProvider>> {
        self.built.get_or_try_init(|| self.build(state)).await
    }

    /// Plans the kept `CREATE EXTERNAL TABLE` and runs its table factory.
    async fn build(&self, state: &dyn Session) -> Result<Arc<dyn TableProvider>> {
        let state = state
            .as_any()
            .downcast_ref::<SessionState>()
            .ok_or_else(|| DataFusionError::Internal("a kept table needs a SessionState".into()))?;
        let plan = state.create_logical_plan(&self.statement).await?;
        let LogicalPlan::Ddl(DdlStatement::CreateExternalTable(command)) = plan else {
            return Err(DataFusionError::Plan(format!(
                "the kept definition of table '{}' is not a CREATE EXTERNAL TABLE",
                self.name
            )));
        };
        let file_type = command.file_type.to_uppercase();
        let factory = state
            .table_factories()
            .get(file_type.as_str())
            .ok_or_else(|| {
                DataFusionError::Plan(format!(
                    "table '{}' is kept as {file_type}, which this kernel cannot read",
                    self.name
                ))
            })?;
        let table = factory.create(state, &command).await?;
        if table.schema().fields() != self.schema.fields() {
            return Err(DataFusionError::Plan(format!(
                "table '{}' has other columns than when it was kept (its files changed): re-create it with CREATE OR REPLACE EXTERNAL TABLE",
                self.name
            )));
        }
        Ok(table)
    }
}

#[async_trait]
impl TableProvider for LazyTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn get_table_definition(&self) -> Option<&str> {
        Some(&self.statement)
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // Before the scan builds the table its abilities are unknown:
        // Inexact hands every filter to the scan (which prunes with what it
        // can) and DataFusion applies them again above it.
        match self.built.get() {
            Some(table) => table.supports_filters_pushdown(filters),
            None => Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()]),
        }
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.built(state)
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
        self.built(state)
            .await?
            .insert_into(state, input, insert_op)
            .await
    }
}

/// A kept view whose query no longer plans (a table under it was dropped):
/// it can still be listed and dropped; using it says why it fails.
#[derive(Debug)]
pub(crate) struct UnplannableView {
    pub(crate) name: String,
    pub(crate) reason: String,
}

#[async_trait]
impl TableProvider for UnplannableView {
    fn schema(&self) -> SchemaRef {
        Arc::new(datafusion::arrow::datatypes::Schema::empty())
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Err(DataFusionError::Plan(format!(
            "view '{}' no longer plans ({}): DROP VIEW {} or re-create it",
            self.name, self.reason, self.name
        )))
    }
}
