//! The stub handler this crate's tests serve through
//! [`quarry_protocol::test_frontend`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use jupyter_protocol::{
    CompleteReply, InspectReply, IsCompleteReply, IsCompleteReplyStatus, KernelInfoReply, Media,
    MediaType,
};
use quarry_protocol::{ExecuteError, Handler, Outputs};
use tokio::sync::Notify;

/// A handler whose cells are commands: `wait` runs until interrupted,
/// `fail` fails, anything else prints and returns a value.
#[derive(Default)]
pub struct Stub {
    pub executed: AtomicUsize,
    pub interrupted: Notify,
    pub shutdowns: std::sync::Mutex<Vec<bool>>,
}

#[async_trait]
impl Handler for Stub {
    fn kernel_info(&self) -> KernelInfoReply {
        serde_json::from_value(serde_json::json!({
            "status": "ok", "protocol_version": "5.4", "implementation": "stub",
            "implementation_version": "0", "banner": "stub",
            "language_info": {"name": "stub", "version": "0", "mimetype": "text/plain", "file_extension": ".txt"},
            "help_links": [], "debugger": false,
        }))
        .expect("a valid kernel_info_reply")
    }

    async fn execute(&self, code: &str, outputs: &Outputs) -> Result<(), ExecuteError> {
        self.executed.fetch_add(1, Ordering::SeqCst);
        match code {
            "wait" => tokio::select! {
                () = self.interrupted.notified() => Err(ExecuteError::new("Interrupted", "stopped")),
                () = tokio::time::sleep(Duration::from_secs(60)) => Ok(()),
            },
            "fail" => Err(ExecuteError::new("StubError", "it failed")),
            other => {
                outputs.stdout(&format!("ran {other}\n"));
                outputs.result(Media::new(vec![MediaType::Plain("42".into())]));
                Ok(())
            }
        }
    }

    async fn complete(&self, _code: &str, cursor_pos: usize) -> CompleteReply {
        serde_json::from_value(serde_json::json!({
            "status": "ok", "matches": ["stub"], "cursor_start": cursor_pos,
            "cursor_end": cursor_pos, "metadata": {},
        }))
        .expect("a valid complete_reply")
    }

    async fn inspect(&self, _code: &str, _pos: usize, _detail: usize) -> InspectReply {
        serde_json::from_value(
            serde_json::json!({"status": "ok", "found": false, "data": {}, "metadata": {}}),
        )
        .expect("a valid inspect_reply")
    }

    fn is_complete(&self, _code: &str) -> IsCompleteReply {
        IsCompleteReply::new(IsCompleteReplyStatus::Complete, String::new())
    }

    fn interrupt(&self) {
        // A permit is kept if the cell has not started waiting yet.
        self.interrupted.notify_one();
    }

    async fn shutdown(&self, restart: bool) {
        self.shutdowns.lock().unwrap().push(restart);
    }
}

/// The test frontend around [`Stub`].
pub type Frontend = quarry_protocol::test_frontend::Frontend<Stub>;
pub use quarry_protocol::test_frontend::{WAIT, kinds};
