//! Turning engine and storage failures into one sentence a person can act on.
//!
//! DataFusion and object_store errors are precise but written for
//! developers: nested "External error: Generic S3 error: Client error with
//! status 403 …<?xml…" chains. Notebook users need to know which table,
//! column or bucket is wrong and what to do about it, so every failure that
//! leaves this crate is a [`SqlError`] with a short, plain message.

use std::error::Error as StdError;

use datafusion::common::SchemaError;
use datafusion::error::DataFusionError;
use quarry_s3::{FailureKind, S3Error, S3Failure, StoreReply};

use crate::engine::upstream::without_layer_labels;

/// What kind of failure, which becomes the Jupyter error's `ename` (and,
/// for S3 failures, the panel's HTTP status through the same
/// [`FailureKind`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The SQL text does not parse.
    Syntax,
    /// It parses but refers to something that does not exist or does not fit.
    Plan,
    /// A table the statement names is not registered.
    MissingTable {
        /// The name as the user wrote it (unqualified).
        name: String,
    },
    /// S3 refused or failed the request, classified by `quarry-s3`.
    S3(FailureKind),
    /// The query needed more memory than the kernel's budget.
    Memory,
    /// Anything else that failed while running.
    Execution,
    /// The engine could not be set up.
    Config,
    /// The statement nests deeper than Quarry plans (see `limits`).
    TooComplex,
    /// A `$name` parameter is not set, or `%set` was given a bad value.
    Parameter,
}

impl ErrorKind {
    /// The Jupyter error name for this kind.
    pub fn ename(&self) -> &'static str {
        match self {
            ErrorKind::Syntax => "SQLSyntaxError",
            ErrorKind::Plan | ErrorKind::MissingTable { .. } => "SQLPlanError",
            ErrorKind::S3(kind) => match kind {
                FailureKind::NotFound => "S3NotFound",
                FailureKind::AccessDenied => "S3AccessDenied",
                FailureKind::Credentials => "S3CredentialsError",
                FailureKind::Unavailable => "S3Unavailable",
                FailureKind::QuotaFull => "S3QuotaFull",
                FailureKind::Conflict => "S3Conflict",
                FailureKind::Invalid => "UsageError",
                FailureKind::Other => "S3Error",
            },
            ErrorKind::Memory => "MemoryLimitExceeded",
            ErrorKind::Execution => "ExecutionError",
            ErrorKind::Config => "ConfigError",
            ErrorKind::TooComplex => "SQLTooComplex",
            ErrorKind::Parameter => "ParameterError",
        }
    }

    /// The S3 classification, when S3 is what failed.
    pub fn s3(&self) -> Option<FailureKind> {
        match self {
            ErrorKind::S3(kind) => Some(*kind),
            _ => None,
        }
    }
}

/// A failure explained in one sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SqlError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// One sentence for the user.
    pub message: String,
}

/// What the error mapper may use to make a message specific.
pub(crate) struct ErrorContext<'a> {
    /// The statement that failed, to recover the bucket of a missing key.
    pub statement: &'a str,
    pub endpoint: String,
    /// The budget in words (with the pod's sharing, when there is any).
    pub memory_words: String,
}

