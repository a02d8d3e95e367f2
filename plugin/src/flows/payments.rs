//! Taking payments (REQUIREMENTS M9–M13, B5): who may pay which invoices, the exact quote, one
//! PaymentIntent for one or many invoices with a payment record per invoice, saved method confirmed
//! at once or new details for Stripe.js. Records are written before Stripe is called (so an intent
//! whose answer is lost is found again by its group), and writing them is the claim: the host
//! writes an attempt's records only if every invoice is still payable for exactly the amount priced
//! and has no open attempt (a uniqueness rule in its database), all invoices or none. The claim
//! lasts until the attempt's outcome is in the records (succeeded, failed, canceled), not until
//! this call returns; an attempt that can no longer finish is cancelled at Stripe before another
//! may claim the invoice.

use super::intents::{Created, create_once};
use super::outcomes::{apply_intent, apply_to_group};
use super::quote::{fee_policy, quotation};
use super::records::Observation;
use super::{Result, error, host_error, now, stripe_call, stripe_failure, stripe_now, stripe_send};
use crate::bindings::exports::paydesk::stripe::payments::{
    PayWith, PaymentRequest, PaymentStarted, Quotation,
};
use crate::bindings::paydesk::stripe::helpdesk::{
    self, Customer, Initiator, Invoice, InvoiceStatus, NewPayment, PaymentFilter, PaymentStatus,
};
use crate::bindings::paydesk::stripe::types::{ErrorKind, Money, PaymentMethodType, Settings};
use crate::domain::access::{self, InvoiceOwner, Reader};
use crate::domain::fees::{self, FeePolicy};
use crate::domain::vocabulary as vocab;
use crate::stripe::payment_intents::{self, NewIntent, PaymentIntent};
use crate::stripe::payment_methods::{self, PaymentMethod};
use crate::stripe::{self, StripeFailure};

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
fn check_access(initiator: &Initiator, invoice: &Invoice) -> Result<()> {
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
    let outcome = stripe_send(&payment_intents::cancel(intent))?;
    let pi: PaymentIntent = match stripe::parse(&outcome) {
        Ok(pi) => pi,
        // It moved on meanwhile (confirmed in another tab): read what it is.
        Err(StripeFailure::Api { .. }) => stripe_call(&payment_intents::retrieve(intent))?,
        Err(other) => return Err(stripe_failure(other)),
    };
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
fn allowed_manual_types(settings: &Settings) -> Vec<PaymentMethodType> {
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

fn items(invoices: &[Invoice]) -> Vec<fees::QuoteItem> {
    invoices
        .iter()
        .map(|i| fees::QuoteItem {
            invoice_id: i.id,
            invoice_number: i.number.clone(),
            currency: i.currency.clone(),
            amount_due: i.amount_due,
        })
        .collect()
}

/// The charge for `invoices`, within Stripe's amount limits (quote and pay alike).
fn quote_for(
    invoices: &[Invoice],
    method: vocab::PaymentMethodType,
    policy: &FeePolicy,
) -> Result<fees::Quote> {
    super::quote::chargeable(&items(invoices), method, policy)
}

/// Price invoices as `initiator` would pay them.
pub fn quote_invoices(
    ids: &[i64],
    method: PaymentMethodType,
    initiator: &Initiator,
) -> Result<Quotation> {
    let settings = helpdesk::get_settings();
    let payable = payable(ids, initiator, false)?;
    let q = quote_for(
        &payable.invoices,
        vocab::PaymentMethodType::from(method),
        &fee_policy(&settings)?,
    )?;
    Ok(quotation(q, method))
}

/// A group id: unique per payment, from the clock and the invoices.
fn new_group_id(invoices: &[Invoice]) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in nanos
        .to_le_bytes()
        .into_iter()
        .chain(invoices.iter().flat_map(|i| i.id.to_le_bytes()))
    {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("pg_{hash:016x}{:08x}", (nanos & 0xffff_ffff) as u32)
}

/// Start paying invoices as one PaymentIntent.
pub fn start_payment(request: PaymentRequest) -> Result<PaymentStarted> {
    let settings = helpdesk::get_settings();
    if !settings.enabled {
        return Err(error(
            ErrorKind::NotConfigured,
            "the Stripe integration is not enabled",
        ));
    }
    let payable = payable(&request.invoices, &request.initiator, true)?;
    let customer = &payable.customer;
    let stripe_customer = customer.stripe_customer_id.clone().ok_or_else(|| {
        error(
            ErrorKind::NotConfigured,
            format!(
                "{} is not mapped to a Stripe customer; an administrator must add the mapping",
                customer.name
            ),
        )
    })?;
    let is_portal = matches!(request.initiator, Initiator::PortalUser(_));
    if is_portal && customer.stripe_payment_method_id.is_none() {
        return Err(error(
            ErrorKind::NotConfigured,
            "invoices can be paid in the portal once an automatic payment method is set up for your organisation",
        ));
    }
    let allowed = allowed_manual_types(&settings);
    let policy = fee_policy(&settings)?;
    let (method_types, saved): (Vec<PaymentMethodType>, Option<PaymentMethod>) =
        match &request.pay_with {
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
                    .map(PaymentMethodType::from)
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
                let types: Vec<PaymentMethodType> = if types.is_empty() {
                    allowed.clone()
                } else {
                    types.clone()
                };
                if let Some(t) = types.iter().find(|t| !allowed.contains(t)) {
                    // The tenant's settings refuse it, not the request's shape: 409, not 422.
                    return Err(error(
                        ErrorKind::NotConfigured,
                        format!(
                            "{} is not allowed for manual payments",
                            vocab::PaymentMethodType::from(*t)
                        ),
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
        };
    // One amount for the intent: every offered type must give the same fees.
    let quote = quote_for(
        &payable.invoices,
        vocab::PaymentMethodType::from(method_types[0]),
        &policy,
    )?;
    for t in &method_types[1..] {
        if quote_for(
            &payable.invoices,
            vocab::PaymentMethodType::from(*t),
            &policy,
        )?
        .total
            != quote.total
        {
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
    )
}

#[allow(clippy::too_many_arguments)]
fn create_and_confirm(
    request: &PaymentRequest,
    payable: &Payable,
    settings: &Settings,
    quote: &fees::Quote,
    method_types: &[PaymentMethodType],
    saved: Option<&PaymentMethod>,
    stripe_customer: &str,
    group: &str,
    currency: &str,
) -> Result<PaymentStarted> {
    let money = |amount: i64| Money {
        amount,
        currency: currency.to_string(),
    };
    let method_name = saved.map(PaymentMethod::display_name);
    helpdesk::create_payments(
        &quote
            .lines
            .iter()
            .map(|l| NewPayment {
                invoice_id: l.invoice_id,
                group_id: group.to_string(),
                intent_id: None,
                status: PaymentStatus::RequiresPaymentMethod,
                method: method_name.clone(),
                method_type: (method_types.len() == 1).then(|| method_types[0]),
                amount: money(l.amount_due.amount.0),
                fee: money(l.fee.amount.0),
                initiator: request.initiator,
                attempt: 0,
            })
            .collect::<Vec<_>>(),
    )
    .map_err(super::claim_refused)?;

    let receipt_email = (settings.stripe_send_recipient_email
        && settings.use_stripe_receipt_emails)
        .then(|| receipt_address(&payable.customer, &request.initiator))
        .flatten();
    let invoice_ids: Vec<i64> = payable.invoices.iter().map(|i| i.id).collect();
    let numbers: Vec<String> = payable.invoices.iter().map(|i| i.number.clone()).collect();
    let tenant_ref = helpdesk::tenant_ref();
    let domain_types: Vec<vocab::PaymentMethodType> = method_types
        .iter()
        .map(|t| vocab::PaymentMethodType::from(*t))
        .collect();
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

/// Re-read an intent (after Stripe.js confirmed it in the browser) and update its records.
pub fn refresh_payment(intent_id: &str) -> Result<Vec<helpdesk::InvoicePayment>> {
    let known = helpdesk::list_payments(&PaymentFilter::Intent(intent_id.to_string()))
        .map_err(|e| host_error("payments", e))?;
    if known.is_empty() {
        return Err(error(
            ErrorKind::NotFound,
            format!("no payment of this helpdesk has intent {intent_id}"),
        ));
    }
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
    let records = helpdesk::list_payments(&PaymentFilter::Intent(intent_id.to_string()))
        .map_err(|e| host_error("payments", e))?;
    let first = records.first().ok_or_else(|| {
        error(
            ErrorKind::NotFound,
            format!("no payment of this helpdesk has intent {intent_id}"),
        )
    })?;
    // The payer must be allowed to pay every invoice of the payment.
    let mut customer_id = None;
    for r in &records {
        let invoice = helpdesk::get_invoice(r.invoice_id).map_err(|e| host_error("invoice", e))?;
        check_access(initiator, &invoice)?;
        customer_id = Some(invoice.customer_id);
    }
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
    let allowed = allowed_manual_types(&helpdesk::get_settings());
    if !pm
        .known_type()
        .map(PaymentMethodType::from)
        .is_some_and(|t| allowed.contains(&t))
    {
        return Err(error(
            ErrorKind::InvalidInput,
            format!("{} is not allowed for manual payments", pm.display_name()),
        ));
    }
    stripe_call::<PaymentIntent>(&payment_intents::set_payment_method(
        intent_id,
        payment_method,
    ))?;
    let response = stripe_send(&payment_intents::confirm(intent_id, return_url))?;
    let pi: PaymentIntent = match stripe::parse(&response) {
        Ok(pi) => pi,
        // A decline: read the intent as it now is.
        Err(StripeFailure::Api { .. }) => stripe_call(&payment_intents::retrieve(intent_id))?,
        Err(other) => return Err(stripe_failure(other)),
    };
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
    let records = helpdesk::list_payments(&PaymentFilter::Intent(intent_id.to_string()))
        .map_err(|e| host_error("payments", e))?;
    if records.is_empty() {
        return Err(error(
            ErrorKind::NotFound,
            format!("no payment of this helpdesk has intent {intent_id}"),
        ));
    }
    for r in &records {
        let invoice = helpdesk::get_invoice(r.invoice_id).map_err(|e| host_error("invoice", e))?;
        check_access(initiator, &invoice)?;
    }
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
