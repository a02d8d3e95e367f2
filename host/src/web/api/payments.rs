//! `/payments`: quote invoices for the caller (each fee line and the exact total), pay them as one
//! Stripe payment (an agent's "Receive Payment (Manual)" or a portal user's Pay / Pay all; the
//! plugin decides who may pay what), read an intent back after Stripe.js, and reconcile stuck
//! payments now (administrators).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::checks;
use super::extract::{JsonBody, Path};
use crate::contract::exports::paydesk::stripe::payments::{
    PayWith, PaymentRequest, PaymentStarted, Quotation,
};
use crate::contract::{Initiator, InvoicePayment, PaymentFilter};
use crate::db::Principal;
use crate::web::error::{ApiError, ErrorBody, FieldProblem};
use crate::web::state::{AppState, blocking};
use paydesk_plugin::domain::vocabulary;

/// A route's `{tenant}` and `{intent}`.
#[derive(Debug, Deserialize)]
pub struct IntentPath {
    #[allow(dead_code)]
    tenant: String,
    intent: String,
}

/// A payment record (mirrors its PaymentIntent).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PaymentView {
    pub id: i64,
    pub invoice_id: i64,
    pub group_id: String,
    pub intent_id: Option<String>,
    /// `requires_payment_method`, `requires_action`, `processing`, `succeeded`, `failed`, `canceled`.
    pub status: &'static str,
    pub method: Option<String>,
    pub method_type: Option<String>,
    pub amount: i64,
    pub fee: i64,
    pub currency: String,
    /// `agent`, `portal_user` or `autopay`.
    pub initiator: &'static str,
    pub initiator_id: Option<i64>,
    pub attempt: u32,
    pub failure_reason: Option<String>,
    pub failure_code: Option<String>,
    pub webhook_received_at: Option<i64>,
    /// When the state held was observed at Stripe, on Stripe's clock (the event's `created`, or
    /// the `Date` of Stripe's answer to a read), Unix seconds. Records are ordered by it alone.
    pub observed_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<InvoicePayment> for PaymentView {
    fn from(p: InvoicePayment) -> Self {
        let (initiator, initiator_id) = match p.initiator {
            Initiator::Agent(id) => ("agent", Some(id)),
            Initiator::PortalUser(id) => ("portal_user", Some(id)),
            Initiator::Autopay => ("autopay", None),
        };
        PaymentView {
            id: p.id,
            invoice_id: p.invoice_id,
            group_id: p.group_id,
            intent_id: p.intent_id,
            status: vocabulary::PaymentStatus::from(p.status).wire_name(),
            method: p.method,
            method_type: p.method_type.as_ref().map(crate::db::method_type_name),
            amount: p.amount.amount,
            fee: p.fee.amount,
            currency: p.amount.currency,
            initiator,
            initiator_id,
            attempt: p.attempt,
            failure_reason: p.failure_reason,
            failure_code: p.failure_code,
            webhook_received_at: p.webhook_received_at,
            observed_at: p.observed_at,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

pub(super) fn initiator(principal: &Principal) -> Initiator {
    match principal {
        Principal::Agent(a) => Initiator::Agent(a.id),
        Principal::User(u) => Initiator::PortalUser(u.id),
    }
}

/// Invoices to quote or pay.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteInput {
    /// 1–100 invoices, each once.
    #[schema(schema_with = checks::invoice_ids_schema)]
    pub invoice_ids: Vec<i64>,
    /// Stripe's type name (`card`, `sepa_debit`, …).
    #[schema(schema_with = checks::method_type_schema)]
    pub method_type: String,
}

/// A quote line.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QuoteLineView {
    pub invoice_id: i64,
    pub invoice_number: String,
    pub amount_due: i64,
    /// The processing-fee line that would be added (0: none).
    pub fee: i64,
    pub fee_description: String,
    pub total: i64,
}

/// The exact charge, in minor units.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QuoteView {
    pub currency: String,
    pub lines: Vec<QuoteLineView>,
    pub total: i64,
}

impl From<Quotation> for QuoteView {
    fn from(q: Quotation) -> Self {
        QuoteView {
            currency: q.total.currency.clone(),
            total: q.total.amount,
            lines: q
                .lines
                .into_iter()
                .map(|l| QuoteLineView {
                    invoice_id: l.invoice_id,
                    invoice_number: l.invoice_number,
                    amount_due: l.amount_due.amount,
                    fee: l.fee.amount,
                    fee_description: l.fee_description,
                    total: l.total.amount,
                })
                .collect(),
        }
    }
}

