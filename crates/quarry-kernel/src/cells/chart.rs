//! `%chart`: a chart of a cell's result — or of the last result — whose
//! aggregation runs in the engine that produced it (quarry-viz plans it).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jupyter_protocol::{Media, MediaType};
use quarry_spark::{SparkError, SparkSession};
use quarry_sql::arrow::datatypes::SchemaRef;
use quarry_sql::arrow::record_batch::RecordBatch;
use quarry_sql::{ErrorKind, QueryExecutor, SqlError, SqlSession, human_duration};
use quarry_viz::{Chart, ChartRequest, Dialect, DrawError, Engine};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use super::QuarryHandler;
use super::running::StatusLine;
use crate::protocol::{ExecuteError, Outputs};

/// The query behind the last result a cell showed, and where it ran:
/// `%chart` alone runs it again inside the chart's aggregation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum LastQuery {
    /// A SQL cell's last statement.
    Sql(String),
    /// A `%%spark` cell's query.
    Spark(String),
}

/// Aborts the task when dropped, so an interrupted chart stops its query.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}

/// DataFusion, through the kernel's session on the query runtime.
struct SqlEngine {
    session: SqlSession,
    executor: Arc<QueryExecutor>,
}

#[async_trait]
impl Engine for SqlEngine {
    type Error = SqlError;

    fn dialect(&self) -> Dialect {
        Dialect::DataFusion
    }

    async fn query(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>), SqlError> {
        let (session, sql) = (self.session.clone(), sql.to_string());
        let task = AbortOnDrop(
            self.executor
                .spawn(async move { session.run_cell(&sql, usize::MAX, Arc::default()).await }),
        );
        let outcome = task.await;
        let crashed = || {
            SqlError::new(
                ErrorKind::Execution,
                "The chart's query stopped unexpectedly inside Quarry (a bug worth reporting).",
            )
        };
        let result = outcome
            .map_err(|_| crashed())??
            .result
            .ok_or_else(crashed)?;
        Ok((result.schema, result.batches))
    }
}

/// Spark SQL, through the running `%spark` session.
struct SparkEngine {
    session: Arc<SparkSession>,
    executor: Arc<QueryExecutor>,
    tag: String,
}

#[async_trait]
impl Engine for SparkEngine {
    type Error = SparkError;

    fn dialect(&self) -> Dialect {
        Dialect::Spark
    }

    async fn query(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>), SparkError> {
        let (session, sql, tag) = (Arc::clone(&self.session), sql.to_string(), self.tag.clone());
        let task = AbortOnDrop(
            self.executor
                .spawn(async move { session.sql(&sql, &tag, |_| {}).await }),
        );
        let result = task.await.map_err(|_| SparkError::Interrupted)??;
        Ok((result.schema, result.batches))
    }
}

const PROGRESS_EVERY: Duration = Duration::from_millis(500);

fn chart_error(error: quarry_viz::ChartError) -> ExecuteError {
    ExecuteError::new("ChartError", error.to_string())
}

impl QuarryHandler {
    /// `%chart ARGS` over a SQL cell's `sql`, or over the last result
    /// when the cell has no SQL.
    pub(super) async fn chart_sql(
        &self,
        args: &str,
        sql: &str,
        outputs: &Outputs,
    ) -> Result<(), ExecuteError> {
        let request = ChartRequest::parse(args).map_err(chart_error)?;
        let source = if sql.trim().is_empty() {
            self.last_query().ok_or_else(|| {
                ExecuteError::new(
                    "ChartError",
                    "There is no result to chart yet: put %chart above a query, or run one first.",
                )
            })?
        } else {
            LastQuery::Sql(self.run_leading_statements(sql, outputs).await?)
        };
        self.chart(&request, source, outputs).await
    }

    /// `%chart ARGS` above `%%spark`: the Spark query, aggregated in Spark.
    pub(super) async fn chart_spark(
        &self,
        args: &str,
        options: &str,
        body: &str,
        outputs: &Outputs,
    ) -> Result<(), ExecuteError> {
        let request = ChartRequest::parse(args).map_err(chart_error)?;
        if !options.is_empty() {
            return Err(ExecuteError::new(
                "ChartError",
                "%chart charts a %%spark query as it is, so %%spark takes no options here: run the cell with -i/-o first, then %chart alone.",
            ));
        }
        let query = body.trim().trim_end_matches(';').trim();
        if query.is_empty() {
            return Err(ExecuteError::new(
                "SparkUsageError",
                "The %%spark cell has no Spark SQL below its first line.",
            ));
        }
        self.chart(&request, LastQuery::Spark(query.to_string()), outputs)
            .await
    }

