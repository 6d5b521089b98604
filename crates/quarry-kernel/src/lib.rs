//! The Quarry Jupyter kernel: Quarry's [`protocol::Handler`].
//!
//! Two layers, kept apart so each can be read on its own:
//!
//! * `quarry-protocol` (re-exported as [`protocol`]) speaks the Jupyter
//!   wire protocol: one module per socket, signatures checked, status and
//!   replies sent in the order clients expect. It knows nothing about SQL;
//!   it drives a [`protocol::Handler`].
//! * This crate is Quarry's handler, [`QuarryHandler`]: it routes a cell to
//!   SQL, Spark or a magic, runs it on the query executor with progress and
//!   interrupt, and renders results and errors.
//!
//! A cell is any number of leading `%magic` lines followed by SQL. Magics
//! run first, in order; then the SQL runs on the query executor. One module
//! per idea: [`cell`] says what a cell is, `magics/` holds the magic table
//! (name, usage, help, examples and what runs), `sql`, `spark/`, `s3/` and
//! `present/` (`%chart`, `%profile`, `%export`) run them, `running` is the
//! running cell's cancel token and live status line, `comms` the grid's and
//! the explorer's comm targets, and `platform` what the binary read from
//! the environment.

#![warn(missing_docs)]

mod catalog;
mod cell;
mod comms;
mod display;
mod grid_actions;
mod kernel_info;
mod magics;
mod platform;
mod present;
mod running;
mod s3;
mod spark;
mod sql;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use jupyter_protocol::{
    CompleteReply, InspectReply, IsCompleteReply, IsCompleteReplyStatus, KernelInfoReply, Media,
    MediaType, ReplyStatus,
};
use quarry_sql::{SqlSession, engine::Completeness, engine::QueryExecutor};
use serde_json::json;

use crate::protocol::{Comm, ExecuteError, Handler, Outputs};
use cell::Cell;
pub use platform::Platform;

/// Settings a user can change with `%config`.
#[derive(Debug, Clone)]
pub struct CellsConfig {
    /// Rows shown per result; the true count is always stated.
    pub max_rows: usize,
    /// A query running longer than this gets a live progress line.
    pub progress_after: Duration,
}

impl Default for CellsConfig {
    fn default() -> Self {
        CellsConfig {
            max_rows: 100,
            progress_after: Duration::from_millis(1000),
        }
    }
}

/// The Quarry kernel's cell handler.
pub struct QuarryHandler {
    session: SqlSession,
    executor: Arc<QueryExecutor>,
    config: Mutex<CellsConfig>,
    /// The cell now running, whose token an interrupt cancels; `None` when
    /// idle (see [`running::RunningCell`]).
    running: Mutex<Option<running::Running>>,
    /// Cells started so far, to tell registrations apart.
    cells_started: std::sync::atomic::AtomicU64,
    /// The `%spark` session, if one is running.
    spark: Mutex<Option<Arc<quarry_spark::SparkSession>>>,
    /// The kept tables this Spark session was given as views, by name
    /// (see `spark::catalog`); emptied when a session starts.
    spark_views: Arc<tokio::sync::Mutex<std::collections::HashMap<String, String>>>,
    /// The query behind the last result shown, for `%chart` alone.
    last_query: Mutex<Option<present::LastQuery>>,
    /// Open `quarry.tables` comms, told what exists after every cell.
    explorers: Mutex<Vec<Comm>>,
    /// The queries behind held results, for the grid's buttons.
    grid_actions: grid_actions::GridActions,
    /// Where the kernel runs (the user, the hub, Spark's host).
    platform: Platform,
}

impl QuarryHandler {
    /// Cells run SQL in `session` on `executor`, with the kernel's settings.
    pub fn new(session: SqlSession, executor: Arc<QueryExecutor>, config: CellsConfig) -> Self {
        QuarryHandler {
            session,
            executor,
            config: Mutex::new(config),
            running: Mutex::new(None),
            cells_started: Default::default(),
            spark: Mutex::new(None),
            spark_views: Arc::default(),
            last_query: Mutex::new(None),
            explorers: Mutex::new(Vec::new()),
            grid_actions: Default::default(),
            platform: Platform::default(),
        }
    }

    /// The same handler, told where it runs.
    pub fn with_platform(mut self, platform: Platform) -> Self {
        self.platform = platform;
        self
    }

    fn config(&self) -> CellsConfig {
        self.config.lock().expect("config lock").clone()
    }

