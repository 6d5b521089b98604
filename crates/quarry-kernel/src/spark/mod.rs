//! `%spark start|status|logs|stop` and `%%spark [-o NAME] [-i TABLE]… [--limit N]`.
//!
//! Spark work runs on the query runtime (the protocol runtime is a single
//! thread that must stay free for interrupts); progress comes back over a
//! watch channel and is drawn here with `update_display_data`.

mod catalog;
mod options;

use std::sync::Arc;
use std::time::{Duration, Instant};

use quarry_spark::{
    Placement, QueryProgress, S3a, SessionConfig, SparkError, SparkResult, SparkSession,
    StartOptions, StartStep,
};
use quarry_sql::arrow::record_batch::RecordBatch;
use quarry_sql::engine::ErrorKind;
use quarry_sql::notebook::render_batches;
use quarry_text::numbers::{group_thousands, human_bytes, human_duration};
use tokio::sync::watch;

use super::running::{RunningCell, StatusLine};
use super::{QuarryHandler, display};
use crate::protocol::{ExecuteError, Outputs};
use options::{CellOptions, first_rows_note, parse_cell_options};

/// How much of a log `%spark logs` shows.
const LOG_LINES: usize = 100;
/// After an interrupt, how long Spark gets to cancel before the wait ends.
const CANCEL_GRACE: Duration = Duration::from_secs(5);
fn spark_error(error: SparkError) -> ExecuteError {
    ExecuteError::new(error.ename(), error.to_string())
}

fn progress_line(progress: &QueryProgress, elapsed: Duration) -> String {
    let mut line = format!("Spark: running {}", human_duration(elapsed));
    if progress.stages > 0 {
        line.push_str(&format!(
            " · stages {}/{} · tasks {}/{}",
            progress.stages_done, progress.stages, progress.tasks_done, progress.tasks
        ));
    }
    if progress.running_tasks > 0 {
        line.push_str(&format!(" · {} running", progress.running_tasks));
    }
    if progress.bytes_read > 0 {
        line.push_str(&format!(
            " · {} read",
            human_bytes(progress.bytes_read as u64)
        ));
    }
    line
}

impl QuarryHandler {
    pub(super) fn spark_session(&self) -> Option<Arc<SparkSession>> {
        self.spark.lock().expect("spark lock").clone()
    }

    fn session_config(&self) -> Result<SessionConfig, SparkError> {
        let settings = self.session.s3().settings();
        let cluster = &self.platform.cluster;
        let placement = match quarry_spark::k8s::detect_cluster(|name| cluster.get(name).cloned()) {
            Some(cluster) => Placement::Kubernetes(Box::new(cluster)),
            None => Placement::Local,
        };
        Ok(SessionConfig {
            spark_home: quarry_spark::find_spark_home(&self.platform.spark)?,
            host: self.platform.spark.clone(),
            user: self.platform.user().unwrap_or("quarry").to_string(),
            placement,
            s3: S3a {
                endpoint: settings.endpoint.clone(),
                region: settings.region.clone(),
                path_style: settings.path_style,
            },
            credentials: Arc::clone(self.session.s3().credentials()),
        })
    }

    /// `%spark …`.
    pub(super) async fn spark_magic(
        &self,
        args: &[&str],
        outputs: &Outputs,
    ) -> Result<(), ExecuteError> {
        match args {
            ["start", rest @ ..] => self.spark_start(rest, outputs).await,
            ["status"] => {
                let shown = match self.spark_session() {
                    Some(session) => self
                        .executor
                        .spawn(async move { session.status().await })
                        .await
                        .unwrap_or_default(),
                    None => {
                        let mut shown = quarry_spark::k8s::Shown::default();
                        shown.line("No Spark session: %spark start starts one.");
                        shown
                    }
                };
                outputs.display(display::text_and_html(&shown.text, shown.html), None);
                Ok(())
            }
            ["logs", rest @ ..] if rest.len() <= 1 => {
                let session = self.spark_session().ok_or_else(no_session)?;
                let which = rest.first().map(|s| s.to_string());
                let text = self
                    .executor
                    .spawn(async move { session.logs(which.as_deref(), LOG_LINES).await })
                    .await
                    .map_err(|_| internal())?
                    .map_err(spark_error)?;
                outputs.stdout(&format!("{}\n", text.trim_end()));
                Ok(())
            }
            ["stop"] => {
                let Some(session) = self.spark.lock().expect("spark lock").take() else {
                    outputs.stdout("No Spark session was running.\n");
                    return Ok(());
                };
                let removed = self.stop_session(session).await.map_err(spark_error)?;
                outputs.stdout(&match removed {
                    0 => "Spark session stopped.\n".to_string(),
                    n => format!(
                        "Spark session stopped; removed {n} leftover Kubernetes object{}.\n",
                        if n == 1 { "" } else { "s" }
                    ),
                });
                Ok(())
            }
            _ => Err(ExecuteError::new(
                "SparkUsageError",
                "Use %spark start [--executors N] [--executor-memory 2g] [--executor-cores N] [--image IMG] [--conf k=v], %spark status, %spark logs [EXECUTOR] or %spark stop.",
            )),
        }
    }

