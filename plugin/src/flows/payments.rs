//! Taking payments: the exact quote, one PaymentIntent for one or many
//! invoices (checked by `payable`) with a payment record per invoice, saved method confirmed at once
//! or new details for Stripe.js. Records are written before Stripe is called (so an intent whose
//! answer is lost is found again by its group), and writing them is the claim: the host writes an
//! attempt's records only if every invoice is still payable for exactly the amount priced and has
//! no open attempt (a uniqueness rule in its database), all invoices or none. The claim lasts until
//! the attempt's outcome is in the records (succeeded, failed, canceled), not until this call
//! returns; an attempt that can no longer finish is cancelled at Stripe before another may claim
//! the invoice.

use super::intents::{Created, create_once};
use super::outcomes::{apply_intent, apply_to_group};
use super::payable::{self, Payable, allowed_manual_types};
use super::quote::{fee_policy, quotation};
use super::records::Observation;
use super::{Result, error, stripe_call, stripe_now};
use crate::bindings::exports::paydesk::stripe::payments::{
    PayWith, PaymentRequest, PaymentStarted, Quotation,
};
use crate::bindings::known_type;
use crate::bindings::paydesk::stripe::helpdesk::{
    self, Customer, Initiator, Invoice, NewPayment, PaymentStatus,
};
use crate::bindings::paydesk::stripe::types::{ErrorKind, Money, PaymentMethodType};
use crate::domain::fees::{self, FeePolicy};
use crate::domain::hash::fnv1a;
use crate::domain::vocabulary as vocab;
use crate::settings::Settings;
use crate::stripe::payment_intents::{self, NewIntent};
use crate::stripe::payment_methods::{self, PaymentMethod};

/// The charge for `invoices`, within Stripe's amount limits (quote and pay alike).
fn quote_for(
    invoices: &[Invoice],
    method: vocab::PaymentMethodType,
    policy: &FeePolicy,
) -> Result<fees::Quote> {
    let items: Vec<fees::QuoteItem> = invoices.iter().map(super::quote::item).collect();
    super::quote::chargeable(&items, method, policy)
}

/// Price invoices as `initiator` would pay them.
pub fn quote_invoices(
    ids: &[i64],
    method: PaymentMethodType,
    initiator: &Initiator,
) -> Result<Quotation> {
    let settings = crate::settings::get();
    let payable = payable::payable(ids, initiator, false)?;
    let q = quote_for(
        &payable.invoices,
        known_type(method.clone())?,
        &fee_policy(&settings)?,
    )?;
    Ok(quotation(q, method))
}

/// A group id: unique per payment, from the clock and the invoices.
pub(super) fn new_group_id(invoices: &[Invoice]) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let hash = fnv1a(
        nanos
            .to_le_bytes()
            .into_iter()
            .chain(invoices.iter().flat_map(|i| i.id.to_le_bytes())),
    );
    format!("pg_{hash:016x}{:08x}", (nanos & 0xffff_ffff) as u32)
}

/// Start paying invoices as one PaymentIntent.
pub fn start_payment(request: PaymentRequest) -> Result<PaymentStarted> {
    let settings = crate::settings::get();
    if !settings.enabled {
        return Err(error(
            ErrorKind::NotConfigured,
            "the Stripe integration is not enabled",
        ));
    }
    let payable = payable::payable(&request.invoices, &request.initiator, true)?;
    let customer = &payable.customer;
    let stripe_customer = stripe_customer_of(customer, &request.initiator)?;
    let policy = fee_policy(&settings)?;
    let (method_types, saved) = charge_methods(customer, &request.pay_with, &settings)?;
    // One amount for the intent: every offered type must give the same fees.
    let quote = quote_for(&payable.invoices, method_types[0], &policy)?;
    for t in &method_types[1..] {
        if quote_for(&payable.invoices, *t, &policy)?.total != quote.total {
            return Err(error(
                ErrorKind::InvalidInput,
                "the offered payment method types carry different fees; choose one type",
            ));
        }
    }
    let currency = quote.total.currency.code().to_string();
    let group = new_group_id(&payable.invoices);
    create_and_confirm(
        &request,
        &payable,
        &settings,
        &quote,
        &method_types,
        saved.as_ref(),
        &stripe_customer,
        &group,
        &currency,
        Claim::Whole,
    )
}