pub(super) fn parse_type(name: &str) -> Result<crate::contract::PaymentMethodType, ApiError> {
    vocabulary::PaymentMethodType::from_wire_name(name)
        .map(Into::into)
        .ok_or_else(|| {
            ApiError::invalid(
                "unknown payment method type",
                vec![FieldProblem {
                    field: "method_type".into(),
                    message: format!("`{name}` is not a payment method type paydesk knows"),
                }],
            )
        })
}

/// Quote invoices for the caller: each fee line and the exact total.
///
/// The total is held against Stripe's limits for one payment before anything is sent: at least
/// the currency's minimum charge (listed below; more than zero in a currency Stripe lists none
/// for), at most 99999999 minor units, and in three-decimal currencies (BHD, JOD, KWD, OMR, TND) a
/// multiple of 10. A total outside them is refused with 422 naming the invoices and the limit
/// (field `invoice_ids`).
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/payments/quote", tag = "payments",
    params(("tenant" = String, Path)), request_body = QuoteInput,
    responses((status = 200, body = QuoteView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "a field is refused, or the total is outside Stripe's amount limits (`invalid_input`, field `invoice_ids`: the invoices and the limit)")),
    security(("bearer" = [])))]
pub async fn quote(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input): JsonBody<QuoteInput>,
) -> Result<Json<QuoteView>, ApiError> {
    checks::invoice_ids(&input.invoice_ids)?;
    let method = parse_type(&input.method_type)?;
    let (tenant, who) = (caller.tenant.clone(), initiator(&caller.principal));
    blocking(&state, move |app| {
        Ok(app
            .quote_invoices(&tenant, &input.invoice_ids, method, who)?
            .into())
    })
    .await
    .map(Json)
}

/// How to pay.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayWithInput {
    /// The customer's automatic payment method, confirmed at once.
    SavedMethod,
    /// New details in Stripe.js, of these types (one fee between them).
    NewDetails(checks::MethodTypes),
}

/// `"saved_method"`, or `{"new_details": [types]}` and nothing else.
impl utoipa::PartialSchema for PayWithInput {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["saved_method"]))
                    .description(Some(
                        "the customer's automatic payment method, confirmed at once",
                    )),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property("new_details", checks::method_types_schema())
                    .required("new_details")
                    .additional_properties(Some(
                        utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
                    ))
                    .description(Some(
                        "new details in Stripe.js, of these types (one fee between them)",
                    )),
            )
            .into()
    }
}

impl utoipa::ToSchema for PayWithInput {}

/// A payment to start.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentInput {
    /// 1–100 invoices, each once.
    #[schema(schema_with = checks::invoice_ids_schema)]
    pub invoice_ids: Vec<i64>,
    pub pay_with: PayWithInput,
    /// Where Stripe sends the payer back after authenticating (an http(s) URL).
    #[serde(default)]
    #[schema(
        max_length = 2000,
        pattern = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[!-~]*)?$"
    )]
    pub return_url: Option<String>,
}

/// A started payment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PaymentStartedView {
    pub group_id: String,
    pub intent_id: String,
    pub status: &'static str,
    /// For Stripe.js (new details, or authentication): the PaymentIntent's client secret.
    pub client_secret: Option<String>,
    pub amount: i64,
    pub currency: String,
    pub payments: Vec<PaymentView>,
    pub failure_reason: Option<String>,
}

impl From<PaymentStarted> for PaymentStartedView {
    fn from(p: PaymentStarted) -> Self {
        PaymentStartedView {
            group_id: p.group_id,
            intent_id: p.intent_id,
            status: vocabulary::PaymentStatus::from(p.status).wire_name(),
            client_secret: p.client_secret,
            amount: p.amount.amount,
            currency: p.amount.currency,
            payments: p.payments.into_iter().map(Into::into).collect(),
            failure_reason: p.failure_reason,
        }
    }
}

