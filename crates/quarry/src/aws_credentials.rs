//! `quarry aws-credentials`: S3 credentials for every AWS SDK in the pod —
//! boto3 and the aws CLI, pandas through s3fs, polars, pyarrow — as the
//! `credential_process` of an AWS config file (`AWS_CONFIG_FILE`):
//!
//! ```ini
//! [default]
//! credential_process = /usr/local/bin/quarry aws-credentials
//! ```
//!
//! It makes the same web-identity exchange the kernel and the panel make
//! (the token file the hub keeps fresh, MinIO's claim mode or a role) and
//! prints the keys in the process-credential format the SDKs read; each SDK
//! runs it again before the keys expire. Nothing is written to disk and
//! nothing is logged but the one sentence of a refusal, which the SDK shows
//! in its own error.

use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use quarry_s3::CredentialsProvider;

use crate::config::Environment;

#[derive(Args, Debug, Clone)]
pub struct AwsCredentialsArgs {
    /// Assume this role with the web identity token: for S3 servers that
    /// need one while the pod's environment names none (MinIO's claim mode
    /// needs none; `AWS_ROLE_ARN`, when set, is used otherwise).
    #[arg(long, value_name = "ARN")]
    role_arn: Option<String>,
}

pub fn run(env: &Environment, args: &AwsCredentialsArgs) -> anyhow::Result<()> {
    let mut s3 = env.s3();
    if let Some(role) = &args.role_arn {
        s3.set("AWS_ROLE_ARN", role);
    }
    let provider = Arc::new(CredentialsProvider::from_env(&s3));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the runtime")?;
    let credentials = runtime
        .block_on(provider.current())
        .context("no S3 credentials")?;
    println!("{}", process_credentials(&credentials));
    Ok(())
}

/// The `credential_process` answer: version 1, the keys, and when they end
/// (absent for keys that do not expire).
fn process_credentials(credentials: &quarry_s3::Credentials) -> serde_json::Value {
    let mut answer = serde_json::json!({
        "Version": 1,
        "AccessKeyId": credentials.access_key_id,
        "SecretAccessKey": credentials.secret_access_key(),
    });
    if let Some(token) = credentials.session_token() {
        answer["SessionToken"] = token.into();
    }
    if let Some(expiration) = credentials.expiration {
        answer["Expiration"] = expiration
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            .into();
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::process_credentials;
    use chrono::TimeZone as _;

    #[test]
    fn the_answer_is_what_sdks_read() {
        let expiry = chrono::Utc.with_ymd_and_hms(2026, 12, 7, 18, 0, 0).unwrap();
        let temporary = quarry_s3::Credentials::new("AK", "SK", Some("TOKEN".into()), Some(expiry));
        assert_eq!(
            process_credentials(&temporary),
            serde_json::json!({"Version": 1, "AccessKeyId": "AK", "SecretAccessKey": "SK",
                               "SessionToken": "TOKEN", "Expiration": "2026-12-07T18:00:00Z"})
        );
        let fixed = quarry_s3::Credentials::new("AK", "SK", None, None);
        assert_eq!(
            process_credentials(&fixed),
            serde_json::json!({"Version": 1, "AccessKeyId": "AK", "SecretAccessKey": "SK"})
        );
    }
}
