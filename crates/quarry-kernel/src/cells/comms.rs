//! Quarry's comm targets.
//!
//! `quarry.tables` — for the data explorer: on open, and on each
//! `{"request": "tables"}`, the kernel sends `{"tables": [{schema, name,
//! kind, columns: [[name, type], …]}, …]}` from `information_schema`. A
//! message it does not understand is answered with `{"error": "…"}` (one
//! sentence); the comm and the kernel carry on.

use serde_json::{Value, json};

use super::QuarryHandler;
use crate::protocol::Comm;

/// The targets a frontend may open.
pub(super) const TARGETS: [&str; 1] = ["quarry.tables"];

impl QuarryHandler {
    pub(super) async fn comm_opened(&self, comm: &Comm) -> Result<(), String> {
        self.send_tables(comm).await;
        Ok(())
    }

    pub(super) async fn comm_message(&self, comm: &Comm, data: &Value) {
        match data.get("request").and_then(Value::as_str) {
            Some("tables") => self.send_tables(comm).await,
            Some(other) => comm.send(json!({"error": format!("quarry.tables does not know the request '{other}'; it answers {{\"request\": \"tables\"}}.")})),
            None => comm.send(json!({"error": "A quarry.tables message needs a \"request\" field, e.g. {\"request\": \"tables\"}."})),
        }
    }

    async fn send_tables(&self, comm: &Comm) {
        let session = self.session.clone();
        let listed = self
            .executor
            .spawn(async move { session.catalog().await })
            .await;
        match listed {
            Ok(Ok(tables)) => comm.send(json!({"tables": tables})),
            Ok(Err(e)) => comm.send(json!({"error": e.message})),
            Err(_) => comm
                .send(json!({"error": "Listing the tables stopped unexpectedly inside Quarry."})),
        }
    }
}
