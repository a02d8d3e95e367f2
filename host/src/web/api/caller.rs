//! Who is calling the JSON API: the bearer token names a principal (an agent or a portal user) of
//! one tenant, and a request for another tenant's URL is "not found" — another tenant's existence
//! is not revealed. The roles a route asks for ([`Caller::agent`], [`Caller::admin`],
//! [`Caller::invoice_reader`]) are checked by [`crate::web::roles`].

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use crate::contract::Agent;
use crate::db::Principal;
use crate::tenant::TenantId;
use crate::web::error::ApiError;
use crate::web::roles;
use crate::web::state::{AppState, WorkerLost, blocking};

/// An authenticated caller of a `/api/v1/tenants/{tenant}/…` route.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: TenantId,
    pub principal: Principal,
}

impl Caller {
    /// The caller as an agent of the tenant.
    pub fn agent(&self) -> Result<&Agent, ApiError> {
        Ok(roles::agent(&self.principal)?)
    }

    /// The caller as an admin agent (settings, mappings, webhooks).
    pub fn admin(&self) -> Result<&Agent, ApiError> {
        Ok(roles::admin(&self.principal)?)
    }

    /// An agent, or a portal user whose access level shows invoices.
    pub fn invoice_reader(&self) -> Result<(), ApiError> {
        Ok(roles::invoice_reader(&self.principal)?)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Path(params): Path<std::collections::HashMap<String, String>> =
            Path::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::not_found("route"))?;
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(ApiError::unauthorized)?
            .to_string();
        let found = blocking(state, move |app| {
            Ok::<_, WorkerLost>(app.db().authenticate(&token))
        })
        .await
        .map_err(|_| ApiError::internal("authentication failed"))??;
        let (tenant, principal) = found.ok_or_else(ApiError::unauthorized)?;
        match params.get("tenant") {
            Some(t) if t == tenant.as_str() => Ok(Caller { tenant, principal }),
            _ => Err(ApiError::not_found("tenant")),
        }
    }
}
