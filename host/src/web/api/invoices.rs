//! Invoices and payments: create and read invoices (portal users see only what their invoice
//! access level shows), quote, pay (agent "Receive Payment (Manual)" or portal Pay / Pay all; the
//! plugin decides who may pay what), and read an intent back after Stripe.js.

use axum::Json;
use axum::extract::State;

use super::extract::{JsonBody, Path, Query};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{IdPath, blocking, checks};
use crate::db::{
    NewInvoice, Principal, invoice_status_name, method_type_name, payment_status_name,
};
use crate::runtime::bindings::exports::paydesk::stripe::payments::{
    PayWith, PaymentRequest, PaymentStarted, Quotation,
};
use crate::runtime::bindings::{Initiator, Invoice, InvoiceFilter, InvoicePayment, PaymentFilter};
use crate::settings::method_type;
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::error::{ApiError, ErrorBody, FieldProblem};
use paydesk_plugin::domain::limits::{self, LinesError, MAX_LINE_AMOUNT, MAX_LINES};

/// A route's `{tenant}` and `{intent}`.
#[derive(Debug, Deserialize)]
pub struct IntentPath {
    #[allow(dead_code)]
    tenant: String,
    intent: String,
}

/// An invoice line.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LineView {
    pub description: String,
    /// Minor units of the invoice currency.
    pub amount: i64,
    #[serde(default)]
    pub is_processing_fee: bool,
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
    pub method_type: Option<&'static str>,
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
            status: payment_status_name(p.status),
            method: p.method,
            method_type: p.method_type.map(method_type_name),
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

/// An invoice with its lines and payments.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvoiceView {
    pub id: i64,
    pub number: String,
    pub customer_id: i64,
    pub user_id: Option<i64>,
    pub currency: String,
    pub issue_date: String,
    pub due_date: String,
    pub recurring_invoice_id: Option<i64>,
    /// `awaiting_payment`, `paid`, `void`.
    pub status: &'static str,
    pub lines: Vec<LineView>,
    pub amount_due: i64,
    pub payments: Vec<PaymentView>,
    /// What Stripe reported for this invoice's payments that was not applied — another intent
    /// than the payment's own, or a success that did not cover what the payment expects — so the
    /// invoice was not settled by it. Agents only: always empty for portal users.
    pub anomalies: Vec<AnomalyView>,
}

/// A payment anomaly: an intent Stripe reported that was kept aside, never applied.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AnomalyView {
    /// The payment record it is about.
    pub payment_id: Option<i64>,
    /// What Stripe reported and what was expected (names the intent, both amounts).
    pub reason: String,
    /// When it was first seen (Unix seconds).
    pub at: i64,
}

fn invoice_view(
    app: &crate::app::App,
    tenant: &crate::tenant::TenantId,
    principal: &Principal,
    i: Invoice,
) -> Result<InvoiceView, ApiError> {
    let payments = app.db().payments(tenant, &PaymentFilter::Invoice(i.id))?;
    let anomalies = match principal {
        Principal::Agent(_) => app
            .db()
            .anomalies(tenant, i.id)?
            .into_iter()
            .map(|a| AnomalyView {
                payment_id: a.payment_id,
                reason: a.reason,
                at: a.at,
            })
            .collect(),
        Principal::User(_) => Vec::new(),
    };
    Ok(InvoiceView {
        id: i.id,
        number: i.number,
        customer_id: i.customer_id,
        user_id: i.user_id,
        currency: i.currency,
        issue_date: i.issue_date,
        due_date: i.due_date,
        recurring_invoice_id: i.recurring_invoice_id,
        status: invoice_status_name(i.status),
        lines: i
            .lines
            .into_iter()
            .map(|l| LineView {
                description: l.description,
                amount: l.amount,
                is_processing_fee: l.is_processing_fee,
            })
            .collect(),
        amount_due: i.amount_due,
        payments: payments.into_iter().map(Into::into).collect(),
        anomalies,
    })
}

/// May this caller see the invoice (REQUIREMENTS M13)?
fn visible(principal: &Principal, invoice: &Invoice) -> bool {
    crate::access::sees(principal, invoice)
}

fn initiator(principal: &Principal) -> Initiator {
    match principal {
        Principal::Agent(a) => Initiator::Agent(a.id),
        Principal::User(u) => Initiator::PortalUser(u.id),
    }
}

