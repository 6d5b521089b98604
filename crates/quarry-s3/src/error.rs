use chrono::{DateTime, Utc};

/// Why Quarry could not reach S3, phrased for the person at the notebook.
///
/// Every message is one sentence that names what failed and what to do, and
/// none of them contains a secret (only key ids are ever shown, abbreviated).
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error(
        "No S3 credentials are configured: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
         (plus AWS_SESSION_TOKEN for temporary credentials) in the kernel's environment."
    )]
    /// No credential source is configured.
    NoCredentials,

    #[error(
        "Your S3 credentials expired at {} and {}: restart your server from the \
         JupyterHub control panel to get fresh ones.",
        expired_at.format("%Y-%m-%d %H:%M:%S UTC"),
        match renewal {
            Some(reason) => format!("renewing them failed ({reason})"),
            None => "nothing can renew them".to_string(),
        }
    )]
    /// The keys expired and could not be renewed.
    CredentialsExpired {
        /// When they expired.
        expired_at: DateTime<Utc>,
        /// Why renewal failed, when a refreshable source exists.
        renewal: Option<String>,
    },

    /// A credential source failed to give keys.
    #[error("Could not get S3 credentials: {reason}.")]
    RenewalFailed {
        /// What the source said, without secrets.
        reason: String,
    },

    /// A location that is not `s3://…`.
    #[error("'{url}' is not an S3 URL: write it as s3://bucket/path.")]
    NotAnS3Url {
        /// The text as given.
        url: String,
    },

    #[error("'{bucket}' is not a valid bucket name: {reason}.")]
    /// A bucket name S3 would refuse.
    InvalidBucketName {
        /// The name as given.
        bucket: String,
        /// Which rule it breaks.
        reason: &'static str,
    },

    /// The object store for a bucket could not be built.
    #[error("Could not set up the S3 client for bucket '{bucket}': {message}.")]
    Client {
        /// The bucket.
        bucket: String,
        /// What the builder said.
        message: String,
    },
}
