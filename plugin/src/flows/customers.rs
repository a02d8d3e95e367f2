//! Customer sync: a helpdesk customer saved → its Stripe customer created and
//! mapped, or updated. A Stripe failure is recorded on the customer and returned; the helpdesk save
//! itself stands.

use super::{Result, host_error, log, stripe_call};
use crate::bindings::exports::paydesk::stripe::events::SyncOutcome;
use crate::bindings::paydesk::stripe::helpdesk;
use crate::bindings::paydesk::stripe::log::Level;
use crate::stripe::customers::{self, Customer, CustomerFields};

/// Sync one customer to Stripe when the tenant enabled it.
pub fn customer_saved(id: i64) -> Result<SyncOutcome> {
    let settings = crate::settings::get();
    if !settings.enabled || !settings.sync_customers_to_stripe {
        return Ok(SyncOutcome::Disabled);
    }
    let customer = helpdesk::get_customer(id).map_err(|e| host_error("customer", e))?;
    let fields = CustomerFields {
        name: &customer.name,
        email: customer.accounts_email.as_deref(),
        helpdesk_id: customer.id,
    };
    let outcome = match &customer.stripe_customer_id {
        Some(stripe_id) => stripe_call::<Customer>(&customers::update(stripe_id, &fields))
            .map(|c| SyncOutcome::Updated(c.id)),
        None => stripe_call::<Customer>(
            &customers::create(&fields).with_idempotency_key(fields.idempotency_key()),
        )
        .and_then(|c| {
            helpdesk::set_stripe_customer_id(id, Some(&c.id))
                .map_err(|e| host_error("mapping the new Stripe customer", e))?;
            Ok(SyncOutcome::Created(c.id))
        }),
    };
    let sync_error = outcome.as_ref().err().map(|e| e.message.clone());
    if let Some(message) = &sync_error {
        log(
            Level::Warn,
            &format!("customer {id}: sync to Stripe failed: {message}"),
        );
    }
    helpdesk::set_stripe_sync_error(id, sync_error.as_deref())
        .map_err(|e| host_error("recording the sync status", e))?;
    outcome
}
