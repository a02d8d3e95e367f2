//! Refunds of an invoice's succeeded payments, in full or in part, by agents with "Can Refund
//! Stripe Payments": `/invoices/{id}/payments/{payment}/refunds` (and `/quote`: what can still be
//! refunded), and `/invoices/{id}/refunds/{refund}/retry` for a refund whose answer from Stripe
//! was lost. The plugin's optional `refunds` export claims each refund in the database before
//! asking Stripe, so a refund is never made twice nor more than the payment paid.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::extract::{JsonBody, Path};
use crate::contract::Refund;
use crate::contract::refunds::{RefundQuote, RefundRequest};
use crate::db::Principal;
use crate::web::error::{ApiError, ErrorBody};
use crate::web::state::{AppState, blocking};
use paydesk_plugin::domain::vocabulary;

/// A route's `{tenant}`, `{id}` (the invoice) and `{payment}`.
#[derive(Debug, Deserialize)]
pub struct PaymentPath {
    #[allow(dead_code)]
    tenant: String,
    pub id: i64,
    pub payment: i64,
}

/// A route's `{tenant}`, `{id}` (the invoice) and `{refund}`.
#[derive(Debug, Deserialize)]
pub struct RefundPath {
    #[allow(dead_code)]
    tenant: String,
    pub id: i64,
    pub refund: i64,
}

/// A refund of a payment, as the helpdesk keeps it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefundView {
    /// The refund record's id (paydesk's; Stripe's idempotency key derives from it).
    pub id: i64,
    /// The payment record refunded.
    pub payment_id: i64,
    /// Stripe's Refund id (`re_…`), once Stripe has answered.
    pub refund_id: Option<String>,
    pub intent_id: Option<String>,
    /// `pending`, `requires_action`, `succeeded`, `failed` or `canceled`.
    pub status: &'static str,
    /// What is (to be) given back, minor units of `currency`.
    pub amount: i64,
    /// Of `amount`, the processing fee given back; the invoice owes the rest again once it
    /// succeeded.
    pub fee_part: i64,
    pub currency: String,
    pub failure_reason: Option<String>,
    /// The agent who asked for it; absent: made in Stripe's dashboard. Agents only.
    pub agent_id: Option<i64>,
    /// When the state held was observed at Stripe, on Stripe's clock (Unix seconds).
    pub observed_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl RefundView {
    /// The view of `r` for `principal`: portal users see their refunds, not who made them.
    pub fn of(r: Refund, principal: &Principal) -> RefundView {
        RefundView {
            id: r.id,
            payment_id: r.payment_id,
            refund_id: r.refund_id,
            intent_id: r.intent_id,
            status: vocabulary::RefundStatus::from(r.status).wire_name(),
            amount: r.amount.amount,
            fee_part: r.fee_part.amount,
            currency: r.amount.currency,
            failure_reason: r.failure_reason,
            agent_id: match principal {
                Principal::Agent(_) => r.agent_id,
                Principal::User(_) => None,
            },
            observed_at: r.observed_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// What can still be refunded of a payment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefundQuoteView {
    pub payment_id: i64,
    pub currency: String,
    /// What the payment paid: its amount and fee.
    pub paid: i64,
    /// Given back already or on its way (refunds that did not fail).
    pub refunded: i64,
    /// The most one refund may be now (a full refund).
    pub refundable: i64,
    /// Of `refundable`, the processing fee a full refund gives back (0 when the setting
    /// `stripe_refund_processing_fee` keeps it).
    pub fee_part: i64,
}

impl From<RefundQuote> for RefundQuoteView {
    fn from(q: RefundQuote) -> Self {
        RefundQuoteView {
            payment_id: q.payment_id,
            currency: q.paid.currency,
            paid: q.paid.amount,
            refunded: q.refunded.amount,
            refundable: q.refundable.amount,
            fee_part: q.fee_part.amount,
        }
    }
}

/// A refund to make.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundInput {
    /// What to give back, minor units of the payment's currency; absent: in full (all that is
    /// refundable, the fee included when `stripe_refund_processing_fee` is on).
    #[serde(default)]
    #[schema(minimum = 1)]
    pub amount: Option<i64>,
}

/// Only agents refund.
fn agent_of(caller: &Caller) -> Result<i64, ApiError> {
    match &caller.principal {
        Principal::Agent(a) => Ok(a.id),
        Principal::User(_) => Err(ApiError::forbidden("only agents may refund payments")),
    }
}

/// What can still be refunded of one payment of an invoice.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/invoices/{id}/payments/{payment}/refunds/quote", tag = "payments",
    params(("tenant" = String, Path), ("id" = i64, Path), ("payment" = i64, Path)),
    responses((status = 200, body = RefundQuoteView),
        (status = 403, body = ErrorBody, description = "not an agent, or an agent without \"Can Refund Stripe Payments\""),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the payment did not succeed, or the integration is not set up"),
        (status = 501, body = ErrorBody, description = "the plugin version the tenant runs has no `refunds`")),
    security(("bearer" = [])))]
