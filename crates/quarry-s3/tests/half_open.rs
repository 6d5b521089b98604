//! A server that accepts connections and never answers (a half-open S3,
//! a hung proxy): every S3 call ends within its timeouts, as "unavailable",
//! instead of hanging the panel or a cell.

use std::sync::Arc;
use std::time::{Duration, Instant};

use quarry_s3::{
    CredentialsProvider, Env, FailureKind, S3Failure, S3Location, S3Settings, S3Stores, S3Timeouts,
};

/// Accepts every connection and holds it open, silent.
async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (url, task)
}

fn stores(endpoint: &str) -> S3Stores {
    let env = Env::from_pairs([
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
    ]);
    let settings = S3Settings {
        endpoint: Some(endpoint.to_string()),
        region: "us-east-1".into(),
        path_style: true,
        public_endpoint: None,
        timeouts: S3Timeouts {
            connect: Duration::from_secs(1),
            attempt: Duration::from_secs(1),
            operation: Duration::from_secs(3),
        },
    };
    S3Stores::new(settings, Arc::new(CredentialsProvider::from_env(&env)))
}

/// Runs `call`, which must fail, and says how long it took; a call that
/// hangs past every timeout fails the test instead of hanging it.
async fn failure_and_time<T: std::fmt::Debug>(
    call: impl Future<Output = Result<T, S3Failure>>,
) -> (S3Failure, Duration) {
    let started = Instant::now();
    let failure = tokio::time::timeout(Duration::from_secs(60), call)
        .await
        .expect("the call hung past every timeout")
        .unwrap_err();
    (failure, started.elapsed())
}

#[tokio::test]
async fn sdk_calls_end_within_their_timeouts() {
    let (url, server) = silent_server().await;
    let stores = stores(&url);
    let (failure, took) = failure_and_time(quarry_s3::list_buckets(&stores)).await;
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(
        failure.kind,
        FailureKind::Unavailable,
        "{}",
        failure.message
    );
    assert!(failure.message.contains(&url), "{}", failure.message);
    server.abort();
}

#[tokio::test]
async fn object_store_reads_end_within_their_timeouts() {
    let (url, server) = silent_server().await;
    let stores = stores(&url);
    let location = S3Location::parse("s3://data/t.csv").unwrap();
    let (failure, took) = failure_and_time(quarry_s3::read_head(&stores, &location, 100)).await;
    // object_store retries for at most 20 s (its retry budget).
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert_eq!(
        failure.kind,
        FailureKind::Unavailable,
        "{}",
        failure.message
    );
    server.abort();
}

/// Reads each request, waits `delay`, then answers a bucket list — a
/// slow S3 rather than a silent one.
async fn slow_server(delay: Duration) -> (String, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                tokio::time::sleep(delay).await;
                let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListAllMyBucketsResult><Owner><ID>o</ID></Owner><Buckets><Bucket><Name>slow</Name><CreationDate>2026-01-01T00:00:00.000Z</CreationDate></Bucket></Buckets></ListAllMyBucketsResult>";
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    (url, task)
}

#[tokio::test]
async fn a_slow_answer_within_the_attempt_timeout_is_waited_for() {
    // The attempt bound is 1 s here: 300 ms is slow but in time.
    let (url, server) = slow_server(Duration::from_millis(300)).await;
    let buckets = quarry_s3::list_buckets(&stores(&url))
        .await
        .expect("a slow answer is still an answer");
    assert_eq!(buckets[0].name, "slow");
    server.abort();
}

#[tokio::test]
async fn an_answer_slower_than_every_attempt_ends_as_unavailable() {
    // Each attempt (1 s) times out before the 5 s answer; the operation
    // bound (3 s) ends the retries.
    let (url, server) = slow_server(Duration::from_secs(5)).await;
    let (failure, took) = failure_and_time(quarry_s3::list_buckets(&stores(&url))).await;
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(
        failure.kind,
        FailureKind::Unavailable,
        "{}",
        failure.message
    );
    server.abort();
}
