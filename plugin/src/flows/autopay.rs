//! Automatic payments (REQUIREMENTS M5, M7, B2, B4, B6): the daily run's plan, charging one
//! invoice without ever charging it twice, and the invoice-created event.
//!
//! Never twice: each attempt has a claim in storage (`autopay/{invoice}/{attempt}`), written with
//! create-only / compare-and-swap before Stripe is called and settled after; the attempt's group id
//! — and so the PaymentIntent's idempotency key — is derived from (tenant, invoice, attempt). A
//! claim whose lease ran out (its run died) is resolved by asking Stripe for the attempt's intent;
//! only when Stripe has none is the same attempt, with the same key, made again. The attempt's
//! payment record is also the invoice's claim in the host's database (one open attempt per
//! invoice): while a portal or agent payment of the invoice is open, the run gives its attempt
//! back uncounted, having sent nothing to Stripe, and a later run decides again.
//!
//! A charge Stripe would refuse for its amount (below the currency's minimum, above eight digits)
//! is skipped before any claim, with the reason in the plan and the audit trail: it is no attempt.

use serde::{Deserialize, Serialize};

use super::intents::{Created, create_once, find_intent};
use super::outcomes::{apply_intent, apply_to_group};
use super::quote::fee_policy;
use super::records::Observation;
use super::{Result, error, host_error, log, now, stripe_now};
use crate::bindings::exports::paydesk::stripe::events::{
    AutopayDecision, AutopayResult, InvoiceCreatedOutcome,
};
use crate::bindings::paydesk::stripe::helpdesk::{
    self, AuditEntry, Customer, Initiator, Invoice, InvoiceFilter, InvoiceStatus, NewPayment,
    PaymentFilter, PaymentStatus,
};
use crate::bindings::paydesk::stripe::log::Level;
use crate::bindings::paydesk::stripe::storage;
use crate::bindings::paydesk::stripe::types::{ErrorKind, Money, Settings, TakePaymentOn};
use crate::domain::autopay::{self, Attempt, Candidate, Decision, Policy};
use crate::domain::fees;
use crate::domain::lease::lease_until;
use crate::domain::vocabulary as vocab;
use crate::stripe::payment_intents::{self, NewIntent};

/// An attempt's claim, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claim {
    /// `claimed` until settled; then the attempt's payment status.
    state: String,
    date: String,
    group: String,
    lease_until: i64,
    #[serde(default)]
    failure_code: Option<String>,
}

/// An attempt as read from storage: what the decision sees, its claim, and the claim's version.
type StoredAttempt = (Attempt, Claim, u64);

fn claim_key(invoice: i64, attempt: u32) -> String {
    format!("autopay/{invoice}/{attempt:04}")
}

fn policy(s: &Settings) -> Policy {
    Policy {
        enabled: s.enabled && s.enableautostripepayment,
        on_due_date: s.stripetakepaymentonduedate == TakePaymentOn::DueDate,
        max_attempts: s.autopay_max_attempts.max(1),
        retry_interval_days: s.autopay_retry_interval_days,
    }
}

/// The attempts made on an invoice, from their claims.
fn attempts(invoice: i64) -> Result<Vec<StoredAttempt>> {
    let entries = storage::list_prefix(&format!("autopay/{invoice}/"), None, 1000)
        .map_err(|e| host_error("storage", e))?;
    Ok(entries
        .into_iter()
        .filter_map(|e| {
            let number: u32 = e.key.rsplit('/').next()?.parse().ok()?;
            // Claims are written by `serde_json::to_vec`, so UTF-8; reading them as text shares
            // serde_json's `&str` parser with every Stripe answer (`from_slice` would add a copy).
            let claim: Claim = serde_json::from_str(std::str::from_utf8(&e.value).ok()?).ok()?;
            let attempt = Attempt {
                number,
                date: claim.date.clone(),
                status: claim.state.clone(),
                failure_code: claim.failure_code.clone(),
            };
            Some((attempt, claim, e.version))
        })
        .collect())
}

