//! Route table and the OpenAPI description that documents it.

use axum::Router;
use axum::routing::{get, post, put};

use crate::AppState;
use crate::routes::{browse, preview, transfer, whoami};

/// The OpenAPI 3.1 document for this API, kept in the repository next to
/// the code and served at `api/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/buckets", get(browse::buckets))
        .route("/api/objects", get(browse::objects))
        .route("/api/object", get(browse::object).delete(transfer::delete))
        .route("/api/preview", get(preview::preview))
        .route("/api/download", get(transfer::download))
        .route("/api/upload", put(transfer::upload))
        .route("/api/folder", post(transfer::folder))
        .route("/api/whoami", get(whoami::whoami))
        .route("/api/openapi.json", get(openapi))
}

async fn openapi() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
}
