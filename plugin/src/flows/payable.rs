//! Who may pay which invoices: the invoices exist for this payer, share
//! one customer, are awaiting payment with something due, and no earlier attempt may still complete
//! without the payer — an attempt that can no longer finish (new details never confirmed, an
//! authentication abandoned, an unanswered attempt now ruled out) is resolved with Stripe first —
//! and the payment method types allowed for manual payments.

use super::intents::move_intent;
use super::outcomes::apply_intent;
use super::records::Observation;
use super::{Result, error, host_error, now, stripe_now};
use crate::bindings::paydesk::stripe::helpdesk::{
    self, Customer, Initiator, Invoice, InvoiceStatus, PaymentFilter, PaymentStatus,
};
use crate::bindings::paydesk::stripe::types::ErrorKind;
use crate::domain::access::{self, InvoiceOwner, Reader};
use crate::domain::vocabulary as vocab;
use crate::settings::Settings;
use crate::stripe::payment_intents;

/// A payment waiting for the payer's authentication (3-D Secure) this long after Stripe last said so
/// is abandoned: paying the invoice again cancels it at Stripe first, so it never blocks for ever.
pub const AUTHENTICATION_ABANDONED_AFTER_SECONDS: i64 = 24 * 60 * 60;

/// The invoices to pay, checked: they exist for this caller, share one customer, are awaiting
/// payment with something due, and have no payment in flight.
pub struct Payable {
    pub invoices: Vec<Invoice>,
    pub customer: Customer,
}

/// May `initiator` pay `invoice`? Portal users see only what their access level shows (M13);
/// anything else is "not found", so other customers' invoices are not revealed.
pub fn check_access(initiator: &Initiator, invoice: &Invoice) -> Result<()> {
    match initiator {
        Initiator::Autopay => Ok(()),
        Initiator::Agent(id) => {
            let agent = helpdesk::get_agent(*id).map_err(|e| host_error("agent", e))?;
            if agent.can_receive_manual_stripe_payments {
                Ok(())
            } else {
                Err(error(
                    ErrorKind::PermissionDenied,
                    format!(
                        "{} does not have the permission \"Can Receive Manual Stripe Payments\"",
                        agent.name
                    ),
                ))
            }
        }
        Initiator::PortalUser(id) => {
            let user = helpdesk::get_user(*id).map_err(|e| host_error("user", e))?;
            let visible = access::user_sees_invoice(
                Reader {
                    user_id: user.id,
                    customer_id: user.customer_id,
                    level: user.invoice_access_level.into(),
                },
                InvoiceOwner {
                    customer_id: invoice.customer_id,
                    user_id: invoice.user_id,
                },
            );
            if visible {
                Ok(())
            } else {
                Err(error(
                    ErrorKind::NotFound,
                    format!("invoice {} not found", invoice.id),
                ))
            }
        }
    }
}

/// Load and check the invoices.
///
/// `paying` says the caller is about to pay: only then is an earlier new-details intent that never
/// got a payment method cancelled in Stripe. Pricing (`paying == false`) changes nothing.
pub fn payable(invoice_ids: &[i64], initiator: &Initiator, paying: bool) -> Result<Payable> {
    let mut ids = invoice_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Err(error(
            ErrorKind::InvalidInput,
            "choose at least one invoice to pay",
        ));
    }
    let mut invoices = Vec::with_capacity(ids.len());
    for id in ids {
        let invoice =
            helpdesk::get_invoice(id).map_err(|e| host_error(&format!("invoice {id}"), e))?;
        check_access(initiator, &invoice)?;
        invoices.push(invoice);
    }
    let customer_id = invoices[0].customer_id;
    if invoices.iter().any(|i| i.customer_id != customer_id) {
        return Err(error(
            ErrorKind::InvalidInput,
            "invoices paid together must belong to one customer",
        ));
    }
    for invoice in &invoices {
        match invoice.status {
            InvoiceStatus::Paid => {
                return Err(error(
                    ErrorKind::Conflict,
                    format!("invoice {} is already paid", invoice.number),
                ));
            }
            InvoiceStatus::Void => {
                return Err(error(
                    ErrorKind::Conflict,
                    format!("invoice {} is void", invoice.number),
                ));
            }
            InvoiceStatus::AwaitingPayment if invoice.amount_due <= 0 => {
                return Err(error(
                    ErrorKind::Conflict,
                    format!("invoice {} has nothing left to pay", invoice.number),
                ));
            }
            InvoiceStatus::AwaitingPayment => {}
        }
        check_not_in_flight(invoice, paying)?;
    }
    let customer = helpdesk::get_customer(customer_id).map_err(|e| host_error("customer", e))?;
    Ok(Payable { invoices, customer })
}