fn candidate(invoice: &Invoice, customer: &Customer) -> Result<(Candidate, Vec<StoredAttempt>)> {
    let payments = helpdesk::list_payments(&PaymentFilter::Invoice(invoice.id))
        .map_err(|e| host_error("payments", e))?;
    let in_flight = payments.iter().any(|p| {
        matches!(
            p.status,
            PaymentStatus::Processing | PaymentStatus::RequiresAction
        )
    });
    let claims = attempts(invoice.id)?;
    Ok((
        Candidate {
            invoice_number: invoice.number.clone(),
            recurring: invoice.recurring_invoice_id.is_some(),
            awaiting_payment: invoice.status == InvoiceStatus::AwaitingPayment,
            amount_due: invoice.amount_due,
            due_date: invoice.due_date.clone(),
            mapped: customer.stripe_customer_id.is_some(),
            has_method: customer.stripe_payment_method_id.is_some(),
            in_flight,
            attempts: claims.iter().map(|(a, _, _)| a.clone()).collect(),
        },
        claims,
    ))
}

/// All invoices matching `filter`, page by page.
fn all_invoices(mut filter: InvoiceFilter) -> Result<Vec<Invoice>> {
    let mut all = Vec::new();
    loop {
        let page = helpdesk::list_invoices(&filter).map_err(|e| host_error("invoices", e))?;
        let Some(last) = page.last() else {
            return Ok(all);
        };
        filter.after_id = Some(last.id);
        all.extend(page);
    }
}

fn quote_item(invoice: &Invoice) -> fees::QuoteItem {
    fees::QuoteItem {
        invoice_id: invoice.id,
        invoice_number: invoice.number.clone(),
        currency: invoice.currency.clone(),
        amount_due: invoice.amount_due,
    }
}

/// The total the invoice would be charged (amount due plus its card fee).
fn charge_amount(invoice: &Invoice, settings: &Settings) -> Option<Money> {
    let q = fees::quote(
        &[quote_item(invoice)],
        vocab::PaymentMethodType::Card,
        &fee_policy(settings).ok()?,
    )
    .ok()?;
    Some(Money {
        amount: q.total.amount.0,
        currency: q.total.currency.code().to_string(),
    })
}

/// Why Stripe would refuse to charge the invoice with a method of `method_type` (its amount
/// limits, the three-decimal rule): a reason to skip it, never an attempt. `None`: it may be
/// charged. A fee setting that does not parse is an error of the run, not of the invoice.
fn refused_by_stripe_limits(
    invoice: &Invoice,
    settings: &Settings,
    method_type: vocab::PaymentMethodType,
) -> Result<Option<String>> {
    let policy = fee_policy(settings)?;
    Ok(
        super::quote::chargeable(&[quote_item(invoice)], method_type, &policy)
            .err()
            .map(|e| format!("Stripe would refuse this charge: {}", e.message)),
    )
}

