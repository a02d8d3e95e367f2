//! `/app/invoices/{id}`, an invoice for agents: its lines, payments, refunds, disputes, anomalies
//! and payment emails, "Receive Payment (Manual)" with the saved method or a new card for agents
//! with that permission, and refunds of its succeeded payments for agents with "Can Refund Stripe
//! Payments".

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::error::PageError;
use super::payment;
use super::respond::{Flash, Next, finish, page, told};
use super::session::Viewer;
use super::words::{at, money};
use crate::contract::charges::{ChargeRequest, ChargeWith};
use crate::contract::refunds::RefundRequest;
use crate::contract::{Initiator, Money, PaymentFilter, PaymentMethodType};
use crate::web::state::AppState;
use paydesk_plugin::domain::money::Currency;
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
    /// Refunds of its payments, oldest first.
    refunds: Vec<RefundRow>,
    /// The agent has "Can Refund Stripe Payments" (and the integration is on).
    can_refund: bool,
    /// What can still be refunded of each succeeded payment: (payment id, method, the amount as
    /// the field shows it, in words with its fee part).
    refundable: Vec<(i64, String, String, String)>,
    /// The payment emails: (outcome, recipients, outbox status, why it failed).
    emails: Vec<(String, String, String, String)>,
    can_pay: bool,
    /// Why a payment of it would be refused now (empty: it can be paid).
    refused: String,
    /// The amount to receive as the agent typed it, or all that is due.
    amount_input: String,
    /// The part to receive in minor units, when it is not all that is due (empty: all of it).
    part: String,
    /// The part priced, for people (`USD 50.00 of USD 100.00 due`); empty when all is paid.
    part_label: String,
    saved: String,
    /// What charging the saved method costs (amount and fee), or why it can't be charged.
    saved_total: String,
    saved_refused: String,
    total: String,
    /// `total` in minor units: the total the new-card payment is held to.
    agreed_total: i64,
    publishable_key: String,
    stripe_js: String,
}

/// `?amount=` of the invoice page: the part an agent wants to receive, as people write amounts.
#[derive(Debug, Default, serde::Deserialize)]
pub struct PartQuery {
    #[serde(default)]
    pub amount: String,
}

