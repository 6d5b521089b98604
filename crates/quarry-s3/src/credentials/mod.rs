//! Credentials: where they come from, when they expire, and how object
//! stores ask for them.
//!
//! Object stores never hold a copy of the keys: they ask the shared
//! [`CredentialsProvider`] before each request, so a provider that renews
//! credentials is picked up by every store without rebuilding it.

mod profile_file;
mod web_identity;

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use object_store::aws::AwsCredential;

use crate::{Env, S3Error};
use profile_file::ProfileFile;
use web_identity::WebIdentity;

/// A set of S3 credentials. `Debug` never prints the secret or the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id (shown only abbreviated).
    pub access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    /// When temporary credentials stop working, if known.
    pub expiration: Option<DateTime<Utc>>,
}

impl Credentials {
    /// Credentials from their parts; `session_token` marks them temporary.
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

    /// The secret key, for handing to a child process that signs for itself
    /// (Spark's S3A). Never log or display it.
    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    /// The session token of temporary credentials; a secret like the key.
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }

    pub(crate) fn secret(&self) -> &str {
        &self.secret_access_key
    }

    pub(crate) fn token(&self) -> Option<&str> {
        self.session_token.as_deref()
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
    /// When the current keys expire, if they do.
    pub expiration: Option<DateTime<Utc>>,
    /// Where the credentials came from, e.g. `environment`.
    pub source: &'static str,
    /// Whether Quarry can renew them itself (token file or credentials file).
    pub renewable: bool,
}

/// Keeps enough of an access key id to recognise it, never all of it.
fn abbreviate(key_id: &str) -> String {
    let shown: String = key_id.chars().take(4).collect();
    format!("{shown}…")
}

/// The one place every S3 caller gets credentials from.
///
/// It starts from the static environment (`AWS_ACCESS_KEY_ID`, …,
/// `AWS_CREDENTIAL_EXPIRATION`), as JupyterHub's pre-spawn hook injects
/// them, and renews them ahead of expiry from the refreshable sources the
/// environment names, in the AWS SDKs' order: the shared credentials file
/// (re-read whenever it changes), then a web identity token file exchanged
/// at STS. Renewal is single-flight: concurrent requests wait for one STS
/// call instead of each making their own.
#[derive(Debug)]
pub struct CredentialsProvider {
    state: tokio::sync::Mutex<State>,
    profile_file: Option<ProfileFile>,
    web_identity: Option<WebIdentity>,
}

#[derive(Debug, Default)]
struct State {
    current: Option<Held>,
    /// The credentials file's mtime when last read.
    profile_seen: Option<SystemTime>,
}

#[derive(Debug, Clone)]
struct Held {
    credentials: Credentials,
    obtained_at: DateTime<Utc>,
    source: &'static str,
}

/// Renew this long before expiry at most...
const MAX_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

impl Held {
    /// Whether to renew now: within five minutes of expiry, or within the
    /// last fifth of the credentials' life for short-lived ones.
    fn due(&self, now: DateTime<Utc>) -> bool {
        let Some(expiration) = self.credentials.expiration else {
            return false;
        };
        let lifetime = expiration - self.obtained_at;
        let margin = std::cmp::min(MAX_MARGIN, lifetime / 5);
        now + margin >= expiration
    }
}

