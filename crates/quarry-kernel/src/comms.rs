//! Quarry's comm targets.
//!
//! `quarry.tables` — for the data explorer: on open, after every cell, and
//! on each `{"request": "tables"}`, the kernel sends `{"tables": [{schema,
//! name, kind, columns: [[name, type], …]}, …], "spark_views": [{name,
//! columns}, …] | null}` — the tables from `information_schema`, and while
//! a `%spark` session runs its temporary views (`null` without one).
//!
//! `quarry.results` — for the result grid: `{"request": "page", "result_id",
//! "seq", "sort": [{column, descending}], "filters": [{column, op, value}],
//! "offset", "limit"}` is answered with `{"seq", "page": {offset, rows,
//! matching_rows, total_rows, elapsed_ms}}` (see [`quarry_sql::notebook::PageRequest`]), or
//! `{"seq", "error", "gone"}` when the result cannot be paged (`gone`: the
//! kernel restarted or dropped it, so the grid stops asking).
//! `{"request": "actions", …}` gives the cells the grid's buttons insert
//! (see [`super::grid_actions`]).
//!
//! A message a target does not understand is answered with `{"error": "…"}`
//! (one sentence); the comm and the kernel carry on.

use quarry_sql::notebook::{PageAnswer, PageRequest, PageRows, grid_rows};
use serde_json::{Value, json};

use super::QuarryHandler;
use crate::protocol::Comm;

const TABLES: &str = "quarry.tables";
const RESULTS: &str = "quarry.results";

/// The targets a frontend may open.
pub(super) const TARGETS: [&str; 2] = [TABLES, RESULTS];

impl QuarryHandler {
    pub(super) async fn comm_opened(&self, comm: &Comm) -> Result<(), String> {
        if comm.target() == TABLES {
            self.send_tables(comm).await;
            let mut explorers = self.explorers.lock().expect("explorers lock");
            explorers.retain(Comm::is_open);
            explorers.push(comm.clone());
        }
        Ok(())
    }

    /// Tells every open explorer what exists now (after a cell).
    pub(super) async fn refresh_explorers(&self) {
        let explorers: Vec<Comm> = {
            let mut explorers = self.explorers.lock().expect("explorers lock");
            explorers.retain(Comm::is_open);
            explorers.clone()
        };
        if explorers.is_empty() {
            return;
        }
        let listing = self.table_listing().await;
        for comm in &explorers {
            comm.send(listing.clone());
        }
    }

    pub(super) async fn comm_message(&self, comm: &Comm, data: &Value) {
        let request = data.get("request").and_then(Value::as_str);
        match (comm.target(), request) {
            (TABLES, Some("tables")) => self.send_tables(comm).await,
            (RESULTS, Some("page")) => self.send_page(comm, data).await,
            (RESULTS, Some("actions")) => {
                comm.send(self.grid_actions.answer(&self.session, data));
            }
            (target, Some(other)) => comm.send(json!({
                "seq": data.get("seq"),
                "error": format!("{target} does not know the request '{other}'; it answers {}.", known_request(target)),
            })),
            (target, None) => comm.send(json!({
                "seq": data.get("seq"),
                "error": format!("A {target} message needs a \"request\" field: {}.", known_request(target)),
            })),
        }
    }

    async fn send_tables(&self, comm: &Comm) {
        comm.send(self.table_listing().await);
    }

    /// The explorer's message: the kernel's tables and Spark's views.
    async fn table_listing(&self) -> Value {
        let session = self.session.clone();
        let spark = self.spark_session();
        let listed = self
            .executor
            .spawn(async move {
                let tables = session.catalog().await;
                let views = match spark {
                    Some(spark) => Some(spark.temp_views().await),
                    None => None,
                };
                (tables, views)
            })
            .await;
        let Ok((tables, views)) = listed else {
            return json!({"error": "Listing the tables stopped unexpectedly inside Quarry."});
        };
        let mut listing = match tables {
            Ok(tables) => json!({"tables": tables}),
            Err(e) => return json!({"error": e.message}),
        };
        listing["spark_views"] = match views {
            None => Value::Null,
            Some(Ok(views)) => json!(views),
            Some(Err(e)) => {
                listing["spark_error"] = json!(format!("Spark's views could not be listed: {e}"));
                json!([])
            }
        };
        listing
    }

    /// One page of a held result, computed on the query executor.
    async fn send_page(&self, comm: &Comm, data: &Value) {
        let seq = data.get("seq").cloned().unwrap_or(Value::Null);
        let fail = |error: String, gone: bool| {
            comm.send(answer(PageAnswer::failed(seq.clone(), error, gone)));
        };
        let Some(id) = data.get("result_id").and_then(Value::as_str) else {
            return fail(
                "A page request needs the \"result_id\" of a result.".into(),
                false,
            );
        };
        let mut fields = data.clone();
        if let Some(map) = fields.as_object_mut() {
            for envelope in ["request", "result_id", "seq"] {
                map.remove(envelope);
            }
        }
        let request: PageRequest = match serde_json::from_value(fields) {
            Ok(request) => request,
            Err(e) => return fail(format!("The page request is not understood: {e}."), false),
        };
        let (session, id) = (self.session.clone(), id.to_string());
        let started = std::time::Instant::now();
        let page = self
            .executor
            .spawn(async move { session.result_page(&id, &request).await })
            .await;
        match page {
            Ok(Ok(page)) => comm.send(answer(PageAnswer {
                seq: seq.clone(),
                page: Some(PageRows {
                    offset: page.offset as u64,
                    rows: grid_rows(&page.batches),
                    matching_rows: page.matching_rows,
                    total_rows: page.total_rows,
                    elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
                }),
                error: None,
                gone: None,
            })),
            Ok(Err(e)) => fail(e.to_string(), e.is_gone()),
            Err(_) => fail(
                "Computing the page stopped unexpectedly inside Quarry.".into(),
                false,
            ),
        }
    }
}

fn known_request(target: &str) -> &'static str {
    match target {
        RESULTS => "{\"request\": \"page\" | \"actions\", \"result_id\": …}",
        _ => "{\"request\": \"tables\"}",
    }
}

/// A typed answer as the comm's JSON.
pub(crate) fn answer(typed: impl serde::Serialize) -> Value {
    serde_json::to_value(typed).unwrap_or(Value::Null)
}