/// How an attempt's records claim its invoices.
#[derive(Debug, Clone, Copy)]
pub(super) enum Claim {
    /// Each invoice for all that is due (`helpdesk.create-payments`).
    Whole,
    /// One invoice for part (or all) of what is due, while that is still `amount_due`
    /// (`helpdesk.create-part-payment`). Only `charges` makes these, which 0.1 builds don't export.
    #[cfg_attr(feature = "contract-v0_1", allow(dead_code))]
    Part { amount_due: i64 },
}

/// The Stripe customer `customer` pays as, refused when it has none, or when a portal user would
/// pay before an automatic payment method is set up for the organisation.
pub(super) fn stripe_customer_of(customer: &Customer, initiator: &Initiator) -> Result<String> {
    let stripe_customer = customer.stripe_customer_id.clone().ok_or_else(|| {
        error(
            ErrorKind::NotConfigured,
            format!(
                "{} is not mapped to a Stripe customer; an administrator must add the mapping",
                customer.name
            ),
        )
    })?;
    let is_portal = matches!(initiator, Initiator::PortalUser(_));
    if is_portal && customer.stripe_payment_method_id.is_none() {
        return Err(error(
            ErrorKind::NotConfigured,
            "invoices can be paid in the portal once an automatic payment method is set up for your organisation",
        ));
    }
    Ok(stripe_customer)
}

/// The types a payment may be made with, and the saved method when it is paid with that: the
/// customer's automatic method (read from Stripe for its type) or new details of allowed types.
pub(super) fn charge_methods(
    customer: &Customer,
    pay_with: &PayWith,
    settings: &Settings,
) -> Result<(Vec<vocab::PaymentMethodType>, Option<PaymentMethod>)> {
    let allowed = allowed_manual_types(settings);
    Ok(match pay_with {
        PayWith::SavedMethod => {
            let pm_id = customer.stripe_payment_method_id.clone().ok_or_else(|| {
                error(
                    ErrorKind::NotConfigured,
                    format!("{} has no saved payment method", customer.name),
                )
            })?;
            let pm: PaymentMethod = stripe_call(&payment_methods::retrieve(&pm_id))?;
            let t = pm
                .known_type()
                .filter(|t| allowed.contains(t))
                .ok_or_else(|| {
                    error(
                        ErrorKind::InvalidInput,
                        format!(
                            "the saved method ({}) is not allowed for manual payments",
                            pm.display_name()
                        ),
                    )
                })?;
            (vec![t], Some(pm))
        }
        PayWith::NewDetails(types) => {
            let types: Vec<vocab::PaymentMethodType> = if types.is_empty() {
                allowed.clone()
            } else {
                types
                    .iter()
                    .cloned()
                    .map(known_type)
                    .collect::<Result<_>>()?
            };
            if let Some(t) = types.iter().find(|t| !allowed.contains(t)) {
                // The tenant's settings refuse it, not the request's shape: 409, not 422.
                return Err(error(
                    ErrorKind::NotConfigured,
                    format!("{} is not allowed for manual payments", (*t)),
                ));
            }
            if types.is_empty() {
                return Err(error(
                    ErrorKind::NotConfigured,
                    "no payment method types are allowed for manual payments",
                ));
            }
            (types, None)
        }
    })
}

