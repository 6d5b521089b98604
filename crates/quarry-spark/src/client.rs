//! A small Spark Connect client over tonic: SQL in, Arrow batches out, in
//! DataFusion's own Arrow version (the batches arrive as Arrow IPC streams,
//! so no second Arrow crate is involved).

use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::transport::{Channel, Endpoint};

use crate::SparkError;
use crate::proto::{
    self, execute_plan_response::ResponseType,
    spark_connect_service_client::SparkConnectServiceClient,
};

/// gRPC messages can carry whole Arrow batches; Spark's default batch cap is
/// 4 MiB but results of wide rows can exceed it.
const MAX_MESSAGE: usize = 256 * 1024 * 1024;
const CLIENT_TYPE: &str = "quarry";

/// Adds the session's bearer token to every call.
#[derive(Clone)]
struct BearerToken(MetadataValue<tonic::metadata::Ascii>);

impl Interceptor for BearerToken {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

type Service = SparkConnectServiceClient<
    tonic::service::interceptor::InterceptedService<Channel, BearerToken>,
>;

/// Progress of a running Spark query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryProgress {
    pub stages_done: usize,
    pub stages: usize,
    pub tasks_done: i64,
    pub tasks: i64,
    pub running_tasks: i64,
    pub bytes_read: i64,
}

/// A query's result: all of it, or its first rows when the query ran with
/// a row limit.
#[derive(Debug, Clone)]
pub struct SparkResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    /// The query has rows past `batches` (only with a row limit).
    pub more_rows: bool,
}

impl SparkResult {
    pub fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// One Spark Connect session.
#[derive(Clone)]
pub struct SparkClient {
    service: Service,
    session_id: String,
    user: String,
}

impl SparkClient {
    /// Connects to `127.0.0.1:port` (lazily: the first call dials).
    pub fn connect(port: u16, token: &str, user: &str) -> Result<SparkClient, SparkError> {
        let endpoint = Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
            .map_err(|e| SparkError::Server(format!("Bad Spark Connect address: {e}.")))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true);
        let bearer = MetadataValue::try_from(format!("Bearer {token}")).map_err(|_| {
            SparkError::Server("The Spark session token is not valid ASCII.".into())
        })?;
        let service = SparkConnectServiceClient::with_interceptor(
            endpoint.connect_lazy(),
            BearerToken(bearer),
        )
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
        Ok(SparkClient {
            service,
            session_id: uuid::Uuid::new_v4().to_string(),
            user: user.to_string(),
        })
    }

    fn user_context(&self) -> Option<proto::UserContext> {
        Some(proto::UserContext {
            user_id: self.user.clone(),
            user_name: self.user.clone(),
            extensions: Vec::new(),
        })
    }

    /// The server's Spark version; also proves the session works end to end.
    pub async fn spark_version(&self) -> Result<String, SparkError> {
        let request = proto::AnalyzePlanRequest {
            session_id: self.session_id.clone(),
            user_context: self.user_context(),
            client_type: Some(CLIENT_TYPE.into()),
            analyze: Some(proto::analyze_plan_request::Analyze::SparkVersion(
                proto::analyze_plan_request::SparkVersion {},
            )),
            ..Default::default()
        };
        let reply = self
            .service
            .clone()
            .analyze_plan(request)
            .await
            .map_err(status_error)?;
        match reply.into_inner().result {
            Some(proto::analyze_plan_response::Result::SparkVersion(v)) => Ok(v.version),
            _ => Err(SparkError::Server(
                "Spark did not report its version.".into(),
            )),
        }
    }

    /// Sets session settings; used to hand Spark renewed S3 keys.
    pub async fn set_conf(&self, pairs: &[(String, String)]) -> Result<(), SparkError> {
        let request = proto::ConfigRequest {
            session_id: self.session_id.clone(),
            user_context: self.user_context(),
            client_type: Some(CLIENT_TYPE.into()),
            operation: Some(proto::config_request::Operation {
                op_type: Some(proto::config_request::operation::OpType::Set(
                    proto::config_request::Set {
                        pairs: pairs
                            .iter()
                            .map(|(key, value)| proto::KeyValue {
                                key: key.clone(),
                                value: Some(value.clone()),
                            })
                            .collect(),
                        silent: Some(true),
                    },
                )),
            }),
            ..Default::default()
        };
        self.service
            .clone()
            .config(request)
            .await
            .map_err(status_error)?;
        Ok(())
    }

