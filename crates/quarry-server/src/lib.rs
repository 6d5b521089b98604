//! The backend of JupyterLab's S3 panel (`quarry serve`).
//!
//! Jupyter Server starts it through jupyter-server-proxy on a Unix socket
//! and forwards `/quarry/…` to it after checking the user's Jupyter login.
//! The proxy does not check XSRF, so [`xsrf`] does. All S3 access uses the
//! same credentials module as the kernel (`quarry-s3`), so the panel keeps
//! working when credentials renew.

#![warn(missing_docs)]

mod api;
mod error;
mod query;
mod responses;
mod routes;
mod uploads;
mod upstream;
mod validate;
mod xsrf;

use std::path::Path;
use std::sync::Arc;

pub use api::OPENAPI;
pub use error::ApiError;

use quarry_s3::S3Stores;
use quarry_sql::SqlSession;

/// What every handler needs.
#[derive(Clone)]
pub struct AppState {
    pub(crate) s3: Arc<S3Stores>,
    /// For table previews of CSV/Parquet/JSON objects.
    pub(crate) sql: SqlSession,
    pub(crate) uploads: Arc<uploads::Uploads>,
    /// The user's name on the hub (`JUPYTERHUB_USER`, read by the binary).
    pub(crate) hub_user: Option<String>,
}

impl AppState {
    /// State over the user's S3 stores and a SQL session for previews.
    pub fn new(s3: Arc<S3Stores>, sql: SqlSession) -> Self {
        AppState {
            s3,
            sql,
            uploads: Arc::new(uploads::Uploads::default()),
            hub_user: None,
        }
    }

    /// The same, on a hub where the user is `user`.
    pub fn with_hub_user(mut self, user: Option<String>) -> Self {
        self.hub_user = user;
        self
    }

    /// The same, with uploads buffering at most `bytes` in all (503 past it).
    pub fn with_upload_buffer(mut self, bytes: usize) -> Self {
        self.uploads = Arc::new(uploads::Uploads::with_limit(bytes));
        self
    }
}

/// The full router. Routes are mounted both at `/` and under the proxy
/// prefix `/quarry/`, as jupyter-server-proxy may or may not strip it.
pub fn router(state: AppState) -> axum::Router {
    let api = api::routes();
    axum::Router::new()
        .nest("/quarry", api.clone())
        .merge(api)
        .layer(axum::middleware::from_fn(xsrf::check))
        .with_state(state)
}

/// Serves on a Unix socket (as jupyter-server-proxy launches it).
pub async fn serve_unix(path: &Path, state: AppState) -> std::io::Result<()> {
    let _ = std::fs::remove_file(path);
    let listener = tokio::net::UnixListener::bind(path)?;
    tracing::info!(socket = %path.display(), "quarry serve listening");
    tokio::spawn(uploads::reap_stale(Arc::clone(&state.uploads)));
    axum::serve(listener, router(state)).await
}

/// Serves on 127.0.0.1:`port` (for development and tests).
pub async fn serve_tcp(port: u16, state: AppState) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    tracing::info!(addr = %listener.local_addr()?, "quarry serve listening");
    tokio::spawn(uploads::reap_stale(Arc::clone(&state.uploads)));
    axum::serve(listener, router(state)).await
}
