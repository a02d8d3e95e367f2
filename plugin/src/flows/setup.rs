//! The customer managing their own method: a SetupIntent for the portal's "Add
//! payment method" (allowed by `show_auto_payment_on_portal`), making the saved method the
//! automatic one, and a Stripe customer-portal session as the alternative.

use super::admin::mapped_stripe_customer;
use super::{Result, error, host_error, stripe_call};
use crate::bindings::exports::paydesk::stripe::payments::SetupStarted;
use crate::bindings::paydesk::stripe::helpdesk::{self, Initiator};
use crate::bindings::paydesk::stripe::types::ErrorKind;
use crate::domain::vocabulary::PaymentMethodType;
use crate::settings::PortalPaymentMethodAccess;
use crate::stripe::setup_intents::{self, PortalSession, SetupIntent};

/// May the portal add / change this customer's automatic method?
pub(super) fn check_portal_access(customer: &helpdesk::Customer) -> Result<()> {
    let settings = crate::settings::get();
    let allowed = match settings.show_auto_payment_on_portal {
        PortalPaymentMethodAccess::Hide => false,
        PortalPaymentMethodAccess::OnlyIfSet => customer.stripe_payment_method_id.is_some(),
        PortalPaymentMethodAccess::Show => true,
    };
    if allowed {
        Ok(())
    } else {
        Err(error(
            ErrorKind::PermissionDenied,
            "adding a payment method in the portal is not enabled for your organisation",
        ))
    }
}

/// May `initiator` save a method for the customer: a portal user of it or an agent who may take
/// payments (never autopay)?
pub(super) fn check_initiator(customer: i64, initiator: &Initiator) -> Result<()> {
    match initiator {
        Initiator::PortalUser(id) => {
            let u = helpdesk::get_user(*id).map_err(|e| host_error("user", e))?;
            if u.customer_id != customer {
                return Err(error(
                    ErrorKind::NotFound,
                    format!("customer {customer} not found"),
                ));
            }
        }
        Initiator::Agent(id) => {
            let a = helpdesk::get_agent(*id).map_err(|e| host_error("agent", e))?;
            if !a.can_receive_manual_stripe_payments {
                return Err(error(
                    ErrorKind::PermissionDenied,
                    format!(
                        "{} does not have the permission \"Can Receive Manual Stripe Payments\"",
                        a.name
                    ),
                ));
            }
        }
        Initiator::Autopay => {
            return Err(error(
                ErrorKind::PermissionDenied,
                "automatic payments don't add methods",
            ));
        }
    }
    Ok(())
}

/// Start a SetupIntent for the customer, for a portal user of it or an agent who may take payments.
pub fn start_setup(customer: i64, initiator: &Initiator) -> Result<SetupStarted> {
    check_initiator(customer, initiator)?;
    let (_, stripe_id) = mapped_stripe_customer(customer)?;
    let imported: Vec<PaymentMethodType> = crate::settings::get()
        .stripepaymentmethodoptions
        .into_iter()
        .collect();
    if imported.is_empty() {
        return Err(error(
            ErrorKind::NotConfigured,
            "no payment method types are imported from Stripe",
        ));
    }
    let si: SetupIntent = stripe_call(&setup_intents::create(&stripe_id, &imported))?;
    let client_secret = si.client_secret.ok_or_else(|| {
        error(
            ErrorKind::Internal,
            "Stripe returned a SetupIntent without a client secret",
        )
    })?;
    Ok(SetupStarted {
        setup_intent_id: si.id,
        client_secret,
    })
}

/// The SetupIntent succeeded in the browser: its method becomes the automatic one.
pub fn complete_setup(customer: i64, setup_intent: &str) -> Result<String> {
    let (c, _) = mapped_stripe_customer(customer)?;
    check_portal_access(&c)?;
    save_setup(customer, setup_intent)
}

/// The SetupIntent succeeded: its method (and a bank debit's mandate) is kept and becomes the
/// automatic one. The caller has checked who may.
pub(super) fn save_setup(customer: i64, setup_intent: &str) -> Result<String> {
    let (_, stripe_id) = mapped_stripe_customer(customer)?;
    let si: SetupIntent = stripe_call(&setup_intents::retrieve(setup_intent))?;
    if si.customer.as_ref().map(|c| c.id()) != Some(stripe_id.as_str()) {
        return Err(error(
            ErrorKind::NotFound,
            format!("setup {setup_intent} is not this customer's"),
        ));
    }
    if si.status != "succeeded" {
        return Err(error(
            ErrorKind::Conflict,
            format!(
                "the new payment method is not set up yet (status {})",
                si.status
            ),
        ));
    }
    super::debits::remember_mandate(&si);
    let pm = si
        .payment_method
        .ok_or_else(|| error(ErrorKind::Conflict, "the setup has no payment method"))?;
    let method: crate::stripe::payment_methods::PaymentMethod =
        stripe_call(&crate::stripe::payment_methods::retrieve(pm.id()))?;
    if method.customer_id().is_none() {
        // A succeeded SetupIntent attaches its method; make sure, so it can be charged later.
        stripe_call::<crate::stripe::payment_methods::PaymentMethod>(
            &crate::stripe::payment_methods::attach(pm.id(), &stripe_id),
        )?;
    }
    super::payment_methods::set_automatic_payment_method(customer, Some(pm.id()))?
        .ok_or_else(|| error(ErrorKind::Internal, "the automatic method was not set"))
}

/// A Stripe customer-portal session for the customer.
pub fn customer_portal_session(customer: i64, return_url: &str) -> Result<String> {
    let settings = crate::settings::get();
    if !settings.stripe_customer_portal_enabled {
        return Err(error(
            ErrorKind::PermissionDenied,
            "the Stripe customer portal is not enabled",
        ));
    }
    let (_, stripe_id) = mapped_stripe_customer(customer)?;
    let session: PortalSession =
        stripe_call(&setup_intents::portal_session(&stripe_id, return_url))?;
    Ok(session.url)
}