impl SqlError {
    /// Builds an error; the message is folded onto one line, as notebooks
    /// show `evalue` in a single line of red.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let message: String = message.into();
        SqlError {
            kind,
            message: message.split_whitespace().collect::<Vec<_>>().join(" "),
        }
    }

    /// The SQL-facing form of an S3 failure.
    pub fn from_failure(failure: S3Failure) -> Self {
        SqlError::new(ErrorKind::S3(failure.kind), failure.message)
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        SqlError::new(ErrorKind::Config, message)
    }

    pub(crate) fn from_datafusion(err: &DataFusionError, ctx: &ErrorContext<'_>) -> Self {
        // Quarry's own errors raised mid-statement (parameters) are final.
        if let Some(own) = causes(err).find_map(|c| c.downcast_ref::<SqlError>()) {
            return own.clone();
        }
        // Storage problems are buried under several layers of wrapping; look
        // for them first, as they matter more than the wrapper's wording.
        // Our own credential errors travel inside object_store's; they say
        // exactly what is wrong, so they win over any wrapper.
        if let Some(s3) = causes(err).find_map(|c| c.downcast_ref::<S3Error>()) {
            let failure = S3Failure::from(s3);
            return match failure.kind {
                FailureKind::Credentials => SqlError::from_failure(failure),
                _ => SqlError::new(ErrorKind::Plan, failure.message),
            };
        }
        if let Some(conflict) = causes(err).find_map(crate::lakehouse::delta::commit_conflict) {
            return SqlError::new(ErrorKind::Execution, conflict);
        }
        if let Some(store) = causes(err).find_map(|c| c.downcast_ref::<object_store::Error>()) {
            return from_object_store(store, ctx);
        }
        if let Some(delta) =
            causes(err).find_map(|c| c.downcast_ref::<crate::lakehouse::DeltaError>())
        {
            return SqlError::new(ErrorKind::Plan, sentence(&delta.to_string()));
        }
        match err.find_root() {
            DataFusionError::SQL(parser, _) => SqlError::new(
                ErrorKind::Syntax,
                crate::engine::newcomer::python_statement(ctx.statement).unwrap_or_else(|| {
                    sentence(&format!(
                        "Syntax error: {}",
                        without_layer_labels(&parser.to_string())
                    ))
                }),
            ),
            DataFusionError::ResourcesExhausted(detail) => memory_refusal(detail, ctx),
            DataFusionError::Plan(message) => plan_error(message),
            DataFusionError::SchemaError(schema, _) => match schema.as_ref() {
                SchemaError::FieldNotFound {
                    field,
                    valid_fields,
                } => SqlError::new(
                    ErrorKind::Plan,
                    crate::engine::newcomer::missing_column(field, valid_fields, ctx.statement),
                ),
                other => SqlError::new(ErrorKind::Plan, sentence(&other.to_string())),
            },
            other => SqlError::new(
                ErrorKind::Execution,
                sentence(&without_layer_labels(&other.to_string())),
            ),
        }
    }
}

/// The error and everything it wraps, outermost first.
/// Whether `err` is the query's own failure while computing (Arrow's
/// kernels: division by zero, overflow, a cast that does not fit) rather
/// than a failure to read or write.
pub(crate) fn failed_computing(err: &DataFusionError) -> bool {
    causes(err).any(|cause| {
        cause
            .downcast_ref::<datafusion::arrow::error::ArrowError>()
            .is_some_and(|arrow| {
                !matches!(
                    arrow,
                    datafusion::arrow::error::ArrowError::IoError(..)
                        | datafusion::arrow::error::ArrowError::ExternalError(_)
                )
            })
    })
}

/// Whether the Parquet reader failed on a file's bytes ("Invalid Parquet
/// file. Corrupt footer" and the like): a CSV or JSON file where Parquet
/// was expected, for one.
pub(crate) fn failed_decoding_parquet(err: &DataFusionError) -> bool {
    causes(err).any(|cause| {
        cause
            .downcast_ref::<datafusion::parquet::errors::ParquetError>()
            .is_some()
            || matches!(
                cause.downcast_ref::<DataFusionError>(),
                Some(DataFusionError::ParquetError(_))
            )
    })
}

fn causes<'a>(err: &'a DataFusionError) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    let first: &(dyn StdError + 'static) = err;
    std::iter::successors(Some(first), source_of)
}

fn source_of<'a>(err: &&'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    let err: &'a (dyn StdError + 'static) = *err;
    err.source()
}

/// A query that needed more memory than the budget, in one sentence.
fn memory_refusal(detail: &str, ctx: &ErrorContext<'_>) -> SqlError {
    SqlError::new(
        ErrorKind::Memory,
        format!(
            "The query needed more memory than the kernel's SQL budget of {} allows \
             ({}): add filters or a LIMIT, aggregate before joining, or raise \
             QUARRY_MEMORY_LIMIT and restart the kernel.",
            ctx.memory_words,
            crate::engine::upstream::refused_allocation(detail),
        ),
    )
}

fn plan_error(message: &str) -> SqlError {
    let message = first_line(message);
    if let Some(name) = crate::engine::upstream::missing_table(message) {
        let short = name.rsplit('.').next().unwrap_or(name);
        return SqlError::new(
            ErrorKind::MissingTable {
                name: short.to_string(),
            },
            format!(
                "Table '{short}' does not exist: see SHOW TABLES, create it with CREATE \
                 EXTERNAL TABLE, or query a file directly as FROM 's3://bucket/file.parquet'."
            ),
        );
    }
    SqlError::new(ErrorKind::Plan, sentence(&without_layer_labels(message)))
}

