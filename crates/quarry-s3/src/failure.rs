//! What an S3 refusal means for the user, in one sentence.
//!
//! The SQL engine (through object_store) and the `%s3` magics (through the
//! AWS SDK) see the same S3 answers in different wrappers; both reduce them
//! to an [`S3Reply`] and get the same explanation from [`explain`].

/// What S3 (or the network) answered, as far as the caller could tell.
#[derive(Debug, Default, Clone)]
pub struct S3Reply<'a> {
    /// The S3 error code, e.g. `NoSuchBucket`.
    pub code: Option<&'a str>,
    /// The HTTP status, when there was a response.
    pub status: Option<u16>,
    /// S3's own message, if any.
    pub message: Option<&'a str>,
    /// The bucket S3 named in its answer.
    pub bucket: Option<&'a str>,
    /// The full error text, searched for hints such as "session token" or
    /// "connection refused". Never shown.
    pub detail: &'a str,
    /// The client already classified the answer as "not found".
    pub not_found: bool,
}

/// What kind of failure, the one classification every caller derives its
/// own from (the kernel's `ename`, the panel's HTTP status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The bucket or object does not exist.
    NotFound,
    /// The policy does not allow this.
    AccessDenied,
    /// The credentials are missing, invalid or expired.
    Credentials,
    /// S3 could not be reached or is unavailable.
    Unavailable,
    /// The storage quota is full.
    QuotaFull,
    /// The request conflicts with the state of the bucket (not empty,
    /// already exists, a concurrent operation).
    Conflict,
    /// The request itself is malformed (a bad bucket name or URL).
    Invalid,
    /// Anything else S3 answered.
    Other,
}

/// An S3 failure explained in one sentence, with its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct S3Failure {
    /// What kind of failure, for `ename`s and HTTP statuses.
    pub kind: FailureKind,
    /// One sentence for the user, free of secrets.
    pub message: String,
}

impl From<crate::S3Error> for S3Failure {
    fn from(err: crate::S3Error) -> Self {
        S3Failure::from(&err)
    }
}

impl From<&crate::S3Error> for S3Failure {
    fn from(err: &crate::S3Error) -> Self {
        use crate::S3Error;
        let kind = match err {
            S3Error::NoCredentials
            | S3Error::CredentialsExpired { .. }
            | S3Error::RenewalFailed { .. } => FailureKind::Credentials,
            S3Error::NotAnS3Url { .. } | S3Error::InvalidBucketName { .. } => FailureKind::Invalid,
            S3Error::Client { .. } => FailureKind::Other,
        };
        S3Failure {
            kind,
            message: err.to_string(),
        }
    }
}

