//! Renewing credentials with a web identity token (AssumeRoleWithWebIdentity).
//!
//! On the platform, the pod's token file always holds a fresh OIDC ID token
//! (the hub keeps it current). Exchanging it at STS — MinIO serves STS on
//! its S3 port — gives new temporary credentials with no restart.

use std::path::PathBuf;

use aws_sdk_sts::config::Region;
use chrono::{DateTime, Utc};

use super::Credentials;
use crate::Env;

/// Where and how to exchange the token.
#[derive(Debug, Clone)]
pub(crate) struct WebIdentity {
    token_file: PathBuf,
    /// `None` is MinIO's claim mode: the policy comes from a token claim.
    role_arn: Option<String>,
    session_name: String,
    sts_endpoint: Option<String>,
    region: String,
    /// Bounds on the exchange: callers without valid keys wait for it, so
    /// a silent STS must not hold them for long.
    timeouts: crate::S3Timeouts,
}

/// The web identity token file and what its token says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFileState {
    /// `AWS_WEB_IDENTITY_TOKEN_FILE`.
    pub path: PathBuf,
    /// The token's `exp`; `None` when the file is unreadable or not a JWT.
    pub expires_at: Option<DateTime<Utc>>,
}

impl TokenFileState {
    /// The sentence to show when the token has expired, else `None`.
    pub fn stale_warning(&self, now: DateTime<Utc>) -> Option<String> {
        let expired = self.expires_at.filter(|at| *at <= now)?;
        Some(format!(
            "The ID token in {} expired at {} and has not been replaced, so S3 keys cannot be renewed after the current ones end; the token refresher may be failing (a full disk, or the hub unreachable): see the Jupyter server log.",
            self.path.display(),
            expired.format("%Y-%m-%d %H:%M:%S UTC")
        ))
    }
}

/// A JWT's `exp` claim (seconds since the epoch), unverified.
fn jwt_expiry(token: &str) -> Option<DateTime<Utc>> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    DateTime::from_timestamp(claims.get("exp")?.as_i64()?, 0)
}

/// An STS exchange is small: 10 s per attempt, 30 s with retries.
const STS_TIMEOUTS: crate::S3Timeouts = crate::S3Timeouts {
    connect: std::time::Duration::from_secs(5),
    attempt: std::time::Duration::from_secs(10),
    operation: std::time::Duration::from_secs(30),
};

impl WebIdentity {
    /// Reads `AWS_WEB_IDENTITY_TOKEN_FILE` (or, without a role,
    /// `QUARRY_WEB_IDENTITY_TOKEN_FILE`), `AWS_ROLE_ARN`,
    /// `AWS_ROLE_SESSION_NAME` and the STS endpoint (`AWS_ENDPOINT_URL_STS`,
    /// else the S3 endpoint, where MinIO serves STS).
    ///
    /// The second name exists for MinIO's claim mode: the AWS SDKs refuse
    /// to start (botocore's `InvalidConfigError`) when they see
    /// `AWS_WEB_IDENTITY_TOKEN_FILE` without `AWS_ROLE_ARN`, so a pod with
    /// no role names its token file so that only Quarry reads it, and the
    /// SDKs get keys from `quarry aws-credentials` instead.
    pub(crate) fn from_env(env: &Env, s3_endpoint: Option<&str>, region: &str) -> Option<Self> {
        let token_file = PathBuf::from(
            env.get("AWS_WEB_IDENTITY_TOKEN_FILE")
                .or_else(|| env.get("QUARRY_WEB_IDENTITY_TOKEN_FILE"))?,
        );
        let session_name = env
            .get("AWS_ROLE_SESSION_NAME")
            .unwrap_or_else(|| default_session_name(env));
        Some(WebIdentity {
            token_file,
            role_arn: env.get("AWS_ROLE_ARN"),
            session_name,
            sts_endpoint: env
                .get("AWS_ENDPOINT_URL_STS")
                .or_else(|| s3_endpoint.map(str::to_string)),
            region: region.to_string(),
            timeouts: STS_TIMEOUTS,
        })
    }

