//! Running a SQL cell: on the query executor, with live progress, and
//! cancellable from the control channel.

use std::sync::Arc;
use std::time::Duration;

use super::present::LastQuery;
use super::running::{StatusLine, progress_ticker};
use super::{QuarryHandler, display};
use crate::protocol::{ExecuteError, Outputs};
use quarry_sql::{
    SqlError, engine::CellOutcome, engine::CellProgress, engine::StatementResult,
    notebook::ResultBundle, notebook::render_batches,
};
use quarry_text::numbers::human_duration;

/// How a query task ended, as seen from the cell.
enum Ended {
    Finished(Result<CellOutcome, SqlError>),
    Interrupted,
    Crashed,
}

impl QuarryHandler {
    pub(super) async fn run_sql(&self, sql: &str, outputs: &Outputs) -> Result<(), ExecuteError> {
        let config = self.config();
        let progress = Arc::new(CellProgress::default());
        let running = self.start_cell();
        let (session, owned_sql, task_progress) =
            (self.session.clone(), sql.to_string(), Arc::clone(&progress));
        let mut task = self.executor.spawn(async move {
            session
                .run_notebook_cell(&owned_sql, config.max_rows, task_progress)
                .await
        });
        let mut status = StatusLine::new(outputs);
        let mut ticker = progress_ticker(config.progress_after);
        let ended = loop {
            tokio::select! {
                joined = &mut task => break joined.map_or(Ended::Crashed, Ended::Finished),
                () = running.cancelled() => {
                    // Aborting drops the query future and its DataFusion
                    // streams; the session and its tables are untouched.
                    task.abort();
                    break Ended::Interrupted;
                }
                _ = ticker.tick() => status.show(&running_line(&progress)),
            }
        };
        drop(running);
        if let Ended::Finished(Ok(CellOutcome {
            result: Some(_),
            query: Some(query),
            ..
        })) = &ended
        {
            self.remember_query(LastQuery::Sql(query.clone()));
        }
        finish_sql(self, ended, progress.elapsed(), &status, outputs)
    }
}

/// A cell's last result: its table, and the grid's bundle when the kernel
/// holds it (the query remembered for the grid's buttons).
fn show_result(
    handler: &QuarryHandler,
    result: StatementResult,
    query: Option<String>,
    elapsed: Duration,
    outputs: &Outputs,
) {
    let rendered = render_batches(
        &result.schema,
        &result.batches,
        result.total_rows,
        Some(elapsed),
    );
    let source = query.map(LastQuery::Sql);
    let grid = result.held.as_ref().map(|held| {
        let bundle = ResultBundle {
            schema: &result.schema,
            first_rows: &result.batches,
            total_rows: result.total_rows,
            held,
            note: None,
        };
        handler
            .grid_actions
            .remember(&handler.session, held, source.as_ref());
        display::grid(&bundle)
    });
    outputs.result(display::table(rendered, grid));
}

/// Replaces the status line with the outcome and shows the result.
fn finish_sql(
    handler: &QuarryHandler,
    ended: Ended,
    elapsed: Duration,
    status: &StatusLine<'_>,
    outputs: &Outputs,
) -> Result<(), ExecuteError> {
    let after = human_duration(elapsed);
    match ended {
        Ended::Interrupted => {
            status.finish(&format!("Interrupted after {after}"));
            Err(ExecuteError::new(
                "QueryInterrupted",
                "The query was interrupted; tables and settings from earlier cells are kept.",
            ))
        }
        Ended::Crashed => {
            status.finish(&format!("Failed after {after}"));
            tracing::error!("a query task panicked");
            Err(ExecuteError::new(
                "InternalError",
                "The query stopped unexpectedly inside Quarry (a bug worth reporting); the session is still usable.",
            ))
        }
        Ended::Finished(Err(error)) => {
            status.finish(&format!("Failed after {after}"));
            Err(ExecuteError::new(error.kind.ename(), error.message))
        }
        Ended::Finished(Ok(cell)) => {
            status.finish(&format!(
                "Done: {} statement{} in {}",
                cell.statements,
                if cell.statements == 1 { "" } else { "s" },
                human_duration(cell.elapsed)
            ));
            if let Some(result) = cell.result {
                show_result(handler, result, cell.query, cell.elapsed, outputs);
            }
            Ok(())
        }
    }
}

fn running_line(progress: &CellProgress) -> String {
    let (statement, statements) = progress.statement();
    let mut line = format!(
        "Running… {} · {} rows so far",
        human_duration(progress.elapsed()),
        quarry_text::numbers::group_thousands(progress.rows())
    );
    if statements > 1 {
        line.push_str(&format!(" · statement {statement} of {statements}"));
    }
    line
}
