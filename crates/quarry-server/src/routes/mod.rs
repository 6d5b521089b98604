//! Handlers, one module per family of routes.

pub(crate) mod browse;
pub(crate) mod copy;
pub(crate) mod preview;
pub(crate) mod transfer;
pub(crate) mod whoami;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use crate::{ApiError, AppState};

impl AppState {
    pub(crate) fn endpoint(&self) -> String {
        self.s3.settings().endpoint_display()
    }

    /// HEAD of an object; a missing one is a clear 404 (S3's DELETE and
    /// presigned links would not say so).
    pub(crate) async fn head_object(
        &self,
        bucket: &str,
        key: &str,
        url: &str,
    ) -> Result<aws_sdk_s3::operation::head_object::HeadObjectOutput, ApiError> {
        self.s3
            .client()
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| self.sdk_error(&e, url))
    }

    /// Explains an SDK failure for `place` as an API error.
    pub(crate) fn sdk_error<E>(
        &self,
        err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
        place: &str,
    ) -> ApiError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let failure = quarry_s3::explain_sdk_failure(err, place, &self.endpoint());
        let conflict = matches!(
            err.code(),
            Some("BucketNotEmpty" | "BucketAlreadyExists" | "OperationAborted")
        );
        if conflict {
            return ApiError::conflict(failure.message);
        }
        ApiError::from_failure(failure)
    }
}
