//! Route table and the OpenAPI description that documents it.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};

use crate::AppState;
use crate::routes::{browse, copy, objects, preview, whoami};

/// The OpenAPI 3.1 document for this API, kept in the repository next to
/// the code and served at `api/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// The largest upload chunk accepted.
pub const MAX_CHUNK: usize = 64 << 20;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/buckets", get(browse::buckets))
        .route("/api/objects", get(browse::objects))
        .route("/api/object", get(browse::object).delete(objects::delete))
        .route("/api/preview", get(preview::preview))
        .route("/api/download", get(objects::download))
        // Chunks larger than axum's 2 MB default are fine; the proxy in
        // front buffers whole bodies, so keep them well below its limits.
        .route(
            "/api/upload",
            put(objects::upload)
                .delete(objects::cancel_upload)
                .layer(DefaultBodyLimit::max(MAX_CHUNK)),
        )
        .route("/api/copy", post(copy::copy))
        .route("/api/move", post(copy::rename))
        .route("/api/folder", post(objects::folder))
        .route("/api/whoami", get(whoami::whoami))
        .route("/api/openapi.json", get(openapi))
}

async fn openapi() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
}