    /// The same exchange with other bounds (tests use short ones).
    #[cfg(test)]
    pub(crate) fn with_timeouts(mut self, timeouts: crate::S3Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// The token file as `%s3 whoami` and `api/whoami` show it: when the
    /// token in it expires (its `exp` claim, read without verifying — STS
    /// verifies). A token past its expiry means whatever keeps the file
    /// fresh (the hub's token refresher) has stopped replacing it, and S3
    /// keys cannot be renewed once the current ones end.
    pub(crate) fn token_file_state(&self) -> TokenFileState {
        let expires_at = std::fs::read_to_string(&self.token_file)
            .ok()
            .and_then(|token| jwt_expiry(token.trim()));
        TokenFileState {
            path: self.token_file.clone(),
            expires_at,
        }
    }

    pub(crate) fn describe(&self) -> String {
        format!("the web identity token in {}", self.token_file.display())
    }

    /// Exchanges the current token for credentials. Errors are one phrase
    /// suitable for "renewing them failed (…)".
    pub(crate) async fn fetch(&self) -> Result<Credentials, String> {
        let token = std::fs::read_to_string(&self.token_file)
            .map_err(|e| format!("cannot read {}: {e}", self.token_file.display()))?;
        let token = token.trim();
        if token.is_empty() {
            return Err(format!("{} is empty", self.token_file.display()));
        }
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(self.timeouts.connect)
            .operation_attempt_timeout(self.timeouts.attempt)
            .operation_timeout(self.timeouts.operation)
            .build();
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .timeout_config(timeouts)
            // The provider retries failed renewals itself (1, 2, 4 … 30 s)
            // while the current keys are served; one quick retry here is
            // enough for a blip, and a failure is known (and shown by
            // whoami) in well under a second instead of after three.
            .retry_config(
                aws_config::retry::RetryConfig::standard()
                    .with_max_attempts(2)
                    .with_initial_backoff(std::time::Duration::from_millis(200)),
            )
            .no_credentials();
        if let Some(endpoint) = &self.sts_endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let client = aws_sdk_sts::Client::new(&loader.load().await);
        let response = client
            .assume_role_with_web_identity()
            .set_role_arn(self.role_arn.clone())
            .role_session_name(&self.session_name)
            .web_identity_token(token)
            .send()
            .await
            .map_err(|e| {
                let service = e.as_service_error().and_then(|s| {
                    use aws_sdk_sts::error::ProvideErrorMetadata as _;
                    s.message()
                        .map(str::to_string)
                        .or_else(|| s.code().map(str::to_string))
                });
                match service {
                    Some(message) => format!("STS refused the token: {message}"),
                    None => format!("could not reach STS: {}", short(&e.to_string())),
                }
            })?;
        let creds = response
            .credentials()
            .ok_or_else(|| "STS answered without credentials".to_string())?;
        let expiration = DateTime::<Utc>::from_timestamp(creds.expiration().secs(), 0);
        Ok(Credentials::new(
            creds.access_key_id(),
            creds.secret_access_key(),
            Some(creds.session_token().to_string()),
            expiration,
        ))
    }
}

/// `quarry-<user>`: STS wants 2–64 characters of `[\w+=,.@-]`, and a user
/// name makes server-side audit logs readable.
fn default_session_name(env: &Env) -> String {
    let user = env
        .get("JUPYTERHUB_USER")
        .or_else(|| env.get("USER"))
        .unwrap_or_else(|| "user".into());
    let clean: String = user
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut name = format!("quarry-{clean}");
    name.truncate(64);
    name
}

fn short(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or(text)
        .chars()
        .take(160)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: serde_json::Value) -> String {
        use base64::Engine as _;
        let encode = |v: &serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        format!(
            "{}.{}.signature",
            encode(&serde_json::json!({"alg": "RS256"})),
            encode(&claims)
        )
    }

