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
    CredentialsExpired {
        expired_at: DateTime<Utc>,
        /// Why renewal failed, when a refreshable source exists.
        renewal: Option<String>,
    },

    #[error("Could not get S3 credentials: {reason}.")]
    RenewalFailed { reason: String },

    #[error("'{url}' is not an S3 URL: write it as s3://bucket/path.")]
    NotAnS3Url { url: String },

    #[error("'{bucket}' is not a valid bucket name: {reason}.")]
    InvalidBucketName {
        bucket: String,
        reason: &'static str,
    },

    #[error("Could not set up the S3 client for bucket '{bucket}': {message}.")]
    Client { bucket: String, message: String },
}