/// The daily run's plan for `date`: every recurring invoice awaiting payment and every manual one
/// past due, charge or skip and why. Reads only.
pub fn plan(date: &str) -> Result<Vec<AutopayDecision>> {
    if autopay::day_number(date).is_none() {
        return Err(error(
            ErrorKind::InvalidInput,
            format!("`{date}` is not a date (YYYY-MM-DD)"),
        ));
    }
    let settings = helpdesk::get_settings();
    let policy = policy(&settings);
    let base = InvoiceFilter {
        customer_id: None,
        status: Some(InvoiceStatus::AwaitingPayment),
        due_on_or_before: None,
        recurring_only: true,
        after_id: None,
        limit: 1000,
    };
    let mut invoices = all_invoices(base.clone())?;
    invoices.extend(
        all_invoices(InvoiceFilter {
            recurring_only: false,
            due_on_or_before: Some(date.to_string()),
            ..base
        })?
        .into_iter()
        .filter(|i| i.recurring_invoice_id.is_none()),
    );
    invoices.sort_by_key(|i| i.id);
    let mut customers: Vec<Customer> = Vec::new();
    let mut plan = Vec::with_capacity(invoices.len());
    for invoice in invoices {
        let customer = match customers.iter().find(|c| c.id == invoice.customer_id) {
            Some(c) => c.clone(),
            None => {
                let c = helpdesk::get_customer(invoice.customer_id)
                    .map_err(|e| host_error("customer", e))?;
                customers.push(c.clone());
                c
            }
        };
        let (candidate, _) = candidate(&invoice, &customer)?;
        let decision = autopay::decide(&candidate, &policy, date);
        // Only future charges are listed for invoices not yet due (creation-mode retries are).
        if let Decision::Skip { reason } = &decision
            && reason.starts_with("due on")
        {
            continue;
        }
        let (charge, attempt, reason) = match decision {
            // Priced with the card fee, as the plan's amount is (the charge prices it again with
            // the method it is made with).
            Decision::Charge { attempt, reason } => {
                match refused_by_stripe_limits(&invoice, &settings, vocab::PaymentMethodType::Card)
                {
                    Ok(Some(refused)) => (false, 0, refused),
                    _ => (true, attempt, reason),
                }
            }
            Decision::Skip { reason } => (false, 0, reason),
        };
        plan.push(AutopayDecision {
            invoice_id: invoice.id,
            invoice_number: invoice.number.clone(),
            customer_id: invoice.customer_id,
            amount: charge_amount(&invoice, &settings),
            charge,
            attempt,
            reason,
        });
    }
    Ok(plan)
}

fn audit(invoice: &Invoice, action: &str, reason: &str, amount: Option<Money>) {
    let entry = AuditEntry {
        invoice_id: Some(invoice.id),
        action: action.to_string(),
        reason: reason.to_string(),
        amount,
    };
    if let Err(e) = helpdesk::audit(&[entry]) {
        log(
            Level::Error,
            &format!("audit trail for invoice {}: {e:?}", invoice.number),
        );
    }
}

fn result(
    invoice: &Invoice,
    status: Option<PaymentStatus>,
    message: impl Into<String>,
) -> AutopayResult {
    AutopayResult {
        invoice_id: invoice.id,
        status,
        message: message.into(),
    }
}

/// Charge one invoice for the run of `date`. Safe to call twice, from two hosts at once, or after
/// a crash.
pub fn charge(invoice_id: i64, date: &str) -> Result<AutopayResult> {
    let settings = helpdesk::get_settings();
    let invoice = helpdesk::get_invoice(invoice_id).map_err(|e| host_error("invoice", e))?;
    let customer =
        helpdesk::get_customer(invoice.customer_id).map_err(|e| host_error("customer", e))?;
    let (candidate, claims) = candidate(&invoice, &customer)?;
    // An attempt whose run died: resolve it with Stripe before deciding anything.
    if let Some((attempt, claim, version)) = claims.iter().max_by_key(|(a, _, _)| a.number)
        && claim.state == "claimed"
        && claim.lease_until < now()
    {
        return resume(
            &invoice,
            &customer,
            attempt.number,
            claim.clone(),
            *version,
            &settings,
        );
    }
    let decision = autopay::decide(&candidate, &policy(&settings), date);
    let (attempt, reason) = match decision {
        Decision::Skip { reason } => {
            audit(&invoice, "skip", &reason, None);
            return Ok(result(&invoice, None, reason));
        }
        Decision::Charge { attempt, reason } => (attempt, reason),
    };
    // Stripe's amount limits, with the fee of the method it would be charged to, before any claim:
    // a charge Stripe would refuse is skipped and why recorded, and it is not an attempt.
    if let Some(pm_id) = customer.stripe_payment_method_id.as_deref() {
        let (method_type, _) = super::payment_methods::describe(pm_id)?;
        if let Some(refused) = refused_by_stripe_limits(&invoice, &settings, method_type)? {
            audit(&invoice, "skip", &refused, None);
            return Ok(result(&invoice, None, refused));
        }
    }
    let group = format!("ap-{}-{}-{attempt}", helpdesk::tenant_ref(), invoice.id);
    let claim = Claim {
        state: "claimed".into(),
        date: date.to_string(),
        group: group.clone(),
        lease_until: lease_until(now(), settings.autopay_claim_lease_seconds),
        failure_code: None,
    };
    let key = claim_key(invoice.id, attempt);
    let bytes =
        serde_json::to_vec(&claim).map_err(|e| error(ErrorKind::Internal, e.to_string()))?;
    let version = match storage::put_new(&key, &bytes) {
        Ok(v) => v,
        Err(_) => {
            let message = format!(
                "attempt {attempt} of invoice {} is being charged by another run",
                invoice.number
            );
            audit(&invoice, "skip", &message, None);
            return Ok(result(&invoice, None, message));
        }
    };
    audit(
        &invoice,
        "charge",
        &reason,
        charge_amount(&invoice, &settings),
    );
    attempt_charge(&invoice, &customer, attempt, claim, version, &settings)
}

