//! The customer's automatic payment method: only a method attached to the
//! customer in Stripe, of an imported type. Stored on the helpdesk customer (id + display name)
//! and set as the Stripe customer's default payment method for invoices. A method's type and
//! display name are kept in the tenant's storage so a charge needn't ask Stripe for them each
//! time (Stripe never changes a method's type; a new expiry, `payment_method.updated`, makes the
//! kept name be forgotten). The choice is written with the `Date` of Stripe's answer, so changes
//! made on Stripe's side (`stripe_side`) are ordered against it.

use super::admin::mapped_stripe_customer;
use super::{Result, error, host_error, stripe_call};
use crate::bindings::paydesk::stripe::types::ErrorKind;
use crate::bindings::paydesk::stripe::{helpdesk, storage};
use crate::domain::vocabulary::PaymentMethodType;
use crate::stripe::customers::{self, Customer};
use crate::stripe::payment_methods::{self, PaymentMethod};

/// Set (some) or clear (none) the automatic payment method; returns its display name.
pub fn set_automatic_payment_method(
    customer: i64,
    payment_method: Option<&str>,
) -> Result<Option<String>> {
    let (c, stripe_id) = mapped_stripe_customer(customer)?;
    let Some(pm_id) = payment_method.map(str::trim).filter(|p| !p.is_empty()) else {
        stripe_call::<Customer>(&customers::set_default_payment_method(&stripe_id, None))?;
        record_choice(customer, None)?;
        return Ok(None);
    };
    let pm: PaymentMethod = stripe_call(&payment_methods::retrieve(pm_id)).map_err(|mut e| {
        if e.kind == ErrorKind::NotFound {
            e.message = format!("Stripe has no payment method {pm_id}");
        }
        e
    })?;
    if pm.customer_id() != Some(stripe_id.as_str()) {
        return Err(error(
            ErrorKind::InvalidInput,
            format!(
                "payment method {pm_id} is not attached to {}'s Stripe customer {stripe_id}",
                c.name
            ),
        ));
    }
    let imported = crate::settings::get().stripepaymentmethodoptions;
    let is_imported = pm.known_type().is_some_and(|t| imported.contains(&t));
    if !is_imported {
        let kind = pm
            .known_type()
            .map_or(pm.method_type.clone(), |t| t.label().to_string());
        return Err(error(
            ErrorKind::InvalidInput,
            format!(
                "payment method {pm_id} is a {kind}, which is not among the payment method types imported from Stripe; \
                 choose one of the customer's listed methods or import that type first"
            ),
        ));
    }
    let name = pm.display_name();
    remember(pm_id, &pm);
    stripe_call::<Customer>(&customers::set_default_payment_method(
        &stripe_id,
        Some(pm_id),
    ))?;
    record_choice(customer, Some((pm_id, name.as_str())))?;
    Ok(Some(name))
}

/// Write the choice on the customer as observed when Stripe answered its default's update (on
/// Stripe's clock), so that an older change made on Stripe's side never replaces it; a newer one
/// already recorded wins, and the agent is told.
fn record_choice(customer: i64, method: Option<(&str, &str)>) -> Result<()> {
    let applied =
        helpdesk::observe_automatic_payment_method(customer, method, super::stripe_now(), None)
            .map_err(|e| host_error("customer", e))?;
    if !applied {
        return Err(error(
            ErrorKind::Conflict,
            "the customer's payment method was changed in Stripe meanwhile; reload and choose again",
        ));
    }
    Ok(())
}

fn described_key(pm_id: &str) -> String {
    format!("pm/{pm_id}")
}

/// Keep `pm`'s type and display name for [`describe`] (best effort: a miss only costs a request).
pub(super) fn remember(pm_id: &str, pm: &PaymentMethod) {
    let value = format!("{}\n{}", pm.method_type, pm.display_name());
    let _ = storage::put_new(&described_key(pm_id), value.as_bytes());
}

/// Forget what [`remember`] kept of `pm_id` (its display name changed at Stripe); the next
/// [`describe`] reads it again. Best effort, as keeping it is.
pub(super) fn forget_described(pm_id: &str) {
    let _ = storage::delete(&described_key(pm_id), None);
}

/// Payment method `pm_id`'s type (card when Stripe names one we don't know) and display name:
/// from the tenant's storage when kept there, else from Stripe (then kept).
pub fn describe(pm_id: &str) -> Result<(PaymentMethodType, String)> {
    if let Ok(storage::LookupResult { entry: Some(entry) }) = storage::lookup(&described_key(pm_id))
        && let Ok(text) = std::str::from_utf8(&entry.value)
        && let Some((kind, name)) = text.split_once('\n')
    {
        let t = PaymentMethodType::from_wire_name(kind).unwrap_or(PaymentMethodType::Card);
        return Ok((t, name.to_string()));
    }
    let pm: PaymentMethod = stripe_call(&payment_methods::retrieve(pm_id))?;
    remember(pm_id, &pm);
    Ok((
        pm.known_type().unwrap_or(PaymentMethodType::Card),
        pm.display_name(),
    ))
}
