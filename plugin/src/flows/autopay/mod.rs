//! Automatic payments: the daily run's plan, charging one
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
//! So is a charge above the tenant's or the customer's autopay cap (`domain::caps`), and the
//! notification address is told of it once per invoice (the outbox's unique dedup key). An
//! invoice whose payment was lost in a dispute, or was refunded, is owed again but never charged
//! automatically again (`domain::autopay`): the plan and the audit trail say why.
//!
//! By job: `plan` (the daily run's plan), `charge` (one invoice for a run), `resume` (an attempt
//! whose run died), `attempt` (making a claimed attempt and settling it), `claims` (the claims in
//! storage); this file holds what they share: the invoice as the decision sees it, its pricing, the
//! audit trail.

pub mod charge;
pub mod plan;

mod attempt;
mod claims;
mod resume;

use crate::bindings::exports::paydesk::stripe::events::AutopayResult;
use crate::bindings::paydesk::stripe::email::{self, Message};
use crate::bindings::paydesk::stripe::helpdesk::{
    self, AuditEntry, Customer, DisputeStatus, Invoice, InvoiceStatus, PaymentFilter,
    PaymentStatus, RefundStatus,
};
use crate::bindings::paydesk::stripe::log::Level;
use crate::bindings::paydesk::stripe::types::{ErrorKind, Money};
use crate::domain::autopay::{self, Candidate, Policy};
use crate::domain::caps;
use crate::domain::emails::{escape_html, text_of};
use crate::domain::fees;
use crate::domain::money::Currency;
use crate::domain::vocabulary as vocab;
use crate::flows::quote::{self, fee_policy};
use crate::flows::{Result, error, host_error, log};
use crate::settings::{Settings, TakePaymentOn};
use claims::{StoredAttempt, attempts};

/// The tenant's automatic-payment settings, as `domain::autopay` decides with them.
fn policy(s: &Settings) -> Policy {
    Policy {
        enabled: s.enabled && s.enableautostripepayment,
        on_due_date: s.stripetakepaymentonduedate == TakePaymentOn::DueDate,
        max_attempts: s.autopay_max_attempts.max(1),
        retry_interval_days: s.autopay_retry_interval_days,
    }
}

/// The invoice as the decision sees it, with its attempts as stored.
fn candidate(invoice: &Invoice, customer: &Customer) -> Result<(Candidate, Vec<StoredAttempt>)> {
    let payments = helpdesk::list_payments(&PaymentFilter::Invoice(invoice.id))
        .map_err(|e| host_error("payments", e))?;
    let in_flight = payments
        .iter()
        .any(|p| vocab::PaymentStatus::from(p.status).is_in_flight());
    let lost_dispute = helpdesk::list_disputes(invoice.id)
        .map_err(|e| host_error("disputes", e))?
        .into_iter()
        .find(|d| d.status == DisputeStatus::Lost)
        .map(|d| d.id);
    // Only a payment that succeeded can have been refunded: no read for invoices never paid.
    let refunded = if payments
        .iter()
        .any(|p| p.status == PaymentStatus::Succeeded)
    {
        helpdesk::list_refunds(invoice.id)
            .map_err(|e| host_error("refunds", e))?
            .into_iter()
            .find(|r| r.status == RefundStatus::Succeeded)
            .map(|r| r.refund_id.unwrap_or_else(|| format!("refund {}", r.id)))
    } else {
        None
    };
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
            lost_dispute,
            refunded,
            attempts: claims
                .iter()
                .map(|(a, claim, _)| as_it_stands(a, claim, &payments))
                .collect(),
        },
        claims,
    ))
}

/// An attempt as its payment stands now. A claim is settled with what Stripe said when the attempt
/// was made; a bank debit is `processing` then, and days later its payment record is `succeeded`
/// or `failed` (a returned debit) by the webhook. The record says which, with the failure code:
/// so a returned debit is retried by the policy like a soft decline, and never left pending.
fn as_it_stands(
    attempt: &autopay::Attempt,
    claim: &claims::Claim,
    payments: &[helpdesk::InvoicePayment],
) -> autopay::Attempt {
    let in_flight = vocab::PaymentStatus::from_wire_name(&attempt.status)
        .is_some_and(vocab::PaymentStatus::is_in_flight);
    let record = payments.iter().find(|p| p.group_id == claim.group);
    match record {
        Some(r) if in_flight => autopay::Attempt {
            status: vocab::PaymentStatus::from(r.status).wire_name().to_string(),
            failure_code: r.failure_code.clone(),
            ..attempt.clone()
        },
        _ => attempt.clone(),
    }
}

