//! The one place quarry-s3 reads other libraries' wording.
//!
//! object_store reports an S3 answer's HTTP status only inside its error
//! text ("… non-2xx status code: 409 Conflict …" in 0.13); the HTTP clients under
//! object_store and the AWS SDK (reqwest, hyper) say "connection refused",
//! "error sending request", "timed out" and the like; and S3 servers
//! (MinIO, SeaweedFS) deny an invalid session token as `AccessDenied` with
//! "session token" in their message. Every such match lives here. The
//! tests below make object_store and the AWS SDK fail for real — against a
//! local socket that answers with a status, and one that refuses — so an
//! upgrade that rewords one fails a unit test. The servers' session-token
//! wording is checked against SeaweedFS's real STS by
//! `tests/test_credentials_refresh.py`.

/// The HTTP status object_store's error text names: "non-2xx status
/// code: 409 Conflict" (object_store 0.13), or "status 409" (earlier).
pub(crate) fn status_in(detail: &str) -> Option<u16> {
    ["status code: ", "status "].iter().find_map(|label| {
        let at = detail.find(label)? + label.len();
        detail.get(at..at + 3)?.parse().ok()
    })
}

/// Whether the HTTP clients' text says S3 could not be reached at all.
pub(crate) fn is_connection_failure(detail: &str) -> bool {
    let d = detail.to_ascii_lowercase();
    [
        "error sending request",
        "connection refused",
        "dispatch failure",
        "connect",
        "timed out",
        "timeout",
        "dns error",
        "connection reset",
        "broken pipe",
        "incomplete message",
    ]
    .iter()
    .any(|needle| d.contains(needle))
}

/// Whether an `AccessDenied` is about the session token (MinIO's and
/// SeaweedFS's wording), not the policy.
pub(crate) fn denies_session_token(detail: &str) -> bool {
    detail.contains("session token")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use object_store::ObjectStoreExt as _;
    use object_store::aws::AmazonS3Builder;
    use object_store::path::Path;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;
    use crate::{CredentialsProvider, Env, S3Settings, S3Timeouts, StoreReply};

    /// A local "S3" that answers every request with `status` and an S3
    /// XML error body, as a real server would.
    async fn answering(status: &str, code: &str) -> String {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>m</Message></Error>"
        );
        let reply = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = vec![0u8; 64 * 1024];
                let _ = socket.read(&mut request).await;
                let _ = socket.write_all(reply.as_bytes()).await;
                let _ = socket.shutdown().await;
            }
        });
        url
    }

    /// An address nothing listens on.
    async fn refusing() -> String {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        url
    }

    async fn object_store_error(endpoint: &str) -> object_store::Error {
        let store = AmazonS3Builder::new()
            .with_endpoint(endpoint)
            .with_allow_http(true)
            .with_bucket_name("b")
            .with_region("us-east-1")
            .with_access_key_id("k")
            .with_secret_access_key("s")
            .with_retry(object_store::RetryConfig {
                max_retries: 0,
                ..Default::default()
            })
            .build()
            .unwrap();
        store.get(&Path::from("k")).await.unwrap_err()
    }

    #[tokio::test]
    async fn object_stores_status_is_read_from_its_real_text() {
        let error = object_store_error(&answering("409 Conflict", "OperationAborted").await).await;
        assert_eq!(status_in(&error.to_string()), Some(409), "{error}");
        let reply = StoreReply::parse(&error);
        assert_eq!(
            (reply.status, reply.code.as_deref()),
            (Some(409), Some("OperationAborted"))
        );
    }

    #[tokio::test]
    async fn a_refused_connection_reads_as_one_through_object_store_and_the_sdk() {
        let endpoint = refusing().await;
        let error = object_store_error(&endpoint).await;
        assert!(
            is_connection_failure(&StoreReply::parse(&error).detail),
            "{error}"
        );

        let settings = S3Settings {
            endpoint: Some(endpoint.clone()),
            region: "us-east-1".into(),
            path_style: true,
            public_endpoint: None,
            timeouts: S3Timeouts::default(),
        };
        let env = Env::from_pairs([("AWS_ACCESS_KEY_ID", "k"), ("AWS_SECRET_ACCESS_KEY", "s")]);
        let client = crate::sdk::client(
            &settings,
            None,
            Arc::new(CredentialsProvider::from_env(&env)),
        );
        let error = client.list_buckets().send().await.unwrap_err();
        let detail = aws_sdk_s3::error::DisplayErrorContext(&error).to_string();
        assert!(is_connection_failure(&detail), "{detail}");
        assert!(!is_connection_failure("AccessDenied: Access Denied."));
    }
}
