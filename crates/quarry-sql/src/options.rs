//! Quarry's own session settings, next to DataFusion's: `SET quarry.<name>
//! = …` in a cell, `SHOW quarry.<name>` to read one back.

use datafusion::common::config::ConfigExtension;
use datafusion::common::extensions_options;

extensions_options! {
    /// The `quarry.` settings of a session.
    pub struct QuarryOptions {
        /// Fetch a Parquet scan's next row group while one is decoded
        /// (see `read_ahead`).
        pub parquet_read_ahead: bool, default = true
    }
}

impl ConfigExtension for QuarryOptions {
    const PREFIX: &'static str = "quarry";
}