    /// Runs one cell: its magics in order, then its SQL or Spark SQL.
    async fn execute_cell(&self, code: &str, outputs: &Outputs) -> Result<(), ExecuteError> {
        match Cell::parse(code) {
            Cell::Spark {
                options,
                body,
                present: Some(line),
            } => self.present_spark(line, options, body, outputs).await,
            Cell::Spark { options, body, .. } => self.spark_cell(options, body, outputs).await,
            Cell::Lines {
                magics,
                present,
                sql,
            } => {
                for line in magics {
                    magics::run(self, line, outputs).await?;
                }
                if let Some(line) = present {
                    return self.present_sql(line, sql, outputs).await;
                }
                if sql.trim().is_empty() {
                    return Ok(());
                }
                self.run_sql(sql, outputs).await
            }
        }
    }
}

#[async_trait]
impl Handler for QuarryHandler {
    fn kernel_info(&self) -> KernelInfoReply {
        kernel_info::reply()
    }

    async fn execute(&self, code: &str, outputs: &Outputs) -> Result<(), ExecuteError> {
        let outcome = self.execute_cell(code, outputs).await;
        // A cell may have created, dropped or replaced tables (or Spark
        // views): the data explorer shows what exists now.
        self.refresh_explorers().await;
        outcome
    }

    async fn complete(&self, code: &str, cursor_pos: usize) -> CompleteReply {
        let session = self.session.clone();
        let owned = code.to_string();
        let completion = match magics::complete(code, cursor_pos) {
            Some(completion) => completion,
            None => {
                self.executor
                    .spawn(async move {
                        quarry_sql::notebook::complete(&session, &owned, cursor_pos).await
                    })
                    .await
                    .unwrap_or_default()
            }
        };
        let types: Vec<_> = completion
            .matches
            .iter()
            .zip(&completion.kinds)
            .map(|(text, kind)| {
                json!({"start": completion.cursor_start, "end": completion.cursor_end, "text": text, "type": kind})
            })
            .collect();
        let mut metadata = serde_json::Map::new();
        metadata.insert("_jupyter_types_experimental".into(), json!(types));
        CompleteReply {
            matches: completion.matches,
            cursor_start: completion.cursor_start,
            cursor_end: completion.cursor_end,
            metadata,
            status: ReplyStatus::Ok,
            error: None,
        }
    }

    async fn inspect(&self, code: &str, cursor_pos: usize, _detail_level: usize) -> InspectReply {
        let text = match magics::inspect(code, cursor_pos) {
            Some(text) => Some(text),
            None => {
                let session = self.session.clone();
                let owned = code.to_string();
                self.executor
                    .spawn(async move {
                        quarry_sql::notebook::inspect(&session, &owned, cursor_pos).await
                    })
                    .await
                    .ok()
                    .flatten()
            }
        };
        InspectReply {
            found: text.is_some(),
            data: Media {
                content: text.map(MediaType::Plain).into_iter().collect(),
            },
            metadata: Default::default(),
            status: ReplyStatus::Ok,
            error: None,
        }
    }

    fn is_complete(&self, code: &str) -> IsCompleteReply {
        let sql = match Cell::parse(code) {
            Cell::Spark { .. } => {
                // The body is Spark SQL, not DataFusion's: like IPython's
                // cell magics, it ends at a `;` or a blank line.
                let done = code.trim_end().ends_with(';') || code.ends_with("\n\n");
                return if done {
                    IsCompleteReply::complete()
                } else {
                    IsCompleteReply::incomplete(String::new())
                };
            }
            Cell::Lines { sql, .. } => sql,
        };
        match quarry_sql::engine::completeness(sql) {
            Completeness::Complete => IsCompleteReply::complete(),
            Completeness::Incomplete => IsCompleteReply::incomplete(String::new()),
            Completeness::Invalid => {
                IsCompleteReply::new(IsCompleteReplyStatus::Invalid, String::new())
            }
        }
    }

    fn interrupt(&self) {
        if let Some(running) = self.running.lock().expect("running lock").as_ref() {
            running.cancel();
        }
    }

    async fn shutdown(&self, _restart: bool) {
        self.interrupt();
        self.shutdown_spark().await;
    }

    fn comm_targets(&self) -> Vec<String> {
        comms::TARGETS.iter().map(|t| t.to_string()).collect()
    }

    async fn comm_open(&self, comm: &Comm, _data: &serde_json::Value) -> Result<(), String> {
        self.comm_opened(comm).await
    }

    async fn comm_msg(&self, comm: &Comm, data: &serde_json::Value) {
        self.comm_message(comm, data).await;
    }
}

/// The protocol layer, re-exported: the kernel is this crate's handler
/// driven by `quarry-protocol`.
pub use quarry_protocol as protocol;
pub use quarry_protocol::{
    ConnectionFile, DEFAULT_MAX_MESSAGE_BYTES, KernelExit, KeyPolicy, Owner, run_kernel,
};