/// A line of a new invoice.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    /// Not only white space.
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"[^\s\u001c-\u001f\u0085\ufeff]"
    )]
    pub description: String,
    /// Minor units of the invoice currency (negative for a credit).
    #[schema(minimum = -1_000_000_000_000i64, maximum = 1_000_000_000_000i64)]
    pub amount: i64,
    /// Ignored: processing-fee lines are added by paydesk when a payment succeeds.
    #[serde(default)]
    pub is_processing_fee: bool,
}

// The document's bounds on `amount` above are the domain's.
const _: () = assert!(MAX_LINE_AMOUNT == 1_000_000_000_000);

/// A new invoice.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceInput {
    /// Not only white space; unique in the tenant.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"[^\s\u001c-\u001f\u0085\ufeff]"
    )]
    pub number: String,
    pub customer_id: i64,
    /// The portal user it is addressed to (one of the customer's).
    #[serde(default)]
    pub user_id: Option<i64>,
    #[schema(schema_with = checks::currency_schema)]
    pub currency: String,
    /// `YYYY-MM-DD`.
    #[schema(format = Date)]
    pub issue_date: String,
    /// `YYYY-MM-DD`.
    #[schema(format = Date)]
    pub due_date: String,
    /// 1–100 lines, each within ±10¹² minor units (so no sum of them can overflow; an invoice
    /// above Stripe's largest charge may be created, and is refused when it is quoted or paid).
    #[schema(min_items = 1, max_items = 100)]
    pub lines: Vec<LineInput>,
}

/// Create an invoice (agents).
///
/// Refused with 422 naming the field when a line is beyond ±10¹² minor units
/// (`lines[i].amount`) or the lines cannot be added up (`lines`), so no amount due ever wraps.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/invoices", tag = "invoices",
    params(("tenant" = String, Path)), request_body = InvoiceInput,
    responses((status = 201, body = InvoiceView), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input): JsonBody<InvoiceInput>,
) -> Result<(StatusCode, Json<InvoiceView>), ApiError> {
    caller.agent()?;
    let mut problems = Vec::new();
    let mut bad = |field: String, message: String| problems.push(FieldProblem { field, message });
    for (field, date) in [
        ("issue_date", &input.issue_date),
        ("due_date", &input.due_date),
    ] {
        if checks::date(date).is_none() {
            bad(field.into(), format!("`{date}` is not a date (YYYY-MM-DD)"));
        }
    }
    if let Err(message) = checks::text(&input.number, 64) {
        bad("number".into(), message);
    }
    if input.lines.is_empty() || input.lines.len() > MAX_LINES {
        bad(
            "lines".into(),
            format!("an invoice has 1 to {MAX_LINES} lines"),
        );
    }
    for (i, line) in input.lines.iter().enumerate() {
        if let Err(message) = checks::text(&line.description, 500) {
            bad(format!("lines[{i}].description"), message);
        }
    }
    // Every line and every running sum of them checked, never added up where it could wrap.
    let amounts: Vec<i64> = input.lines.iter().map(|l| l.amount).collect();
    if let Err(problems) = limits::invoice_total(&amounts) {
        for problem in problems {
            match &problem {
                LinesError::LineTooLarge { index, .. } => bad(
                    format!("lines[{index}].amount"),
                    format!("at most {MAX_LINE_AMOUNT} minor units either way"),
                ),
                LinesError::SumTooLarge { .. } => bad("lines".into(), problem.to_string()),
            }
        }
    }
    let currency = checks::currency(&input.currency);
    if currency.is_none() {
        bad(
            "currency".into(),
            format!("`{}` is not a currency Stripe accepts", input.currency),
        );
    }
    if !problems.is_empty() {
        return Err(ApiError::invalid(
            "the invoice was not created; see the fields",
            problems,
        ));
    }
    let (tenant, principal) = (caller.tenant.clone(), caller.principal.clone());
    blocking(&state, move |app| {
        let invoice = app.db().create_invoice(
            &tenant,
            &NewInvoice {
                number: input.number.trim().to_string(),
                customer_id: input.customer_id,
                user_id: input.user_id,
                currency: currency.unwrap_or_default().to_string(),
                issue_date: input.issue_date,
                due_date: input.due_date,
                recurring_invoice_id: None,
                lines: input
                    .lines
                    .into_iter()
                    .map(|l| (l.description, l.amount))
                    .collect(),
            },
        )?;
        Ok((
            StatusCode::CREATED,
            Json(invoice_view(app, &tenant, &principal, invoice)?),
        ))
    })
    .await
}

