//! Quarry's SQL engine: an Apache DataFusion session that reads and writes
//! S3 through `quarry-s3`, bounded in memory, with results rendered for
//! notebooks and errors phrased for people.
//!
//! This crate knows nothing of Jupyter. The kernel hands it cell text and
//! gets back [`CellOutcome`]s, [`RenderedTable`]s and [`SqlError`]s; the
//! same renderer serves any Arrow result (Spark's too).

#![warn(missing_docs)]

mod catalog;
mod complete;
mod decoded;
mod delta;
mod diagnose;
mod error;
mod executor;
mod export;
mod footers;
mod inspect;
mod limits;
mod memory;
mod newcomer;
mod options;
mod parameters;
mod parse;
mod pod_share;
mod preview;
mod read_ahead;
mod registry;
mod render;
mod results;
mod run;
mod session;
mod statements;
mod tables;
#[cfg(test)]
mod test_support;
mod upstream;
mod writes;

pub use catalog::{CatalogError, KeptTable, default_catalog_path};
pub use complete::{Completion, complete};
pub use delta::DeltaError;
pub use error::{ErrorKind, SqlError};
pub use executor::QueryExecutor;
pub use export::ExportFormat;
pub use footers::{FooterColumn, ParquetFooters};
pub use inspect::inspect;
pub use limits::MAX_EXPRESSION_DEPTH;
pub use memory::{BudgetSource, MemoryBudget, human_bytes, parse_byte_size, s3_cache_bytes};
pub use parameters::{Parameter, Parameters, parse_value};
pub use pod_share::PodShare;
pub use preview::Preview;
pub use render::{RenderedTable, group_thousands, human_duration, render_batches};
pub use results::{
    Filter, FilterOp, Held, Page, PageRequest, RESULT_MIME, RESULT_SHARE, ResultBundle,
    ResultError, ResultStore, SortKey, ViewDialect, grid_columns, grid_rows,
};
pub use run::{CellOutcome, CellProgress, StatementResult, StatementText};
pub use session::{SessionOptions, SpillSettings, SqlSession, default_target_partitions};
pub use statements::{Completeness, completeness};
pub use tables::TableInfo;

/// The DataFusion version Quarry is built with, for banners and reports.
pub const DATAFUSION_VERSION: &str = datafusion::DATAFUSION_VERSION;

/// DataFusion's Arrow, re-exported so downstream crates never pull a second
/// Arrow version by accident.
pub use datafusion::arrow;
