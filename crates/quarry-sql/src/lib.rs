//! Quarry's SQL engine: an Apache DataFusion session that reads and writes
//! S3 through `quarry-s3`, bounded in memory, with results rendered for
//! notebooks and errors phrased for people.
//!
//! Three modules, one concern each:
//!
//! * [`engine`] — the session, statements, parameters, limits, memory and
//!   the pod's share of it, the query runtime, errors; nothing in it is
//!   shaped by notebooks;
//! * [`lakehouse`] — the user's catalog, Delta Lake, Parquet footers, CSV
//!   and JSON kept decoded, Parquet read-ahead;
//! * [`notebook`] — rendering, results held for the grid, completion,
//!   inspection, preview and export.
//!
//! This crate knows nothing of Jupyter messages. The kernel hands it cell
//! text and gets back [`engine::CellOutcome`]s,
//! [`notebook::RenderedTable`]s and [`SqlError`]s; the same renderer serves
//! any Arrow result (Spark's too).

#![warn(missing_docs)]

pub mod engine;
pub mod lakehouse;
pub mod notebook;
#[cfg(test)]
mod test_support;

pub use engine::{SqlError, SqlSession};

/// The DataFusion version Quarry is built with, for banners and reports.
pub const DATAFUSION_VERSION: &str = datafusion::DATAFUSION_VERSION;

/// DataFusion's Arrow, re-exported so downstream crates never pull a second
/// Arrow version by accident.
pub use datafusion::arrow;
