//! `/invoices/{id}/charges`: one charge of one invoice — an agent's "Receive Payment (Manual)" for
//! all or part of the amount due — priced exactly (`/quote`, with the saved method's name and the
//! fee on what is paid) and charged only for the total the caller agreed to. The plugin's optional
//! `charges` export decides who may pay what; the invoice keeps awaiting payment with the rest.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::checks;
use super::extract::{IdPath, JsonBody, Path};
use super::payments::{PaymentView, initiator, parse_type};
use crate::contract::Money;
use crate::contract::charges::{ChargeQuote, ChargeRequest, ChargeStarted, ChargeWith};
use crate::web::error::{ApiError, ErrorBody};
use crate::web::state::{AppState, blocking};
use paydesk_plugin::domain::vocabulary;

/// How a charge is paid.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeWithInput {
    /// The customer's automatic payment method, confirmed at once.
    SavedMethod,
    /// New details in Stripe.js, of this type.
    NewDetails(String),
}

/// `"saved_method"`, or `{"new_details": type}` and nothing else.
impl utoipa::PartialSchema for ChargeWithInput {
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
                    .property("new_details", checks::method_type_schema())
                    .required("new_details")
                    .additional_properties(Some(
                        utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
                    ))
                    .description(Some("new details in Stripe.js, of this type")),
            )
            .into()
    }
}

impl utoipa::ToSchema for ChargeWithInput {}

fn charge_with(input: &ChargeWithInput) -> Result<ChargeWith, ApiError> {
    Ok(match input {
        ChargeWithInput::SavedMethod => ChargeWith::SavedMethod,
        ChargeWithInput::NewDetails(t) => ChargeWith::NewDetails(parse_type(t)?),
    })
}

/// A charge to price.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChargeQuoteInput {
    /// The part of the amount due to pay, without the fee, in minor units of the invoice's
    /// currency; absent: all that is due. Only agents may pay part.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub amount: Option<i64>,
    pub pay_with: ChargeWithInput,
}

/// A priced charge: exactly what paying it asks Stripe for.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChargeQuoteView {
    pub invoice_id: i64,
    pub invoice_number: String,
    pub currency: String,
    /// All that is due now.
    pub amount_due: i64,
    /// The part paid, without the fee.
    pub amount: i64,
    /// The processing fee on `amount` (0: none).
    pub fee: i64,
    pub fee_description: String,
    /// `amount` + `fee`: send it back as `agreed_total` to charge exactly this.
    pub total: i64,
    pub method_type: String,
    /// Paying with the saved method: its display name.
    pub method: Option<String>,
}

impl From<ChargeQuote> for ChargeQuoteView {
    fn from(q: ChargeQuote) -> Self {
        ChargeQuoteView {
            invoice_id: q.invoice_id,
            invoice_number: q.invoice_number,
            currency: q.total.currency,
            amount_due: q.amount_due.amount,
            amount: q.amount.amount,
            fee: q.fee.amount,
            fee_description: q.fee_description,
            total: q.total.amount,
            method_type: crate::db::method_type_name(&q.method_type),
            method: q.method,
        }
    }
}

/// A charge to start.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChargeInput {
    /// The part of the amount due to pay, without the fee, in minor units of the invoice's
    /// currency; absent: all that is due. Only agents may pay part.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub amount: Option<i64>,
    pub pay_with: ChargeWithInput,
    /// The total (amount and fee, minor units of the invoice's currency) the payer agreed to, as
    /// the quote gave it: when the charge would be any other, nothing is charged (409).
    #[serde(default)]
    pub agreed_total: Option<i64>,
    /// Where Stripe sends the payer back after authenticating (an http(s) URL).
    #[serde(default)]
    #[schema(
        max_length = 2000,
        pattern = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[!-~]*)?$"
    )]
    pub return_url: Option<String>,
}

/// A started charge.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChargeStartedView {
    pub group_id: String,
    pub intent_id: String,
    pub status: &'static str,
    /// For Stripe.js (new details, or authentication): the PaymentIntent's client secret.
    pub client_secret: Option<String>,
    /// What Stripe was asked for (amount and fee).
    pub total: i64,
    pub currency: String,
    pub payments: Vec<PaymentView>,
    pub failure_reason: Option<String>,
}

