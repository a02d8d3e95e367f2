//! `/agents`: disable, enable or remove an agent, for administrators (never themselves).

use axum::extract::State;
use axum::http::StatusCode;

use super::caller::Caller;
use super::extract::{IdPath, Path};
use super::people::change;
use crate::app::people::PersonChange;
use crate::db::Person;
use crate::web::error::{ApiError, ErrorBody};
use crate::web::state::AppState;

/// Disable an agent: their sessions end and their API tokens stop working at once.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/agents/{id}/disable", tag = "users",
    params(("tenant" = String, Path), ("id" = i64, Path)),
    responses((status = 204, description = "disabled"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn disable_agent(
    State(s): State<AppState>,
    c: Caller,
    Path(p): Path<IdPath>,
) -> Result<StatusCode, ApiError> {
    change(s, c, Person::Agent(p.id), PersonChange::Disable).await
}

/// Enable an agent again (sessions and tokens that ended stay ended).
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/agents/{id}/enable", tag = "users",
    params(("tenant" = String, Path), ("id" = i64, Path)),
    responses((status = 204, description = "enabled"), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn enable_agent(
    State(s): State<AppState>,
    c: Caller,
    Path(p): Path<IdPath>,
) -> Result<StatusCode, ApiError> {
    change(s, c, Person::Agent(p.id), PersonChange::Enable).await
}

/// Remove an agent with their sessions and tokens.
#[utoipa::path(delete, path = "/api/v1/tenants/{tenant}/agents/{id}", tag = "users",
    params(("tenant" = String, Path), ("id" = i64, Path)),
    responses((status = 204, description = "removed"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn remove_agent(
    State(s): State<AppState>,
    c: Caller,
    Path(p): Path<IdPath>,
) -> Result<StatusCode, ApiError> {
    change(s, c, Person::Agent(p.id), PersonChange::Remove).await
}