    /// Stops `session`; a stop that failed (or whose task died) is an
    /// error, never reported as stopped.
    async fn stop_session(&self, session: Arc<SparkSession>) -> Result<usize, SparkError> {
        if let Some(pod) = self.session.pod() {
            pod.set_outside(0);
        }
        self.executor
            .spawn(async move { session.stop().await })
            .await
            .unwrap_or_else(|_| {
                Err(SparkError::Server(
                    "Stopping Spark failed inside Quarry (a bug worth reporting); the JVM may still be running until the kernel restarts.".into(),
                ))
            })
    }

    async fn spark_start(&self, args: &[&str], outputs: &Outputs) -> Result<(), ExecuteError> {
        if let Some(session) = self.spark_session() {
            return Err(ExecuteError::new(
                "SparkSessionRunning",
                format!(
                    "A Spark {} session ({}) is already running: %spark stop ends it, %spark status describes it.",
                    session.version(),
                    session.owner().session_id
                ),
            ));
        }
        let options = StartOptions::parse(args).map_err(spark_error)?;
        let config = self.session_config().map_err(spark_error)?;
        let (steps_tx, mut steps) = watch::channel(None::<StartStep>);
        let mut task = self
            .executor
            .spawn(SparkSession::start(config, options, move |step| {
                let _ = steps_tx.send(Some(step));
            }));
        let mut status = StatusLine::new(outputs);
        status.show("Starting Spark…");
        let outcome = loop {
            tokio::select! {
                joined = &mut task => break joined,
                changed = steps.changed() => {
                    if changed.is_ok()
                        && let Some(step) = steps.borrow_and_update().clone() {
                            status.show(&step.describe());
                        }
                }
            }
        };
        match outcome {
            Ok(Ok(session)) => {
                let mut line = format!(
                    "Spark {} session {} ready",
                    session.version(),
                    session.owner().session_id
                );
                if let Some(executors) = session.executor_summary() {
                    line.push_str(&format!(" · {executors}"));
                }
                status.finish(&line);
                // The driver's heap comes off this kernel's share of the pod.
                if let Some(pod) = self.session.pod() {
                    pod.set_outside(session.driver_memory_bytes() as usize);
                }
                self.keep_spark_session(session);
                Ok(())
            }
            Ok(Err(error)) => {
                status.finish("Spark did not start");
                Err(spark_error(error))
            }
            Err(_) => Err(internal()),
        }
    }

    /// The session `%spark start` made: the one cells use from now on.
    fn keep_spark_session(&self, session: SparkSession) {
        *self.spark.lock().expect("spark lock") = Some(Arc::new(session));
        // A new Spark session has none of the catalog's views yet.
        if let Ok(mut sent) = self.spark_views.try_lock() {
            sent.clear();
        }
    }

    /// `%%spark [-o NAME] [-i TABLE]… [--limit N]` followed by Spark SQL.
    pub(super) async fn spark_cell(
        &self,
        options_line: &str,
        body: &str,
        outputs: &Outputs,
    ) -> Result<(), ExecuteError> {
        let args: Vec<&str> = options_line.split_whitespace().collect();
        let options = parse_cell_options(&args)?;
        let session = self.spark_session().ok_or_else(no_session)?;
        let query = body.trim().trim_end_matches(';').trim().to_string();
        if query.is_empty() && options.inputs.is_empty() {
            return Err(ExecuteError::new(
                "SparkUsageError",
                "The %%spark cell has no Spark SQL below its first line.",
            ));
        }
        let running = self.start_cell();
        let mut status = StatusLine::new(outputs);
        let started = Instant::now();
        let charted = (!query.is_empty()).then(|| super::present::LastQuery::Spark(query.clone()));
        let outcome = self
            .run_spark_work(&session, &options, query, &running, &mut status)
            .await;
        let interrupted = running.is_cancelled();
        drop(running);
        self.finish_spark_cell(
            outcome,
            interrupted,
            (&options, charted.as_ref()),
            started.elapsed(),
            &status,
            outputs,
        )?;
        if let Some(query) = charted {
            self.remember_query(query);
        }
        Ok(())
    }