/// Explains a failed request for `place` (an `s3://` URL or a description)
/// against `endpoint`.
pub fn explain(reply: &S3Reply<'_>, place: &str, endpoint: &str) -> S3Failure {
    let code = reply.code.unwrap_or_default();
    let failure = |kind, message: String| S3Failure { kind, message };
    match (code, reply.status) {
        ("NoSuchBucket", _) => failure(
            FailureKind::NotFound,
            format!(
                "Bucket '{}' does not exist at {endpoint}: check the name (%s3 ls lists your buckets).",
                reply
                    .bucket
                    .map(str::to_string)
                    .or_else(|| bucket_of(place))
                    .unwrap_or_else(|| "?".into()),
            ),
        ),
        (
            "InvalidAccessKeyId"
            | "SignatureDoesNotMatch"
            | "InvalidToken"
            | "ExpiredToken"
            | "TokenRefreshRequired"
            | "InvalidClientTokenId",
            _,
        ) => failure(
            FailureKind::Credentials,
            format!(
                "S3 at {endpoint} rejected your credentials ({code}): the access key or session token \
                 is invalid or expired; restart your server to get fresh credentials."
            ),
        ),
        (_, Some(401)) => failure(
            FailureKind::Credentials,
            format!(
                "S3 at {endpoint} did not accept your credentials (401): they are missing or \
                 expired; restart your server to get fresh credentials."
            ),
        ),
        ("AccessDenied", _) if crate::upstream::denies_session_token(reply.detail) => failure(
            FailureKind::Credentials,
            format!(
                "S3 at {endpoint} rejected your session token: it is invalid or expired; restart \
                 your server to get fresh credentials."
            ),
        ),
        ("AccessDenied", _) | (_, Some(403)) => failure(
            FailureKind::AccessDenied,
            format!(
                "Access denied to {place}: your S3 policy does not allow this; ask your platform \
                 admin for access or use a bucket you own."
            ),
        ),
        (
            "XMinioStorageFull"
            | "QuotaExceeded"
            | "XMinioAdminBucketQuotaExceeded"
            | "EntityTooLarge",
            _,
        ) => failure(
            FailureKind::QuotaFull,
            format!(
                "S3 refused the write to {place}: the storage quota is full; delete data or ask for more space."
            ),
        ),
        ("BucketNotEmpty", _) => failure(
            FailureKind::Conflict,
            format!("{place} is not empty: delete what is in it first."),
        ),
        ("BucketAlreadyExists" | "BucketAlreadyOwnedByYou", _) => failure(
            FailureKind::Conflict,
            format!("{place} already exists: choose another name."),
        ),
        ("OperationAborted" | "PreconditionFailed", _) | (_, Some(409 | 412)) => failure(
            FailureKind::Conflict,
            format!(
                "S3 refused the change to {place} because it conflicts with another change; try again."
            ),
        ),
        ("NoSuchKey", _) | (_, Some(404)) => not_found(place),
        _ if reply.not_found => not_found(place),
        (_, Some(503)) | ("SlowDown" | "ServiceUnavailable", _) => failure(
            FailureKind::Unavailable,
            format!("S3 at {endpoint} is temporarily unavailable (503); try again in a moment."),
        ),
        _ if reply.status.is_none() && crate::upstream::is_connection_failure(reply.detail) => {
            failure(
                FailureKind::Unavailable,
                format!(
                    "Could not reach S3 at {endpoint}: check that the server is running and that \
                 AWS_ENDPOINT_URL / S3_ENDPOINT point to it."
                ),
            )
        }
        _ => failure(
            FailureKind::Other,
            format!(
                "S3 request for {place} failed: {}.",
                reply
                    .message
                    .map(|m| m.trim_end_matches('.').to_string())
                    .unwrap_or_else(|| {
                        reply
                            .detail
                            .lines()
                            .next()
                            .unwrap_or("unknown error")
                            .chars()
                            .take(200)
                            .collect()
                    })
            ),
        ),
    }
}

/// Explains a failed AWS SDK call for `place`, including Quarry's own
/// credential errors that the SDK carries inside its error chain.
pub fn explain_sdk<E>(
    err: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    place: &str,
    endpoint: &str,
) -> S3Failure
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_s3::error::ProvideErrorMetadata as _;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        if let Some(own) = e.downcast_ref::<crate::S3Error>() {
            return S3Failure {
                kind: FailureKind::Credentials,
                message: own.to_string(),
            };
        }
        cause = e.source();
    }
    let detail = aws_sdk_s3::error::DisplayErrorContext(err).to_string();
    let status = err.raw_response().map(|r| r.status().as_u16());
    let reply = S3Reply {
        code: err.code(),
        status,
        message: err.message(),
        bucket: None,
        detail: &detail,
        not_found: status == Some(404),
    };
    explain(&reply, place, endpoint)
}

/// What an object_store error says, parsed once: S3's code, status,
/// message and the bucket and resource it names, or Quarry's own
/// credential error carried inside it.
#[derive(Debug, Clone, Default)]
pub struct StoreReply {
    /// S3's error code, e.g. `NoSuchBucket`.
    pub code: Option<String>,
    /// The HTTP status, when there was a response.
    pub status: Option<u16>,
    /// S3's own message.
    pub message: Option<String>,
    /// The bucket S3 named.
    pub bucket: Option<String>,
    /// The `<Resource>` (or `<Key>`) S3 named, e.g. `/bucket/key`.
    pub resource: Option<String>,
    /// The whole error chain as text, for hints; never shown.
    pub(crate) detail: String,
    not_found: bool,
    /// Quarry's own credential error, which says exactly what is wrong.
    own: Option<S3Failure>,
}

