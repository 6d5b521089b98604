//! Credentials: where they come from, when they expire, and how object
//! stores ask for them.
//!
//! Object stores never hold a copy of the keys: they ask the shared
//! [`CredentialsProvider`] before each request, so a provider that renews
//! credentials is picked up by every store without rebuilding it.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use object_store::aws::AwsCredential;

use crate::{Env, S3Error};

/// A set of S3 credentials. `Debug` never prints the secret or the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    /// When temporary credentials stop working, if known.
    pub expiration: Option<DateTime<Utc>>,
}

impl Credentials {
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
        expiration: Option<DateTime<Utc>>,
    ) -> Self {
        Credentials {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token,
            expiration,
        }
    }

    /// Whether these credentials have passed their expiry at `now`.
    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expiration.is_some_and(|e| e <= now)
    }

    fn to_aws(&self) -> AwsCredential {
        AwsCredential {
            key_id: self.access_key_id.clone(),
            secret_key: self.secret_access_key.clone(),
            token: self.session_token.clone(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &abbreviate(&self.access_key_id))
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// What may be shown about the credentials in use (for `%s3 whoami`, logs
/// and the panel): never the secret or the session token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The first characters of the access key id, enough to tell keys apart.
    pub access_key_hint: String,
    /// Temporary (STS) credentials carry a session token.
    pub temporary: bool,
    pub expiration: Option<DateTime<Utc>>,
    /// Where the credentials came from, e.g. `environment`.
    pub source: &'static str,
}

/// Keeps enough of an access key id to recognise it, never all of it.
fn abbreviate(key_id: &str) -> String {
    let shown: String = key_id.chars().take(4).collect();
    format!("{shown}…")
}

/// The one place every S3 caller gets credentials from.
///
/// Today the source is the static environment (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_CREDENTIAL_EXPIRATION`),
/// as JupyterHub's pre-spawn hook injects them.
#[derive(Debug)]
pub struct CredentialsProvider {
    source: Source,
}

#[derive(Debug)]
enum Source {
    Static(Credentials),
    Missing,
}

impl CredentialsProvider {
    /// Reads the credentials contract from `env`.
    ///
    /// A malformed `AWS_CREDENTIAL_EXPIRATION` is logged and ignored rather
    /// than failing every query: the server still enforces the real expiry.
    pub fn from_env(env: &Env) -> Self {
        let (Some(key_id), Some(secret)) = (
            env.get("AWS_ACCESS_KEY_ID"),
            env.get("AWS_SECRET_ACCESS_KEY"),
        ) else {
            return CredentialsProvider {
                source: Source::Missing,
            };
        };
        let expiration = env.get("AWS_CREDENTIAL_EXPIRATION").and_then(|raw| {
            DateTime::parse_from_rfc3339(raw.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| {
                    tracing::warn!("ignoring AWS_CREDENTIAL_EXPIRATION that is not RFC 3339: {e}")
                })
                .ok()
        });
        CredentialsProvider::fixed(Credentials::new(
            key_id,
            secret,
            env.get("AWS_SESSION_TOKEN"),
            expiration,
        ))
    }

    /// A provider that always hands out `credentials`.
    pub fn fixed(credentials: Credentials) -> Self {
        CredentialsProvider {
            source: Source::Static(credentials),
        }
    }

    /// Credentials valid now, or the reason there are none.
    pub async fn current(&self) -> Result<Credentials, S3Error> {
        match &self.source {
            Source::Missing => Err(S3Error::NoCredentials),
            Source::Static(creds) => match creds.expiration {
                Some(expired_at) if creds.is_expired_at(Utc::now()) => {
                    Err(S3Error::CredentialsExpired { expired_at })
                }
                _ => Ok(creds.clone()),
            },
        }
    }

    /// What may be shown about the current credentials.
    pub fn identity(&self) -> Option<Identity> {
        match &self.source {
            Source::Missing => None,
            Source::Static(c) => Some(Identity {
                access_key_hint: abbreviate(&c.access_key_id),
                temporary: c.session_token.is_some(),
                expiration: c.expiration,
                source: "environment",
            }),
        }
    }
}

/// Adapts the provider to `object_store`, which asks before every request.
#[derive(Debug)]
pub(crate) struct ObjectStoreCredentials(pub(crate) Arc<CredentialsProvider>);

#[async_trait::async_trait]
impl object_store::CredentialProvider for ObjectStoreCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        match self.0.current().await {
            Ok(creds) => Ok(Arc::new(creds.to_aws())),
            Err(e) => Err(object_store::Error::Generic {
                store: "S3",
                source: Box::new(e),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
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
        let provider = CredentialsProvider::from_env(&env_with_expiry("2001-02-03T04:05:06Z"));
        let err = provider.current().await.unwrap_err();
        let message = err.to_string();
        assert!(message.contains("2001-02-03 04:05:06 UTC"), "{message}");
        assert!(!message.contains("very-secret-value"));
    }

    #[tokio::test]
    async fn valid_credentials_are_returned_with_the_token() {
        let provider = CredentialsProvider::from_env(&env_with_expiry("2999-01-01T00:00:00Z"));
        let creds = provider.current().await.unwrap();
        let aws = creds.to_aws();
        assert_eq!(aws.key_id, "AKIAEXAMPLEKEY");
        assert_eq!(aws.token.as_deref(), Some("session-token-value"));
        let identity = provider.identity().unwrap();
        assert!(identity.temporary);
        assert_eq!(identity.access_key_hint, "AKIA…");
    }

    #[tokio::test]
    async fn missing_credentials_say_which_variables_to_set() {
        let provider = CredentialsProvider::from_env(&Env::from_pairs([]));
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

    #[test]
    fn malformed_expiry_is_ignored() {
        let provider = CredentialsProvider::from_env(&env_with_expiry("tomorrow"));
        assert_eq!(provider.identity().unwrap().expiration, None);
    }
}
