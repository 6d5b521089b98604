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
pub use web_identity::TokenFileState;
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
    /// Why the last STS renewal failed, while renewals keep failing (the
    /// current keys are still served until they expire).
    pub renewal_failing: Option<String>,
}

impl Identity {
    /// One sentence for a user while renewals fail, before the keys run
    /// out: what failed, until when the current keys work, that Quarry
    /// retries.
    pub fn renewal_warning(&self) -> Option<String> {
        let reason = self.renewal_failing.as_deref()?;
        let until = match self.expiration {
            Some(at) => format!("until {}", at.format("%H:%M:%S UTC")),
            None => "for now".into(),
        };
        Some(format!(
            "Renewing the S3 credentials is failing ({}); the current keys work {until}, and Quarry keeps retrying.",
            reason.trim_end_matches('.')
        ))
    }
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
/// at STS.
///
/// The STS exchange never holds up a request that current keys can serve:
/// once keys are due for renewal, one background task asks STS while every
/// caller keeps getting the current keys; only callers with no valid keys
/// at all wait for it (one exchange for all of them, bounded by the STS
/// timeouts). No lock is held across the exchange, and after a failure the
/// next attempt waits 1, 2, 4 … 30 s.
#[derive(Debug)]
pub struct CredentialsProvider {
    state: std::sync::Mutex<State>,
    /// Woken when a background renewal ends, either way.
    renewed: tokio::sync::Notify,
    profile_file: Option<ProfileFile>,
    web_identity: Option<WebIdentity>,
}

#[derive(Debug, Default)]
struct State {
    current: Option<Held>,
    /// The credentials file's mtime when last read.
    profile_seen: Option<SystemTime>,
    renewal: Renewal,
}

/// The background STS exchange: whether one runs, and how the last went.
#[derive(Debug, Default)]
struct Renewal {
    in_flight: bool,
    failures: u32,
    last_failure: Option<String>,
    retry_at: Option<std::time::Instant>,
}

impl Renewal {
    fn may_start(&self) -> bool {
        !self.in_flight
            && self
                .retry_at
                .is_none_or(|at| std::time::Instant::now() >= at)
    }

    fn failed(&mut self, reason: String) {
        self.failures += 1;
        let wait = std::time::Duration::from_secs(1 << self.failures.min(5).saturating_sub(1));
        self.retry_at = Some(std::time::Instant::now() + wait.min(MAX_BACKOFF));
        self.last_failure = Some(reason);
    }
}

/// The longest wait between failed STS exchanges.
const MAX_BACKOFF: std::time::Duration = std::time::Duration::from_secs(30);
/// How long a caller without valid keys waits for a running exchange: the
/// exchange's own timeouts (30 s) and a margin.
const WAIT_FOR_RENEWAL: std::time::Duration = std::time::Duration::from_secs(40);

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

/// What a caller gets, decided under the state lock without waiting.
enum Next {
    Serve(Credentials),
    ServeAndRenew(Credentials),
    Wait,
    Fail(S3Error),
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
        Self::with(
            initial.map(|credentials| Held {
                credentials,
                obtained_at: Utc::now(),
                source: "environment",
            }),
            profile_file,
            web_identity,
        )
    }

    fn with(
        current: Option<Held>,
        profile_file: Option<ProfileFile>,
        web_identity: Option<WebIdentity>,
    ) -> Self {
        CredentialsProvider {
            state: std::sync::Mutex::new(State {
                current,
                ..State::default()
            }),
            renewed: tokio::sync::Notify::new(),
            profile_file,
            web_identity,
        }
    }