    /// Reads one setting of the session (`None` when unset).
    pub async fn get_conf(&self, key: &str) -> Result<Option<String>, SparkError> {
        let request = proto::ConfigRequest {
            session_id: self.session_id.clone(),
            user_context: self.user_context(),
            client_type: Some(CLIENT_TYPE.into()),
            operation: Some(proto::config_request::Operation {
                op_type: Some(proto::config_request::operation::OpType::GetOption(
                    proto::config_request::GetOption {
                        keys: vec![key.to_string()],
                    },
                )),
            }),
            ..Default::default()
        };
        let reply = self
            .service
            .clone()
            .config(request)
            .await
            .map_err(status_error)?;
        Ok(reply
            .into_inner()
            .pairs
            .into_iter()
            .find(|p| p.key == key)
            .and_then(|p| p.value))
    }

    /// Runs Spark SQL tagged `tag` (for [`SparkClient::interrupt`]),
    /// reporting progress as it arrives, and brings back every row.
    pub async fn sql(
        &self,
        query: &str,
        tag: &str,
        on_progress: impl FnMut(&QueryProgress),
    ) -> Result<SparkResult, SparkError> {
        self.run_relation(sql_relation(query), tag, on_progress)
            .await
    }

    /// Runs Spark SQL like [`SparkClient::sql`] but brings back only its
    /// first `rows` rows. Spark plans the limit (a `Limit` over the query),
    /// so a large result is neither computed in full nor sent to the
    /// driver: the driver JVM and the kernel hold what is shown. One row
    /// past `rows` is asked for, to tell whether there were more.
    pub async fn sql_first_rows(
        &self,
        query: &str,
        rows: usize,
        tag: &str,
        on_progress: impl FnMut(&QueryProgress),
    ) -> Result<SparkResult, SparkError> {
        let asked = i32::try_from(rows.saturating_add(1)).unwrap_or(i32::MAX);
        let limited = proto::Relation {
            common: None,
            rel_type: Some(proto::relation::RelType::Limit(Box::new(proto::Limit {
                input: Some(Box::new(sql_relation(query))),
                limit: asked,
            }))),
        };
        let mut result = self.run_relation(limited, tag, on_progress).await?;
        if result.rows() > rows {
            result.batches = first_rows(&result.batches, rows);
            result.more_rows = true;
        }
        Ok(result)
    }

    async fn run_relation(
        &self,
        relation: proto::Relation,
        tag: &str,
        mut on_progress: impl FnMut(&QueryProgress),
    ) -> Result<SparkResult, SparkError> {
        let plan = proto::Plan {
            op_type: Some(proto::plan::OpType::Root(relation)),
        };
        let mut stream = self.execute(plan, tag).await?;
        let mut batches = Vec::new();
        let mut schema: Option<SchemaRef> = None;
        while let Some(response) = stream.message().await.map_err(status_error)? {
            match response.response_type {
                Some(ResponseType::ArrowBatch(batch)) => {
                    let reader = StreamReader::try_new(std::io::Cursor::new(batch.data), None)
                        .map_err(|e| {
                            SparkError::Server(format!(
                                "Spark sent an unreadable Arrow batch: {e}."
                            ))
                        })?;
                    schema.get_or_insert_with(|| reader.schema());
                    for decoded in reader {
                        let decoded = decoded.map_err(|e| {
                            SparkError::Server(format!(
                                "Spark sent an unreadable Arrow batch: {e}."
                            ))
                        })?;
                        if decoded.num_rows() > 0 {
                            batches.push(decoded);
                        }
                    }
                }
                Some(ResponseType::ExecutionProgress(p)) => {
                    let progress = QueryProgress {
                        stages_done: p.stages.iter().filter(|s| s.done).count(),
                        stages: p.stages.len(),
                        tasks_done: p.stages.iter().map(|s| s.num_completed_tasks).sum(),
                        tasks: p.stages.iter().map(|s| s.num_tasks).sum(),
                        running_tasks: p.num_inflight_tasks,
                        bytes_read: p.stages.iter().map(|s| s.input_bytes_read).sum(),
                    };
                    on_progress(&progress);
                }
                Some(ResponseType::ResultComplete(_)) => break,
                _ => {}
            }
        }
        let schema = schema
            .unwrap_or_else(|| std::sync::Arc::new(datafusion::arrow::datatypes::Schema::empty()));
        Ok(SparkResult {
            schema,
            batches,
            more_rows: false,
        })
    }