#[allow(clippy::too_many_arguments)]
pub(super) fn create_and_confirm(
    request: &PaymentRequest,
    payable: &Payable,
    settings: &Settings,
    quote: &fees::Quote,
    method_types: &[vocab::PaymentMethodType],
    saved: Option<&PaymentMethod>,
    stripe_customer: &str,
    group: &str,
    currency: &str,
    claim: Claim,
) -> Result<PaymentStarted> {
    let money = |amount: i64| Money {
        amount,
        currency: currency.to_string(),
    };
    let method_name = saved.map(PaymentMethod::display_name);
    // A saved bank debit is charged under the mandate it was saved with.
    let mandate = match (saved, method_types) {
        (Some(pm), [t]) => super::debits::mandate_of_saved(*t, &pm.id, stripe_customer)?,
        _ => None,
    };
    let records: Vec<NewPayment> = quote
        .lines
        .iter()
        .map(|l| NewPayment {
            invoice_id: l.invoice_id,
            group_id: group.to_string(),
            intent_id: None,
            status: PaymentStatus::RequiresPaymentMethod,
            method: method_name.clone(),
            method_type: (method_types.len() == 1).then(|| method_types[0].into()),
            amount: money(l.amount_due.amount.0),
            fee: money(l.fee.amount.0),
            initiator: request.initiator,
            attempt: 0,
        })
        .collect();
    match claim {
        Claim::Whole => helpdesk::create_payments(&records).map(drop),
        Claim::Part { amount_due } => match records.as_slice() {
            [one] => helpdesk::create_part_payment(one, amount_due).map(drop),
            _ => {
                return Err(error(
                    ErrorKind::Internal,
                    "a part payment is of one invoice",
                ));
            }
        },
    }
    .map_err(super::claim_refused)?;

    let receipt_email = (settings.stripe_send_recipient_email
        && settings.use_stripe_receipt_emails)
        .then(|| receipt_address(&payable.customer, &request.initiator))
        .flatten();
    let invoice_ids: Vec<i64> = payable.invoices.iter().map(|i| i.id).collect();
    let numbers: Vec<String> = payable.invoices.iter().map(|i| i.number.clone()).collect();
    let tenant_ref = helpdesk::tenant_ref();
    let domain_types: Vec<vocab::PaymentMethodType> = method_types.to_vec();
    let create = payment_intents::create(&NewIntent {
        amount: quote.total.amount.0,
        currency,
        customer: stripe_customer,
        tenant_ref: &tenant_ref,
        group_id: group,
        invoice_ids: &invoice_ids,
        invoice_numbers: &numbers,
        payment_method: saved.map(|pm| pm.id.as_str()),
        off_session: saved.is_some() && !matches!(request.initiator, Initiator::PortalUser(_)),
        method_types: &domain_types,
        receipt_email: receipt_email.as_deref(),
        return_url: request.return_url.as_deref(),
        attempt: 0,
        mandate: mandate.as_deref(),
    });
    let intent = match create_once(&create, stripe_customer, group) {
        Created::Intent(pi) => pi,
        Created::Declined {
            intent,
            message,
            code,
        } => {
            // Stripe refused the payment method (or wants the payer to authenticate).
            let observation = Observation::failed(stripe_now(), message.clone(), code);
            let payments = match &intent {
                Some(pi) => apply_intent(pi, observation)?,
                None => apply_to_group(group, None, PaymentStatus::Failed, observation)?,
            };
            let status = payments
                .first()
                .map(|p| p.status)
                .unwrap_or(PaymentStatus::Failed);
            return Ok(PaymentStarted {
                group_id: group.to_string(),
                intent_id: intent.as_ref().map(|i| i.id.clone()).unwrap_or_default(),
                status,
                client_secret: (status == PaymentStatus::RequiresAction)
                    .then(|| intent.and_then(|i| i.client_secret))
                    .flatten(),
                amount: money(quote.total.amount.0),
                payments,
                failure_reason: Some(message),
            });
        }
        Created::Unknown(message) => {
            // The records stay without an intent: they block another payment of these invoices
            // until reconciliation finds (or rules out) the intent in Stripe.
            return Err(error(
                ErrorKind::OutcomeUnknown,
                format!(
                    "Stripe did not answer; the payment may have been made and will be confirmed with Stripe: {message}"
                ),
            ));
        }
        Created::Refused(e) => {
            // Nothing was made in Stripe: the attempt is over.
            apply_to_group(
                group,
                None,
                PaymentStatus::Canceled,
                Observation::failed(stripe_now(), e.message.clone(), None),
            )?;
            return Err(e);
        }
    };
    let payments = apply_intent(&intent, Observation::read(stripe_now()))?;
    let status = payments
        .first()
        .map(|p| p.status)
        .unwrap_or(PaymentStatus::RequiresPaymentMethod);
    let needs_browser = saved.is_none() || status == PaymentStatus::RequiresAction;
    Ok(PaymentStarted {
        group_id: group.to_string(),
        intent_id: intent.id.clone(),
        status,
        client_secret: if needs_browser {
            intent.client_secret.clone()
        } else {
            None
        },
        amount: money(quote.total.amount.0),
        failure_reason: payments.first().and_then(|p| p.failure_reason.clone()),
        payments,
    })
}

/// Who Stripe's receipt goes to: the paying user, else the customer's accounts email.
fn receipt_address(customer: &Customer, initiator: &Initiator) -> Option<String> {
    if let Initiator::PortalUser(id) = initiator
        && let Ok(user) = helpdesk::get_user(*id)
    {
        return Some(user.email);
    }
    customer.accounts_email.clone()
}
