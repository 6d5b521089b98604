//! Magics that present a result rather than its rows — `%chart`,
//! `%profile`, `%export` — over a cell's query or the last result, computed by
//! quarry-viz in the engine that produced it.

mod chart;
mod export;
mod profile;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use quarry_spark::{SparkError, SparkSession};
use quarry_sql::arrow::datatypes::SchemaRef;
use quarry_sql::arrow::record_batch::RecordBatch;
use quarry_sql::{SqlError, engine::ErrorKind};
use quarry_text::numbers::human_duration;
use quarry_viz::{Dialect, DrawError, Engine};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::QuarryHandler;
use super::running::StatusLine;
use crate::protocol::{ExecuteError, Outputs};

/// The query behind the last result a cell showed, and where it ran:
/// `%chart` or `%profile` alone run it again inside their own queries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum LastQuery {
    /// A SQL cell's last statement.
    Sql(String),
    /// A `%%spark` cell's query.
    Spark(String),
}

impl LastQuery {
    /// The query's text, in its engine's dialect.
    pub(super) fn sql(&self) -> &str {
        match self {
            LastQuery::Sql(sql) | LastQuery::Spark(sql) => sql,
        }
    }
}

/// The Spark query of a `%%spark` cell's body, or the sentence for an
/// empty one (as `%%spark` itself says it).
fn spark_query(body: &str) -> Result<LastQuery, ExecuteError> {
    let query = body.trim().trim_end_matches(';').trim();
    if query.is_empty() {
        return Err(ExecuteError::new(
            "SparkUsageError",
            "The %%spark cell has no Spark SQL below its first line.",
        ));
    }
    Ok(LastQuery::Spark(query.to_string()))
}

/// Aborts the task when dropped, so an interrupted magic stops its query.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

/// Where a presenting magic's queries run, with the kernel's runtime.
enum Where {
    Sql,
    Spark {
        session: Arc<SparkSession>,
        tag: String,
    },
}

/// The engine behind a result: DataFusion through the kernel's session,
/// or the running `%spark` session, on the query runtime.
struct KernelEngine<'h> {
    handler: &'h QuarryHandler,
    at: Where,
}

/// A failure of either engine, kept typed until it becomes an `ename`.
#[derive(Debug, thiserror::Error)]
enum EngineError {
    #[error(transparent)]
    Sql(SqlError),
    #[error(transparent)]
    Spark(SparkError),
}

#[async_trait]
impl Engine for KernelEngine<'_> {
    type Error = EngineError;

    fn dialect(&self) -> Dialect {
        match self.at {
            Where::Sql => Dialect::DataFusion,
            Where::Spark { .. } => Dialect::Spark,
        }
    }

    async fn query(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>), EngineError> {
        let sql = sql.to_string();
        match &self.at {
            Where::Sql => {
                let session = self.handler.session.clone();
                let task = AbortOnDrop(self.handler.executor.spawn(async move {
                    session.run_cell(&sql, usize::MAX, Arc::default()).await
                }));
                let crashed = || {
                    EngineError::Sql(SqlError::new(
                        ErrorKind::Execution,
                        "The query stopped unexpectedly inside Quarry (a bug worth reporting).",
                    ))
                };
                let outcome = task
                    .await
                    .map_err(|_| crashed())?
                    .map_err(EngineError::Sql)?;
                let result = outcome.result.ok_or_else(crashed)?;
                Ok((result.schema, result.batches))
            }
            Where::Spark { session, tag } => {
                let (session, tag) = (Arc::clone(session), tag.clone());
                let task = AbortOnDrop(
                    self.handler
                        .executor
                        .spawn(async move { session.sql(&sql, &tag, |_| {}).await }),
                );
                let joined = task
                    .await
                    .map_err(|_| EngineError::Spark(SparkError::Interrupted))?;
                let result = joined.map_err(EngineError::Spark)?;
                Ok((result.schema, result.batches))
            }
        }
    }
}

fn draw_error(error: DrawError<EngineError>) -> ExecuteError {
    match error {
        DrawError::Chart(e) => ExecuteError::new("ChartError", e.to_string()),
        DrawError::Query(EngineError::Sql(e)) => ExecuteError::new(e.kind.ename(), e.message),
        DrawError::Query(EngineError::Spark(e)) => ExecuteError::new(e.ename(), e.to_string()),
    }
}

/// `%chart a b` → (`%chart`, `a b`).
fn split_magic(line: &str) -> (&str, &str) {
    line.split_once(char::is_whitespace)
        .map_or((line, ""), |(name, args)| (name, args.trim()))
}

