use axum::Json;
use axum::extract::State;
use chrono::Utc;

use crate::responses::{CredentialsShown, IdTokenShown, WhoAmI};
use crate::{ApiError, AppState};

/// Who the panel acts as: never a secret, only a key hint.
pub async fn whoami(State(state): State<AppState>) -> Result<Json<WhoAmI>, ApiError> {
    let settings = state.s3.settings();
    // Asking for credentials renews them when due, so the panel shows the
    // expiry S3 requests will actually get, and says why if there are none.
    let problem = state
        .s3
        .credentials()
        .current()
        .await
        .err()
        .map(|e| e.to_string());
    let identity = state.s3.credentials().identity().await;
    let user = state.hub_user.clone();
    let token_file = state.s3.credentials().token_file();
    // A token the refresher stopped replacing is the cause to name, even
    // while the current keys still work.
    let stale = token_file
        .as_ref()
        .and_then(|t| t.stale_warning(Utc::now()));
    // Renewals failing while the keys still work: say so before they run out.
    let renewal = identity
        .as_ref()
        .and_then(quarry_s3::Identity::renewal_warning);
    let problem = problem.or(stale).or(renewal);
    let id_token = token_file.map(|t| IdTokenShown {
        path: t.path.display().to_string(),
        expiration: t.expires_at.map(|e| e.to_rfc3339()),
        seconds_left: t.expires_at.map(|e| (e - Utc::now()).num_seconds()),
    });
    let credentials = identity.map(|id| CredentialsShown {
        access_key_hint: id.access_key_hint,
        temporary: id.temporary,
        source: id.source.to_string(),
        renewable: id.renewable,
        expiration: id.expiration.map(|e| e.to_rfc3339()),
        seconds_left: id.expiration.map(|e| (e - Utc::now()).num_seconds()),
    });
    Ok(Json(WhoAmI {
        user,
        endpoint: settings.endpoint_display(),
        region: settings.region.clone(),
        credentials,
        problem,
        id_token,
    }))
}
