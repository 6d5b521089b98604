//! What every long-running cell shares: the cancel token the stop button
//! fires, and a live status line that is replaced in place.

use std::time::Duration;

use jupyter_protocol::Media;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::{QuarryHandler, display};
use crate::protocol::Outputs;

/// How often a live status line is redrawn, for every kind of long cell.
pub(super) const PROGRESS_EVERY: Duration = Duration::from_millis(500);

/// The ticks of a cell's live status line: the first once the cell has run
/// `after` (`%config`'s `progress_after`, so quick cells draw none), then
/// every [`PROGRESS_EVERY`]; ticks missed while busy are skipped, not
/// bunched.
pub(super) fn progress_ticker(after: Duration) -> Interval {
    let mut ticker = tokio::time::interval_at(Instant::now() + after, PROGRESS_EVERY);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    ticker
}

/// The cell now running, as the handler knows it: its token and a number
/// telling it apart from the cells before and after it.
#[derive(Debug)]
pub(super) struct Running {
    number: u64,
    token: CancellationToken,
}

impl Running {
    pub(super) fn cancel(&self) {
        self.token.cancel();
    }
}

/// The running cell's registration: while it lives, `interrupt` cancels
/// its token; dropping it (however the cell ends, an early `?` included)
/// clears the registration, so no stale token outlives the cell.
pub(super) struct RunningCell<'a> {
    handler: &'a QuarryHandler,
    number: u64,
    token: CancellationToken,
}

impl QuarryHandler {
    /// Registers a new running cell.
    pub(super) fn start_cell(&self) -> RunningCell<'_> {
        let token = CancellationToken::new();
        let number = self
            .cells_started
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *self.running.lock().expect("running lock") = Some(Running {
            number,
            token: token.clone(),
        });
        RunningCell {
            handler: self,
            number,
            token,
        }
    }
}

impl RunningCell<'_> {
    /// Resolves when the user interrupts the cell.
    pub(super) async fn cancelled(&self) {
        self.token.cancelled().await;
    }

    /// Whether the cell was interrupted.
    pub(super) fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }
}

impl Drop for RunningCell<'_> {
    fn drop(&mut self) {
        let mut running = self.handler.running.lock().expect("running lock");
        // Only our own registration: a cell started since stays cancellable.
        if running.as_ref().is_some_and(|r| r.number == self.number) {
            *running = None;
        }
    }
}

/// A one-line status shown under a cell once work takes a moment, and
/// replaced in place as it changes (`update_display_data`).
pub(super) struct StatusLine<'a> {
    outputs: &'a Outputs,
    id: String,
    shown: bool,
}

impl<'a> StatusLine<'a> {
    pub(super) fn new(outputs: &'a Outputs) -> Self {
        StatusLine {
            outputs,
            id: uuid::Uuid::new_v4().to_string(),
            shown: false,
        }
    }

    /// Shows `text`, or replaces what is shown.
    pub(super) fn show(&mut self, text: &str) {
        let line: Media = display::status_line(text);
        if self.shown {
            self.outputs.update_display(line, &self.id);
        } else {
            self.outputs.display(line, Some(&self.id));
            self.shown = true;
        }
    }

    /// Replaces the line with its final word, if it was ever shown (a
    /// quick cell never shows one).
    pub(super) fn finish(&self, text: &str) {
        if self.shown {
            self.outputs
                .update_display(display::status_line(text), &self.id);
        }
    }
}