impl CredentialsProvider {
    /// Reads the credentials contract from `env`.
    ///
    /// A malformed `AWS_CREDENTIAL_EXPIRATION` is logged and ignored rather
    /// than failing every query: the server still enforces the real expiry.
    pub fn from_env(env: &Env) -> Self {
        let settings = crate::S3Settings::from_env(env);
        let web_identity =
            WebIdentity::from_env(env, settings.endpoint.as_deref(), &settings.region);
        let profile_file = ProfileFile::from_env(env);
        let initial = match (
            env.get("AWS_ACCESS_KEY_ID"),
            env.get("AWS_SECRET_ACCESS_KEY"),
        ) {
            (Some(key_id), Some(secret)) => {
                let expiration = env.get("AWS_CREDENTIAL_EXPIRATION").and_then(|raw| {
                    DateTime::parse_from_rfc3339(raw.trim())
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|e| {
                            tracing::warn!(
                                "ignoring AWS_CREDENTIAL_EXPIRATION that is not RFC 3339: {e}"
                            )
                        })
                        .ok()
                });
                Some(Credentials::new(
                    key_id,
                    secret,
                    env.get("AWS_SESSION_TOKEN"),
                    expiration,
                ))
            }
            _ => None,
        };
        CredentialsProvider {
            state: tokio::sync::Mutex::new(State {
                current: initial.map(|credentials| Held {
                    credentials,
                    obtained_at: Utc::now(),
                    source: "environment",
                }),
                profile_seen: None,
            }),
            profile_file,
            web_identity,
        }
    }

    /// A provider that always hands out `credentials`.
    pub fn fixed(credentials: Credentials) -> Self {
        CredentialsProvider {
            state: tokio::sync::Mutex::new(State {
                current: Some(Held {
                    credentials,
                    obtained_at: Utc::now(),
                    source: "fixed",
                }),
                profile_seen: None,
            }),
            profile_file: None,
            web_identity: None,
        }
    }

    /// Credentials valid now (renewed first if they are about to expire),
    /// or the reason there are none.
    pub async fn current(&self) -> Result<Credentials, S3Error> {
        let mut state = self.state.lock().await;
        let now = Utc::now();
        let profile_changed = self.profile_file.as_ref().is_some_and(|f| {
            let modified = f.modified();
            modified.is_some() && modified != state.profile_seen
        });
        let due = match &state.current {
            None => true,
            Some(held) => held.due(now),
        };
        if !(due || profile_changed) {
            return Ok(state
                .current
                .as_ref()
                .expect("checked above")
                .credentials
                .clone());
        }
        let renewal = self.renew(&mut state).await;
        match (&renewal, &state.current) {
            (Ok(()), Some(held)) => return Ok(held.credentials.clone()),
            (Err(reason), Some(held)) if !held.credentials.is_expired_at(now) => {
                // Still valid for a while: keep working, try again next time.
                if reason != NOTHING_TO_RENEW_WITH {
                    tracing::warn!(
                        "could not renew S3 credentials yet ({reason}); using the current ones"
                    );
                }
                return Ok(held.credentials.clone());
            }
            _ => {}
        }
        match (&state.current, renewal) {
            (Some(held), Err(reason)) => Err(S3Error::CredentialsExpired {
                expired_at: held.credentials.expiration.unwrap_or(now),
                renewal: (reason != NOTHING_TO_RENEW_WITH).then_some(reason),
            }),
            (None, Err(reason)) if reason != NOTHING_TO_RENEW_WITH => {
                Err(S3Error::RenewalFailed { reason })
            }
            _ => Err(S3Error::NoCredentials),
        }
    }

    /// Tries each refreshable source in order; on success replaces the
    /// held credentials.
    async fn renew(&self, state: &mut State) -> Result<(), String> {
        let mut failures = Vec::new();
        if let Some(file) = &self.profile_file
            && let Some(modified) = file.modified()
        {
            match file.read() {
                Ok(credentials) if !credentials.is_expired_at(Utc::now()) => {
                    state.profile_seen = Some(modified);
                    tracing::info!("using S3 credentials from {}", file.describe());
                    state.current = Some(Held {
                        credentials,
                        obtained_at: Utc::now(),
                        source: "credentials file",
                    });
                    return Ok(());
                }
                Ok(_) => failures.push(format!("{} holds expired credentials", file.describe())),
                Err(e) => failures.push(e),
            }
            state.profile_seen = Some(modified);
        }
        if let Some(web_identity) = &self.web_identity {
            match web_identity.fetch().await {
                Ok(credentials) => {
                    tracing::info!(
                        expires = ?credentials.expiration,
                        "renewed S3 credentials from {}",
                        web_identity.describe()
                    );
                    state.current = Some(Held {
                        credentials,
                        obtained_at: Utc::now(),
                        source: "web identity",
                    });
                    return Ok(());
                }
                Err(e) => failures.push(e),
            }
        }
        if failures.is_empty() {
            Err(NOTHING_TO_RENEW_WITH.to_string())
        } else {
            Err(failures.join("; "))
        }
    }

    /// What may be shown about the current credentials.
    pub async fn identity(&self) -> Option<Identity> {
        let state = self.state.lock().await;
        let held = state.current.as_ref()?;
        Some(Identity {
            access_key_hint: abbreviate(&held.credentials.access_key_id),
            temporary: held.credentials.session_token.is_some(),
            expiration: held.credentials.expiration,
            source: held.source,
            renewable: self.web_identity.is_some()
                || self
                    .profile_file
                    .as_ref()
                    .is_some_and(|f| f.modified().is_some()),
        })
    }
}

/// The reason `renew` gives when no refreshable source is configured.
const NOTHING_TO_RENEW_WITH: &str = "no refreshable source";

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
        let identity = provider.identity().await.unwrap();
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

    #[tokio::test]
    async fn malformed_expiry_is_ignored() {
        let provider = CredentialsProvider::from_env(&env_with_expiry("tomorrow"));
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
        let provider = CredentialsProvider::from_env(&Env::from_pairs([
            ("AWS_ACCESS_KEY_ID", "ENVKEY"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_SHARED_CREDENTIALS_FILE", path),
        ]));
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
        let provider = CredentialsProvider::from_env(&Env::from_pairs([
            ("AWS_ACCESS_KEY_ID", "k"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_CREDENTIAL_EXPIRATION", "2001-01-01T00:00:00Z"),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token"),
        ]));
        let message = provider.current().await.unwrap_err().to_string();
        assert!(message.contains("2001-01-01 00:00:00 UTC"), "{message}");
        assert!(message.contains("/nonexistent/token"), "{message}");
    }
}
