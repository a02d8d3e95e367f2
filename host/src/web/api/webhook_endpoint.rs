//! `/webhooks/stripe-endpoint`: "Save and Create/Update Webhooks in Stripe", the tenant's endpoint
//! for the five payment events, its signing secret kept by the server (administrators).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::extract::JsonBody;
use crate::web::error::{ApiError, ErrorBody};
use crate::web::state::{AppState, blocking};

/// Where Stripe should send events; defaults to this server's public URL.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// An http(s) URL; default this server's `PAYDESK_PUBLIC_URL` + `/webhooks/stripe/{tenant}`.
    #[schema(
        max_length = 2000,
        pattern = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[!-~]*)?$"
    )]
    pub url: Option<String>,
}

/// The endpoint in Stripe.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub enabled_events: Vec<String>,
    /// True when this call created it (and its signing secret was stored).
    pub created: bool,
}

/// "Save and Create/Update Webhooks in Stripe": create or update the tenant's endpoint for the five
/// payment events; the signing secret is kept by the server, never returned.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/webhooks/stripe-endpoint", tag = "settings",
    params(("tenant" = String, Path)), request_body = WebhookInput,
    responses((status = 200, body = WebhookView), (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)), security(("bearer" = [])))]
pub async fn ensure_webhooks(
    State(state): State<AppState>,
    caller: Caller,
    body: Option<JsonBody<WebhookInput>>,
) -> Result<Json<WebhookView>, ApiError> {
    caller.admin()?;
    let tenant = caller.tenant.clone();
    let input = body.map(|JsonBody(b)| b).unwrap_or_default();
    if let Some(url) = &input.url {
        super::checks::http_url("url", url)?;
    }
    blocking(&state, move |app| {
        let url = match input.url.or_else(|| app.public_url.as_ref().map(|base| format!("{}/webhooks/stripe/{tenant}", base.trim_end_matches('/')))) {
            Some(u) => u,
            None => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "not_configured",
                    "the server does not know its public URL: start it with PAYDESK_PUBLIC_URL, or send `url`",
                ));
            }
        };
        let e = app.ensure_webhooks(&tenant, &url)?;
        Ok(WebhookView { id: e.id, url: e.url, enabled_events: e.enabled_events, created: e.created })
    })
    .await
    .map(Json)
}