    /// Runs every statement of `sql` but the last, which must be a query,
    /// and returns that query.
    async fn run_leading_statements(
        &self,
        sql: &str,
        outputs: &Outputs,
    ) -> Result<String, ExecuteError> {
        let statements = self
            .session
            .statements(sql)
            .map_err(|e| ExecuteError::new(e.kind.ename(), e.message))?;
        let Some((last, leading)) = statements.split_last() else {
            return Err(ExecuteError::new(
                "ChartError",
                "There is no query below %chart.",
            ));
        };
        if !last.is_query {
            return Err(ExecuteError::new(
                "ChartError",
                "The last statement of a %chart cell must be a query (SELECT, WITH or VALUES) whose rows the chart shows.",
            ));
        }
        if !leading.is_empty() {
            let texts: Vec<&str> = leading.iter().map(|s| s.text.as_str()).collect();
            self.run_sql(&texts.join(";\n"), outputs).await?;
        }
        Ok(last.text.clone())
    }

    /// Draws `source` as `request` asks, with a live status line, and
    /// shows the chart as the cell's result.
    async fn chart(
        &self,
        request: &ChartRequest,
        source: LastQuery,
        outputs: &Outputs,
    ) -> Result<(), ExecuteError> {
        let running = self.start_cell();
        let mut status = StatusLine::new(outputs);
        let started = Instant::now();
        let drawing = self.draw(request, source.clone());
        tokio::pin!(drawing);
        let mut ticker =
            tokio::time::interval_at(started + self.config().progress_after, PROGRESS_EVERY);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let drawn = loop {
            tokio::select! {
                drawn = &mut drawing => break Some(drawn),
                () = running.cancelled() => break None,
                _ = ticker.tick() => status.show(&format!("Charting… {} (aggregating every row)", human_duration(started.elapsed()))),
            }
        };
        drop(running);
        let after = human_duration(started.elapsed());
        match drawn {
            None => {
                status.finish(&format!("Interrupted after {after}"));
                Err(ExecuteError::new(
                    "QueryInterrupted",
                    "The chart was interrupted; tables and settings from earlier cells are kept.",
                ))
            }
            Some(Err(error)) => {
                status.finish(&format!("Failed after {after}"));
                Err(error)
            }
            Some(Ok(chart)) => {
                status.finish(&format!("Charted in {after}"));
                outputs.result(chart_media(&chart));
                self.remember_query(source);
                Ok(())
            }
        }
    }

    async fn draw(&self, request: &ChartRequest, source: LastQuery) -> Result<Chart, ExecuteError> {
        match source {
            LastQuery::Sql(sql) => {
                let engine = SqlEngine {
                    session: self.session.clone(),
                    executor: Arc::clone(&self.executor),
                };
                quarry_viz::draw(&engine, &sql, request)
                    .await
                    .map_err(|e| match e {
                        DrawError::Chart(e) => chart_error(e),
                        DrawError::Query(e) => ExecuteError::new(e.kind.ename(), e.message),
                    })
            }
            LastQuery::Spark(sql) => {
                let session = self.spark_session().ok_or_else(|| {
                    ExecuteError::new(
                        "NoSparkSession",
                        "No Spark session is running: %spark start starts one.",
                    )
                })?;
                let tag = format!("quarry-chart-{}", uuid::Uuid::new_v4().simple());
                let engine = SparkEngine {
                    session: Arc::clone(&session),
                    executor: Arc::clone(&self.executor),
                    tag: tag.clone(),
                };
                let drawn = quarry_viz::draw(&engine, &sql, request).await;
                drawn.map_err(|e| match e {
                    DrawError::Chart(e) => chart_error(e),
                    DrawError::Query(e) => ExecuteError::new(e.ename(), e.to_string()),
                })
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

/// The chart for JupyterLab (Vega-Lite) and a text stand-in that says
/// what it shows, for every other frontend.
///
/// No `text/html`: JupyterLab prefers HTML (rank 50) to its Vega renderer
/// (rank 57), so an HTML stand-in would hide the chart — which is why
/// Altair sends none either.
fn chart_media(chart: &Chart) -> Media {
    Media {
        content: vec![
            MediaType::Plain(chart.plain()),
            MediaType::VegaLiteV5(chart.spec.clone()),
        ],
    }
}
