//! `/app/invoices/{id}`, an invoice for agents: its lines, payments, disputes, anomalies and
//! payment emails,
//! and "Receive Payment (Manual)" with the saved method or a new card, for agents with the
//! permission.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::error::PageError;
use super::payment;
use super::respond::{Flash, finish, page, told};
use super::session::Viewer;
use super::words::{at, money};
use crate::contract::{Initiator, PaymentFilter, PaymentMethodType};
use crate::web::state::AppState;
use paydesk_plugin::domain::vocabulary;

#[derive(Template)]
#[template(path = "invoice.html")]
struct InvoicePage {
    flash: String,
    csrf: String,
    is_admin: bool,
    id: i64,
    number: String,
    customer_id: i64,
    customer: String,
    issue_date: String,
    due_date: String,
    status: &'static str,
    status_label: &'static str,
    lines: Vec<(String, String, bool)>,
    amount_due: String,
    payments: Vec<(String, &'static str, String, String, String, String, String)>,
    /// Intents Stripe reported that were not applied (when first seen, why).
    anomalies: Vec<(String, String)>,
    /// Disputes of its payments, oldest first.
    disputes: Vec<DisputeRow>,
    /// One of them was lost: the amount is owed again and not charged automatically.
    dispute_lost: bool,
    /// The payment emails: (outcome, recipients, outbox status, why it failed).
    emails: Vec<(String, String, String, String)>,
    can_pay: bool,
    /// Why a payment of it would be refused now (empty: it can be paid).
    refused: String,
    saved: String,
    total: String,
    publishable_key: String,
    stripe_js: String,
}

/// A dispute of one of the invoice's payments, for people.
struct DisputeRow {
    id: String,
    /// Stripe's status name (for the badge's class and tests).
    status: String,
    /// In words (`needs response`, `inquiry closed`, `lost`).
    label: String,
    reason: String,
    amount: String,
    evidence_due: String,
    opened: String,
}

impl From<crate::contract::Dispute> for DisputeRow {
    fn from(d: crate::contract::Dispute) -> Self {
        let status = crate::db::dispute_status_name(&d.status);
        let label = vocabulary::DisputeStatus::from_wire_name(&status)
            .map_or_else(|| status.replace('_', " "), |s| s.label().to_string());
        DisputeRow {
            id: d.id,
            label,
            status,
            reason: d.reason.replace('_', " "),
            amount: money(d.amount.amount, &d.amount.currency),
            evidence_due: d.evidence_due_by.map(at).unwrap_or_default(),
            opened: at(d.opened_at),
        }
    }
}

/// The outbox rows of the emails about `payments` (keyed `payment/{intent or group}/{outcome}`):
/// what was sent, and what could not be, with the reason.
fn payment_emails(
    app: &crate::app::App,
    tenant: &crate::tenant::TenantId,
    payments: &[crate::contract::InvoicePayment],
) -> Result<Vec<(String, String, String, String)>, PageError> {
    let mut keys: Vec<&str> = payments
        .iter()
        .flat_map(|p| [p.intent_id.as_deref(), Some(p.group_id.as_str())])
        .flatten()
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut rows = Vec::new();
    for key in keys {
        let prefix = format!("payment/{key}/");
        for m in app.db().emails_with_key_prefix(tenant, &prefix)? {
            let outcome = m
                .dedup_key
                .as_deref()
                .and_then(|k| k.strip_prefix(&prefix))
                .unwrap_or_default()
                .replace('_', " ");
            let recipients = m.to.iter().chain(&m.cc).cloned().collect::<Vec<_>>();
            rows.push((
                outcome,
                recipients.join(", "),
                m.status,
                m.last_error.unwrap_or_default(),
            ));
        }
    }
    Ok(rows)
}

/// Who started a payment, for people.
fn started_by(i: &Initiator) -> String {
    match i {
        Initiator::Agent(id) => format!("agent #{id}"),
        Initiator::PortalUser(id) => format!("portal user #{id}"),
        Initiator::Autopay => "automatic payment".into(),
    }
}

pub async fn invoice(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Query(flash): Query<Flash>,
) -> Result<Response, PageError> {
    let a = viewer.agent()?.clone();
    let stripe_js = state.stripe_js_url.clone();
    page(&state, move |app| {
        let i = app.db().invoice(&viewer.tenant, id)?;
        let c = app.db().customer(&viewer.tenant, i.customer_id)?;
        let settings = app.db().tenant(&viewer.tenant)?.settings;
        let payments = app
            .db()
            .payments(&viewer.tenant, &PaymentFilter::Invoice(id))?;
        let emails = payment_emails(app, &viewer.tenant, &payments)?;
        let anomalies = app
            .db()
            .anomalies(&viewer.tenant, id)?
            .into_iter()
            .map(|a| (at(a.at), a.reason))
            .collect();
        let disputes: Vec<DisputeRow> = app
            .db()
            .disputes(&viewer.tenant, id)?
            .into_iter()
            .map(Into::into)
            .collect();
        let dispute_lost = disputes.iter().any(|d| d.status == "lost");
        let payable =
            i.status == crate::contract::InvoiceStatus::AwaitingPayment && i.amount_due > 0;
        let can_pay = a.can_receive_manual_stripe_payments
            && payable
            && c.stripe_customer_id.is_some()
            && settings.enabled;
        // The charge as paying would price it; when it would be refused (Stripe's amount limits,
        // a payment in progress) the page says why instead of offering a payment that cannot go.
        let (total, refused) = if can_pay {
            match app.quote_invoices(
                &viewer.tenant,
                &[id],
                PaymentMethodType::Card,
                Initiator::Agent(a.id),
            ) {
                Ok(q) => (money(q.total.amount, &q.total.currency), String::new()),
                Err(e) => (String::new(), PageError::from(e).message),
            }
        } else {
            (String::new(), String::new())
        };
        Ok(InvoicePage {
            flash: flash.text(app, &viewer),
            csrf: viewer.csrf.clone(),
            is_admin: viewer.is_admin(),
            id,
            customer_id: c.id,
            customer: c.name,
            issue_date: i.issue_date.clone(),
            due_date: i.due_date.clone(),
            status: vocabulary::InvoiceStatus::from(i.status).wire_name(),
            status_label: vocabulary::InvoiceStatus::from(i.status).label(),
            lines: i
                .lines
                .iter()
                .map(|l| {
                    (
                        l.description.clone(),
                        money(l.amount, &i.currency),
                        l.is_processing_fee,
                    )
                })
                .collect(),
            amount_due: money(i.amount_due, &i.currency),
            payments: payments
                .iter()
                .map(|p| {
                    (
                        at(p.created_at),
                        vocabulary::PaymentStatus::from(p.status).wire_name(),
                        p.method.clone().unwrap_or_default(),
                        money(p.amount.amount, &p.amount.currency),
                        money(p.fee.amount, &p.fee.currency),
                        started_by(&p.initiator),
                        p.failure_reason.clone().unwrap_or_default(),
                    )
                })
                .collect(),
            anomalies,
            disputes,
            dispute_lost,
            emails,
            can_pay,
            refused,
            saved: c.stripe_payment_method_name.unwrap_or_default(),
            total,
            publishable_key: settings.stripe_public_key.unwrap_or_default(),
            stripe_js,
            number: i.number,
        })
    })
    .await
}

pub async fn pay_saved(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, PageError> {
    let a = viewer.agent()?.clone();
    viewer.form(&body)?;
    finish(
        &state,
        viewer,
        format!("/app/invoices/{id}"),
        move |app, viewer| {
            Ok(told(
                payment::start_saved(app, viewer, vec![id], Initiator::Agent(a.id)),
                "Not charged",
                |p| {
                    format!(
                        "Payment {}: {}.",
                        p.intent_id,
                        vocabulary::PaymentStatus::from(p.status).label()
                    )
                },
            ))
        },
    )
    .await
}

/// Start a new-card payment for the agent's form: the payment and a SetupIntent for the card.
pub async fn pay_new(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let a = viewer.agent()?.clone();
    viewer.check_csrf_header(&headers)?;
    payment::start_new_card(&state, viewer, vec![id], Initiator::Agent(a.id)).await
}
