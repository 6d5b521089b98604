//! The one place quarry-server reads another library's wording: axum's
//! query-string rejection, "Failed to deserialize query string: {serde's
//! reason}", of which the panel shows serde's reason in a sentence of its
//! own. The test in `query` makes axum reject a real request.

/// serde's reason inside axum's rejection text (the whole text if axum
/// words it differently).
pub(crate) fn query_rejection_reason(text: &str) -> &str {
    text.strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(text)
        .trim_end_matches('.')
}
