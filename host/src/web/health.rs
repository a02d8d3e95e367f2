//! `GET /healthz`: the process is up and its database answers.

use axum::extract::State;
use axum::http::StatusCode;

use super::state::{AppState, WorkerLost, blocking};

/// `GET /healthz`: the process is up and its database answers.
// The document has always tagged it `super` (utoipa's default: the path it was first listed by);
// kept, so the OpenAPI document does not change.
#[utoipa::path(get, path = "/healthz", tag = "super", responses((status = 200, description = "ok"), (status = 503, description = "database unavailable")))]
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    let ok = blocking(&state, |app| {
        Ok::<_, WorkerLost>(app.db().tenants().is_ok())
    })
    .await
    .unwrap_or(false);
    if ok {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
    }
}