/// The amount of `m` without its currency: `100.00`.
fn bare_amount(amount: i64, currency: &str) -> String {
    let shown = money(amount, currency);
    shown
        .split_once(' ')
        .map(|(_, a)| a.to_string())
        .unwrap_or(shown)
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

/// A refund of one of the invoice's payments, for people.
struct RefundRow {
    id: i64,
    /// Stripe's status name (for the badge's class and tests).
    status: &'static str,
    label: &'static str,
    amount: String,
    /// Its processing fee part (empty: none).
    fee_part: String,
    refund_id: String,
    by: String,
    note: String,
    /// Claimed, and Stripe's answer never came: the agent may ask again (read back first).
    retry: bool,
}

impl From<crate::contract::Refund> for RefundRow {
    fn from(r: crate::contract::Refund) -> Self {
        let status = vocabulary::RefundStatus::from(r.status);
        RefundRow {
            id: r.id,
            status: status.wire_name(),
            label: status.label(),
            amount: money(r.amount.amount, &r.amount.currency),
            fee_part: if r.fee_part.amount == 0 {
                String::new()
            } else {
                money(r.fee_part.amount, &r.fee_part.currency)
            },
            retry: r.refund_id.is_none() && status == vocabulary::RefundStatus::Pending,
            refund_id: r.refund_id.unwrap_or_default(),
            by: r.agent_id.map_or_else(
                || "Stripe's dashboard".to_string(),
                |id| format!("agent #{id}"),
            ),
            note: r.failure_reason.unwrap_or_default(),
        }
    }
}

/// What can still be refunded of each succeeded payment of the invoice, by the same rule the
/// plugin refunds with (`domain::refunds`): (payment id, method, the field's amount, in words).
fn refundable_payments(
    payments: &[crate::contract::InvoicePayment],
    refunds: &[crate::contract::Refund],
    fee_back: bool,
) -> Vec<(i64, String, String, String)> {
    use paydesk_plugin::domain::refunds::refundable;
    payments
        .iter()
        .filter(|p| p.status == crate::contract::PaymentStatus::Succeeded)
        .filter_map(|p| {
            let live: Vec<(i64, i64)> = refunds
                .iter()
                .filter(|r| r.payment_id == p.id)
                .filter(|r| !vocabulary::RefundStatus::from(r.status).is_void())
                .map(|r| (r.amount.amount, r.fee_part.amount))
                .collect();
            let r = refundable(p.amount.amount, p.fee.amount, &live, fee_back).ok()?;
            (r.refundable > 0).then(|| {
                let c = &p.amount.currency;
                let words = if r.fee_part > 0 {
                    format!(
                        "up to {}, of which {} is the processing fee",
                        money(r.refundable, c),
                        money(r.fee_part, c)
                    )
                } else {
                    format!("up to {}", money(r.refundable, c))
                };
                (
                    p.id,
                    p.method.clone().unwrap_or_else(|| "Stripe".into()),
                    bare_amount(r.refundable, c),
                    words,
                )
            })
        })
        .collect()
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
    Query(part): Query<PartQuery>,
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
        let held_refunds = app.db().refunds(&viewer.tenant, id)?;
        let can_refund = settings.enabled && app.db().can_refund(&viewer.tenant, a.id)?;
        let refundable = if can_refund {
            refundable_payments(
                &payments,
                &held_refunds,
                settings.stripe_refund_processing_fee,
            )
        } else {
            Vec::new()
        };
        let refunds: Vec<RefundRow> = held_refunds.into_iter().map(Into::into).collect();
        let payable =
            i.status == crate::contract::InvoiceStatus::AwaitingPayment && i.amount_due > 0;
        let can_pay = a.can_receive_manual_stripe_payments
            && payable
            && c.stripe_customer_id.is_some()
            && settings.enabled;
        // The part to receive, when the agent asked for one; a bad amount is said, nothing priced.
        let (asked, amount_error) = match part.amount.trim() {
            "" => (None, String::new()),
            text => match Currency::parse(&i.currency).and_then(|c| c.parse_amount(text)) {
                Ok(m) => (Some(m.0), String::new()),
                Err(e) => (None, e.to_string()),
            },
        };
        // The charge as paying would price it, for a new card and for the saved method; when it
        // would be refused (Stripe's amount limits, a payment in progress, a bad amount) the page
        // says why instead of offering a payment that cannot go.
        let mut priced = (String::new(), 0, String::new(), String::new());
        let (mut saved_total, mut saved_refused) = (String::new(), String::new());
        if can_pay && !amount_error.is_empty() {
            priced.2 = amount_error;
        } else if can_pay {
            let agent = Initiator::Agent(a.id);
            match app.quote_charge(
                &viewer.tenant,
                id,
                asked,
                &ChargeWith::NewDetails(PaymentMethodType::Card),
                agent,
            ) {
                Ok(q) => {
                    if q.amount.amount != q.amount_due.amount {
                        priced.3 = format!(
                            "{} of the {} due",
                            money(q.amount.amount, &q.amount.currency),
                            money(q.amount_due.amount, &q.amount_due.currency)
                        );
                    }
                    priced.0 = money(q.total.amount, &q.total.currency);
                    priced.1 = q.total.amount;
                }
                Err(e) => priced.2 = PageError::from(e).message,
            }
            if priced.2.is_empty() && c.stripe_payment_method_id.is_some() {
                match app.quote_charge(&viewer.tenant, id, asked, &ChargeWith::SavedMethod, agent) {
                    Ok(q) => saved_total = money(q.total.amount, &q.total.currency),
                    Err(e) => saved_refused = PageError::from(e).message,
                }
            }
        }
        let (total, agreed_total, refused, part_label) = priced;
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
            refunds,
            can_refund,
            refundable,
            emails,
            can_pay,
            refused,
            amount_input: if part.amount.trim().is_empty() {
                bare_amount(i.amount_due, &i.currency)
            } else {
                part.amount.trim().chars().take(40).collect()
            },
            part: asked.map(|a| a.to_string()).unwrap_or_default(),
            part_label,
            saved: c.stripe_payment_method_name.unwrap_or_default(),
            saved_total,
            saved_refused,
            total,
            agreed_total,
            publishable_key: settings.stripe_public_key.unwrap_or_default(),
            stripe_js,
            number: i.number,
        })
    })
    .await
}

#[derive(Template)]
#[template(path = "charge_confirm.html")]
struct ConfirmPage {
    flash: String,
    csrf: String,
    is_admin: bool,
    id: i64,
    number: String,
    method: String,
    total: String,
    amount: String,
    amount_due: String,
    fee: String,
    fee_description: String,
    part: String,
    agreed_total: i64,
}

/// `?amount=` of the confirmation: the part in minor units (none: all that is due).
#[derive(Debug, Default, serde::Deserialize)]
pub struct ConfirmQuery {
    pub amount: Option<i64>,
}

/// `/app/invoices/{id}/charge`: what charging the saved method will take — total, the part of
/// the amount due, the fee and the method — for the agent to confirm before anything is charged.
pub async fn confirm_saved(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Query(q): Query<ConfirmQuery>,
) -> Result<Response, PageError> {
    let a = viewer.agent()?.clone();
    page(&state, move |app| {
        let quote = app.quote_charge(
            &viewer.tenant,
            id,
            q.amount,
            &ChargeWith::SavedMethod,
            Initiator::Agent(a.id),
        )?;
        Ok(ConfirmPage {
            flash: String::new(),
            csrf: viewer.csrf.clone(),
            is_admin: viewer.is_admin(),
            id,
            number: quote.invoice_number,
            method: quote.method.unwrap_or_default(),
            total: money(quote.total.amount, &quote.total.currency),
            amount: money(quote.amount.amount, &quote.amount.currency),
            amount_due: money(quote.amount_due.amount, &quote.amount_due.currency),
            fee: if quote.fee.amount == 0 {
                String::new()
            } else {
                money(quote.fee.amount, &quote.fee.currency)
            },
            fee_description: quote.fee_description,
            part: q.amount.map(|a| a.to_string()).unwrap_or_default(),
            agreed_total: quote.total.amount,
        })
    })
    .await
}