/// The total the invoice would be charged (amount due plus its card fee).
fn charge_amount(invoice: &Invoice, settings: &Settings) -> Option<Money> {
    let q = fees::quote(
        &[quote::item(invoice)],
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
        crate::flows::quote::chargeable(&[quote::item(invoice)], method_type, &policy)
            .err()
            .map(|e| format!("Stripe would refuse this charge: {}", e.message)),
    )
}

/// The customer's own cap (`stripe_autopay_max_amount`), from the host.
fn customer_cap(customer: &Customer) -> Result<Option<Money>> {
    helpdesk::get_autopay_cap(customer.id).map_err(|e| host_error("customer's autopay cap", e))
}

/// Why the invoice may not be charged automatically with a method of `method_type` under the
/// tenant's cap (`autopay_max_amount`) and the customer's (`customer_cap`), or `None`. A reason to
/// skip it, never an attempt; the charge is priced as it would be made (amount due plus the fee).
fn refused_by_caps(
    invoice: &Invoice,
    customer_cap: Option<&Money>,
    settings: &Settings,
    method_type: vocab::PaymentMethodType,
) -> Result<Option<String>> {
    let mut wanted = Vec::new();
    if let Some(amount) = settings.autopay_max_amount {
        wanted.push((
            caps::CapOwner::Tenant,
            amount,
            settings.stripe_currency.as_str(),
        ));
    }
    if let Some(cap) = customer_cap {
        wanted.push((caps::CapOwner::Customer, cap.amount, cap.currency.as_str()));
    }
    if wanted.is_empty() {
        return Ok(None);
    }
    let mut limits = Vec::with_capacity(wanted.len());
    for (owner, amount, code) in wanted {
        let currency = Currency::parse(code).map_err(|e| {
            error(
                ErrorKind::NotConfigured,
                format!("the automatic payment cap's currency: {e}"),
            )
        })?;
        limits.push(caps::Cap {
            owner,
            amount,
            currency,
        });
    }
    let q = match fees::quote(&[quote::item(invoice)], method_type, &fee_policy(settings)?) {
        Ok(q) => q,
        Err(e) => {
            return Ok(Some(format!(
                "it can't be priced ({e}), so it can't be held to the automatic payment cap"
            )));
        }
    };
    let line = &q.lines[0];
    let charge = caps::Charge {
        total: q.total,
        amount_due: line.amount_due,
        fee: line.fee,
    };
    Ok(caps::refused_by_caps(&charge, &limits))
}

/// Tell the notification address that the invoice was not charged automatically because of a cap
/// (`reason`). Once per invoice, however many runs skip it: the outbox's dedup key
/// (`autopay-cap/{invoice}`) is unique in the host's database. A failure to queue it is logged and
/// audited (`email-not-sent`), never the run's.
fn tell_capped(invoice: &Invoice, customer: &Customer, settings: &Settings, reason: &str) {
    let Some(to) = crate::flows::emails::address(settings.stripenotificationemail.as_deref())
    else {
        log(
            Level::Warn,
            &format!(
                "no notification address to tell that invoice {} is above the autopay cap",
                invoice.number
            ),
        );
        return;
    };
    let html = format!(
        "<p>Invoice {} of {} was not charged automatically: {}.</p><p>Take the payment with \"Receive Payment (Manual)\" on the invoice, or raise the cap (the setup page's \"Automatic payment cap\", or the customer's own in its Billing › Stripe section); the daily run charges it once it is within the caps.</p>",
        escape_html(&invoice.number),
        escape_html(&customer.name),
        escape_html(reason)
    );
    let sent = email::send(&Message {
        to: vec![to.to_string()],
        cc: Vec::new(),
        subject: format!(
            "Invoice {} not charged automatically: above the autopay cap",
            invoice.number
        ),
        text: text_of(&html),
        html,
        dedup_key: Some(format!("autopay-cap/{}", invoice.id)),
    });
    if let Err(e) = sent {
        let why = format!("the autopay cap email was not sent: {e:?}");
        log(Level::Warn, &why);
        audit(invoice, "email-not-sent", &why, None);
    }
}

/// One entry in the invoice's audit trail; a failure to write it is logged, never the run's.
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

/// What the run reports for the invoice.
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
