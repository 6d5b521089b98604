//! [Comms](https://jupyter-client.readthedocs.io/en/latest/messaging.html#custom-messages):
//! long-lived channels between a frontend widget and the kernel, opened by
//! either side on a named target, carrying JSON both ways, closed by
//! either side — and all closed when the kernel shuts down.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jupyter_protocol::{CommClose, CommId, CommInfo, CommMsg, JupyterMessage};
use serde_json::{Map, Value};

use super::Iopub;

/// The comms open now: id → target name. Shared by the shell (which opens,
/// routes and lists them) and every [`Comm`] handle (which can close its own).
#[derive(Clone, Default)]
pub(crate) struct OpenComms(Arc<Mutex<HashMap<String, String>>>);

impl OpenComms {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn insert(&self, id: &str, target: &str) {
        self.lock().insert(id.to_string(), target.to_string());
    }

    pub(crate) fn remove(&self, id: &str) -> Option<String> {
        self.lock().remove(id)
    }

    pub(crate) fn target(&self, id: &str) -> Option<String> {
        self.lock().get(id).cloned()
    }

    /// For `comm_info_request`: the open comms, of one target if asked.
    pub(crate) fn info(&self, target: Option<&str>) -> HashMap<CommId, CommInfo> {
        self.lock()
            .iter()
            .filter(|(_, t)| target.is_none_or(|wanted| wanted == t.as_str()))
            .map(|(id, t)| {
                (
                    CommId(id.clone()),
                    CommInfo {
                        target_name: t.clone(),
                    },
                )
            })
            .collect()
    }

    /// Every open comm, emptied out (at shutdown).
    pub(crate) fn drain(&self) -> Vec<String> {
        self.lock().drain().map(|(id, _)| id).collect()
    }
}

/// One open comm, as the handler sees it: messages it sends go to the
/// frontend on IOPub, parented to the request that opened (or last used) it.
#[derive(Clone)]
pub struct Comm {
    id: String,
    target: String,
    iopub: Iopub,
    parent: JupyterMessage,
    open: OpenComms,
}

impl Comm {
    pub(crate) fn new(
        id: &str,
        target: &str,
        iopub: Iopub,
        parent: JupyterMessage,
        open: OpenComms,
    ) -> Self {
        Comm {
            id: id.to_string(),
            target: target.to_string(),
            iopub,
            parent,
            open,
        }
    }

    /// The comm's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The target it was opened on.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Whether the comm is still open (neither side has closed it).
    pub fn is_open(&self) -> bool {
        self.open.target(&self.id).is_some()
    }

    /// Sends `data` to the frontend as a `comm_msg`.
    pub fn send(&self, data: Value) {
        self.iopub.send(
            CommMsg {
                comm_id: CommId(self.id.clone()),
                data: object(data),
            },
            &self.parent,
        );
    }

    /// Closes the comm from the kernel's side.
    pub fn close(&self, data: Value) {
        if self.open.remove(&self.id).is_some() {
            self.iopub.send(
                CommClose {
                    comm_id: CommId(self.id.clone()),
                    data: object(data),
                },
                &self.parent,
            );
        }
    }
}

/// Comm data is a JSON object; anything else is wrapped as `{"value": …}`.
fn object(data: Value) -> Map<String, Value> {
    match data {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        other => Map::from_iter([("value".to_string(), other)]),
    }
}
