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
use crate::bindings::paydesk::stripe::helpdesk::{
    self, AuditEntry, Customer, Invoice, InvoiceStatus, PaymentFilter, PaymentStatus,
};
use crate::bindings::paydesk::stripe::log::Level;
use crate::bindings::paydesk::stripe::types::Money;
use crate::domain::autopay::{Candidate, Policy};
use crate::domain::fees;
use crate::domain::vocabulary as vocab;
use crate::flows::quote::{self, fee_policy};
use crate::flows::{Result, host_error, log};
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
