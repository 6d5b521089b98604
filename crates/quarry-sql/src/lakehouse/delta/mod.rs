//! Delta Lake tables on S3, read and written through `deltalake-core`.
//!
//! A Delta table is a folder of Parquet files and a `_delta_log` that says
//! which of them are live at each version. Its folder keeps every file any
//! version ever had, so reading it as plain Parquet counts rows a DELETE,
//! an UPDATE or an overwrite removed. Here the log decides:
//!
//! ```text
//!  CREATE EXTERNAL TABLE t STORED AS DELTATABLE LOCATION 's3://…/'
//!  SELECT … FROM 's3://…/folder/'   (a folder with a _delta_log)
//!          │
//!          ▼
//!   LiveDeltaTable ── scan ──▶ log brought up to date ──▶ deltalake's scan
//!                 └── insert ─▶ deltalake's sink: Parquet files, then one
//!                               commit `_delta_log/N.json`, put only if
//!                               absent (conditional PUT), retried on a race
//!  t VERSION AS OF n / TIMESTAMP AS OF '…'  ──▶ that version, read only
//!  DESCRIBE HISTORY t  ──▶ delta_history('t'): one row per commit
//! ```
//!
//! Every byte goes through the session's own S3 stores (the same STS
//! credentials, renewal, timeouts and byte cache as any other read): the
//! log store is built over them, never from deltalake's own S3 client.
//! Delta writes are not staged (see `crate::writes`): a Delta table's
//! files are invisible until its log commits them, which is the same
//! promise the staging gives other writes, and the commit's answer (won,
//! or lost to another writer) must be heard when it is made.

use std::sync::Arc;

use datafusion::catalog::DynamicFileCatalog;
use datafusion::datasource::dynamic_file::DynamicListTableFactory;
use datafusion::prelude::SessionContext;
use datafusion_session::SessionStore;

mod create_as;
mod guard;
mod history;
mod open;
mod provider;
mod time_travel;
mod url_tables;

#[cfg(test)]
mod tests;

pub(crate) use create_as::{CreateAs, parse_create_as};
pub(crate) use guard::refuse_delta_folders;
pub(crate) use history::{DeltaHistory, HISTORY_FUNCTION, describe_history};
pub(crate) use open::{DeltaLocation, TableVersion};
pub(crate) use provider::{
    DeltaTableFactory, LiveDeltaTable, create_version_zero, is_delta_target,
};
pub(crate) use time_travel::{TimeTravel, rewrite_versions};
pub(crate) use url_tables::DeltaAwareUrlTables;

/// A session that reads Delta tables: URL queries recognise Delta folders
/// (in place of DataFusion's `enable_url_table`), `STORED AS DELTATABLE`
/// has its factory, and `delta_history` is a table function.
pub(crate) fn install(ctx: SessionContext) -> SessionContext {
    let files = Arc::new(DynamicListTableFactory::new(SessionStore::new()));
    let url_tables = Arc::new(DeltaAwareUrlTables::new(
        Arc::clone(&files),
        ctx.runtime_env(),
    ));
    let catalogs = Arc::new(DynamicFileCatalog::new(
        Arc::clone(ctx.state().catalog_list()),
        url_tables,
    ));
    let session_id = ctx.session_id();
    let ctx: SessionContext = ctx
        .into_state_builder()
        .with_session_id(session_id)
        .with_catalog_list(catalogs)
        .build()
        .into();
    files.session_store().with_state(ctx.state_weak_ref());
    ctx.state_ref()
        .write()
        .table_factories_mut()
        .insert(DELTA_FILE_TYPE.to_string(), Arc::new(DeltaTableFactory));
    ctx.register_udtf(HISTORY_FUNCTION, Arc::new(DeltaHistory));
    ctx
}

/// The file type `CREATE EXTERNAL TABLE … STORED AS` names a Delta table by.
pub(crate) const DELTA_FILE_TYPE: &str = "DELTATABLE";

/// Why a Delta table could not be used, in words a notebook user can act on.
#[derive(Debug, thiserror::Error)]
pub enum DeltaError {
    /// The location has no `_delta_log`.
    #[error(
        "There is no Delta table at {url} (it has no _delta_log folder): give the folder a Delta table was written to, or columns to create a new one"
    )]
    NotATable {
        /// The location named.
        url: String,
    },
    /// The version asked for is not in the log.
    #[error(
        "The Delta table at {url} has no version {version}: its versions run from {oldest} to {latest}"
    )]
    NoSuchVersion {
        /// The table's location.
        url: String,
        /// The version asked for.
        version: u64,
        /// The oldest version the log still holds.
        oldest: u64,
        /// The newest version.
        latest: u64,
    },
    /// A time-travel clause named a table that is not a Delta table.
    #[error("Table {name} is not a Delta table, so it has no versions to travel to")]
    NotVersioned {
        /// The table as written.
        name: String,
    },
    /// A time-travel clause whose version or time could not be read.
    #[error("{clause} needs {expected}")]
    BadClause {
        /// The clause as written.
        clause: String,
        /// What it needs instead.
        expected: &'static str,
    },
    /// `CREATE … AS SELECT` into a folder that already holds a table.
    #[error(
        "There is already a Delta table at {url}: add rows to it with INSERT INTO, or give a new folder"
    )]
    AlreadyATable {
        /// The folder named.
        url: String,
    },
    /// Reading or writing the log failed.
    #[error("Could not read the Delta table at {url}: {source}")]
    Log {
        /// The table's location.
        url: String,
        /// What deltalake reported.
        #[source]
        source: deltalake_core::DeltaTableError,
    },
}

/// Runs a write into a Delta table: its commit is its own all-or-nothing
/// (nothing is staged), and listings of the table are out of date after.
pub(crate) async fn run_commit<T>(
    session: &crate::SqlSession,
    run: impl Future<Output = Result<T, datafusion::error::DataFusionError>>,
) -> Result<T, datafusion::error::DataFusionError> {
    let outcome = run.await;
    session.forget_listings();
    outcome
}

/// When `cause` is deltalake losing a commit race (another writer took
/// the version, in a way this one could not be placed after), the sentence
/// for it: nothing was committed, and running again is safe.
pub(crate) fn commit_conflict(cause: &(dyn std::error::Error + 'static)) -> Option<String> {
    use deltalake_core::DeltaTableError;
    use deltalake_core::kernel::transaction::TransactionError;
    let lost = match cause.downcast_ref::<TransactionError>() {
        Some(
            TransactionError::VersionAlreadyExists(_)
            | TransactionError::CommitConflict(_)
            | TransactionError::MaxCommitAttempts(_),
        ) => true,
        _ => matches!(
            cause.downcast_ref::<DeltaTableError>(),
            Some(DeltaTableError::VersionAlreadyExists(_))
        ),
    };
    lost.then(|| {
        format!(
            "Another writer committed to this Delta table at the same moment, in a way this statement cannot be placed after ({cause}); nothing was committed, so it is safe to run the statement again."
        )
    })
}

impl DeltaError {
    /// This error as DataFusion carries it, so it keeps its type through a
    /// query's error chain (the kernel shows its sentence as is).
    pub(crate) fn into_datafusion(self) -> datafusion::error::DataFusionError {
        datafusion::error::DataFusionError::External(Box::new(self))
    }
}