/// Explains a storage error from a request for `place` (when the caller
/// knows the exact URL) or for something the statement names.
pub(crate) fn from_store_error(
    err: &object_store::Error,
    ctx: &ErrorContext<'_>,
    place: Option<&str>,
) -> SqlError {
    let chain = std::iter::successors(Some(err as &(dyn StdError + 'static)), source_of);
    if let Some(s3) = chain.into_iter().find_map(|c| c.downcast_ref::<S3Error>()) {
        return SqlError::new(ErrorKind::S3(FailureKind::Credentials), s3.to_string());
    }
    from_object_store_at(err, ctx, place.map(str::to_string))
}

fn from_object_store(err: &object_store::Error, ctx: &ErrorContext<'_>) -> SqlError {
    from_object_store_at(err, ctx, None)
}

fn from_object_store_at(
    err: &object_store::Error,
    ctx: &ErrorContext<'_>,
    known_place: Option<String>,
) -> SqlError {
    let reply = StoreReply::parse(err);
    let place = known_place
        .or_else(|| match err {
            object_store::Error::NotFound { path, .. } => Some(locate(path, ctx.statement)),
            _ => resource_url(&reply, ctx.statement),
        })
        .unwrap_or_else(|| "the requested S3 location".into());
    SqlError::from_failure(reply.explain(&place, &ctx.endpoint))
}

pub(crate) fn not_found(place: &str) -> SqlError {
    SqlError::from_failure(quarry_s3::not_found_failure(place))
}

/// object_store reports a key relative to its bucket; the statement names the
/// full URL, so find the `s3://` literal that ends with that key.
fn locate(key: &str, statement: &str) -> String {
    s3_urls(statement)
        .into_iter()
        .find(|url| url.ends_with(key) || url.contains(&format!("/{key}")))
        .or_else(|| {
            s3_urls(statement)
                .first()
                .and_then(|u| quarry_s3::S3Location::parse(u).ok().map(|l| l.bucket))
                .map(|b| format!("s3://{b}/{key}"))
        })
        .unwrap_or_else(|| format!("'{key}'"))
}

/// Every `s3://…` literal in a statement, in order.
pub(crate) fn s3_urls(text: &str) -> Vec<String> {
    let mut urls = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("s3://") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| c == '\'' || c == '"' || c.is_whitespace() || c == ')' || c == ';')
            .unwrap_or(tail.len());
        urls.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    urls
}

/// The `s3://` URL of the resource S3 named in its refusal.
fn resource_url(reply: &StoreReply, statement: &str) -> Option<String> {
    let resource = reply.resource.as_deref()?.trim_start_matches('/');
    if resource.is_empty() {
        return None;
    }
    match &reply.bucket {
        Some(bucket) if !resource.starts_with(bucket.as_str()) => {
            Some(format!("s3://{bucket}/{resource}"))
        }
        _ if resource.contains('/') || !statement.contains("s3://") => {
            Some(format!("s3://{resource}"))
        }
        _ => Some(locate(resource, statement)),
    }
}

pub(crate) use crate::engine::upstream::first_line;

/// Ensures a message reads as a sentence: capitalised, ending in a period.
fn sentence(text: &str) -> String {
    let text = text.trim();
    let mut chars = text.chars();
    let mut out = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect::<String>(),
        None => return "The query failed.".to_string(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(statement: &str) -> ErrorContext<'_> {
        ErrorContext {
            statement,
            endpoint: "http://127.0.0.1:9000".into(),
            memory_words: crate::engine::MemoryBudget::of(1 << 30).describe(),
        }
    }

    #[test]
    fn missing_table_suggests_what_to_do() {
        let err = DataFusionError::Plan("table 'datafusion.public.readings' not found".into());
        let mapped = SqlError::from_datafusion(&err, &ctx("SELECT * FROM readings"));
        assert_eq!(
            mapped.kind,
            ErrorKind::MissingTable {
                name: "readings".into()
            }
        );
        assert_eq!(mapped.kind.ename(), "SQLPlanError");
        assert!(
            mapped
                .message
                .starts_with("Table 'readings' does not exist"),
            "{}",
            mapped.message
        );
    }

    #[test]
    fn access_denied_names_the_place() {
        let body = "Client error with status 403 Forbidden: <?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Access Denied.</Message><Resource>/other/x.csv</Resource><BucketName>other</BucketName></Error>";
        let store = object_store::Error::Generic {
            store: "S3",
            source: body.into(),
        };
        let err = DataFusionError::ObjectStore(Box::new(store));
        let mapped = SqlError::from_datafusion(&err, &ctx("SELECT * FROM 's3://other/x.csv'"));
        assert_eq!(mapped.kind, ErrorKind::S3(FailureKind::AccessDenied));
        assert!(
            mapped.message.contains("s3://other/x.csv"),
            "{}",
            mapped.message
        );
    }

    #[test]
    fn bad_session_token_is_a_credentials_error() {
        let body = "Client error with status 403 Forbidden: <Error><Code>InvalidAccessKeyId</Code></Error>";
        let store = object_store::Error::Generic {
            store: "S3",
            source: body.into(),
        };
        let mapped = SqlError::from_datafusion(
            &DataFusionError::External(Box::new(store)),
            &ctx("SELECT 1"),
        );
        assert_eq!(mapped.kind, ErrorKind::S3(FailureKind::Credentials));
        assert!(mapped.message.contains("InvalidAccessKeyId"));
    }

    #[test]
    fn missing_key_is_reported_with_its_bucket() {
        let store = object_store::Error::NotFound {
            path: "data/missing.parquet".into(),
            source: "404".into(),
        };
        let mapped = SqlError::from_datafusion(
            &DataFusionError::ObjectStore(Box::new(store)),
            &ctx("SELECT * FROM 's3://demo/data/missing.parquet'"),
        );
        assert_eq!(mapped.kind, ErrorKind::S3(FailureKind::NotFound));
        assert!(
            mapped
                .message
                .starts_with("s3://demo/data/missing.parquet does not exist"),
            "{}",
            mapped.message
        );
        assert!(mapped.message.contains("%s3 ls s3://demo/"));
    }

    #[test]
    fn a_full_quota_is_its_own_kind() {
        let body = "Client error with status 507 Insufficient Storage: <Error><Code>XMinioStorageFull</Code><Message>Storage backend has reached its minimum free drive threshold.</Message></Error>";
        let store = object_store::Error::Generic {
            store: "S3",
            source: body.into(),
        };
        let mapped = SqlError::from_datafusion(
            &DataFusionError::ObjectStore(Box::new(store)),
            &ctx("COPY (SELECT 1) TO 's3://full/x.parquet'"),
        );
        assert_eq!(mapped.kind, ErrorKind::S3(FailureKind::QuotaFull));
        assert_eq!(mapped.kind.ename(), "S3QuotaFull");
        assert!(
            mapped.message.contains("quota is full"),
            "{}",
            mapped.message
        );
    }

    #[test]
    fn expired_credentials_pass_through_in_their_own_words() {
        let expired = S3Error::CredentialsExpired {
            renewal: None,
            expired_at: "2020-01-01T00:00:00Z".parse().unwrap(),
        };
        let store = object_store::Error::Generic {
            store: "S3",
            source: Box::new(expired),
        };
        let mapped = SqlError::from_datafusion(
            &DataFusionError::ObjectStore(Box::new(store)),
            &ctx("SELECT 1"),
        );
        assert_eq!(mapped.kind, ErrorKind::S3(FailureKind::Credentials));
        assert!(mapped.message.contains("2020-01-01 00:00:00 UTC"));
    }

    #[test]
    fn messages_are_single_sentences_without_layer_labels() {
        let err = DataFusionError::Execution("Arrow error: Divide by zero error".into());
        let mapped = SqlError::from_datafusion(&err, &ctx("SELECT 1/0"));
        assert_eq!(mapped.message, "Divide by zero error.");
    }

    #[test]
    fn finds_s3_urls_in_statements() {
        assert_eq!(
            s3_urls("COPY (SELECT 1) TO 's3://out/a.parquet'; SELECT * FROM \"s3://in/b\""),
            vec!["s3://out/a.parquet".to_string(), "s3://in/b".to_string()]
        );
    }
}
