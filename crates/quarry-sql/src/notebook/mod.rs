//! Results for people: tables rendered as text, HTML and Quarry's result
//! bundle, results held for the grid and paged, completion and inspection,
//! first looks at objects (preview) and whole results written to one
//! object (export). MIME types, not Jupyter messages: any frontend that
//! shows MIME bundles (a Quarry kernel, IPython) can use them.

pub(crate) mod complete;
pub(crate) mod export;
pub(crate) mod inspect;
pub(crate) mod preview;
pub(crate) mod render;
pub(crate) mod results;

pub use complete::{Completion, complete};
pub use export::ExportFormat;
pub use inspect::inspect;
pub use preview::Preview;
pub use render::{RenderedTable, render_batches};
pub use results::{
    ActionsAnswer, ColumnKind, Filter, FilterOp, FirstPage, GridColumn, Held, Page, PageAnswer,
    PageRequest, PageRows, RESULT_MIME, RESULT_SHARE, ResultBundle, ResultBundleJson, ResultError,
    ResultStore, SortKey, ViewDialect, grid_columns, grid_rows,
};