/// Take over a claim whose lease ran out: find its intent in Stripe and apply it. If Stripe never
/// made one, the attempt is made now with the same idempotency key when that cannot race its own
/// ruling-out: it never wrote its records, or they are all still open without an intent and this
/// request's lease ends before reconciliation may rule them out (a day after they were written,
/// within Stripe's idempotency window, so a late first request and this one are one charge).
/// Otherwise Stripe's "none" is final — whatever the attempt sent went out under a lease that has
/// run out — so it is cancelled and never sent again: a resend after reconciliation cancelled its
/// records would charge on records that no longer count, and the next attempt would charge again
/// (found by the protocol model). The retry policy makes the next attempt.
fn resume(
    invoice: &Invoice,
    customer: &Customer,
    attempt: u32,
    mut claim: Claim,
    version: u64,
    settings: &Settings,
) -> Result<AutopayResult> {
    let key = claim_key(invoice.id, attempt);
    claim.lease_until = lease_until(now(), settings.autopay_claim_lease_seconds);
    let bytes =
        serde_json::to_vec(&claim).map_err(|e| error(ErrorKind::Internal, e.to_string()))?;
    let Ok(version) = storage::compare_and_swap(&key, version, &bytes).map(|v| v.max(version + 1))
    else {
        return Ok(result(
            invoice,
            None,
            format!("attempt {attempt} is being resolved by another run"),
        ));
    };
    let stripe_customer = customer.stripe_customer_id.clone().unwrap_or_default();
    match find_intent(&stripe_customer, &claim.group)? {
        Some(pi) => {
            audit(
                invoice,
                "resolved",
                &format!(
                    "attempt {attempt}: its payment {} was found in Stripe",
                    pi.id
                ),
                None,
            );
            let records = apply_intent(&pi, Observation::read(stripe_now()))?;
            settle(invoice, attempt, claim, version, &records)
        }
        None => {
            let written = helpdesk::list_payments(&PaymentFilter::Group(claim.group.clone()))
                .map_err(|e| host_error("payments", e))?;
            let lease_ends = lease_until(now(), settings.autopay_claim_lease_seconds);
            let still_open = written.iter().all(|r| {
                r.status == PaymentStatus::RequiresPaymentMethod
                    && r.intent_id.is_none()
                    && lease_ends
                        < r.created_at
                            .saturating_add(super::reconcile::ruled_out_after(r))
            });
            if still_open {
                audit(
                    invoice,
                    "resume",
                    &format!("attempt {attempt} never reached Stripe; making it now"),
                    None,
                );
                return attempt_charge(invoice, customer, attempt, claim, version, settings);
            }
            audit(
                invoice,
                "resolved",
                &format!("attempt {attempt}: Stripe never made this payment; it is not sent again"),
                None,
            );
            let records = apply_to_group(
                &claim.group,
                None,
                PaymentStatus::Canceled,
                Observation::failed(stripe_now(), "Stripe never made this payment".into(), None),
            )?;
            settle(invoice, attempt, claim, version, &records)
        }
    }
}

