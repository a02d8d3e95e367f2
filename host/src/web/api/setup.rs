//! Saving a customer's payment method through the API (issue 17 item 4): start a SetupIntent, and
//! confirm it with the method Stripe.js's Payment Element made — a bank debit with the mandate the
//! payer accepted. The acceptance is the confirming request's own (its address and `User-Agent`),
//! so the payer's browser calls this with a portal user's token; an agent with "Can Receive
//! Manual Stripe Payments" may too, and then the mandate names the agent's request.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::checks;
use super::extract::{IdPath, JsonBody, Path};
use super::payments::initiator;
use crate::contract::debits::SetupConfirmed;
use crate::web::client::Acceptance;
use crate::web::error::{ApiError, ErrorBody};
use crate::web::state::{AppState, blocking};

/// A started SetupIntent, for Stripe.js.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SetupStartedView {
    pub setup_intent_id: String,
    /// For Stripe.js (`elements`, `handleNextAction`); never logged.
    pub client_secret: String,
}

/// Start a SetupIntent for the customer, of every imported type (`usage` `off_session`).
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/customers/{id}/setup", tag = "customers",
    params(("tenant" = String, Path), ("id" = i64, Path)),
    responses((status = 201, body = SetupStartedView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<IdPath>,
) -> Result<(StatusCode, Json<SetupStartedView>), ApiError> {
    caller.invoice_reader()?;
    let (tenant, id, who) = (caller.tenant.clone(), path.id, initiator(&caller.principal));
    blocking(&state, move |app| {
        let s = app.start_setup(&tenant, id, who)?;
        Ok(SetupStartedView {
            setup_intent_id: s.setup_intent_id,
            client_secret: s.client_secret,
        })
    })
    .await
    .map(|v| (StatusCode::CREATED, Json(v)))
}

/// The payer's method for a started SetupIntent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmSetupInput {
    /// From `POST customers/{id}/setup`.
    #[schema(example = "seti_1Nq")]
    pub setup_intent_id: String,
    /// The method Stripe.js made (`createPaymentMethod` with the Payment Element), of an imported type.
    #[schema(example = "pm_1Nq")]
    pub payment_method_id: String,
}

/// Where the SetupIntent stands.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SetupConfirmedView {
    /// `succeeded` (the method is the automatic one), `requires_action` (Stripe.js continues with
    /// `client_secret`; the portal's "Add payment method" then saves it) or `processing` (the
    /// bank verifies it; not saved yet).
    pub status: String,
    /// The automatic method's display name, once saved.
    pub automatic_payment_method: Option<String>,
    /// For Stripe.js's `handleNextAction`, when `requires_action`.
    pub client_secret: Option<String>,
}

/// Confirm the SetupIntent with the payer's method. A bank debit (`us_bank_account`,
/// `sepa_debit`, `bacs_debit`, `acss_debit`, `au_becs_debit`) is confirmed with the mandate
/// accepted online by this request — its client address and `User-Agent` — and its later
/// charges, off-session included, carry that mandate. Once saved, the method is the customer's
/// automatic one.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/customers/{id}/setup/confirm", tag = "customers",
    params(("tenant" = String, Path), ("id" = i64, Path)), request_body = ConfirmSetupInput,
    responses((status = 200, body = SetupConfirmedView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn confirm(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<IdPath>,
    Acceptance(acceptance): Acceptance,
    JsonBody(input): JsonBody<ConfirmSetupInput>,
) -> Result<Json<SetupConfirmedView>, ApiError> {
    caller.invoice_reader()?;
    checks::stripe_id("setup_intent_id", &input.setup_intent_id, "seti")?;
    checks::stripe_id("payment_method_id", &input.payment_method_id, "pm")?;
    let (tenant, id, who) = (caller.tenant.clone(), path.id, initiator(&caller.principal));
    blocking(&state, move |app| {
        Ok(
            match app.confirm_setup(
                &tenant,
                id,
                &input.setup_intent_id,
                &input.payment_method_id,
                &acceptance,
                who,
            )? {
                SetupConfirmed::Saved(name) => SetupConfirmedView {
                    status: "succeeded".into(),
                    automatic_payment_method: Some(name),
                    client_secret: None,
                },
                SetupConfirmed::RequiresAction(secret) => SetupConfirmedView {
                    status: "requires_action".into(),
                    automatic_payment_method: None,
                    client_secret: Some(secret),
                },
                SetupConfirmed::Processing => SetupConfirmedView {
                    status: "processing".into(),
                    automatic_payment_method: None,
                    client_secret: None,
                },
            },
        )
    })
    .await
    .map(Json)
}
