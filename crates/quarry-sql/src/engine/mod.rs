//! The engine: the DataFusion session ([`SqlSession`]), running a cell's
//! statements with parameters bound and limits checked, the memory budget
//! and the pod's share of it, the query runtime, Quarry's own settings,
//! staged writes, and failures explained in one sentence. Nothing here is
//! shaped by Jupyter or by notebooks: a Python package links it as is.

pub(crate) mod diagnose;
pub(crate) mod error;
pub(crate) mod execution;
pub(crate) mod executor;
pub(crate) mod limits;
pub(crate) mod memory;
pub(crate) mod newcomer;
pub(crate) mod options;
pub(crate) mod parameters;
pub(crate) mod parse;
pub(crate) mod pod_share;
pub(crate) mod registry;
pub(crate) mod run;
pub(crate) mod session;
pub(crate) mod statements;
pub(crate) mod tables;
pub(crate) mod upstream;
pub(crate) mod writes;

pub use error::{ErrorKind, SqlError};
pub use executor::QueryExecutor;
pub use limits::MAX_EXPRESSION_DEPTH;
pub use memory::{BudgetSource, MemoryBudget, s3_cache_bytes};
pub use parameters::{Parameter, Parameters, parse_value};
pub use pod_share::PodShare;
pub use run::{CellOutcome, CellProgress, StatementResult, StatementText};
pub use session::{SessionOptions, SpillSettings, SqlSession, default_target_partitions};
pub use statements::{Completeness, completeness};
pub use tables::TableInfo;
