//! How a planned statement runs. Most statements simply run; three kinds
//! belong to the module that knows them, which decides how they run:
//!
//! * a change to the user's catalog (`CREATE EXTERNAL TABLE`, `CREATE
//!   VIEW`, their `DROP`s) runs, then is written to the catalog file —
//!   `lakehouse::catalog::ddl::run_change`;
//! * a write into a Delta table is its own all-or-nothing commit —
//!   `lakehouse::delta::run_commit`;
//! * any other write to S3 is staged until it succeeds —
//!   `engine::writes::run_staged`.
//!
//! `SqlSession::run_statement` only asks [`Execution::of`] and hands the
//! statement's run to the owner, so a new kind of statement is a variant
//! here and a function in its own module, not a branch in the runner.

use datafusion::logical_expr::LogicalPlan;

use crate::lakehouse::catalog::ddl::{self, CatalogChange};

/// Who runs a planned statement.
pub(crate) enum Execution {
    /// Runs as planned.
    Plain,
    /// A change the user's catalog keeps.
    Catalog(CatalogChange),
    /// A write into a Delta table.
    DeltaCommit,
    /// A write to S3 (`COPY … TO`, `INSERT INTO` an external table),
    /// with its destination for the message when nothing was written.
    Staged(String),
}

impl Execution {
    /// How `plan` runs.
    pub(crate) fn of(plan: &LogicalPlan) -> Self {
        if let Some(change) = ddl::change_for(plan) {
            return Execution::Catalog(change);
        }
        match crate::engine::writes::destination(plan) {
            None => Execution::Plain,
            Some(_) if crate::lakehouse::delta::is_delta_target(plan) => Execution::DeltaCommit,
            Some(destination) => Execution::Staged(destination),
        }
    }
}
