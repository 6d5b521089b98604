//! Charts and column profiles over whole results.
//!
//! Every notebook tool that draws charts plots a sample: the first 1,000
//! rows, or whatever fits in the client. Quarry holds the engine, so a
//! chart here is a SQL aggregation over the *whole* result — bins, time
//! units, top-N with "other" — run by the engine that holds the data
//! (DataFusion for SQL cells, Spark for `%%spark` ones). Only the
//! aggregated rows enter the Vega-Lite spec, and the spec says what they
//! summarise ("8.0 M rows → 744 hours").
//!
//! ```text
//!  %chart args ──▶ ChartRequest::parse
//!  user query  ──▶ Engine: SELECT * FROM (q) LIMIT 0 ──▶ schema ──▶ columns (roles)
//!                                         plan::choose (kind, x, y, colour, facet)
//!                  Engine: stats SQL (count, min/max, distinct) ──▶ plan::finish (bins, units)
//!                  Engine: chart SQL (GROUP BY bins …) ──▶ rows ──▶ spec (Vega-Lite v5)
//! ```
//!
//! The crate does no IO of its own: it writes SQL for an [`Engine`] and
//! reads the Arrow batches that come back, so the same planning serves
//! DataFusion and Spark, and tests drive it with a plain DataFusion
//! context.

#![warn(missing_docs)]

mod columns;
mod dialect;
mod draw;
mod error;
mod plan;
mod profile;
mod profile_render;
mod request;
mod spec;
mod sql;
mod values;

pub use dialect::Dialect;
pub use draw::{Chart, DrawError, Engine, draw};
pub use error::ChartError;
pub use profile::{ColumnProfile, MAX_PROFILED_COLUMNS, Profile, profile};
pub use request::{Aggregate, ChartKind, ChartRequest};

/// The Vega-Lite schema the specs are written for: JupyterLab 4's
/// renderer bundles Vega-Lite 5.6, and specs validate against its schema.
pub const VEGA_LITE_SCHEMA: &str = "https://vega.github.io/schema/vega-lite/v5.json";

/// The MIME type of a profile as data ([`Profile`] serialised), beside
/// its HTML table, for tests and future widgets.
pub const PROFILE_MIME: &str = "application/vnd.quarry.profile+json";

/// The MIME type JupyterLab renders as a Vega-Lite chart with no extension.
pub const VEGA_LITE_MIME: &str = "application/vnd.vegalite.v5+json";
