//! A started payment finished in the payer's browser: confirming it with a
//! method just added through Stripe.js, the client secret of an authentication still to complete,
//! and reading the intent again once Stripe.js is done.

use super::intents::move_intent;
use super::outcomes::apply_intent;
use super::payable::{allowed_manual_types, check_access};
use super::records::Observation;
use super::{Result, error, host_error, stripe_call, stripe_now};
use crate::bindings::exports::paydesk::stripe::payments::PaymentStarted;
use crate::bindings::paydesk::stripe::helpdesk::{
    self, Initiator, InvoicePayment, PaymentFilter, PaymentStatus,
};
use crate::bindings::paydesk::stripe::types::{ErrorKind, Money};
use crate::stripe::payment_intents::{self, PaymentIntent};
use crate::stripe::payment_methods::{self, PaymentMethod};

/// The records of intent `intent_id`: "not found" unless it is a payment of this helpdesk.
fn records_of_intent(intent_id: &str) -> Result<Vec<InvoicePayment>> {
    let records = helpdesk::list_payments(&PaymentFilter::Intent(intent_id.to_string()))
        .map_err(|e| host_error("payments", e))?;
    if records.is_empty() {
        return Err(error(
            ErrorKind::NotFound,
            format!("no payment of this helpdesk has intent {intent_id}"),
        ));
    }
    Ok(records)
}

/// The payer must be allowed to pay every invoice of the payment. Returns the invoices' customer.
fn check_payer(initiator: &Initiator, records: &[InvoicePayment]) -> Result<Option<i64>> {
    let mut customer_id = None;
    for r in records {
        let invoice = helpdesk::get_invoice(r.invoice_id).map_err(|e| host_error("invoice", e))?;
        check_access(initiator, &invoice)?;
        customer_id = Some(invoice.customer_id);
    }
    Ok(customer_id)
}

/// Re-read an intent (after Stripe.js confirmed it in the browser) and update its records.
pub fn refresh_payment(intent_id: &str) -> Result<Vec<InvoicePayment>> {
    records_of_intent(intent_id)?;
    let pi: PaymentIntent = stripe_call(&payment_intents::retrieve(intent_id))?;
    apply_intent(&pi, Observation::read(stripe_now()))
}

/// Confirm a started payment with a method the payer just added through Stripe.js.
pub fn confirm_payment(
    intent_id: &str,
    payment_method: &str,
    initiator: &Initiator,
    return_url: Option<&str>,
) -> Result<PaymentStarted> {
    let records = records_of_intent(intent_id)?;
    let first = &records[0];
    let customer_id = check_payer(initiator, &records)?;
    let customer = helpdesk::get_customer(customer_id.unwrap_or_default())
        .map_err(|e| host_error("customer", e))?;
    let stripe_customer = customer.stripe_customer_id.clone().unwrap_or_default();
    let mut pm: PaymentMethod = stripe_call(&payment_methods::retrieve(payment_method))?;
    if pm.customer_id().is_none() {
        // Entered just now and not attached yet (a SetupIntent attaches it; not every Stripe does).
        pm = stripe_call(&payment_methods::attach(payment_method, &stripe_customer))?;
    }
    if pm.customer_id() != Some(stripe_customer.as_str()) {
        return Err(error(
            ErrorKind::InvalidInput,
            format!(
                "payment method {payment_method} is not attached to {}",
                customer.name
            ),
        ));
    }
    let allowed = allowed_manual_types(&crate::settings::get());
    if !pm.known_type().is_some_and(|t| allowed.contains(&t)) {
        return Err(error(
            ErrorKind::InvalidInput,
            format!("{} is not allowed for manual payments", pm.display_name()),
        ));
    }
    stripe_call::<PaymentIntent>(&payment_intents::set_payment_method(
        intent_id,
        payment_method,
    ))?;
    // A decline: the intent as it now is.
    let pi = move_intent(&payment_intents::confirm(intent_id, return_url), intent_id)?;
    let payments = apply_intent(&pi, Observation::read(stripe_now()))?;
    let status = payments.first().map(|p| p.status).unwrap_or(first.status);
    Ok(PaymentStarted {
        group_id: first.group_id.clone(),
        intent_id: pi.id.clone(),
        status,
        client_secret: (status == PaymentStatus::RequiresAction)
            .then(|| pi.client_secret.clone())
            .flatten(),
        amount: Money {
            amount: pi.amount,
            currency: pi.currency.clone(),
        },
        failure_reason: payments.first().and_then(|p| p.failure_reason.clone()),
        payments,
    })
}

/// The client secret of a payment waiting for the payer's authentication.
pub fn authentication_secret(intent_id: &str, initiator: &Initiator) -> Result<String> {
    check_payer(initiator, &records_of_intent(intent_id)?)?;
    let pi: PaymentIntent = stripe_call(&payment_intents::retrieve(intent_id))?;
    apply_intent(&pi, Observation::read(stripe_now()))?;
    if pi.status != "requires_action" {
        return Err(error(
            ErrorKind::Conflict,
            format!(
                "the payment no longer waits for authentication (it is {})",
                pi.status
            ),
        ));
    }
    pi.client_secret
        .ok_or_else(|| error(ErrorKind::Internal, "Stripe returned no client secret"))
}