pub async fn quote(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<PaymentPath>,
) -> Result<Json<RefundQuoteView>, ApiError> {
    let agent = agent_of(&caller)?;
    let tenant = caller.tenant.clone();
    blocking(&state, move |app| {
        Ok(app
            .quote_refund(&tenant, path.id, path.payment, agent)?
            .into())
    })
    .await
    .map(Json)
}

/// Refund one succeeded payment of an invoice, in full or in part.
///
/// The refund is claimed in the database first — only while the payment's refunds, with this one,
/// stay within what it paid — then asked of Stripe with an idempotency key derived from the
/// claim. Its answer is recorded (`succeeded` makes what was given back of the invoice owed
/// again, and a paid invoice awaits payment again); Stripe's later events settle a `pending` one.
/// When Stripe's answer is lost the refund stays `pending` and the answer says so (504): retry it
/// with `/refunds/{refund}/retry`, which reads Stripe's refunds back before asking again.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/invoices/{id}/payments/{payment}/refunds", tag = "payments",
    params(("tenant" = String, Path), ("id" = i64, Path), ("payment" = i64, Path)), request_body = RefundInput,
    responses((status = 201, body = RefundView),
        (status = 403, body = ErrorBody, description = "not an agent, or an agent without \"Can Refund Stripe Payments\""),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the payment did not succeed, another refund took what was left, or the integration is not set up"),
        (status = 422, body = ErrorBody, description = "`amount` is not more than zero, or more than can still be refunded"),
        (status = 501, body = ErrorBody, description = "the plugin version the tenant runs has no `refunds`"),
        (status = 502, body = ErrorBody, description = "Stripe refused the refund: nothing was refunded, and the claim is marked failed"),
        (status = 503, body = ErrorBody, description = "Stripe could not be reached: the refund is kept pending and was not made; retry it"),
        (status = 504, body = ErrorBody, description = "Stripe's answer was lost: the refund is kept pending; retry it (read back first, never made twice)")),
    security(("bearer" = [])))]
pub async fn refund(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<PaymentPath>,
    body: Option<JsonBody<RefundInput>>,
) -> Result<(StatusCode, Json<RefundView>), ApiError> {
    let agent = agent_of(&caller)?;
    let input = body.map(|JsonBody(b)| b).unwrap_or_default();
    let (tenant, principal) = (caller.tenant.clone(), caller.principal.clone());
    blocking(&state, move |app| {
        let request = RefundRequest {
            invoice: path.id,
            payment: path.payment,
            amount: input.amount,
            agent,
        };
        let made = app.refund_payment(&tenant, &request)?;
        Ok((StatusCode::CREATED, Json(RefundView::of(made, &principal))))
    })
    .await
}

/// Ask Stripe again for a refund whose answer was lost: Stripe's refunds of the payment are read
/// back first, and only a refund Stripe has not made is asked for again, with the same
/// idempotency key. Never a second refund.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/invoices/{id}/refunds/{refund}/retry", tag = "payments",
    params(("tenant" = String, Path), ("id" = i64, Path), ("refund" = i64, Path)),
    responses((status = 200, body = RefundView),
        (status = 403, body = ErrorBody, description = "not an agent, or an agent without \"Can Refund Stripe Payments\""),
        (status = 404, body = ErrorBody),
        (status = 501, body = ErrorBody, description = "the plugin version the tenant runs has no `refunds`"),
        (status = 502, body = ErrorBody, description = "Stripe refused the refund: nothing was refunded"),
        (status = 503, body = ErrorBody, description = "Stripe could not be reached: still pending"),
        (status = 504, body = ErrorBody, description = "Stripe's answer was lost again: still pending")),
    security(("bearer" = [])))]
pub async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<RefundPath>,
) -> Result<Json<RefundView>, ApiError> {
    let agent = agent_of(&caller)?;
    let (tenant, principal) = (caller.tenant.clone(), caller.principal.clone());
    blocking(&state, move |app| {
        let held = app.resume_refund(&tenant, path.id, path.refund, agent)?;
        Ok(Json(RefundView::of(held, &principal)))
    })
    .await
}