/// Refuse when a payment of `invoice` may still complete without the payer. An abandoned
/// new-details intent (waiting for a payment method) is cancelled in Stripe first.
fn check_not_in_flight(invoice: &Invoice, paying: bool) -> Result<()> {
    let payments = helpdesk::list_payments(&PaymentFilter::Invoice(invoice.id))
        .map_err(|e| host_error("payments", e))?;
    for p in payments {
        let status = vocab::PaymentStatus::from(p.status);
        let unresolved = p.intent_id.is_none() && p.status == PaymentStatus::RequiresPaymentMethod;
        // An attempt that died before Stripe answered (its records written, no intent known):
        // once none of its requests can still arrive, ask Stripe now rather than make the payer
        // wait for reconciliation.
        if unresolved && now().saturating_sub(p.created_at) > super::reconcile::ruled_out_after(&p)
        {
            let after = super::reconcile::resolve_unknown(&p.group_id, p.created_at, now())?;
            match after.iter().find(|r| r.id == p.id).map(|r| r.status) {
                Some(PaymentStatus::Canceled) | None => continue,
                Some(other) => {
                    return Err(error(
                        ErrorKind::Conflict,
                        format!(
                            "an earlier payment of invoice {} turned out to be {} at Stripe; reload before paying again",
                            invoice.number,
                            vocab::PaymentStatus::from(other).label()
                        ),
                    ));
                }
            }
        }
        // Authentication the payer never completed: once abandoned, cancel it like new details.
        if paying
            && p.status == PaymentStatus::RequiresAction
            && let Some(intent) = p.intent_id.as_deref()
            && now().saturating_sub(p.observed_at.unwrap_or(p.updated_at))
                > AUTHENTICATION_ABANDONED_AFTER_SECONDS
        {
            abandon(intent)?;
            continue;
        }
        if status.is_in_flight() || unresolved {
            return Err(error(
                ErrorKind::Conflict,
                format!(
                    "invoice {} has a payment in progress ({}); wait for it to finish before paying again",
                    invoice.number,
                    if unresolved {
                        "its outcome is being confirmed with Stripe".to_string()
                    } else {
                        vocab::PaymentStatus::from(p.status).label().to_string()
                    }
                ),
            ));
        }
        // New details never confirmed, or declined in the payer's browser, where Stripe.js could
        // still confirm the same intent with another card: cancel it before another attempt.
        let reusable = match p.status {
            PaymentStatus::RequiresPaymentMethod => true,
            PaymentStatus::Failed => !matches!(p.initiator, Initiator::Autopay),
            _ => false,
        };
        if let (true, true, Some(intent)) = (paying, reusable, p.intent_id.as_deref()) {
            abandon(intent)?;
        }
    }
    Ok(())
}

/// Cancel an abandoned intent (new details never confirmed) and record what Stripe says it is now.
fn abandon(intent: &str) -> Result<()> {
    // It may have moved on meanwhile (confirmed in another tab): then, what it is.
    let pi = move_intent(&payment_intents::cancel(intent), intent)?;
    apply_intent(&pi, Observation::read(stripe_now()))?;
    if pi.status != "canceled" {
        return Err(error(
            ErrorKind::Conflict,
            format!(
                "an earlier payment ({intent}) is now {}; reload before paying again",
                pi.status
            ),
        ));
    }
    Ok(())
}

/// The types allowed for manual payments (M9): the manual options, or every imported type.
pub fn allowed_manual_types(settings: &Settings) -> Vec<vocab::PaymentMethodType> {
    if settings.stripemanualpaymentmethodoptions.is_empty() {
        settings.stripepaymentmethodoptions.clone()
    } else {
        settings
            .stripemanualpaymentmethodoptions
            .iter()
            .filter(|t| settings.stripepaymentmethodoptions.contains(t))
            .copied()
            .collect()
    }
}
