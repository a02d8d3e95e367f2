//! The Stripe webhook receiver, `POST /webhooks/stripe/{tenant}`: a capped body, the signature
//! verified in the host with the tenant's signing secret, then the event handed to the plugin.
//! Answers 2xx for events it applied, had seen, found stale or doesn't use; 400 for a bad signature
//! or body (nothing changed); 5xx when the plugin failed, so Stripe delivers it again.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::json;

use super::error::ApiError;
use super::state::{AppState, WorkerLost, blocking};
use crate::app::App;
use crate::contract::exports::paydesk::stripe::events::EventOutcome;
use crate::metrics::WebhookOutcome;
use crate::tenant::TenantId;
use crate::webhook_signature;

/// Largest event body accepted.
pub const MAX_BODY: usize = 256 << 10;

pub async fn receive(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let tenant = TenantId::parse(&tenant).map_err(|_| ApiError::not_found("tenant"))?;
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    blocking(&state, move |app| {
        Ok::<_, WorkerLost>(apply(app, &tenant, signature.as_deref(), &body))
    })
    .await
    .map_err(|_| ApiError::internal("the webhook worker failed"))?
}

/// Verify the event's signature with the tenant's signing secret and hand it to the plugin;
/// count the delivery in the metrics by type and outcome, with its lag behind Stripe's `created`.
fn apply(
    app: &App,
    tenant: &TenantId,
    signature: Option<&str>,
    body: &[u8],
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let mut head = None;
    let applied = verify_and_apply(app, tenant, signature, body, &mut head);
    let counted = match &applied {
        Ok(EventOutcome::Applied(_)) => WebhookOutcome::Applied,
        Ok(EventOutcome::Duplicate) => WebhookOutcome::Duplicate,
        Ok(EventOutcome::Stale) => WebhookOutcome::Stale,
        Ok(EventOutcome::Ignored(_)) => WebhookOutcome::Ignored,
        Err(e) if e.status.is_server_error() => WebhookOutcome::Failed,
        Err(_) => WebhookOutcome::Rejected,
    };
    let now = crate::db::now();
    app.services.metrics.record_webhook(
        head.as_ref().map(|h: &EventHead| h.event_type.as_str()),
        counted,
        head.as_ref()
            .and_then(|h| h.created)
            .map(|created| now.saturating_sub(created)),
    );
    let (word, detail) = match applied? {
        EventOutcome::Applied(n) => ("applied", json!(n)),
        EventOutcome::Duplicate => ("duplicate", json!(null)),
        EventOutcome::Stale => ("stale", json!(null)),
        EventOutcome::Ignored(why) => ("ignored", json!(why)),
    };
    Ok((
        StatusCode::OK,
        Json(json!({"received": true, "outcome": word, "detail": detail})),
    ))
}

/// The two fields of an event the metrics read, once its signature holds.
#[derive(serde::Deserialize)]
struct EventHead {
    #[serde(rename = "type", default)]
    event_type: String,
    #[serde(default)]
    created: Option<i64>,
}

/// [`apply`] uncounted; `head` is set once the signature is verified and the body is JSON.
fn verify_and_apply(
    app: &App,
    tenant: &TenantId,
    signature: Option<&str>,
    body: &[u8],
    head: &mut Option<EventHead>,
) -> Result<EventOutcome, ApiError> {
    let secret = match app.db().webhook_secret(tenant) {
        Ok(Some(s)) => s,
        Ok(None) | Err(crate::db::DbError::NotFound(_)) => {
            return Err(ApiError::not_found("webhook endpoint"));
        }
        Err(e) => return Err(e.into()),
    };
    if let Err(e) = webhook_signature::verify(
        signature,
        body,
        secret.expose().as_bytes(),
        crate::db::now(),
    ) {
        tracing::warn!(tenant = tenant.as_str(), error = %e, "refused a webhook");
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_signature",
            e.to_string(),
        ));
    }
    *head = serde_json::from_slice(body).ok();
    let text = String::from_utf8(body.to_vec()).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "the body is not UTF-8",
        )
    })?;
    app.webhook_received(tenant, text).map_err(|e| {
        let mut api = ApiError::from(e);
        // A signed body that is not a Stripe event is the sender's fault.
        if api.status == StatusCode::UNPROCESSABLE_ENTITY {
            api.status = StatusCode::BAD_REQUEST;
        }
        if api.status.is_server_error() {
            tracing::error!(tenant = tenant.as_str(), error = %api.body.error.message, "webhook not applied; Stripe will retry");
        }
        api
    })
}