impl QuarryHandler {
    /// A cell led by a presenting magic `line` over the SQL `sql`.
    pub(super) async fn present_sql(
        &self,
        line: &str,
        sql: &str,
        outputs: &Outputs,
    ) -> Result<(), ExecuteError> {
        match split_magic(line) {
            ("%profile", args) => self.profile_sql(args, sql, outputs).await,
            ("%export", args) => self.export_sql(args, sql, outputs).await,
            (_, args) => self.chart_sql(args, sql, outputs).await,
        }
    }

    /// A presenting magic `line` above `%%spark`.
    pub(super) async fn present_spark(
        &self,
        line: &str,
        options: &str,
        body: &str,
        outputs: &Outputs,
    ) -> Result<(), ExecuteError> {
        match split_magic(line) {
            ("%profile", args) if options.is_empty() => {
                self.profile_spark(args, body, outputs).await
            }
            ("%export", args) if options.is_empty() => self.export_spark(args, body, outputs).await,
            (magic @ ("%profile" | "%export"), _) => Err(ExecuteError::new(
                "UsageError",
                format!(
                    "{magic} takes a %%spark query as it is, so %%spark takes no options here: run the cell with -i/-o first, then {magic} alone."
                ),
            )),
            (_, args) => self.chart_spark(args, options, body, outputs).await,
        }
    }

    fn engine_for(&self, source: &LastQuery) -> Result<KernelEngine<'_>, ExecuteError> {
        let at = match source {
            LastQuery::Sql(_) => Where::Sql,
            LastQuery::Spark(_) => Where::Spark {
                session: self.spark_session().ok_or_else(|| {
                    ExecuteError::new(
                        "NoSparkSession",
                        "No Spark session is running: %spark start starts one.",
                    )
                })?,
                tag: format!("quarry-present-{}", uuid::Uuid::new_v4().simple()),
            },
        };
        Ok(KernelEngine { handler: self, at })
    }

    /// The query a presenting magic works on: the cell's (its earlier
    /// statements run first) or, with none, the last result's.
    async fn source(
        &self,
        magic: &str,
        sql: &str,
        outputs: &Outputs,
    ) -> Result<LastQuery, ExecuteError> {
        if !sql.trim().is_empty() {
            return Ok(LastQuery::Sql(
                self.run_leading_statements(magic, sql, outputs).await?,
            ));
        }
        self.last_query().ok_or_else(|| {
            ExecuteError::new(
                "UsageError",
                format!("There is no result for {magic} yet: put {magic} above a query, or run one first."),
            )
        })
    }

    /// Runs every statement of `sql` but the last, which must be a query,
    /// and returns that query.
    async fn run_leading_statements(
        &self,
        magic: &str,
        sql: &str,
        outputs: &Outputs,
    ) -> Result<String, ExecuteError> {
        let statements = self
            .session
            .statements(sql)
            .map_err(|e| ExecuteError::new(e.kind.ename(), e.message))?;
        let Some((last, leading)) = statements.split_last() else {
            return Err(ExecuteError::new(
                "UsageError",
                format!("There is no query below {magic}."),
            ));
        };
        if !last.is_query {
            return Err(ExecuteError::new(
                "UsageError",
                format!(
                    "The last statement of a {magic} cell must be a query (SELECT, WITH or VALUES)."
                ),
            ));
        }
        if !leading.is_empty() {
            let texts: Vec<&str> = leading.iter().map(|s| s.text.as_str()).collect();
            self.run_sql(&texts.join(";\n"), outputs).await?;
        }
        Ok(last.text.clone())
    }

    /// Runs `work` with a live status line (`doing`), interruptible from
    /// the control channel.
    async fn with_status<T>(
        &self,
        doing: &str,
        outputs: &Outputs,
        work: impl Future<Output = Result<T, ExecuteError>>,
    ) -> Result<T, ExecuteError> {
        let running = self.start_cell();
        let mut status = StatusLine::new(outputs);
        let started = Instant::now();
        tokio::pin!(work);
        let mut ticker = super::running::progress_ticker(self.config().progress_after);
        let done = loop {
            tokio::select! {
                done = &mut work => break Some(done),
                () = running.cancelled() => break None,
                _ = ticker.tick() => status.show(&format!("{doing}… {}", human_duration(started.elapsed()))),
            }
        };
        drop(running);
        let after = human_duration(started.elapsed());
        match done {
            None => {
                status.finish(&format!("Interrupted after {after}"));
                Err(ExecuteError::new(
                    "QueryInterrupted",
                    "Interrupted; tables and settings from earlier cells are kept.",
                ))
            }
            Some(Err(error)) => {
                status.finish(&format!("Failed after {after}"));
                Err(error)
            }
            Some(Ok(value)) => {
                status.finish(&format!("Done in {after}"));
                Ok(value)
            }
        }
    }

    pub(super) fn remember_query(&self, query: LastQuery) {
        *self.last_query.lock().expect("last query lock") = Some(query);
    }

    fn last_query(&self) -> Option<LastQuery> {
        self.last_query.lock().expect("last query lock").clone()
    }
}
