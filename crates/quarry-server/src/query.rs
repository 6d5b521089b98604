//! Query parameters that do not parse are API errors like any other (JSON,
//! one sentence), not axum's plain-text rejection the panel cannot show.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::ApiError;

/// `Query<T>` whose rejection is a 400 [`ApiError`].
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => {
                let text = rejection.body_text();
                let why = crate::upstream::query_rejection_reason(&text);
                Err(ApiError::bad_request(format!(
                    "The request's parameters are not valid: {why}."
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::extract::FromRequestParts as _;

    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Page {
        #[allow(dead_code)]
        limit: u32,
    }

    /// axum's real rejection of a bad query string becomes one sentence
    /// with serde's reason and none of axum's wording.
    #[tokio::test]
    async fn axums_rejection_is_reworded() {
        let request = axum::http::Request::builder()
            .uri("/api/objects?limit=lots")
            .body(())
            .unwrap();
        let (mut parts, ()) = request.into_parts();
        let Err(error) = ApiQuery::<Page>::from_request_parts(&mut parts, &()).await else {
            panic!("limit=lots must be refused");
        };
        let message = error.message;
        assert!(
            message.starts_with("The request's parameters are not valid: limit: invalid digit"),
            "{message}"
        );
        assert!(!message.contains("Failed to deserialize"), "{message}");
        assert!(
            message.ends_with('.') && !message.ends_with(".."),
            "{message}"
        );
    }
}