impl From<ChargeStarted> for ChargeStartedView {
    fn from(p: ChargeStarted) -> Self {
        ChargeStartedView {
            group_id: p.group_id,
            intent_id: p.intent_id,
            status: vocabulary::PaymentStatus::from(p.status).wire_name(),
            client_secret: p.client_secret,
            total: p.total.amount,
            currency: p.total.currency,
            payments: p.payments.into_iter().map(Into::into).collect(),
            failure_reason: p.failure_reason,
        }
    }
}

/// Price one charge of an invoice for the caller: all or `amount` of what is due, with the fee
/// on what is paid, and the saved method's name when paying with it (read from Stripe).
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/invoices/{id}/charges/quote", tag = "payments",
    params(("tenant" = String, Path), ("id" = i64, Path)), request_body = ChargeQuoteInput,
    responses((status = 200, body = ChargeQuoteView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the invoice is paid, void or has a payment in progress, or the integration is not set up for this"),
        (status = 422, body = ErrorBody, description = "`amount` is not more than zero and at most the amount due, a part is asked for by someone other than an agent, or the charge is outside Stripe's amount limits"),
        (status = 501, body = ErrorBody, description = "the plugin version the tenant runs has no `charges`")),
    security(("bearer" = [])))]
pub async fn quote(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<IdPath>,
    JsonBody(input): JsonBody<ChargeQuoteInput>,
) -> Result<Json<ChargeQuoteView>, ApiError> {
    let with = charge_with(&input.pay_with)?;
    let (tenant, who) = (caller.tenant.clone(), initiator(&caller.principal));
    blocking(&state, move |app| {
        Ok(app
            .quote_charge(&tenant, path.id, input.amount, &with, who)?
            .into())
    })
    .await
    .map(Json)
}

/// Charge one invoice for all or part of its amount due: an agent's "Receive Payment (Manual)"
/// (needs "Can Receive Manual Stripe Payments"); portal users may pay all that is due.
///
/// The fee is on what is paid; the invoice keeps awaiting payment with the rest, which the portal
/// and the daily run then take. The record is written only while the invoice's amount due is
/// still what was priced and no other payment of it is open (a uniqueness rule of the database),
/// otherwise 409 and nothing is sent to Stripe. With `agreed_total`, a charge that would be any
/// other total is refused with 409 and nothing is charged.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/invoices/{id}/charges", tag = "payments",
    params(("tenant" = String, Path), ("id" = i64, Path)), request_body = ChargeInput,
    responses((status = 201, body = ChargeStartedView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the total is not the one agreed to, the invoice is paid, void, has a payment in progress or its amount due changed since it was priced, or the integration is not set up for this"),
        (status = 422, body = ErrorBody, description = "`amount` is not more than zero and at most the amount due, a part is asked for by someone other than an agent, or the charge is outside Stripe's amount limits"),
        (status = 501, body = ErrorBody, description = "the plugin version the tenant runs has no `charges`")),
    security(("bearer" = [])))]
pub async fn charge(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<IdPath>,
    JsonBody(input): JsonBody<ChargeInput>,
) -> Result<(StatusCode, Json<ChargeStartedView>), ApiError> {
    if let Some(url) = &input.return_url {
        checks::http_url("return_url", url)?;
    }
    let with = charge_with(&input.pay_with)?;
    let (tenant, who) = (caller.tenant.clone(), initiator(&caller.principal));
    blocking(&state, move |app| {
        let agreed_total = match input.agreed_total {
            Some(amount) => Some(Money {
                amount,
                currency: app.db().invoice(&tenant, path.id)?.currency,
            }),
            None => None,
        };
        let request = ChargeRequest {
            invoice: path.id,
            amount: input.amount,
            paid_with: with,
            initiator: who,
            agreed_total,
            return_url: input.return_url,
        };
        Ok((
            StatusCode::CREATED,
            Json(app.start_charge(&tenant, &request)?.into()),
        ))
    })
    .await
}
