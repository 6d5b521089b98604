//! The provider's answers: expiry wording, sources, renewal that never holds
//! up valid keys.
use super::*;

fn env_with_expiry(expiry: &str) -> Env {
    Env::from_pairs([
        ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEY"),
        ("AWS_SECRET_ACCESS_KEY", "very-secret-value"),
        ("AWS_SESSION_TOKEN", "session-token-value"),
        ("AWS_CREDENTIAL_EXPIRATION", expiry),
    ])
}

#[tokio::test]
async fn expired_static_credentials_name_the_expiry() {
    let provider = Arc::new(CredentialsProvider::from_env(&env_with_expiry(
        "2001-02-03T04:05:06Z",
    )));
    let err = provider.current().await.unwrap_err();
    let message = err.to_string();
    assert!(message.contains("2001-02-03 04:05:06 UTC"), "{message}");
    assert!(!message.contains("very-secret-value"));
}

#[tokio::test]
async fn valid_credentials_are_returned_with_the_token() {
    let provider = Arc::new(CredentialsProvider::from_env(&env_with_expiry(
        "2999-01-01T00:00:00Z",
    )));
    let creds = provider.current().await.unwrap();
    let aws = creds.to_aws();
    assert_eq!(aws.key_id, "AKIAEXAMPLEKEY");
    assert_eq!(aws.token.as_deref(), Some("session-token-value"));
    let identity = provider.identity().await.unwrap();
    assert!(identity.temporary);
    assert_eq!(identity.access_key_hint, "AKIA…");
}

#[tokio::test]
async fn missing_credentials_say_which_variables_to_set() {
    let provider = Arc::new(CredentialsProvider::from_env(&Env::from_pairs([])));
    let message = provider.current().await.unwrap_err().to_string();
    assert!(message.contains("AWS_ACCESS_KEY_ID"), "{message}");
}

#[test]
fn debug_output_never_shows_secrets() {
    let creds = Credentials::new(
        "AKIAEXAMPLEKEY",
        "very-secret-value",
        Some("session-token-value".into()),
        None,
    );
    let printed = format!("{creds:?}");
    assert!(!printed.contains("very-secret-value"));
    assert!(!printed.contains("session-token-value"));
    assert!(!printed.contains("AKIAEXAMPLEKEY"));
}

#[tokio::test]
async fn malformed_expiry_is_ignored() {
    let provider = Arc::new(CredentialsProvider::from_env(&env_with_expiry("tomorrow")));
    assert_eq!(provider.identity().await.unwrap().expiration, None);
}

#[test]
fn short_lived_credentials_renew_in_their_last_fifth() {
    let obtained_at: DateTime<Utc> = "2030-01-01T00:00:00Z".parse().unwrap();
    let held = |lifetime_s: i64| Held {
        credentials: Credentials::new(
            "k",
            "s",
            None,
            Some(obtained_at + chrono::Duration::seconds(lifetime_s)),
        ),
        obtained_at,
        source: "test",
    };
    let at = |s: i64| obtained_at + chrono::Duration::seconds(s);
    // One hour: renew five minutes before the end.
    assert!(!held(3600).due(at(3600 - 301)));
    assert!(held(3600).due(at(3600 - 300)));
    // Twenty seconds: renew in the last four.
    assert!(!held(20).due(at(15)));
    assert!(held(20).due(at(16)));
}

#[tokio::test]
async fn a_changed_credentials_file_replaces_environment_keys() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("credentials");
    let path = file.to_str().unwrap();
    let provider = Arc::new(CredentialsProvider::from_env(&Env::from_pairs([
        ("AWS_ACCESS_KEY_ID", "ENVKEY"),
        ("AWS_SECRET_ACCESS_KEY", "s"),
        ("AWS_SHARED_CREDENTIALS_FILE", path),
    ])));
    assert_eq!(provider.current().await.unwrap().access_key_id, "ENVKEY");
    std::fs::write(
        &file,
        "[default]\naws_access_key_id=FILEKEY1\naws_secret_access_key=s\n",
    )
    .unwrap();
    assert_eq!(provider.current().await.unwrap().access_key_id, "FILEKEY1");
    // A rewrite with a different mtime is picked up again.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(
        &file,
        "[default]\naws_access_key_id=FILEKEY2\naws_secret_access_key=s\n",
    )
    .unwrap();
    let f = std::fs::File::options().write(true).open(&file).unwrap();
    f.set_modified(SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    assert_eq!(provider.current().await.unwrap().access_key_id, "FILEKEY2");
    assert_eq!(
        provider.identity().await.unwrap().source,
        "credentials file"
    );
}

#[tokio::test]
async fn expired_credentials_with_a_failing_renewal_say_why() {
    let provider = Arc::new(CredentialsProvider::from_env(&Env::from_pairs([
        ("AWS_ACCESS_KEY_ID", "k"),
        ("AWS_SECRET_ACCESS_KEY", "s"),
        ("AWS_CREDENTIAL_EXPIRATION", "2001-01-01T00:00:00Z"),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token"),
    ])));
    let message = provider.current().await.unwrap_err().to_string();
    assert!(message.contains("2001-01-01 00:00:00 UTC"), "{message}");
    assert!(message.contains("/nonexistent/token"), "{message}");
}