/// Pay invoices as one Stripe payment: an agent's "Receive Payment (Manual)" (needs "Can Receive
/// Manual Stripe Payments") or a portal user's Pay / Pay all outstanding.
///
/// One open payment per invoice: the payment's records are written — for all its invoices or
/// none — only while each invoice awaits payment for exactly the amount priced and has no other
/// payment open. Otherwise 409 says which invoice and why (a payment in progress, already paid,
/// the amount due changed), and nothing is sent to Stripe.
///
/// The amount sent (every invoice's amount due and fee) must be within Stripe's limits for one
/// payment, as the quote's are (the currency's minimum charge, listed below; at most 99999999
/// minor units; three-decimal amounts ending in 0): otherwise 422 naming the invoices and the
/// limit (field `invoice_ids`), and no PaymentIntent is made.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/payments", tag = "payments",
    params(("tenant" = String, Path)), request_body = PaymentInput,
    responses((status = 201, body = PaymentStartedView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "an invoice has another payment in progress, is already paid or void, or its amount due changed since it was priced; or the integration is not set up for this"),
        (status = 422, body = ErrorBody, description = "a field is refused, or the amount is outside Stripe's amount limits (`invalid_input`, field `invoice_ids`: the invoices and the limit)")),
    security(("bearer" = [])))]
pub async fn pay(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input): JsonBody<PaymentInput>,
) -> Result<(StatusCode, Json<PaymentStartedView>), ApiError> {
    checks::invoice_ids(&input.invoice_ids)?;
    if let Some(url) = &input.return_url {
        checks::http_url("return_url", url)?;
    }
    let pay_with = match input.pay_with {
        PayWithInput::SavedMethod => PayWith::SavedMethod,
        PayWithInput::NewDetails(checks::MethodTypes(types)) => {
            let mut unique = types.clone();
            unique.sort_unstable();
            unique.dedup();
            if types.is_empty() || unique.len() != types.len() {
                return Err(ApiError::invalid(
                    "see the fields",
                    vec![FieldProblem {
                        field: "pay_with.new_details".into(),
                        message: "name each payment method type once, at least one".into(),
                    }],
                ));
            }
            PayWith::NewDetails(
                types
                    .iter()
                    .map(|t| parse_type(t))
                    .collect::<Result<Vec<_>, _>>()?,
            )
        }
    };
    let request = PaymentRequest {
        invoices: input.invoice_ids,
        pay_with,
        initiator: initiator(&caller.principal),
        return_url: input.return_url,
    };
    let tenant = caller.tenant.clone();
    blocking(&state, move |app| {
        Ok((
            StatusCode::CREATED,
            Json(app.start_payment(&tenant, &request)?.into()),
        ))
    })
    .await
}

/// Read a payment's intent back from Stripe (after Stripe.js confirmed it) and update its records.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/payments/{intent}/refresh", tag = "payments",
    params(("tenant" = String, Path), ("intent" = String, Path)),
    responses((status = 200, body = [PaymentView]), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn refresh(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<IntentPath>,
) -> Result<Json<Vec<PaymentView>>, ApiError> {
    let (tenant, principal) = (caller.tenant.clone(), caller.principal.clone());
    blocking(&state, move |app| {
        let known = app
            .db()
            .payments(&tenant, &PaymentFilter::Intent(path.intent.clone()))?;
        // Only someone who may see the invoices may refresh their payment.
        for p in &known {
            if !crate::access::sees(&principal, &app.db().invoice(&tenant, p.invoice_id)?) {
                return Err(ApiError::nothing_of_yours());
            }
        }
        Ok(app
            .refresh_payment(&tenant, &path.intent)?
            .into_iter()
            .map(Into::into)
            .collect())
    })
    .await
    .map(Json)
}

/// What a reconciliation pass did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReconcileView {
    pub checked: u32,
    pub updated: u32,
}

/// Re-read from Stripe the payments stuck in `processing` / `requires_action` longer than
/// `reconcile_after_minutes` (the daily run does this too).
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/payments/reconcile", tag = "payments",
    params(("tenant" = String, Path)), responses((status = 200, body = ReconcileView)), security(("bearer" = [])))]
pub async fn reconcile(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<ReconcileView>, ApiError> {
    caller.admin()?;
    let tenant = caller.tenant.clone();
    blocking(&state, move |app| {
        let r = app.reconcile(&tenant, crate::db::now())?;
        Ok(ReconcileView {
            checked: r.checked,
            updated: r.updated,
        })
    })
    .await
    .map(Json)
}
