//! Running a SQL cell: on the query executor, with live progress, and
//! cancellable from the control channel.

use std::sync::Arc;
use std::time::Duration;

use quarry_sql::{CellProgress, render_batches};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::{QuarryHandler, display};
use crate::protocol::{ExecuteError, Outputs};

const PROGRESS_EVERY: Duration = Duration::from_millis(500);

impl QuarryHandler {
    pub(super) async fn run_sql(&self, sql: &str, outputs: &Outputs) -> Result<(), ExecuteError> {
        let config = self.config();
        let progress = Arc::new(CellProgress::default());
        let cancel = CancellationToken::new();
        *self.running.lock().expect("running lock") = Some(cancel.clone());

        let session = self.session.clone();
        let owned_sql = sql.to_string();
        let task_progress = Arc::clone(&progress);
        let mut task = self.executor.spawn(async move {
            session
                .run_cell(&owned_sql, config.max_rows, task_progress)
                .await
        });

        let display_id = uuid::Uuid::new_v4().to_string();
        let mut progress_shown = false;
        let mut ticker =
            tokio::time::interval_at(Instant::now() + config.progress_after, PROGRESS_EVERY);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let outcome = loop {
            tokio::select! {
                joined = &mut task => break Some(joined),
                () = cancel.cancelled() => {
                    // Aborting drops the query future and its DataFusion
                    // streams; the session and its tables are untouched.
                    task.abort();
                    break None;
                }
                _ = ticker.tick() => {
                    let line = display::status_line(&running_line(&progress));
                    if progress_shown {
                        outputs.update_display(line, &display_id);
                    } else {
                        outputs.display(line, Some(&display_id));
                        progress_shown = true;
                    }
                }
            }
        };
        *self.running.lock().expect("running lock") = None;

        let elapsed = progress.elapsed();
        let summary = |text: String| {
            if progress_shown {
                outputs.update_display(display::status_line(&text), &display_id);
            }
        };
        match outcome {
            None => {
                summary(format!(
                    "Interrupted after {}",
                    quarry_sql::human_duration(elapsed)
                ));
                Err(ExecuteError::new(
                    "QueryInterrupted",
                    "The query was interrupted; tables and settings from earlier cells are kept.",
                ))
            }
            Some(Err(join_error)) => {
                summary(format!(
                    "Failed after {}",
                    quarry_sql::human_duration(elapsed)
                ));
                tracing::error!("query task failed: {join_error}");
                Err(ExecuteError::new(
                    "InternalError",
                    "The query stopped unexpectedly inside Quarry (a bug worth reporting); the session is still usable.",
                ))
            }
            Some(Ok(Err(error))) => {
                summary(format!(
                    "Failed after {}",
                    quarry_sql::human_duration(elapsed)
                ));
                Err(ExecuteError::new(error.kind.ename(), error.message))
            }
            Some(Ok(Ok(cell))) => {
                summary(format!(
                    "Done: {} statement{} in {}",
                    cell.statements,
                    if cell.statements == 1 { "" } else { "s" },
                    quarry_sql::human_duration(cell.elapsed)
                ));
                if let Some(result) = cell.result {
                    let rendered = render_batches(
                        &result.schema,
                        &result.batches,
                        result.total_rows,
                        Some(cell.elapsed),
                    );
                    outputs.result(display::table(rendered));
                }
                Ok(())
            }
        }
    }
}

fn running_line(progress: &CellProgress) -> String {
    let (statement, statements) = progress.statement();
    let mut line = format!(
        "Running… {} · {} rows so far",
        quarry_sql::human_duration(progress.elapsed()),
        quarry_sql::group_thousands(progress.rows())
    );
    if statements > 1 {
        line.push_str(&format!(" · statement {statement} of {statements}"));
    }
    line
}