/// An STS that accepts connections and never answers, counting them.
async fn silent_sts() -> (
    String,
    Arc<std::sync::atomic::AtomicUsize>,
    tokio::task::JoinHandle<()>,
) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(socket);
        }
    });
    (endpoint, accepted, server)
}

fn web_identity(endpoint: &str, token: &tempfile::NamedTempFile) -> WebIdentity {
    std::fs::write(token.path(), "a.b.c").unwrap();
    let path = token.path().display().to_string();
    let env = Env::from_pairs([("AWS_WEB_IDENTITY_TOKEN_FILE", path.as_str())]);
    WebIdentity::from_env(&env, Some(endpoint), "us-east-1")
        .unwrap()
        .with_timeouts(crate::S3Timeouts {
            connect: std::time::Duration::from_secs(1),
            attempt: std::time::Duration::from_secs(1),
            operation: std::time::Duration::from_secs(2),
        })
}

/// A provider holding keys that are due for renewal (an hour old, a
/// minute left) but still valid, renewing at the STS `endpoint`.
fn renewing_old_keys(endpoint: &str, token: &tempfile::NamedTempFile) -> Arc<CredentialsProvider> {
    let held = Held {
        credentials: Credentials::new(
            "OLDKEY",
            "secret",
            Some("t".into()),
            Some(Utc::now() + chrono::Duration::seconds(60)),
        ),
        obtained_at: Utc::now() - chrono::Duration::hours(1),
        source: "environment",
    };
    Arc::new(CredentialsProvider::with(
        Some(held),
        None,
        Some(web_identity(endpoint, token)),
    ))
}

#[tokio::test]
async fn a_silent_sts_never_holds_up_keys_that_are_still_valid() {
    let (endpoint, accepted, server) = silent_sts().await;
    let token = tempfile::NamedTempFile::new().unwrap();
    let provider = renewing_old_keys(&endpoint, &token);
    let started = std::time::Instant::now();
    for _ in 0..50 {
        assert_eq!(provider.current().await.unwrap().access_key_id, "OLDKEY");
    }
    assert!(
        started.elapsed() < std::time::Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    // One background exchange, given up within its bounds, then a pause.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    {
        let state = provider.state();
        assert!(!state.renewal.in_flight);
        assert!(
            state
                .renewal
                .last_failure
                .as_deref()
                .is_some_and(|r| r.starts_with("could not reach STS"))
        );
        assert!(state.renewal.retry_at.is_some());
    }
    // Whoever asks who they are hears it before the keys run out.
    let warning = provider
        .identity()
        .await
        .unwrap()
        .renewal_warning()
        .unwrap();
    assert!(
        warning.starts_with("Renewing the S3 credentials is failing (could not reach STS"),
        "{warning}"
    );
    assert!(warning.contains("the current keys work until"), "{warning}");
    let connections = accepted.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (1..=2).contains(&connections),
        "{connections} connections for one exchange"
    );
    server.abort();
}

#[tokio::test]
async fn callers_without_keys_share_one_exchange_and_hear_why_it_failed() {
    let (endpoint, accepted, server) = silent_sts().await;
    let token = tempfile::NamedTempFile::new().unwrap();
    let provider = Arc::new(CredentialsProvider::with(
        None,
        None,
        Some(web_identity(&endpoint, &token)),
    ));
    let started = std::time::Instant::now();
    let callers: Vec<_> = (0..10)
        .map(|_| {
            let provider = Arc::clone(&provider);
            tokio::spawn(async move { provider.current().await })
        })
        .collect();
    for caller in callers {
        let message = caller.await.unwrap().unwrap_err().to_string();
        assert!(message.contains("could not reach STS"), "{message}");
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let connections = accepted.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (1..=2).contains(&connections),
        "{connections} connections for ten callers"
    );
    // Straight after a failure the answer comes at once (backoff), with the reason.
    let again = std::time::Instant::now();
    let message = provider.current().await.unwrap_err().to_string();
    assert!(again.elapsed() < std::time::Duration::from_millis(100));
    assert!(message.contains("could not reach STS"), "{message}");
    server.abort();
}

/// An STS that answers every exchange correctly, after `delay`.
async fn slow_sts(delay: std::time::Duration) -> (String, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = vec![0u8; 64 * 1024];
                let _ = socket.read(&mut request).await;
                tokio::time::sleep(delay).await;
                let body = "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>NEWKEY</AccessKeyId><SecretAccessKey>new-secret</SecretAccessKey><SessionToken>new-token</SessionToken><Expiration>2999-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    (endpoint, server)
}

#[tokio::test]
async fn a_slow_sts_renews_in_the_background_while_the_old_keys_serve() {
    // 700 ms per answer: slow, within the 1 s attempt bound.
    let (endpoint, server) = slow_sts(std::time::Duration::from_millis(700)).await;
    let token = tempfile::NamedTempFile::new().unwrap();
    let provider = renewing_old_keys(&endpoint, &token);
    let started = std::time::Instant::now();
    assert_eq!(provider.current().await.unwrap().access_key_id, "OLDKEY");
    assert!(started.elapsed() < std::time::Duration::from_millis(300));
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(provider.current().await.unwrap().access_key_id, "NEWKEY");
    let identity = provider.identity().await.unwrap();
    assert_eq!(identity.source, "web identity");
    assert_eq!(identity.renewal_warning(), None);
    server.abort();
}