impl StoreReply {
    /// Reads what `err` and the errors it wraps say.
    pub fn parse(err: &object_store::Error) -> Self {
        let mut detail = err.to_string();
        let mut own = None;
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
        while let Some(e) = cause {
            if let Some(s3) = e.downcast_ref::<crate::S3Error>() {
                own = Some(S3Failure {
                    kind: FailureKind::Credentials,
                    message: s3.to_string(),
                });
                break;
            }
            if !std::ptr::addr_eq(e, err as &dyn std::error::Error) {
                detail.push_str(" | ");
                detail.push_str(&e.to_string());
            }
            cause = e.source();
        }
        // object_store turns 401/403 into variants of their own, whose text
        // carries no status: take it from the variant.
        let status = crate::upstream::status_in(&detail).or(match err {
            object_store::Error::PermissionDenied { .. } => Some(403),
            object_store::Error::Unauthenticated { .. } => Some(401),
            _ => None,
        });
        StoreReply {
            code: xml_tag(&detail, "Code"),
            status,
            message: xml_tag(&detail, "Message"),
            bucket: xml_tag(&detail, "BucketName"),
            resource: xml_tag(&detail, "Resource").or_else(|| xml_tag(&detail, "Key")),
            not_found: matches!(err, object_store::Error::NotFound { .. }),
            detail,
            own,
        }
    }

    /// Explains the failure for `place` against `endpoint`.
    pub fn explain(&self, place: &str, endpoint: &str) -> S3Failure {
        if let Some(own) = &self.own {
            return own.clone();
        }
        let reply = S3Reply {
            code: self.code.as_deref(),
            status: self.status,
            message: self.message.as_deref(),
            bucket: self.bucket.as_deref(),
            detail: &self.detail,
            not_found: self.not_found,
        };
        explain(&reply, place, endpoint)
    }
}

/// Explains a failed object_store call for `place`.
pub fn explain_store(err: &object_store::Error, place: &str, endpoint: &str) -> S3Failure {
    StoreReply::parse(err).explain(place, endpoint)
}

/// The text of `<name>…</name>` in an S3 XML error body.
pub fn xml_tag(text: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{name}>"))? + start;
    Some(text[start..end].trim().to_string()).filter(|s| !s.is_empty())
}

/// "s3://b/k does not exist", with where to look.
pub fn not_found(place: &str) -> S3Failure {
    let listing = bucket_of(place)
        .map(|b| format!("%s3 ls s3://{b}/"))
        .unwrap_or_else(|| "%s3 ls".into());
    S3Failure {
        kind: FailureKind::NotFound,
        message: format!("{place} does not exist: check the path ({listing} shows what is there)."),
    }
}

fn bucket_of(url: &str) -> Option<String> {
    let rest = url.strip_prefix("s3://")?;
    Some(rest.split('/').next()?.to_string()).filter(|b| !b.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_store_refusals_keep_their_status() {
        let denied = object_store::Error::PermissionDenied {
            path: "k".into(),
            source: "no".into(),
        };
        assert_eq!(
            explain_store(&denied, "s3://b/k", "http://s3").kind,
            FailureKind::AccessDenied
        );
        let unauthenticated = object_store::Error::Unauthenticated {
            path: "k".into(),
            source: "no".into(),
        };
        assert_eq!(
            explain_store(&unauthenticated, "s3://b/k", "http://s3").kind,
            FailureKind::Credentials
        );
    }

    #[test]
    fn maps_codes_and_statuses() {
        let e = "http://s3:9000";
        let r = |code, status| S3Reply {
            code,
            status,
            ..Default::default()
        };
        assert_eq!(
            explain(&r(Some("NoSuchBucket"), Some(404)), "s3://nob/x", e).kind,
            FailureKind::NotFound
        );
        assert!(
            explain(&r(Some("NoSuchBucket"), None), "s3://nob/x", e)
                .message
                .contains("'nob'")
        );
        assert_eq!(
            explain(&r(Some("InvalidAccessKeyId"), Some(403)), "s3://b", e).kind,
            FailureKind::Credentials
        );
        assert_eq!(
            explain(&r(None, Some(403)), "s3://b/k", e).kind,
            FailureKind::AccessDenied
        );
        assert_eq!(
            explain(&r(None, Some(404)), "s3://b/k", e).message,
            not_found("s3://b/k").message
        );
        assert_eq!(
            explain(&r(Some("XMinioStorageFull"), Some(507)), "s3://b/k", e).kind,
            FailureKind::QuotaFull
        );
        assert_eq!(
            explain(&r(None, Some(503)), "s3://b/k", e).kind,
            FailureKind::Unavailable
        );
        let refused = S3Reply {
            detail: "error sending request: Connection refused",
            ..Default::default()
        };
        assert_eq!(
            explain(&refused, "s3://b/k", e).kind,
            FailureKind::Unavailable
        );
    }
}
