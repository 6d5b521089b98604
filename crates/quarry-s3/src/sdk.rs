//! An AWS SDK S3 client for what `object_store` does not do (listing
//! buckets, sizes per page, deletes in batches), signing with the same
//! shared credentials as every object store.

use std::sync::Arc;

use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, future};
use aws_sdk_s3::config::{IdentityCache, Region, retry::RetryConfig, timeout::TimeoutConfig};

use crate::{CredentialsProvider, S3Settings};

/// Builds the SDK client for `settings`, addressing `endpoint` (the
/// settings' own, or the public one for presigned links).
pub(crate) fn client(
    settings: &S3Settings,
    endpoint: Option<&str>,
    credentials: Arc<CredentialsProvider>,
) -> aws_sdk_s3::Client {
    let mut config = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .region(Region::new(settings.region.clone()))
        .force_path_style(settings.path_style)
        .credentials_provider(SdkCredentials(credentials))
        // The provider renews ahead of expiry itself; an SDK-side cache
        // would hold on to keys the provider has already replaced.
        .identity_cache(IdentityCache::no_cache())
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(settings.timeouts.connect)
                .operation_attempt_timeout(settings.timeouts.attempt)
                .operation_timeout(settings.timeouts.operation)
                .build(),
        );
    if let Some(endpoint) = endpoint {
        config = config.endpoint_url(endpoint);
    }
    aws_sdk_s3::Client::from_conf(config.build())
}

#[derive(Debug)]
struct SdkCredentials(Arc<CredentialsProvider>);

impl ProvideCredentials for SdkCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            let creds = self
                .0
                .current()
                .await
                .map_err(CredentialsError::provider_error)?;
            Ok(aws_credential_types::Credentials::new(
                creds.access_key_id.clone(),
                creds.secret().to_string(),
                creds.token().map(str::to_string),
                creds.expiration.map(std::time::SystemTime::from),
                "quarry",
            ))
        })
    }
}