    /// Sends the `-i` tables and runs the query on the query runtime,
    /// drawing progress and passing an interrupt on to Spark.
    async fn run_spark_work(
        &self,
        session: &Arc<SparkSession>,
        options: &CellOptions,
        query: String,
        running: &RunningCell<'_>,
        status: &mut StatusLine<'_>,
    ) -> Result<SparkOutcome, SparkError> {
        let config = self.config();
        let tag = format!("quarry-{}", uuid::Uuid::new_v4().simple());
        let (progress_tx, mut progress) = watch::channel(QueryProgress::default());
        let work = SparkWork {
            spark: Arc::clone(session),
            sql: self.session.clone(),
            inputs: options.inputs.clone(),
            query,
            rows_wanted: options.rows_wanted(),
            shared_views: Arc::clone(&self.spark_views),
            tag: tag.clone(),
        };
        let started = Instant::now();
        let mut task = self.executor.spawn(work.run(progress_tx));
        let mut ticker = super::running::progress_ticker(config.progress_after);
        let mut cancelled_at: Option<Instant> = None;
        loop {
            tokio::select! {
                joined = &mut task => return joined.unwrap_or_else(|_| Err(task_died())),
                () = running.cancelled(), if cancelled_at.is_none() => {
                    cancelled_at = Some(Instant::now());
                    self.interrupt_spark(session, &tag);
                }
                _ = ticker.tick() => {
                    if cancelled_at.is_some_and(|at| at.elapsed() > CANCEL_GRACE) {
                        task.abort();
                        return Err(SparkError::Interrupted);
                    }
                    status.show(&progress_line(&progress.borrow_and_update(), started.elapsed()));
                }
            }
        }
    }

    /// Asks Spark to cancel the operations tagged `tag`, in the background.
    fn interrupt_spark(&self, session: &Arc<SparkSession>, tag: &str) {
        let (session, tag) = (Arc::clone(session), tag.to_string());
        self.executor.spawn(async move {
            if let Err(e) = session.interrupt(&tag).await {
                tracing::warn!("Spark interrupt failed: {e}");
            }
        });
    }

    /// Replaces the status line with the outcome; keeps `-o` and shows the
    /// result.
    fn finish_spark_cell(
        &self,
        outcome: Result<SparkOutcome, SparkError>,
        interrupted: bool,
        (options, source): (&CellOptions, Option<&super::present::LastQuery>),
        elapsed: Duration,
        status: &StatusLine<'_>,
        outputs: &Outputs,
    ) -> Result<(), ExecuteError> {
        let after = human_duration(elapsed);
        let result = match outcome {
            Err(_) if interrupted => {
                status.finish(&format!("Interrupted after {after}"));
                return Err(spark_error(SparkError::Interrupted));
            }
            Err(error) => {
                status.finish(&format!("Failed after {after}"));
                return Err(spark_error(error));
            }
            Ok(outcome) => outcome,
        };
        status.finish(&format!("Done in {after}"));
        if let Some(note) = &result.catalog_note {
            outputs.stdout(&format!("{note}\n"));
        }
        let result = result.result;
        let Some(result) = result else {
            outputs.stdout(&format!(
                "Sent to Spark as temporary views: {}\n",
                options.inputs.join(", ")
            ));
            return Ok(());
        };
        let total = result.rows();
        if let Some(name) = &options.output {
            self.session
                .register_batches(name, Arc::clone(&result.schema), result.batches.clone())
                .map_err(|e| {
                    ExecuteError::new("SparkOutputError", format!("-o {name}: {}", e.message))
                })?;
            outputs.stdout(&format!(
                "Kept as kernel table {name} ({} row{}).\n",
                group_thousands(total as u64),
                if total == 1 { "" } else { "s" }
            ));
        }
        let note = result.more_rows.then(|| first_rows_note(total, options));
        if let Some(note) = &note {
            outputs.stdout(&format!("{note}\n"));
        }
        let shown = quarry_spark::first_rows(&result.batches, self.config().max_rows);
        let rendered = render_batches(&result.schema, &shown, total as u64, Some(elapsed));
        let grid = self.spark_grid(&result, &shown, total as u64, (source, note));
        outputs.result(display::table(rendered, grid));
        Ok(())
    }