/// Create the attempt's records (once) and its intent, apply what Stripe says, settle the claim.
fn attempt_charge(
    invoice: &Invoice,
    customer: &Customer,
    attempt: u32,
    claim: Claim,
    version: u64,
    settings: &Settings,
) -> Result<AutopayResult> {
    let stripe_customer = customer.stripe_customer_id.clone().ok_or_else(|| {
        error(
            ErrorKind::NotConfigured,
            "the customer is not mapped to Stripe",
        )
    })?;
    let pm_id = customer.stripe_payment_method_id.clone().ok_or_else(|| {
        error(
            ErrorKind::NotConfigured,
            "the customer has no automatic payment method",
        )
    })?;
    let (method_type, method_name) = super::payment_methods::describe(&pm_id)?;
    let q = super::quote::chargeable(&[quote_item(invoice)], method_type, &fee_policy(settings)?)?;
    let line = &q.lines[0];
    let currency = q.total.currency.code().to_string();
    let existing = helpdesk::list_payments(&PaymentFilter::Group(claim.group.clone()))
        .map_err(|e| host_error("payments", e))?;
    if existing.is_empty() {
        let created = helpdesk::create_payments(&[NewPayment {
            invoice_id: invoice.id,
            group_id: claim.group.clone(),
            intent_id: None,
            status: PaymentStatus::RequiresPaymentMethod,
            method: Some(method_name),
            method_type: Some(method_type.into()),
            amount: Money {
                amount: line.amount_due.amount.0,
                currency: currency.clone(),
            },
            fee: Money {
                amount: line.fee.amount.0,
                currency: currency.clone(),
            },
            initiator: Initiator::Autopay,
            attempt,
        }])
        .map_err(super::claim_refused);
        if let Err(refused) = created {
            return give_back(invoice, attempt, version, refused);
        }
    }
    let receipt_email = (settings.stripe_send_recipient_email
        && settings.use_stripe_receipt_emails)
        .then(|| customer.accounts_email.clone())
        .flatten();
    let request = payment_intents::create(&NewIntent {
        amount: q.total.amount.0,
        currency: &currency,
        customer: &stripe_customer,
        tenant_ref: &helpdesk::tenant_ref(),
        group_id: &claim.group,
        invoice_ids: &[invoice.id],
        invoice_numbers: std::slice::from_ref(&invoice.number),
        payment_method: Some(&pm_id),
        off_session: true,
        method_types: &[method_type],
        receipt_email: receipt_email.as_deref(),
        return_url: None,
        attempt,
    });
    let records = match create_once(&request, &stripe_customer, &claim.group) {
        Created::Intent(pi) => apply_intent(&pi, Observation::read(stripe_now()))?,
        Created::Declined {
            intent: Some(pi),
            message,
            code,
        } => apply_intent(&pi, Observation::failed(stripe_now(), message, code))?,
        Created::Declined {
            intent: None,
            message,
            code,
        } => apply_to_group(
            &claim.group,
            None,
            PaymentStatus::Failed,
            Observation::failed(stripe_now(), message, code),
        )?,
        Created::Unknown(message) => {
            // The claim keeps its lease; the next run resolves it with Stripe.
            audit(invoice, "unknown", &message, None);
            return Ok(result(
                invoice,
                None,
                format!("outcome unknown, to be resolved with Stripe: {message}"),
            ));
        }
        Created::Refused(e) => apply_to_group(
            &claim.group,
            None,
            PaymentStatus::Failed,
            Observation::failed(stripe_now(), e.message.clone(), None),
        )?,
    };
    settle(invoice, attempt, claim, version, &records)
}

