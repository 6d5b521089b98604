//! Tables that live on S3 and outlive a kernel: the user's catalog of kept
//! tables and views, Delta Lake tables (over `deltalake-core`), what
//! Parquet footers say, CSV/JSON kept decoded between queries, and
//! fetching a Parquet scan's next row group ahead.

pub(crate) mod catalog;
pub(crate) mod decoded;
pub(crate) mod delta;
pub(crate) mod footers;
pub(crate) mod read_ahead;

pub use catalog::{CatalogError, KeptTable, default_catalog_path};
pub use delta::DeltaError;
pub use footers::{FooterColumn, ParquetFooters};
