//! Quarry's cells over real sockets: the kernel's own handler served by
//! `quarry-protocol`'s test frontend in this process — a SQL cell, an
//! error, an interrupt, a magic and a comm — with no S3 and no Python.
//! (The Python suites drive the built binary with Jupyter's own clients.)

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use jupyter_protocol::{CommId, CommOpen, ExecuteRequest, InterruptRequest, JupyterMessage};
use quarry_kernel::protocol::test_frontend::{Frontend, WAIT, kinds};
use quarry_kernel::{CellsConfig, QuarryHandler};
use quarry_s3::{Env, S3Stores};
use quarry_sql::{SqlSession, engine::MemoryBudget, engine::QueryExecutor, engine::SessionOptions};
use serde_json::{Value, json};

type Quarry = Frontend<QuarryHandler>;

/// Runs `test` against a fresh Quarry kernel. The query runtime is dropped
/// outside any async context, after the protocol runtime (as in the binary).
fn with_quarry<F, Fut>(test: F)
where
    F: FnOnce(Quarry) -> Fut,
    Fut: Future<Output = ()>,
{
    let catalog = tempfile::tempdir().expect("a temp dir");
    let executor = Arc::new(QueryExecutor::new(2).expect("the query runtime"));
    let s3 = Arc::new(S3Stores::from_env(&Env::from_map(HashMap::new())));
    let session = SqlSession::new(
        s3,
        &SessionOptions {
            memory: MemoryBudget::of(1 << 30),
            target_partitions: Some(2),
            pod: None,
            spill: None,
            catalog: Some(catalog.path().join("catalog.json")),
        },
    )
    .expect("a SQL session");
    let handler = Arc::new(QuarryHandler::new(
        session,
        executor,
        CellsConfig::default(),
    ));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the protocol runtime");
    runtime.block_on(async move { test(Frontend::start_with(handler).await).await });
    drop(runtime);
}

/// Runs `code`; returns its reply and what it published, through idle.
async fn run(f: &mut Quarry, code: &str) -> (Value, Vec<JupyterMessage>) {
    let request = f.shell_request(ExecuteRequest::new(code.to_string())).await;
    let reply = f.shell_reply().await;
    let published = f.iopub_until_idle(&request).await;
    (content(&reply), published)
}

fn content(message: &JupyterMessage) -> Value {
    serde_json::to_value(&message.content).expect("content serialises")
}

fn of_kind(messages: &[JupyterMessage], kind: &str) -> Vec<Value> {
    messages
        .iter()
        .filter(|m| m.content.message_type() == kind)
        .map(content)
        .collect()
}

#[test]
fn a_sql_cell_publishes_its_table_as_the_result() {
    with_quarry(|mut f| async move {
        let (reply, published) = run(&mut f, "SELECT 1 + 1 AS two").await;
        assert_eq!(reply["status"], "ok", "{reply}");
        assert_eq!(
            kinds(&published),
            [
                "status:busy",
                "execute_input",
                "execute_result",
                "status:idle"
            ]
        );
        let result = &of_kind(&published, "execute_result")[0]["data"];
        let rows = &result["application/vnd.dataresource+json"]["data"];
        assert_eq!(rows, &json!([{"two": 2}]), "{result}");
        assert!(result["text/plain"].as_str().unwrap().contains("two"));
    });
}

#[test]
fn a_wrong_column_is_one_sentence_and_the_kernel_carries_on() {
    with_quarry(|mut f| async move {
        let (reply, published) = run(&mut f, "SELECT nope FROM (VALUES (1)) AS t(x)").await;
        assert_eq!(reply["status"], "error");
        assert_eq!(reply["ename"], "SQLPlanError");
        let sentence = reply["evalue"].as_str().unwrap();
        assert!(
            sentence.starts_with("There is no column named nope"),
            "{sentence}"
        );
        assert!(!sentence.contains('\n'), "one sentence: {sentence}");
        assert_eq!(of_kind(&published, "error").len(), 1);
        let (reply, _) = run(&mut f, "SELECT 3 AS still_here").await;
        assert_eq!(reply["status"], "ok");
    });
}