/// The host would not write the attempt's record: another payment of the invoice is open (a payer
/// in the portal, an agent) or it stopped being payable. Nothing reached Stripe, so the attempt is
/// given back — its claim deleted, not counted — and a later run decides again.
fn give_back(
    invoice: &Invoice,
    attempt: u32,
    version: u64,
    refused: crate::bindings::paydesk::stripe::types::PluginError,
) -> Result<AutopayResult> {
    if refused.kind != ErrorKind::Conflict {
        return Err(refused);
    }
    if let Err(e) = storage::delete(&claim_key(invoice.id, attempt), Some(version)) {
        log(
            Level::Warn,
            &format!(
                "giving back attempt {attempt} of invoice {}: {e:?}",
                invoice.number
            ),
        );
    }
    let message = format!(
        "attempt {attempt} not made, nothing sent to Stripe: {}",
        refused.message
    );
    audit(invoice, "retry-later", &message, None);
    Ok(result(invoice, None, message))
}

/// Record the attempt's outcome on its claim and in the audit trail.
fn settle(
    invoice: &Invoice,
    attempt: u32,
    mut claim: Claim,
    version: u64,
    records: &[helpdesk::InvoicePayment],
) -> Result<AutopayResult> {
    let record = records.iter().find(|r| r.invoice_id == invoice.id);
    let status = record
        .map(|r| r.status)
        .unwrap_or(PaymentStatus::RequiresPaymentMethod);
    let name = vocab::PaymentStatus::from(status).wire_name();
    claim.state = name.to_string();
    claim.failure_code = record.and_then(|r| r.failure_code.clone());
    let bytes =
        serde_json::to_vec(&claim).map_err(|e| error(ErrorKind::Internal, e.to_string()))?;
    if storage::compare_and_swap(&claim_key(invoice.id, attempt), version, &bytes).is_err() {
        log(
            Level::Warn,
            &format!(
                "claim of invoice {} attempt {attempt} changed meanwhile",
                invoice.number
            ),
        );
    }
    let message = match (status, record.and_then(|r| r.failure_reason.clone())) {
        (PaymentStatus::Succeeded, _) => format!("attempt {attempt}: paid"),
        (PaymentStatus::RequiresAction, _) => {
            format!("attempt {attempt}: the payer must authenticate; emailed a link")
        }
        (PaymentStatus::Processing, _) => format!("attempt {attempt}: processing"),
        (_, Some(reason)) => format!("attempt {attempt}: {name} ({reason})"),
        _ => format!("attempt {attempt}: {name}"),
    };
    audit(invoice, name, &message, None);
    Ok(result(invoice, Some(status), message))
}

/// An invoice was generated (or created): with "on invoice creation", charge it now.
pub fn invoice_created(invoice_id: i64) -> Result<InvoiceCreatedOutcome> {
    let settings = helpdesk::get_settings();
    let invoice = helpdesk::get_invoice(invoice_id).map_err(|e| host_error("invoice", e))?;
    if invoice.recurring_invoice_id.is_none() {
        return Ok(InvoiceCreatedOutcome::Nothing(
            "not generated by a recurring invoice".into(),
        ));
    }
    if !(settings.enabled && settings.enableautostripepayment) {
        return Ok(InvoiceCreatedOutcome::Nothing(
            "automatic payments are off".into(),
        ));
    }
    if settings.stripetakepaymentonduedate == TakePaymentOn::DueDate {
        return Ok(InvoiceCreatedOutcome::Nothing(format!(
            "charged on its due date, {}",
            invoice.due_date
        )));
    }
    let outcome = charge(invoice_id, &invoice.issue_date)?;
    Ok(match outcome.status {
        Some(status) => InvoiceCreatedOutcome::Charged(status),
        None => InvoiceCreatedOutcome::Skipped(outcome.message),
    })
}
