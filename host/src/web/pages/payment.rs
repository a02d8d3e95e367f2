//! Paying, as agents' and payers' pages both do it: with the customer's saved method (a form), or
//! with a new card through the pages' payment script (`static/paydesk.js`) — start the payment with
//! a SetupIntent for Stripe.js to enter the card into, confirm it with the card Stripe.js saved
//! (`/app/payments/confirm`, `/portal/payments/confirm`), and read an intent back after the payer
//! authenticated (`/refresh/{intent}`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::error::PageError;
use super::respond::json_answer;
use super::session::Viewer;
use crate::app::{App, CallError};
use crate::contract::exports::paydesk::stripe::payments::{
    PayWith, PaymentRequest, PaymentStarted,
};
use crate::contract::{Initiator, PaymentFilter};
use crate::db::Principal;
use crate::web::state::AppState;
use paydesk_plugin::domain::vocabulary;

/// Start paying `invoices` with a new card as `initiator`, for the script: the intent, the
/// SetupIntent's client secret and the amount.
pub async fn start_new_card(
    state: &AppState,
    viewer: Viewer,
    invoices: Vec<i64>,
    initiator: Initiator,
) -> Result<Response, PageError> {
    json_answer(state, viewer, move |app, viewer| {
        let p = app.start_new_card(&viewer.tenant, invoices, initiator)?;
        Ok(json!({"intent_id": p.intent_id, "setup_client_secret": p.setup_client_secret, "amount": p.amount}))
    })
    .await
}

/// An agent's new-card charge of one invoice (all or `amount` of what is due, held to
/// `agreed_total`), for the script: the intent, the SetupIntent's client secret and the amount.
pub async fn start_new_card_charge(
    state: &AppState,
    viewer: Viewer,
    invoice: i64,
    amount: Option<i64>,
    agreed_total: Option<i64>,
    agent: i64,
) -> Result<Response, PageError> {
    json_answer(state, viewer, move |app, viewer| {
        let p = app.start_new_card_charge(
            &viewer.tenant,
            invoice,
            amount,
            agreed_total,
            Initiator::Agent(agent),
        )?;
        Ok(json!({"intent_id": p.intent_id, "setup_client_secret": p.setup_client_secret, "amount": p.amount}))
    })
    .await
}

/// Pay `invoices` with their customer's automatic payment method as `initiator`, confirmed at once.
pub fn start_saved(
    app: &App,
    viewer: &Viewer,
    invoices: Vec<i64>,
    initiator: Initiator,
) -> Result<PaymentStarted, CallError> {
    let request = PaymentRequest {
        invoices,
        pay_with: PayWith::SavedMethod,
        initiator,
        return_url: None,
    };
    app.start_payment(&viewer.tenant, &request)
}

#[derive(Deserialize)]
pub struct ConfirmBody {
    intent_id: String,
    payment_method: String,
}

/// Confirm a new-card payment with the card Stripe.js just saved (agents and portal users).
pub async fn confirm(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Json(body): Json<ConfirmBody>,
) -> Result<Response, PageError> {
    viewer.check_csrf_header(&headers)?;
    let initiator = match &viewer.principal {
        Principal::Agent(a) => Initiator::Agent(a.id),
        Principal::User(_) => Initiator::PortalUser(viewer.payer()?.id),
    };
    json_answer(&state, viewer, move |app, viewer| {
        let p = app.confirm_payment(
            &viewer.tenant,
            &body.intent_id,
            &body.payment_method,
            initiator,
            None,
        )?;
        Ok(json!({
            "status": vocabulary::PaymentStatus::from(p.status).wire_name(),
            "client_secret": p.client_secret,
            "failure_reason": p.failure_reason,
        }))
    })
    .await
}

/// Read an intent back after Stripe.js (authentication); anyone signed in who may see its invoices.
pub async fn refresh(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(intent): Path<String>,
) -> Result<Response, PageError> {
    viewer.check_csrf_header(&headers)?;
    json_answer(&state, viewer, move |app, viewer| {
        let records = app
            .db()
            .payments(&viewer.tenant, &PaymentFilter::Intent(intent.clone()))?;
        for r in &records {
            let i = app.db().invoice(&viewer.tenant, r.invoice_id)?;
            if !crate::access::sees(&viewer.principal, &i) {
                return Err(PageError::not_found());
            }
        }
        let updated = app.refresh_payment(&viewer.tenant, &intent)?;
        Ok(json!({"status": updated.first().map(|p| vocabulary::PaymentStatus::from(p.status).wire_name())}))
    })
    .await
}