/// A whole number of a form field, when given.
fn minor_units(form: &super::form::Form, field: &str) -> Result<Option<i64>, String> {
    match form.field(field).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("{field} is not a whole number of minor units")),
    }
}

/// The confirmed charge of the saved method: exactly the total the agent confirmed, or nothing.
pub async fn pay_saved(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, PageError> {
    let a = viewer.agent()?.clone();
    let form = viewer.form(&body)?;
    finish(
        &state,
        viewer,
        format!("/app/invoices/{id}"),
        move |app, viewer| {
            let (amount, agreed) = match (
                minor_units(&form, "amount"),
                minor_units(&form, "agreed_total"),
            ) {
                (Ok(amount), Ok(Some(agreed))) => (amount, agreed),
                (Err(e), _) | (_, Err(e)) => return Ok(Next::Back(format!("Not charged: {e}"))),
                (_, Ok(None)) => {
                    return Ok(Next::Back(
                        "Not charged: confirm the charge's amount and method first".into(),
                    ));
                }
            };
            let currency = match app.db().invoice(&viewer.tenant, id) {
                Ok(i) => i.currency,
                Err(e) => {
                    return Ok(Next::Back(format!(
                        "Not charged: {}",
                        PageError::from(e).message
                    )));
                }
            };
            let request = ChargeRequest {
                invoice: id,
                amount,
                paid_with: ChargeWith::SavedMethod,
                initiator: Initiator::Agent(a.id),
                agreed_total: Some(Money {
                    amount: agreed,
                    currency,
                }),
                return_url: None,
            };
            Ok(told(
                app.start_charge(&viewer.tenant, &request),
                "Not charged",
                |p| {
                    format!(
                        "Payment {} of {}: {}.",
                        p.intent_id,
                        money(p.total.amount, &p.total.currency),
                        vocabulary::PaymentStatus::from(p.status).label()
                    )
                },
            ))
        },
    )
    .await
}

/// An amount as people write it, in the invoice's currency (empty: none).
fn typed_amount(form: &super::form::Form, currency: &str) -> Result<Option<i64>, String> {
    match form
        .field("amount")
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        None => Ok(None),
        Some(text) => Currency::parse(currency)
            .and_then(|c| c.parse_amount(text))
            .map(|m| Some(m.0))
            .map_err(|e| e.to_string()),
    }
}

/// Refund one succeeded payment of the invoice, in full (the amount left as offered) or in part.
pub async fn refund_payment(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, payment)): Path<(i64, i64)>,
    body: Bytes,
) -> Result<Response, PageError> {
    let a = viewer.agent()?.clone();
    let form = viewer.form(&body)?;
    finish(
        &state,
        viewer,
        format!("/app/invoices/{id}"),
        move |app, viewer| {
            let currency = match app.db().invoice(&viewer.tenant, id) {
                Ok(i) => i.currency,
                Err(e) => {
                    return Ok(Next::Back(format!(
                        "Not refunded: {}",
                        PageError::from(e).message
                    )));
                }
            };
            let amount = match typed_amount(&form, &currency) {
                Ok(a) => a,
                Err(e) => return Ok(Next::Back(format!("Not refunded: {e}"))),
            };
            let request = RefundRequest {
                invoice: id,
                payment,
                amount,
                agent: a.id,
            };
            Ok(told(
                app.refund_payment(&viewer.tenant, &request),
                "Not refunded",
                |r| {
                    format!(
                        "Refund of {}: {}.",
                        money(r.amount.amount, &r.amount.currency),
                        vocabulary::RefundStatus::from(r.status).label()
                    )
                },
            ))
        },
    )
    .await
}

/// Ask Stripe again for a refund whose answer was lost (read back first: never made twice).
pub async fn retry_refund(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, refund)): Path<(i64, i64)>,
    body: Bytes,
) -> Result<Response, PageError> {
    let a = viewer.agent()?.clone();
    let _form = viewer.form(&body)?;
    finish(
        &state,
        viewer,
        format!("/app/invoices/{id}"),
        move |app, viewer| {
            Ok(told(
                app.resume_refund(&viewer.tenant, id, refund, a.id),
                "Not asked again",
                |r| {
                    format!(
                        "Refund of {}: {}.",
                        money(r.amount.amount, &r.amount.currency),
                        vocabulary::RefundStatus::from(r.status).label()
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
    Query(q): Query<NewCardQuery>,
) -> Result<Response, PageError> {
    let a = viewer.agent()?.clone();
    viewer.check_csrf_header(&headers)?;
    payment::start_new_card_charge(&state, viewer, id, q.amount, q.agreed_total, a.id).await
}

/// `?amount=&agreed_total=` of a new-card charge: the part (minor units; none: all that is due)
/// and the total the page showed, which the charge is held to.
#[derive(Debug, Default, serde::Deserialize)]
pub struct NewCardQuery {
    pub amount: Option<i64>,
    pub agreed_total: Option<i64>,
}
