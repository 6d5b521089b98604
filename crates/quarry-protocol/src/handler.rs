//! What the protocol layer asks of a kernel implementation.

use async_trait::async_trait;
use jupyter_protocol::{
    CompleteReply, DisplayData, ExecuteResult, ExecutionCount, InspectReply, IsCompleteReply,
    JupyterMessage, KernelInfoReply, Media, StreamContent, Transient, UpdateDisplayData,
};

use super::{Comm, Iopub};

/// A kernel implementation: everything language-specific lives behind this
/// trait, and everything about sockets, signatures and message order lives
/// in front of it.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// [`kernel_info_request`](https://jupyter-client.readthedocs.io/en/latest/messaging.html#kernel-info): who this kernel is.
    fn kernel_info(&self) -> KernelInfoReply;

    /// Runs a cell, publishing outputs through `outputs`. An `Err` becomes
    /// both an `error` message on IOPub and an error `execute_reply`.
    async fn execute(&self, code: &str, outputs: &Outputs) -> Result<(), ExecuteError>;

    /// [`complete_request`](https://jupyter-client.readthedocs.io/en/latest/messaging.html#completion): completions at `cursor_pos`.
    async fn complete(&self, code: &str, cursor_pos: usize) -> CompleteReply;

    /// [`inspect_request`](https://jupyter-client.readthedocs.io/en/latest/messaging.html#introspection): what the name at `cursor_pos` is.
    async fn inspect(&self, code: &str, cursor_pos: usize, detail_level: usize) -> InspectReply;

    /// [`is_complete_request`](https://jupyter-client.readthedocs.io/en/latest/messaging.html#code-completeness): whether a console should run `code` now.
    fn is_complete(&self, code: &str) -> IsCompleteReply;

    /// Cancels the running cell, if any. Called from the control task and
    /// the SIGINT handler while `execute` is in flight on the shell task.
    fn interrupt(&self);

    /// Releases external resources (child processes, remote sessions)
    /// before the process exits.
    async fn shutdown(&self, restart: bool);

    /// The comm targets this kernel serves; a
    /// [`comm_open`](https://jupyter-client.readthedocs.io/en/latest/messaging.html#opening-a-comm)
    /// for any other is closed at once.
    fn comm_targets(&self) -> Vec<String> {
        Vec::new()
    }

    /// A frontend opened `comm` on one of [`Handler::comm_targets`] with
    /// `data`. An `Err` (one sentence) closes it again, with the reason.
    async fn comm_open(&self, comm: &Comm, data: &serde_json::Value) -> Result<(), String> {
        let _ = data;
        Err(format!("Quarry has no comm target '{}'.", comm.target()))
    }

    /// A [`comm_msg`](https://jupyter-client.readthedocs.io/en/latest/messaging.html#comm-messages)
    /// from the frontend on an open comm.
    async fn comm_msg(&self, comm: &Comm, data: &serde_json::Value) {
        let _ = (comm, data);
    }

    /// The frontend closed `comm`.
    async fn comm_close(&self, comm: &Comm, data: &serde_json::Value) {
        let _ = (comm, data);
    }
}

/// A failed cell, as the `error` message and reply describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecuteError {
    /// The error's type name, e.g. `SQLSyntaxError`.
    pub ename: String,
    /// One sentence saying what went wrong and what to do.
    pub evalue: String,
    /// Lines shown under the error; Quarry sends the message alone.
    pub traceback: Vec<String>,
}

impl ExecuteError {
    /// An error whose traceback is just its message, in red: Quarry errors
    /// are explanations, not stack dumps.
    pub fn new(ename: impl Into<String>, evalue: impl Into<String>) -> Self {
        let ename = ename.into();
        let evalue = evalue.into();
        let traceback = vec![format!("\u{1b}[0;31m{ename}\u{1b}[0m: {evalue}")];
        ExecuteError {
            ename,
            evalue,
            traceback,
        }
    }
}

/// Where a running cell sends its output: IOPub messages parented to the
/// `execute_request`, suppressed for silent requests. Clones send to the
/// same cell, so work moved to another runtime can still report.
#[derive(Clone)]
pub struct Outputs {
    iopub: Iopub,
    parent: JupyterMessage,
    execution_count: ExecutionCount,
    silent: bool,
    /// The text/plain form of the last result, kept for `history_request`.
    result_text: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl Outputs {
    pub(super) fn new(
        iopub: Iopub,
        parent: JupyterMessage,
        execution_count: ExecutionCount,
        silent: bool,
    ) -> Self {
        Outputs {
            iopub,
            parent,
            execution_count,
            silent,
            result_text: Default::default(),
        }
    }

    pub(super) fn take_result_text(&self) -> Option<String> {
        self.result_text.lock().ok()?.take()
    }

    /// The number of the cell being run.
    pub fn execution_count(&self) -> ExecutionCount {
        self.execution_count
    }

    /// Shows `data`; with a `display_id` it can later be replaced in place.
    pub fn display(&self, data: Media, display_id: Option<&str>) {
        if self.silent {
            return;
        }
        let mut message = DisplayData::new(data);
        // A null `transient` crashes older nbclient versions.
        message.transient = Some(Transient {
            display_id: display_id.map(str::to_string),
        });
        self.iopub.send(message, &self.parent);
    }

    /// Replaces the output shown under `display_id` (progress lines).
    pub fn update_display(&self, data: Media, display_id: &str) {
        if !self.silent {
            self.iopub
                .send(UpdateDisplayData::new(data, display_id), &self.parent);
        }
    }

    /// The cell's value (`Out[n]`).
    pub fn result(&self, data: Media) {
        let text = data.content.iter().find_map(|m| match m {
            jupyter_protocol::MediaType::Plain(text) => Some(text.clone()),
            _ => None,
        });
        if let Ok(mut slot) = self.result_text.lock() {
            *slot = text;
        }
        if self.silent {
            return;
        }
        let mut message = ExecuteResult::new(self.execution_count, data);
        message.transient = Some(Transient::default());
        self.iopub.send(message, &self.parent);
    }

    /// Text on the cell's stdout stream.
    pub fn stdout(&self, text: &str) {
        if !self.silent {
            self.iopub.send(StreamContent::stdout(text), &self.parent);
        }
    }

    /// Text on the cell's stderr stream.
    pub fn stderr(&self, text: &str) {
        if !self.silent {
            self.iopub.send(StreamContent::stderr(text), &self.parent);
        }
    }
}