    /// The grid's bundle for a Spark result: its rows are in the kernel
    /// already, so they are held and the grid pages them. A statement
    /// (CREATE VIEW …) answers with no columns: nothing to explore.
    fn spark_grid(
        &self,
        result: &SparkResult,
        shown: &[RecordBatch],
        total_rows: u64,
        (source, note): (Option<&super::present::LastQuery>, Option<String>),
    ) -> Option<serde_json::Value> {
        if result.schema.fields().is_empty() {
            return None;
        }
        let held = self
            .session
            .results()
            .hold(Arc::clone(&result.schema), &result.batches);
        let bundle = quarry_sql::notebook::ResultBundle {
            schema: &result.schema,
            first_rows: shown,
            total_rows,
            held: &held,
            note,
        };
        self.grid_actions.remember(&self.session, &held, source);
        Some(display::grid(&bundle))
    }

    /// Stops Spark when the kernel shuts down or restarts.
    pub(super) async fn shutdown_spark(&self) {
        let session = self.spark.lock().expect("spark lock").take();
        if let Some(session) = session
            && let Err(e) = self.stop_session(session).await
        {
            tracing::warn!("stopping Spark at shutdown: {e}");
        }
    }
}

/// What one `%%spark` cell asks of Spark, run as a task on the query
/// runtime (so an interrupt stops every part of it as promptly as the
/// query).
struct SparkWork {
    spark: Arc<SparkSession>,
    sql: quarry_sql::SqlSession,
    inputs: Vec<String>,
    query: String,
    rows_wanted: Option<usize>,
    /// The kept tables this Spark session was given as views.
    shared_views: Arc<tokio::sync::Mutex<std::collections::HashMap<String, String>>>,
    tag: String,
}

/// What a `%%spark` cell brought back: its rows (none when it only sent
/// `-i` tables) and, when it created a table over files, what became of
/// that table in the catalog.
struct SparkOutcome {
    result: Option<SparkResult>,
    catalog_note: Option<String>,
}

impl SparkWork {
    /// Shares the catalog's changes, sends the `-i` tables, runs the query;
    /// a table the query created over files is kept in the catalog.
    async fn run(self, progress: watch::Sender<QueryProgress>) -> Result<SparkOutcome, SparkError> {
        let kept = self.sql.kept_tables();
        let mut sent = self.shared_views.lock().await;
        catalog::share(&self.spark, &kept, &mut sent, &self.tag).await;
        drop(sent);
        for name in &self.inputs {
            let (schema, batches) = self.sql.collect_table(name).await.map_err(|e| match e.kind {
                ErrorKind::MissingTable { .. } => SparkError::Usage(format!(
                    "-i {name}: there is no kernel table '{name}' (CREATE it, or keep a result with %%spark -o {name})."
                )),
                _ => SparkError::Usage(format!("-i {name}: {}", e.message)),
            })?;
            self.spark
                .send_table(name, &schema, &batches, &self.tag)
                .await?;
        }
        if self.query.is_empty() {
            return Ok(SparkOutcome {
                result: None,
                catalog_note: None,
            });
        }
        let on_progress = |p: &QueryProgress| {
            let _ = progress.send(p.clone());
        };
        let result = self
            .spark
            .sql_rows(&self.query, self.rows_wanted, &self.tag, on_progress)
            .await?;
        let catalog_note = match catalog::created_table(&self.query) {
            Some(name) => catalog::kept_from_spark(&self.spark, &self.sql, &name, &self.tag).await,
            None => None,
        };
        Ok(SparkOutcome {
            result: Some(result),
            catalog_note,
        })
    }
}

fn no_session() -> ExecuteError {
    ExecuteError::new(
        "NoSparkSession",
        "No Spark session is running: %spark start starts one.",
    )
}

fn internal() -> ExecuteError {
    spark_error(task_died())
}

fn task_died() -> SparkError {
    SparkError::Server(
        "The Spark task stopped unexpectedly inside Quarry (a bug worth reporting); the kernel is still usable.".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines() {
        let p = QueryProgress {
            stages_done: 1,
            stages: 3,
            tasks_done: 10,
            tasks: 24,
            running_tasks: 2,
            bytes_read: 2048,
        };
        assert_eq!(
            progress_line(&p, Duration::from_secs(3)),
            "Spark: running 3.00 s · stages 1/3 · tasks 10/24 · 2 running · 2.0 KiB read"
        );
    }
}