#[test]
fn an_interrupt_on_control_stops_a_long_query_and_keeps_the_tables() {
    with_quarry(|mut f| async move {
        let (reply, _) = run(&mut f, "CREATE TABLE kept AS VALUES (1), (2)").await;
        assert_eq!(reply["status"], "ok", "{reply}");
        // Ten billion rows in batches: it runs for minutes, and yields
        // between batches, where a cancel is seen.
        let long = "SELECT count(*) AS n FROM generate_series(1, 10000000000)";
        let request = f.shell_request(ExecuteRequest::new(long.into())).await;
        until_running(&mut f, &request).await;
        f.control_request(InterruptRequest {}).await;
        let interrupt = content(&f.control_reply().await);
        assert_eq!(interrupt["status"], "ok", "{interrupt}");
        let reply = content(&f.shell_reply().await);
        assert_eq!(
            (reply["status"].as_str(), reply["ename"].as_str()),
            (Some("error"), Some("QueryInterrupted")),
            "{reply}"
        );
        let rest = f.iopub_until_idle(&request).await;
        assert_eq!(of_kind(&rest, "error")[0]["ename"], "QueryInterrupted");
        let (reply, published) = run(&mut f, "SELECT count(*) AS n FROM kept").await;
        assert_eq!(reply["status"], "ok");
        let result = &of_kind(&published, "execute_result")[0]["data"];
        assert_eq!(
            result["application/vnd.dataresource+json"]["data"],
            json!([{"n": 2}])
        );
    });
}

#[test]
fn magics_print_and_list_themselves() {
    with_quarry(|mut f| async move {
        let (reply, published) = run(&mut f, "%echo hello from a magic").await;
        assert_eq!(reply["status"], "ok");
        let streams = of_kind(&published, "stream");
        assert_eq!(streams.len(), 1);
        assert_eq!(streams[0]["text"], "hello from a magic\n");

        let (_, published) = run(&mut f, "%lsmagic").await;
        let shown = &of_kind(&published, "display_data")[0]["data"]["text/markdown"];
        assert!(
            shown.as_str().unwrap().contains("  %%spark -i readings"),
            "{shown}"
        );

        let (reply, _) = run(&mut f, "%nonsense").await;
        assert_eq!(reply["ename"], "UnknownMagic");
    });
}

#[test]
fn the_tables_comm_lists_tables_on_open_and_after_every_cell() {
    with_quarry(|mut f| async move {
        let open = CommOpen {
            comm_id: CommId("explorer-1".into()),
            target_name: "quarry.tables".into(),
            data: serde_json::Map::new(),
            target_module: None,
        };
        let request = f.shell_request(open).await;
        let on_open = comm_messages(&f.iopub_until_idle(&request).await);
        assert_eq!(on_open.len(), 1, "{on_open:?}");
        assert_eq!(on_open[0]["comm_id"], "explorer-1");
        assert!(on_open[0]["data"]["tables"].is_array());

        // The listing after a cell belongs to the comm (its parent is the
        // comm_open), so it is read from everything IOPub carries.
        f.shell_request(ExecuteRequest::new(
            "CREATE TABLE sensors AS VALUES ('a', 1.5)".into(),
        ))
        .await;
        assert_eq!(content(&f.shell_reply().await)["status"], "ok");
        let after = loop {
            let message = tokio::time::timeout(WAIT, f.iopub.read())
                .await
                .expect("a listing after the cell")
                .expect("an IOPub message");
            if message.content.message_type() == "comm_msg" {
                break content(&message);
            }
        };
        assert_eq!(after["comm_id"], "explorer-1");
        let names: Vec<&str> = after["data"]["tables"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t["name"].as_str())
            .collect();
        assert!(names.contains(&"sensors"), "{names:?}");
    });
}

fn comm_messages(messages: &[JupyterMessage]) -> Vec<Value> {
    of_kind(messages, "comm_msg")
}

/// Reads IOPub for `request` until the running cell shows its live
/// progress (after a second): the query is under way.
async fn until_running(f: &mut Quarry, request: &JupyterMessage) {
    loop {
        let message = tokio::time::timeout(WAIT, f.iopub.read())
            .await
            .expect("the cell's progress")
            .expect("an IOPub message");
        let mine =
            message.parent_header.as_ref().map(|h| &h.msg_id) == Some(&request.header.msg_id);
        if mine && message.content.message_type() == "display_data" {
            return;
        }
    }
}