    /// A provider that always hands out `credentials`.
    pub fn fixed(credentials: Credentials) -> Self {
        Self::with(
            Some(Held {
                credentials,
                obtained_at: Utc::now(),
                source: "fixed",
            }),
            None,
            None,
        )
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere cannot leave the state half-written: every
        // update is a single assignment.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Credentials valid now, or the reason there are none. Keys due for
    /// renewal are still served while a background exchange replaces them.
    pub async fn current(self: &Arc<Self>) -> Result<Credentials, S3Error> {
        match self.decide() {
            Next::Serve(credentials) => Ok(credentials),
            Next::ServeAndRenew(credentials) => {
                self.renew_in_background();
                Ok(credentials)
            }
            Next::Fail(error) => Err(error),
            Next::Wait => self.wait_for_renewal().await,
        }
    }

    fn decide(&self) -> Next {
        let mut state = self.state();
        let now = Utc::now();
        let file_failure = self.reread_changed_file(&mut state);
        match &state.current {
            Some(held) if !held.due(now) => return Next::Serve(held.credentials.clone()),
            Some(held) if !held.credentials.is_expired_at(now) => {
                if self.web_identity.is_some() {
                    return Next::ServeAndRenew(held.credentials.clone());
                }
                if let Some(reason) = &file_failure {
                    tracing::warn!(
                        "could not renew S3 credentials yet ({reason}); using the current ones"
                    );
                }
                return Next::Serve(held.credentials.clone());
            }
            _ => {}
        }
        if self.web_identity.is_some() && (state.renewal.may_start() || state.renewal.in_flight) {
            return Next::Wait;
        }
        let reason = file_failure.or_else(|| state.renewal.last_failure.clone());
        Next::Fail(failure(&state, reason))
    }

    /// Re-reads the credentials file when it changed; the reason when it
    /// holds nothing usable.
    fn reread_changed_file(&self, state: &mut State) -> Option<String> {
        let file = self.profile_file.as_ref()?;
        let modified = file.modified()?;
        if Some(modified) == state.profile_seen {
            return None;
        }
        state.profile_seen = Some(modified);
        match file.read() {
            Ok(credentials) if !credentials.is_expired_at(Utc::now()) => {
                tracing::info!("using S3 credentials from {}", file.describe());
                state.current = Some(Held {
                    credentials,
                    obtained_at: Utc::now(),
                    source: "credentials file",
                });
                None
            }
            Ok(_) => Some(format!("{} holds expired credentials", file.describe())),
            Err(e) => Some(e),
        }
    }

    /// Starts the STS exchange unless one runs or the last failed too
    /// recently; its result replaces the held credentials.
    fn renew_in_background(self: &Arc<Self>) {
        let Some(web_identity) = self.web_identity.clone() else {
            return;
        };
        {
            let mut state = self.state();
            if !state.renewal.may_start() {
                return;
            }
            state.renewal.in_flight = true;
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let result = web_identity.fetch().await;
            {
                let mut state = this.state();
                state.renewal.in_flight = false;
                match result {
                    Ok(credentials) => {
                        tracing::info!(expires = ?credentials.expiration, "renewed S3 credentials from {}", web_identity.describe());
                        state.current = Some(Held {
                            credentials,
                            obtained_at: Utc::now(),
                            source: "web identity",
                        });
                        state.renewal = Renewal::default();
                    }
                    Err(reason) => {
                        tracing::warn!("could not renew S3 credentials ({reason})");
                        state.renewal.failed(reason);
                    }
                }
            }
            this.renewed.notify_waiters();
        });
    }

    /// For callers with no valid keys: waits for the exchange (starting it
    /// if none runs), then answers from what it left.
    async fn wait_for_renewal(self: &Arc<Self>) -> Result<Credentials, S3Error> {
        let notified = self.renewed.notified();
        tokio::pin!(notified);
        // Registered before the exchange can finish, so its wake-up is not missed.
        notified.as_mut().enable();
        let running = self.state().renewal.in_flight;
        if !running {
            self.renew_in_background();
        }
        let _ = tokio::time::timeout(WAIT_FOR_RENEWAL, notified).await;
        let state = self.state();
        match &state.current {
            Some(held) if !held.credentials.is_expired_at(Utc::now()) => {
                Ok(held.credentials.clone())
            }
            _ => Err(failure(&state, state.renewal.last_failure.clone())),
        }
    }

    /// The web identity token file renewals exchange, if one is configured.
    pub fn token_file(&self) -> Option<TokenFileState> {
        self.web_identity
            .as_ref()
            .map(WebIdentity::token_file_state)
    }

    /// What may be shown about the current credentials.
    pub async fn identity(&self) -> Option<Identity> {
        let state = self.state();
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
            renewal_failing: state.renewal.last_failure.clone(),
        })
    }
}

/// The error for having no valid keys: expired ones (saying why renewal
/// failed, when it was tried) or none at all.
fn failure(state: &State, reason: Option<String>) -> S3Error {
    match (&state.current, reason) {
        (Some(held), reason) => S3Error::CredentialsExpired {
            expired_at: held.credentials.expiration.unwrap_or_else(Utc::now),
            renewal: reason,
        },
        (None, Some(reason)) => S3Error::RenewalFailed { reason },
        (None, None) => S3Error::NoCredentials,
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
mod tests;
