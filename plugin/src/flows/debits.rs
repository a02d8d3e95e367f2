//! Bank debits with mandates (issue 17 item 4): saving a `us_bank_account`, `sepa_debit`,
//! `bacs_debit`, `acss_debit` or `au_becs_debit` method through a SetupIntent confirmed with the
//! payer's acceptance of the mandate (online, with the address and user agent of the payer's own
//! request, which the host passes on), and the mandate kept for the method (`mandate/{pm}` in the
//! tenant's storage) so that its charges — off-session or not — carry it. A method saved
//! elsewhere (Stripe's customer portal) has its mandate looked up once from the SetupIntent that
//! saved it. What a debit does after it is sent (days in `processing`, then `succeeded` or
//! `payment_failed`) is the payment state machine's, as for every payment.

use super::{Result, stripe_call};
use crate::bindings::paydesk::stripe::storage;
use crate::domain::vocabulary::PaymentMethodType;
use crate::stripe::List;
use crate::stripe::setup_intents::{self, SetupIntent};
#[cfg(not(feature = "contract-v0_1"))]
use {
    super::admin::mapped_stripe_customer,
    super::error,
    super::setup::check_initiator,
    crate::bindings::exports::paydesk::stripe::debits::{MandateAcceptance, SetupConfirmed},
    crate::bindings::paydesk::stripe::helpdesk::Initiator,
    crate::bindings::paydesk::stripe::types::ErrorKind,
    crate::stripe::payment_methods::{self, PaymentMethod},
    crate::stripe::setup_intents::Acceptance,
};

/// Longest user agent passed on (Stripe's limit on `user_agent` is 5000; a browser's is far shorter).
#[cfg(not(feature = "contract-v0_1"))]
const USER_AGENT_MAX: usize = 1000;

fn mandate_key(pm_id: &str) -> String {
    format!("mandate/{pm_id}")
}

/// Keep the mandate a SetupIntent made for its method (the newest: a method saved again has a new
/// mandate).
pub fn remember_mandate(si: &SetupIntent) {
    let (Some(pm), Some(mandate)) = (&si.payment_method, &si.mandate) else {
        return;
    };
    let key = mandate_key(pm.id());
    let _ = match storage::lookup(&key) {
        Ok(storage::LookupResult { entry: Some(e) }) if e.value == mandate.id().as_bytes() => {
            return;
        }
        Ok(storage::LookupResult { entry: Some(e) }) => {
            storage::compare_and_swap(&key, e.version, mandate.id().as_bytes())
        }
        _ => storage::put_new(&key, mandate.id().as_bytes()),
    };
}

/// The mandate to charge bank-debit method `pm_id` of Stripe customer `customer` with: the one
/// kept when it was saved, else the one of the succeeded SetupIntent that saved it (then kept).
/// None when Stripe knows of none (Stripe then refuses the charge, and says why).
pub fn mandate_for(pm_id: &str, customer: &str) -> Result<Option<String>> {
    if let Ok(storage::LookupResult { entry: Some(entry) }) = storage::lookup(&mandate_key(pm_id))
        && let Ok(id) = std::str::from_utf8(&entry.value)
    {
        return Ok(Some(id.to_string()));
    }
    let list: List<SetupIntent> = stripe_call(&setup_intents::list_for_method(customer, pm_id))?;
    let found = list
        .data
        .iter()
        .find(|si| si.status == "succeeded" && si.mandate.is_some());
    Ok(found.and_then(|si| {
        remember_mandate(si);
        si.mandate.as_ref().map(|m| m.id().to_string())
    }))
}

/// The mandate a charge of a saved method of `method_type` carries: only bank debits have one.
pub fn mandate_of_saved(
    method_type: PaymentMethodType,
    pm_id: &str,
    customer: &str,
) -> Result<Option<String>> {
    if method_type.is_bank_debit() {
        mandate_for(pm_id, customer)
    } else {
        Ok(None)
    }
}

/// Confirm the customer's SetupIntent with the payer's method; a bank debit with the mandate the
/// payer accepted. Once saved, the method is the customer's automatic one. (0.2's `debits` export.)
#[cfg(not(feature = "contract-v0_1"))]
pub fn confirm_setup(
    customer: i64,
    setup_intent: &str,
    payment_method: &str,
    acceptance: &MandateAcceptance,
    initiator: &Initiator,
) -> Result<SetupConfirmed> {
    check_initiator(customer, initiator)?;
    let (c, stripe_id) = mapped_stripe_customer(customer)?;
    if matches!(initiator, Initiator::PortalUser(_)) {
        super::setup::check_portal_access(&c)?;
    }
    let si: SetupIntent = stripe_call(&setup_intents::retrieve(setup_intent))?;
    if si.customer.as_ref().map(|c| c.id()) != Some(stripe_id.as_str()) {
        return Err(error(
            ErrorKind::NotFound,
            format!("setup {setup_intent} is not this customer's"),
        ));
    }
    let pm: PaymentMethod = stripe_call(&payment_methods::retrieve(payment_method))?;
    let imported = crate::settings::get().stripepaymentmethodoptions;
    let method_type = pm
        .known_type()
        .filter(|t| imported.contains(t))
        .ok_or_else(|| {
            error(
                ErrorKind::InvalidInput,
                format!(
                    "{} is not of a payment method type imported from Stripe",
                    pm.display_name()
                ),
            )
        })?;
    let ip = acceptance.ip_address.trim();
    let agent: String = acceptance
        .user_agent
        .trim()
        .chars()
        .take(USER_AGENT_MAX)
        .collect();
    if method_type.is_bank_debit() && (ip.is_empty() || agent.is_empty()) {
        return Err(error(
            ErrorKind::InvalidInput,
            "a bank debit's mandate needs the payer's address and user agent",
        ));
    }
    let mandate = method_type.is_bank_debit().then_some(Acceptance {
        ip_address: ip,
        user_agent: &agent,
    });
    let si: SetupIntent = stripe_call(&setup_intents::confirm(
        setup_intent,
        payment_method,
        mandate.as_ref(),
    ))?;
    remember_mandate(&si);
    match si.status.as_str() {
        "succeeded" => {
            let name = super::setup::save_setup(customer, &si.id)?;
            Ok(SetupConfirmed::Saved(name))
        }
        "processing" => Ok(SetupConfirmed::Processing),
        "requires_action" => si
            .client_secret
            .map(SetupConfirmed::RequiresAction)
            .ok_or_else(|| {
                error(
                    ErrorKind::Internal,
                    "Stripe returned a SetupIntent without a client secret",
                )
            }),
        other => Err(error(
            ErrorKind::Conflict,
            si.last_setup_error
                .and_then(|e| e.message)
                .unwrap_or_else(|| format!("the payment method was not saved (status {other})")),
        )),
    }
}