/// Which invoices to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct InvoiceQuery {
    /// Only this customer's (agents; a portal user always sees only their customer's).
    pub customer_id: Option<i64>,
    /// Only unpaid ones.
    #[serde(default)]
    pub unpaid: bool,
    /// Invoices with a larger id than this.
    pub after_id: Option<i64>,
    /// How many, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// Invoices: every invoice for agents; for portal users, those their invoice access level shows.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/invoices", tag = "invoices",
    params(("tenant" = String, Path), InvoiceQuery), responses((status = 200, body = [InvoiceView])), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<InvoiceQuery>,
) -> Result<Json<Vec<InvoiceView>>, ApiError> {
    if let Principal::User(u) = &caller.principal
        && u.invoice_access_level == crate::runtime::bindings::InvoiceAccessLevel::None
    {
        return Err(ApiError::forbidden(
            "this account has no access to invoices",
        ));
    }
    let limit = checks::limit(q.limit, 100, 1000)?;
    let (tenant, principal) = (caller.tenant.clone(), caller.principal.clone());
    blocking(&state, move |app| {
        let customer_id = match &principal {
            Principal::User(u) => Some(u.customer_id),
            Principal::Agent(_) => q.customer_id,
        };
        let filter = InvoiceFilter {
            customer_id,
            status: q
                .unpaid
                .then_some(crate::runtime::bindings::InvoiceStatus::AwaitingPayment),
            due_on_or_before: None,
            recurring_only: false,
            after_id: q.after_id,
            limit,
        };
        app.db()
            .invoices(&tenant, &filter)?
            .into_iter()
            .filter(|i| visible(&principal, i))
            .map(|i| invoice_view(app, &tenant, &principal, i))
            .collect()
    })
    .await
    .map(Json)
}

/// One invoice with its lines and payments.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/invoices/{id}", tag = "invoices",
    params(("tenant" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = InvoiceView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<IdPath>,
) -> Result<Json<InvoiceView>, ApiError> {
    let (tenant, principal, id) = (caller.tenant.clone(), caller.principal.clone(), path.id);
    blocking(&state, move |app| {
        let invoice = app.db().invoice(&tenant, id)?;
        if !visible(&principal, &invoice) {
            return Err(ApiError::not_found(&format!("invoice {id}")));
        }
        invoice_view(app, &tenant, &principal, invoice)
    })
    .await
    .map(Json)
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

fn parse_type(name: &str) -> Result<crate::runtime::bindings::PaymentMethodType, ApiError> {
    method_type(name).ok_or_else(|| {
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
            status: payment_status_name(p.status),
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
            if !visible(&principal, &app.db().invoice(&tenant, p.invoice_id)?) {
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

/// The invoice document template; `$-PAYMENTMETHOD` is rendered by the plugin.
const DOCUMENT: &str = "<!doctype html><html><head><meta charset=\"utf-8\"><title>Invoice $NUMBER</title></head><body>\
<h1>Invoice $NUMBER</h1><p>Issued $ISSUED, due $DUE</p><table>$LINES</table>\
<p>Amount due: $AMOUNTDUE</p><p>Payment method: $-PAYMENTMETHOD</p></body></html>";

fn escape(s: &str) -> String {
    paydesk_plugin::domain::emails::escape_html(s)
}

use crate::access::money;

/// The invoice as a document (HTML), with the plugin's variables such as `$-PAYMENTMETHOD` filled in.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/invoices/{id}/document", tag = "invoices",
    params(("tenant" = String, Path), ("id" = i64, Path)),
    responses((status = 200, content_type = "text/html", description = "the invoice document"), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn document(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<IdPath>,
) -> Result<axum::response::Html<String>, ApiError> {
    let (tenant, principal, id) = (caller.tenant.clone(), caller.principal.clone(), path.id);
    blocking(&state, move |app| {
        let invoice = app.db().invoice(&tenant, id)?;
        if !visible(&principal, &invoice) {
            return Err(ApiError::not_found(&format!("invoice {id}")));
        }
        let lines: String = invoice
            .lines
            .iter()
            .map(|l| {
                format!(
                    "<tr><td>{}</td><td>{}</td></tr>",
                    escape(&l.description),
                    money(l.amount, &invoice.currency)
                )
            })
            .collect();
        let filled = DOCUMENT
            .replace("$NUMBER", &escape(&invoice.number))
            .replace("$ISSUED", &invoice.issue_date)
            .replace("$DUE", &invoice.due_date)
            .replace("$LINES", &lines)
            .replace("$AMOUNTDUE", &money(invoice.amount_due, &invoice.currency));
        let rendered = app.render_plugin_variables(&tenant, invoice.customer_id, &filled, true)?;
        Ok(axum::response::Html(rendered))
    })
    .await
}
