//! Changes made on Stripe's side flowing back to the helpdesk: a detached automatic method is
//! cleared, a new default from Stripe's customer portal (of an imported type) becomes the
//! automatic method, and a method's new details (the card account updater's new expiry) renew its
//! display name. Each verified event is applied once (`event/{id}` in storage, as for payments) and
//! never backwards: the host writes the customer's method only when no later observation on
//! Stripe's clock is recorded for it (`helpdesk.observe-automatic-payment-method`).
//! `webhooks::received` hands these event types here.

use super::payment_methods::{forget_described, remember};
use super::{Result, error, host_error, stripe_call};
use crate::bindings::exports::paydesk::stripe::events::{EventOutcome, StripeEvent};
use crate::bindings::paydesk::stripe::helpdesk::{self, Customer, CustomerLookup};
use crate::bindings::paydesk::stripe::storage;
use crate::bindings::paydesk::stripe::types::ErrorKind;
use crate::domain::stripe_side::{self, Change, DefaultChange};
use crate::stripe::changes::CustomerUpdated;
use crate::stripe::events::Event;
use crate::stripe::payment_methods::{self, PaymentMethod};

/// Whether `event_type` is one of the changes applied here.
pub fn handles(event_type: &str) -> bool {
    stripe_side::change_of(event_type).is_some()
}

/// Apply a verified event of a type [`handles`] names.
pub fn received(event_type: &str, event: &StripeEvent) -> Result<EventOutcome> {
    let Some(change) = stripe_side::change_of(event_type) else {
        return Ok(EventOutcome::Ignored(format!(
            "{event_type} is not an event paydesk acts on"
        )));
    };
    let head: Event = parse(&event.body, "a Stripe event")?;
    let seen_key = format!("event/{}", head.id);
    if storage::lookup(&seen_key)
        .map_err(|e| host_error("storage", e))?
        .entry
        .is_some()
    {
        return Ok(EventOutcome::Duplicate);
    }
    let outcome = match change {
        Change::Detached => {
            let e: Event<PaymentMethod> = parse(&event.body, "a payment method event")?;
            detached(&e.data.object.id, e.created)?
        }
        Change::MethodUpdated => {
            let e: Event<PaymentMethod> = parse(&event.body, "a payment method event")?;
            method_updated(&e.data.object, e.created)?
        }
        Change::CustomerUpdated => customer_updated(&parse(&event.body, "a customer event")?)?,
    };
    // Seen once decided: a delivery that failed half-way is applied again on Stripe's retry.
    let _ = storage::put_new(&seen_key, head.created.to_string().as_bytes());
    Ok(outcome)
}

fn parse<T: crate::json::FromJson>(body: &str, what: &str) -> Result<T> {
    crate::json::from_str(body)
        .map_err(|e| error(ErrorKind::InvalidInput, format!("not {what}: {e}")))
}

/// The customers whose automatic payment method is `pm_id`.
fn customers_using(pm_id: &str) -> Result<Vec<Customer>> {
    helpdesk::find_customers(&CustomerLookup::AutomaticPaymentMethod(pm_id.to_string()))
        .map_err(|e| host_error("customers", e))
}

/// Write `method` on each customer as observed at `at`; `only_if` keeps it to customers whose
/// method is still that one. Applied to how many, or stale when none.
fn observe(
    customers: &[Customer],
    method: Option<(&str, &str)>,
    at: i64,
    only_if: Option<&str>,
) -> Result<EventOutcome> {
    let mut applied = 0u32;
    for c in customers {
        if helpdesk::observe_automatic_payment_method(c.id, method, at, only_if)
            .map_err(|e| host_error("customer", e))?
        {
            applied += 1;
        }
    }
    Ok(if applied == 0 {
        EventOutcome::Stale
    } else {
        EventOutcome::Applied(applied)
    })
}

/// `payment_method.detached`: the customers whose automatic method it was have none now.
fn detached(pm_id: &str, at: i64) -> Result<EventOutcome> {
    let customers = customers_using(pm_id)?;
    if customers.is_empty() {
        return Ok(EventOutcome::Ignored(format!(
            "{pm_id} is not a customer's automatic payment method"
        )));
    }
    observe(&customers, None, at, Some(pm_id))
}

/// `payment_method.updated`: the event carries the whole method; its display name is renewed on
/// the customers whose automatic method it is (and the kept description forgotten).
fn method_updated(pm: &PaymentMethod, at: i64) -> Result<EventOutcome> {
    let customers = customers_using(&pm.id)?;
    if customers.is_empty() {
        return Ok(EventOutcome::Ignored(format!(
            "{} is not a customer's automatic payment method",
            pm.id
        )));
    }
    let name = pm.display_name();
    let outcome = observe(&customers, Some((&pm.id, &name)), at, Some(&pm.id))?;
    if matches!(outcome, EventOutcome::Applied(_)) {
        forget_described(&pm.id);
    }
    Ok(outcome)
}

/// `customer.updated`: a new default payment method for invoices becomes the mapped customer's
/// automatic method, read from Stripe (the event names it by id unless expanded) and held to the
/// same rules as an agent's choice.
fn customer_updated(e: &CustomerUpdated) -> Result<EventOutcome> {
    let stripe_customer = &e.data.object.id;
    let pm_id = match stripe_side::default_change(e.default_changed(), e.default_payment_method()) {
        DefaultChange::Unchanged => {
            return Ok(EventOutcome::Ignored(format!(
                "the update of {stripe_customer} did not change its default payment method"
            )));
        }
        DefaultChange::Removed => {
            return Ok(EventOutcome::Ignored(format!(
                "{stripe_customer} has no default payment method now; the automatic payment method stays until it is detached"
            )));
        }
        DefaultChange::To(pm) => pm,
    };
    let found = helpdesk::find_customers(&CustomerLookup::StripeCustomer(stripe_customer.clone()))
        .map_err(|e| host_error("customers", e))?;
    if found.is_empty() {
        return Ok(EventOutcome::Ignored(format!(
            "{stripe_customer} is not mapped to a customer of this helpdesk"
        )));
    }
    let pm: PaymentMethod = match stripe_call(&payment_methods::retrieve(&pm_id)) {
        Ok(pm) => pm,
        Err(err) if err.kind == ErrorKind::NotFound => {
            return Ok(EventOutcome::Ignored(format!(
                "Stripe has no payment method {pm_id} any more; the automatic payment method stays"
            )));
        }
        Err(err) => return Err(err),
    };
    let imported = crate::settings::get().stripepaymentmethodoptions;
    if let Some(why) = stripe_side::refusal(
        &pm_id,
        &pm.method_type,
        pm.customer_id(),
        stripe_customer,
        &imported,
    ) {
        return Ok(EventOutcome::Ignored(why));
    }
    let name = pm.display_name();
    remember(&pm_id, &pm);
    observe(&found, Some((&pm_id, &name)), e.created, None)
}
