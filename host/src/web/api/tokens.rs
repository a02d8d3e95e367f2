//! `/tokens`: every API token of the tenant as administrators see it (never its value), and
//! revoking one.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use super::caller::Caller;
use super::extract::{IdPath, Path};
use crate::db::{Person, TokenInfo};
use crate::web::error::{ApiError, ErrorBody};
use crate::web::state::{AppState, blocking};

/// An API token as administrators see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub id: i64,
    pub label: String,
    /// `agent` or `user`.
    pub owner_kind: &'static str,
    pub owner_id: i64,
    pub owner_email: String,
    pub created_at: i64,
    /// Unix seconds; none: it never expires (tokens made before expiry existed).
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// To the minute.
    pub last_used_at: Option<i64>,
    /// Neither revoked nor expired.
    pub active: bool,
}

impl From<TokenInfo> for TokenView {
    fn from(t: TokenInfo) -> Self {
        let now = crate::db::now();
        let (owner_kind, owner_id) = match t.owner {
            Person::Agent(id) => ("agent", id),
            Person::User(id) => ("user", id),
        };
        TokenView {
            id: t.id,
            label: t.label,
            owner_kind,
            owner_id,
            owner_email: t.owner_email,
            created_at: t.created_at,
            active: t.revoked_at.is_none() && t.expires_at.is_none_or(|e| e > now),
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
            last_used_at: t.last_used_at,
        }
    }
}

/// Every API token of the tenant.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/tokens", tag = "users",
    params(("tenant" = String, Path)),
    responses((status = 200, body = [TokenView]), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    caller.admin()?;
    let tenant = caller.tenant.clone();
    blocking(&state, move |app| {
        Ok(app
            .db()
            .tokens(&tenant)?
            .into_iter()
            .map(Into::into)
            .collect())
    })
    .await
    .map(Json)
}

/// Revoke a token: it stops working at once, on every host.
#[utoipa::path(delete, path = "/api/v1/tenants/{tenant}/tokens/{id}", tag = "users",
    params(("tenant" = String, Path), ("id" = i64, Path)),
    responses((status = 204, description = "revoked"), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<IdPath>,
) -> Result<StatusCode, ApiError> {
    caller.admin()?;
    let tenant = caller.tenant.clone();
    blocking(&state, move |app| {
        app.db().revoke_token(&tenant, path.id)?;
        tracing::info!(tenant = %tenant, token = path.id, "API token revoked");
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}
