//! Charges of one invoice (the optional `charges` export): an agent's "Receive Payment (Manual)"
//! for all or part of the amount due, priced exactly as it will be charged (the fee on what is
//! paid) and charged only for the total the agent agreed to. The records and the PaymentIntent are
//! made as `payments` makes them; the claim is `helpdesk.create-part-payment`, written only while
//! the invoice's amount due is still what was priced. The invoice keeps awaiting payment with the
//! rest, which the portal and autopay then offer.

#![cfg(not(feature = "contract-v0_1"))]

use super::payable::{self, Payable};
use super::payments::{
    Claim, charge_methods, create_and_confirm, new_group_id, stripe_customer_of,
};
use super::quote::{chargeable, fee_policy, item};
use super::{Result, error};
use crate::bindings::exports::paydesk::stripe::charges::{
    ChargeQuote, ChargeRequest, ChargeStarted, ChargeWith,
};
use crate::bindings::exports::paydesk::stripe::payments::{PayWith, PaymentRequest};
use crate::bindings::paydesk::stripe::helpdesk::Initiator;
use crate::bindings::paydesk::stripe::types::{ErrorKind, FieldError, Money, PluginError};
use crate::domain::fees;
use crate::domain::parts::{self, PartRefused};
use crate::domain::vocabulary as vocab;
use crate::settings::Settings;
use crate::stripe::payment_methods::PaymentMethod;

/// A charge priced: the invoice checked for the payer, the part it takes, the quote of that part
/// and how it is paid.
struct Priced {
    payable: Payable,
    quote: fees::Quote,
    method_types: Vec<vocab::PaymentMethodType>,
    saved: Option<PaymentMethod>,
}

/// The `amount` field refused, as `invalid-input` naming it.
fn amount_refused(e: PartRefused) -> PluginError {
    let mut refused = error(ErrorKind::InvalidInput, e.to_string());
    refused.field_errors.push(FieldError {
        field: "amount".into(),
        message: e.to_string(),
    });
    refused
}

fn pay_with(with: &ChargeWith) -> PayWith {
    match with {
        ChargeWith::SavedMethod => PayWith::SavedMethod,
        ChargeWith::NewDetails(t) => PayWith::NewDetails(vec![t.clone()]),
    }
}

/// Check and price a charge of `amount` (none: all that is due) of `invoice` for `initiator`.
fn price(
    invoice: i64,
    amount: Option<i64>,
    with: &ChargeWith,
    initiator: &Initiator,
    settings: &Settings,
    paying: bool,
) -> Result<Priced> {
    let payable = payable::payable(&[invoice], initiator, paying)?;
    let due = payable.invoices[0].amount_due;
    let part = parts::part_to_pay(due, amount, matches!(initiator, Initiator::Agent(_)))
        .map_err(amount_refused)?;
    let (method_types, saved) = charge_methods(&payable.customer, &pay_with(with), settings)?;
    let mut priced_item = item(&payable.invoices[0]);
    priced_item.amount_due = part;
    let quote = chargeable(&[priced_item], method_types[0], &fee_policy(settings)?)?;
    Ok(Priced {
        payable,
        quote,
        method_types,
        saved,
    })
}

fn to_wit(m: crate::domain::money::Money) -> Money {
    Money {
        amount: m.amount.0,
        currency: m.currency.code().to_string(),
    }
}

/// Price a charge of one invoice, with the same checks as charging it.
pub fn quote_charge(
    invoice: i64,
    amount: Option<i64>,
    with: ChargeWith,
    initiator: Initiator,
) -> Result<ChargeQuote> {
    let settings = crate::settings::get();
    let p = price(invoice, amount, &with, &initiator, &settings, false)?;
    let line = &p.quote.lines[0];
    let inv = &p.payable.invoices[0];
    Ok(ChargeQuote {
        invoice_id: inv.id,
        invoice_number: inv.number.clone(),
        amount_due: Money {
            amount: inv.amount_due,
            currency: line.amount_due.currency.code().to_string(),
        },
        amount: to_wit(line.amount_due),
        fee: to_wit(line.fee),
        fee_description: line.fee_description.clone(),
        total: to_wit(p.quote.total),
        method_type: p.quote.method_type.into(),
        method: p.saved.as_ref().map(PaymentMethod::display_name),
    })
}

/// Charge one invoice for all or part of its amount due, only for the total agreed.
pub fn start_charge(request: ChargeRequest) -> Result<ChargeStarted> {
    let settings = crate::settings::get();
    if !settings.enabled {
        return Err(error(
            ErrorKind::NotConfigured,
            "the Stripe integration is not enabled",
        ));
    }
    let p = price(
        request.invoice,
        request.amount,
        &request.paid_with,
        &request.initiator,
        &settings,
        true,
    )?;
    let total = to_wit(p.quote.total);
    if let Some(agreed) = &request.agreed_total
        && (agreed.amount != total.amount || !agreed.currency.eq_ignore_ascii_case(&total.currency))
    {
        let shown = |m: &Money| {
            crate::domain::money::Currency::parse(&m.currency)
                .map(|c| crate::domain::money::Money::new(m.amount, c).to_string())
                .unwrap_or_else(|_| format!("{} {}", m.amount, m.currency.to_ascii_uppercase()))
        };
        return Err(error(
            ErrorKind::Conflict,
            format!(
                "the charge is now {}, not the {} agreed to; nothing was charged — review it again",
                shown(&total),
                shown(agreed)
            ),
        ));
    }
    let stripe_customer = stripe_customer_of(&p.payable.customer, &request.initiator)?;
    let as_payment = PaymentRequest {
        invoices: vec![request.invoice],
        pay_with: pay_with(&request.paid_with),
        initiator: request.initiator,
        return_url: request.return_url.clone(),
    };
    let group = new_group_id(&p.payable.invoices);
    let started = create_and_confirm(
        &as_payment,
        &p.payable,
        &settings,
        &p.quote,
        &p.method_types,
        p.saved.as_ref(),
        &stripe_customer,
        &group,
        &total.currency,
        Claim::Part {
            amount_due: p.payable.invoices[0].amount_due,
        },
    )?;
    Ok(ChargeStarted {
        group_id: started.group_id,
        intent_id: started.intent_id,
        status: started.status,
        client_secret: started.client_secret,
        total: started.amount,
        payments: started.payments,
        failure_reason: started.failure_reason,
    })
}