    /// Makes `batches` a temporary view `name` in the Spark session. Large
    /// tables go over in parts of about `part_bytes` (a gRPC message each)
    /// and are joined with UNION ALL.
    pub async fn create_view(
        &self,
        name: &str,
        schema: &SchemaRef,
        batches: &[RecordBatch],
        part_bytes: usize,
        tag: &str,
    ) -> Result<(), SparkError> {
        let parts = split_parts(batches, part_bytes);
        if parts.len() <= 1 {
            let data = ipc_bytes(schema, parts.first().map(Vec::as_slice).unwrap_or(&[]))?;
            return self.local_view(name, data, tag).await;
        }
        let mut selects = Vec::new();
        for (index, part) in parts.iter().enumerate() {
            let part_name = format!("{name}__quarry_part_{index}");
            self.local_view(&part_name, ipc_bytes(schema, part)?, tag)
                .await?;
            selects.push(format!("SELECT * FROM `{part_name}`"));
        }
        let union = format!(
            "CREATE OR REPLACE TEMPORARY VIEW `{name}` AS {}",
            selects.join(" UNION ALL ")
        );
        self.sql(&union, tag, |_| {}).await.map(|_| ())
    }

    async fn local_view(&self, name: &str, data: Vec<u8>, tag: &str) -> Result<(), SparkError> {
        let command = proto::Command {
            command_type: Some(proto::command::CommandType::CreateDataframeView(
                proto::CreateDataFrameViewCommand {
                    input: Some(proto::Relation {
                        common: None,
                        rel_type: Some(proto::relation::RelType::LocalRelation(
                            proto::LocalRelation {
                                data: Some(data),
                                schema: None,
                            },
                        )),
                    }),
                    name: name.to_string(),
                    is_global: false,
                    replace: true,
                },
            )),
        };
        let plan = proto::Plan {
            op_type: Some(proto::plan::OpType::Command(command)),
        };
        let mut stream = self.execute(plan, tag).await?;
        while stream.message().await.map_err(status_error)?.is_some() {}
        Ok(())
    }

    async fn execute(
        &self,
        plan: proto::Plan,
        tag: &str,
    ) -> Result<tonic::Streaming<proto::ExecutePlanResponse>, SparkError> {
        let request = proto::ExecutePlanRequest {
            session_id: self.session_id.clone(),
            user_context: self.user_context(),
            operation_id: Some(uuid::Uuid::new_v4().to_string()),
            plan: Some(plan),
            client_type: Some(CLIENT_TYPE.into()),
            tags: vec![tag.to_string()],
            ..Default::default()
        };
        let reply = self
            .service
            .clone()
            .execute_plan(request)
            .await
            .map_err(status_error)?;
        Ok(reply.into_inner())
    }

    /// Cancels every operation tagged `tag`.
    pub async fn interrupt(&self, tag: &str) -> Result<(), SparkError> {
        let request = proto::InterruptRequest {
            session_id: self.session_id.clone(),
            user_context: self.user_context(),
            client_type: Some(CLIENT_TYPE.into()),
            interrupt_type: proto::interrupt_request::InterruptType::Tag as i32,
            interrupt: Some(proto::interrupt_request::Interrupt::OperationTag(
                tag.to_string(),
            )),
            ..Default::default()
        };
        self.service
            .clone()
            .interrupt(request)
            .await
            .map_err(status_error)?;
        Ok(())
    }

    /// Ends the server-side session (best effort, on stop).
    pub async fn release(&self) {
        let request = proto::ReleaseSessionRequest {
            session_id: self.session_id.clone(),
            user_context: self.user_context(),
            client_type: Some(CLIENT_TYPE.into()),
            ..Default::default()
        };
        let _ = self.service.clone().release_session(request).await;
    }
}

/// A relation that runs `query` as Spark SQL.
fn sql_relation(query: &str) -> proto::Relation {
    proto::Relation {
        common: None,
        rel_type: Some(proto::relation::RelType::Sql(proto::Sql {
            query: query.to_string(),
            ..Default::default()
        })),
    }
}

/// The first `rows` rows of `batches` (slices: no data is copied).
pub fn first_rows(batches: &[RecordBatch], rows: usize) -> Vec<RecordBatch> {
    let mut left = rows;
    let mut kept = Vec::new();
    for batch in batches {
        if left == 0 {
            break;
        }
        let take = batch.num_rows().min(left);
        kept.push(batch.slice(0, take));
        left -= take;
    }
    kept
}

/// Groups batches into parts of about `part_bytes` of Arrow data. Slices
/// share their parent's buffers, so sizes are estimated per row.
fn split_parts(batches: &[RecordBatch], part_bytes: usize) -> Vec<Vec<RecordBatch>> {
    let mut parts: Vec<Vec<RecordBatch>> = Vec::new();
    let mut size = 0;
    for batch in batches {
        let rows = batch.num_rows();
        if rows == 0 {
            continue;
        }
        let row_bytes = (batch.get_array_memory_size() / rows).max(1);
        let mut offset = 0;
        while offset < rows {
            if parts.is_empty() || size + row_bytes > part_bytes {
                parts.push(Vec::new());
                size = 0;
            }
            let room = ((part_bytes - size) / row_bytes).max(1);
            let take = room.min(rows - offset);
            parts
                .last_mut()
                .expect("a part")
                .push(batch.slice(offset, take));
            size += take * row_bytes;
            offset += take;
        }
    }
    parts
}

