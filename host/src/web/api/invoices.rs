//! `/invoices`: create (agents) and read invoices — portal users see only what their invoice
//! access level shows — and an invoice as a document with the plugin's variables filled in.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::checks;
use super::extract::{IdPath, JsonBody, Path, Query};
use super::payments::PaymentView;
use crate::contract::{Invoice, InvoiceFilter, PaymentFilter};
use crate::db::{NewInvoice, Principal};
use crate::web::error::{ApiError, ErrorBody, FieldProblem};
use crate::web::state::{AppState, blocking};
use paydesk_plugin::domain::limits::{self, LinesError, MAX_LINE_AMOUNT, MAX_LINES};
use paydesk_plugin::domain::vocabulary;

/// An invoice line.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LineView {
    pub description: String,
    /// Minor units of the invoice currency.
    pub amount: i64,
    #[serde(default)]
    pub is_processing_fee: bool,
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
    /// Disputes of this invoice's payments (chargebacks, and inquiries before one), oldest first.
    /// A lost one's amount is owed again (it is in `amount_due`) and the invoice is not charged
    /// automatically again. Agents only: always empty for portal users.
    pub disputes: Vec<DisputeView>,
    /// Refunds of this invoice's payments, oldest first: a succeeded one's amount, less its fee
    /// part, is owed again (it is in `amount_due`), and the invoice is not charged automatically
    /// again.
    pub refunds: Vec<super::refunds::RefundView>,
}

/// A dispute of a payment, as Stripe last described it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DisputeView {
    /// Stripe's dispute id (`dp_…`).
    pub id: String,
    /// The payment record disputed.
    pub payment_id: i64,
    pub charge_id: String,
    pub intent_id: Option<String>,
    /// Stripe's status: `warning_needs_response`, `warning_under_review`, `warning_closed`
    /// (inquiries), `needs_response`, `under_review`, `won`, `lost`, or a newer one of Stripe's.
    pub status: String,
    /// Stripe's reason (`fraudulent`, `product_not_received`, `general`, …).
    pub reason: String,
    /// This payment's part of the disputed amount, minor units of `currency`.
    pub amount: i64,
    pub currency: String,
    /// When Stripe wants the evidence by (Unix seconds).
    pub evidence_due_by: Option<i64>,
    /// When Stripe opened it (Unix seconds).
    pub opened_at: i64,
    /// When the state held was observed at Stripe, on Stripe's clock (Unix seconds).
    pub observed_at: i64,
    pub updated_at: i64,
}

impl From<crate::contract::Dispute> for DisputeView {
    fn from(d: crate::contract::Dispute) -> Self {
        DisputeView {
            status: crate::db::dispute_status_name(&d.status),
            id: d.id,
            payment_id: d.payment_id,
            charge_id: d.charge_id,
            intent_id: d.intent_id,
            reason: d.reason,
            amount: d.amount.amount,
            currency: d.amount.currency,
            evidence_due_by: d.evidence_due_by,
            opened_at: d.opened_at,
            observed_at: d.observed_at,
            updated_at: d.updated_at,
        }
    }
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
    let disputes = match principal {
        Principal::Agent(_) => app
            .db()
            .disputes(tenant, i.id)?
            .into_iter()
            .map(Into::into)
            .collect(),
        Principal::User(_) => Vec::new(),
    };
    let refunds = app
        .db()
        .refunds(tenant, i.id)?
        .into_iter()
        .map(|r| super::refunds::RefundView::of(r, principal))
        .collect();
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
        status: vocabulary::InvoiceStatus::from(i.status).wire_name(),
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
        disputes,
        refunds,
    })
}

/// May this caller see the invoice (REQUIREMENTS M13)?
fn visible(principal: &Principal, invoice: &Invoice) -> bool {
    crate::access::sees(principal, invoice)
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
    caller.invoice_reader()?;
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
                .then_some(crate::contract::InvoiceStatus::AwaitingPayment),
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
        let rendered = app.invoice_html(&tenant, &invoice)?;
        Ok(axum::response::Html(rendered))
    })
    .await
}
