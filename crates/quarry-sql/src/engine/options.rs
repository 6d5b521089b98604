//! Quarry's own session settings, next to DataFusion's: `SET quarry.<name>
//! = …` in a cell, `SHOW quarry.<name>` to read one back.

use datafusion::common::config::ConfigExtension;
use datafusion::common::extensions_options;

extensions_options! {
    /// The `quarry.` settings of a session.
    pub struct QuarryOptions {
        /// Fetch a Parquet scan's next row group while one is decoded
        /// (see `read_ahead`). Off by default: on the 2-core machines
        /// measured (S3 on the same host, cores 85-93 % busy) it gained
        /// nothing (TPC-H sf1 geometric mean 0.85 of datafusion-python
        /// with and without); it is for S3 far enough away to wait on.
        pub parquet_read_ahead: bool, default = false
    }
}

impl ConfigExtension for QuarryOptions {
    const PREFIX: &'static str = "quarry";
}