fn ipc_bytes(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>, SparkError> {
    let encode = || -> Result<Vec<u8>, datafusion::arrow::error::ArrowError> {
        let mut writer = StreamWriter::try_new(Vec::new(), schema)?;
        for batch in batches {
            writer.write(batch)?;
        }
        writer.into_inner()
    };
    encode().map_err(|e| SparkError::Query(format!("Could not encode the table for Spark: {e}.")))
}

/// Turns a gRPC status into one sentence: Spark's own error message for
/// query failures, a plain description for transport trouble.
fn status_error(status: tonic::Status) -> SparkError {
    match status.code() {
        tonic::Code::Cancelled => SparkError::Interrupted,
        tonic::Code::Unavailable => SparkError::Server(
            "The Spark server cannot be reached (it may have stopped): %spark status tells more, %spark start starts a new one.".into(),
        ),
        tonic::Code::Unauthenticated => {
            SparkError::Server("The Spark server refused this kernel's session token.".into())
        }
        // A connection dropped mid-call (the JVM died) surfaces as a status
        // that carries the transport's own error (hyper, h2) as its source;
        // a status Spark sent never has one.
        _ if std::error::Error::source(&status).is_some() => SparkError::Server(
            "The connection to the Spark server broke (it may have stopped): %spark status tells more.".into(),
        ),
        _ => {
            let message = status.message().trim();
            if crate::upstream::is_cancellation(message) {
                SparkError::Interrupted
            } else {
                SparkError::Query(first_paragraph(message))
            }
        }
    }
}

/// Spark error messages run to many lines (search path, hints, the
/// analysed plan); keep the first line and where it happened.
fn first_paragraph(message: &str) -> String {
    let first = message.lines().next().unwrap_or_default().trim();
    if first.is_empty() {
        return "Spark failed without saying why.".into();
    }
    let mut text = first.to_string();
    if let Some(state) = crate::upstream::sql_state(message) {
        text = format!("{} ({state})", text.trim_end());
    }
    text
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn batch(rows: i64) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        RecordBatch::try_new(
            schema,
            vec![Arc::new(Int64Array::from_iter_values(0..rows))],
        )
        .unwrap()
    }

    #[test]
    fn parts_keep_every_row_in_order() {
        let batches = vec![batch(10_000), batch(5), batch(30_000)];
        let parts = split_parts(&batches, 64 * 1024);
        assert!(parts.len() > 3, "{} parts", parts.len());
        let rows: usize = parts.iter().flatten().map(RecordBatch::num_rows).sum();
        assert_eq!(rows, 40_005);
        for part in &parts {
            let rows: usize = part.iter().map(RecordBatch::num_rows).sum();
            assert!(rows * 8 <= 64 * 1024 + 64, "part of {rows} rows");
        }
        assert_eq!(split_parts(&batches, usize::MAX).len(), 1);
        assert!(split_parts(&[], 1024).is_empty());
    }

    #[test]
    fn ipc_round_trips() {
        let b = batch(3);
        let bytes = ipc_bytes(&b.schema(), std::slice::from_ref(&b)).unwrap();
        let read: Vec<_> = StreamReader::try_new(std::io::Cursor::new(bytes), None)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(read, vec![b]);
    }

    #[test]
    fn spark_errors_are_trimmed_to_their_first_paragraph() {
        let error = status_error(tonic::Status::internal(
            "[TABLE_OR_VIEW_NOT_FOUND] The table or view `nope` cannot be found. Verify the spelling.\nSearch path: [`x`].\nTo tolerate… SQLSTATE: 42P01; line 1 pos 14;\n'Project [*]",
        ));
        assert_eq!(
            error.to_string(),
            "[TABLE_OR_VIEW_NOT_FOUND] The table or view `nope` cannot be found. Verify the spelling. (SQLSTATE: 42P01; line 1 pos 14)"
        );
        assert!(matches!(
            status_error(tonic::Status::unavailable("x")),
            SparkError::Server(_)
        ));
    }

    #[test]
    fn a_broken_connection_is_the_server_not_the_query() {
        let broken = tonic::Status::from_error(Box::new(std::io::Error::other(
            "error reading a body from connection",
        )));
        assert!(matches!(status_error(broken), SparkError::Server(_)));
        // What Spark itself sends has no transport error underneath.
        assert!(matches!(
            status_error(tonic::Status::unknown("h2 protocol error")),
            SparkError::Query(_)
        ));
    }
}