    #[test]
    fn a_token_the_refresher_stopped_replacing_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        let env = Env::from_pairs([("AWS_WEB_IDENTITY_TOKEN_FILE", file.to_str().unwrap())]);
        let source = WebIdentity::from_env(&env, None, "us-east-1").unwrap();
        let now = Utc::now();
        std::fs::write(
            &file,
            jwt(serde_json::json!({"exp": now.timestamp() + 600})),
        )
        .unwrap();
        let fresh = source.token_file_state();
        assert_eq!(fresh.expires_at.unwrap().timestamp(), now.timestamp() + 600);
        assert_eq!(fresh.stale_warning(now), None);
        std::fs::write(&file, jwt(serde_json::json!({"exp": 1_700_000_000}))).unwrap();
        let warning = source.token_file_state().stale_warning(now).unwrap();
        assert_eq!(
            warning,
            format!(
                "The ID token in {} expired at 2023-11-14 22:13:20 UTC and has not been replaced, so S3 keys cannot be renewed after the current ones end; the token refresher may be failing (a full disk, or the hub unreachable): see the Jupyter server log.",
                file.display()
            )
        );
        std::fs::write(&file, "not a jwt").unwrap();
        assert_eq!(source.token_file_state().expires_at, None);
    }

    #[test]
    fn reads_the_contract_and_falls_back_to_the_s3_endpoint() {
        let env = Env::from_pairs([
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/secrets/token"),
            ("JUPYTERHUB_USER", "ada lovelace"),
        ]);
        let wi = WebIdentity::from_env(&env, Some("http://minio:9000"), "us-east-1").unwrap();
        assert_eq!(wi.sts_endpoint.as_deref(), Some("http://minio:9000"));
        assert_eq!(wi.role_arn, None);
        assert_eq!(wi.session_name, "quarry-ada-lovelace");
        let env = Env::from_pairs([
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"),
            ("AWS_ENDPOINT_URL_STS", "http://sts:1"),
            ("AWS_ROLE_ARN", "arn:aws:iam::1:role/x"),
        ]);
        let wi = WebIdentity::from_env(&env, Some("http://minio:9000"), "us-east-1").unwrap();
        assert_eq!(wi.sts_endpoint.as_deref(), Some("http://sts:1"));
        assert_eq!(wi.role_arn.as_deref(), Some("arn:aws:iam::1:role/x"));
        assert!(WebIdentity::from_env(&Env::from_pairs([]), None, "us-east-1").is_none());
    }

    /// An STS that accepts and never answers: the exchange gives up within
    /// its timeouts and says STS could not be reached.
    #[tokio::test]
    async fn a_silent_sts_is_given_up_on_in_time() {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let token = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(token.path(), "a.b.c").unwrap();
        let path = token.path().display().to_string();
        let env = Env::from_pairs([("AWS_WEB_IDENTITY_TOKEN_FILE", path.as_str())]);
        let mut wi = WebIdentity::from_env(&env, Some(&endpoint), "us-east-1").unwrap();
        wi.timeouts = crate::S3Timeouts {
            connect: std::time::Duration::from_secs(1),
            attempt: std::time::Duration::from_secs(1),
            operation: std::time::Duration::from_secs(2),
        };
        let started = std::time::Instant::now();
        let err = tokio::time::timeout(std::time::Duration::from_secs(60), wi.fetch())
            .await
            .expect("the STS call hung past its timeouts")
            .unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        assert!(err.starts_with("could not reach STS"), "{err}");
        server.abort();
    }

    #[tokio::test]
    async fn a_missing_token_file_is_explained() {
        let env = Env::from_pairs([("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/quarry-token")]);
        let wi = WebIdentity::from_env(&env, None, "us-east-1").unwrap();
        let err = wi.fetch().await.unwrap_err();
        assert!(
            err.starts_with("cannot read /nonexistent/quarry-token"),
            "{err}"
        );
    }
}
