//! Making a claimed attempt: its payment record (the invoice's claim in the host's database), its
//! PaymentIntent (created once), and the claim settled with the outcome — or given back untouched
//! when another payment of the invoice is open.

use super::claims::{Claim, claim_key, encode};
use super::{audit, result};
use crate::bindings::exports::paydesk::stripe::events::AutopayResult;
use crate::bindings::paydesk::stripe::helpdesk::{
    self, Customer, Initiator, Invoice, NewPayment, PaymentFilter, PaymentStatus,
};
use crate::bindings::paydesk::stripe::log::Level;
use crate::bindings::paydesk::stripe::storage;
use crate::bindings::paydesk::stripe::types::{ErrorKind, Money, PluginError};
use crate::domain::vocabulary as vocab;
use crate::flows::intents::{Created, create_once};
use crate::flows::outcomes::{apply_intent, apply_to_group};
use crate::flows::quote::{self, fee_policy};
use crate::flows::records::Observation;
use crate::flows::{Result, error, host_error, log, stripe_now};
use crate::settings::Settings;
use crate::stripe::payment_intents::{self, NewIntent};

/// Create the attempt's records (once) and its intent, apply what Stripe says, settle the claim.
pub(super) fn attempt_charge(
    invoice: &Invoice,
    customer: &Customer,
    attempt: u32,
    claim: Claim,
    version: u64,
    settings: &Settings,
) -> Result<AutopayResult> {
    let stripe_customer = customer.stripe_customer_id.clone().ok_or_else(|| {
        error(
            ErrorKind::NotConfigured,
            "the customer is not mapped to Stripe",
        )
    })?;
    let pm_id = customer.stripe_payment_method_id.clone().ok_or_else(|| {
        error(
            ErrorKind::NotConfigured,
            "the customer has no automatic payment method",
        )
    })?;
    let (method_type, method_name) = crate::flows::payment_methods::describe(&pm_id)?;
    // A bank debit is charged under the mandate it was saved with.
    let mandate = crate::flows::debits::mandate_of_saved(method_type, &pm_id, &stripe_customer)?;
    let q = crate::flows::quote::chargeable(
        &[quote::item(invoice)],
        method_type,
        &fee_policy(settings)?,
    )?;
    let line = &q.lines[0];
    let currency = q.total.currency.code().to_string();
    let existing = helpdesk::list_payments(&PaymentFilter::Group(claim.group.clone()))
        .map_err(|e| host_error("payments", e))?;
    if existing.is_empty() {
        let created = helpdesk::create_payments(&[NewPayment {
            invoice_id: invoice.id,
            group_id: claim.group.clone(),
            intent_id: None,
            status: PaymentStatus::RequiresPaymentMethod,
            method: Some(method_name),
            method_type: Some(method_type.into()),
            amount: Money {
                amount: line.amount_due.amount.0,
                currency: currency.clone(),
            },
            fee: Money {
                amount: line.fee.amount.0,
                currency: currency.clone(),
            },
            initiator: Initiator::Autopay,
            attempt,
        }])
        .map_err(crate::flows::claim_refused);
        if let Err(refused) = created {
            return give_back(invoice, attempt, version, refused);
        }
    }
    let receipt_email = (settings.stripe_send_recipient_email
        && settings.use_stripe_receipt_emails)
        .then(|| customer.accounts_email.clone())
        .flatten();
    let request = payment_intents::create(&NewIntent {
        amount: q.total.amount.0,
        currency: &currency,
        customer: &stripe_customer,
        tenant_ref: &helpdesk::tenant_ref(),
        group_id: &claim.group,
        invoice_ids: &[invoice.id],
        invoice_numbers: std::slice::from_ref(&invoice.number),
        payment_method: Some(&pm_id),
        off_session: true,
        method_types: &[method_type],
        receipt_email: receipt_email.as_deref(),
        return_url: None,
        attempt,
        mandate: mandate.as_deref(),
    });
    let records = match create_once(&request, &stripe_customer, &claim.group) {
        Created::Intent(pi) => apply_intent(&pi, Observation::read(stripe_now()))?,
        Created::Declined {
            intent: Some(pi),
            message,
            code,
        } => apply_intent(&pi, Observation::failed(stripe_now(), message, code))?,
        Created::Declined {
            intent: None,
            message,
            code,
        } => apply_to_group(
            &claim.group,
            None,
            PaymentStatus::Failed,
            Observation::failed(stripe_now(), message, code),
        )?,
        Created::Unknown(message) => {
            // The claim keeps its lease; the next run resolves it with Stripe.
            audit(invoice, "unknown", &message, None);
            return Ok(result(
                invoice,
                None,
                format!("outcome unknown, to be resolved with Stripe: {message}"),
            ));
        }
        Created::Refused(e) => apply_to_group(
            &claim.group,
            None,
            PaymentStatus::Failed,
            Observation::failed(stripe_now(), e.message.clone(), None),
        )?,
    };
    settle(invoice, attempt, claim, version, &records)
}

/// The host would not write the attempt's record: another payment of the invoice is open (a payer
/// in the portal, an agent) or it stopped being payable. Nothing reached Stripe, so the attempt is
/// given back — its claim deleted, not counted — and a later run decides again.
pub(super) fn give_back(
    invoice: &Invoice,
    attempt: u32,
    version: u64,
    refused: PluginError,
) -> Result<AutopayResult> {
    if refused.kind != ErrorKind::Conflict {
        return Err(refused);
    }
    if let Err(e) = storage::delete(&claim_key(invoice.id, attempt), Some(version)) {
        log(
            Level::Warn,
            &format!(
                "giving back attempt {attempt} of invoice {}: {e:?}",
                invoice.number
            ),
        );
    }
    let message = format!(
        "attempt {attempt} not made, nothing sent to Stripe: {}",
        refused.message
    );
    audit(invoice, "retry-later", &message, None);
    Ok(result(invoice, None, message))
}

/// Record the attempt's outcome on its claim and in the audit trail.
pub(super) fn settle(
    invoice: &Invoice,
    attempt: u32,
    mut claim: Claim,
    version: u64,
    records: &[helpdesk::InvoicePayment],
) -> Result<AutopayResult> {
    let record = records.iter().find(|r| r.invoice_id == invoice.id);
    let status = record
        .map(|r| r.status)
        .unwrap_or(PaymentStatus::RequiresPaymentMethod);
    let name = vocab::PaymentStatus::from(status).wire_name();
    claim.state = name.to_string();
    claim.failure_code = record.and_then(|r| r.failure_code.clone());
    let bytes = encode(&claim)?;
    if storage::compare_and_swap(&claim_key(invoice.id, attempt), version, &bytes).is_err() {
        log(
            Level::Warn,
            &format!(
                "claim of invoice {} attempt {attempt} changed meanwhile",
                invoice.number
            ),
        );
    }
    let message = match (status, record.and_then(|r| r.failure_reason.clone())) {
        (PaymentStatus::Succeeded, _) => format!("attempt {attempt}: paid"),
        (PaymentStatus::RequiresAction, _) => {
            format!("attempt {attempt}: the payer must authenticate; emailed a link")
        }
        (PaymentStatus::Processing, _) => format!("attempt {attempt}: processing"),
        (_, Some(reason)) => format!("attempt {attempt}: {name} ({reason})"),
        _ => format!("attempt {attempt}: {name}"),
    };
    audit(invoice, name, &message, None);
    Ok(result(invoice, Some(status), message))
}
