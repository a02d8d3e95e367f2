//! Payments whose outcome never reached us: reconciliation re-reads from
//! Stripe the payments stuck in flight (their webhook never came), and an attempt whose intent
//! creation got no answer is found among the customer's intents by its group — or, once no
//! request of it can still arrive, ruled out and cancelled.

use super::intents::find_intent;
use super::outcomes::{apply_intent, apply_to_group};
use super::records::Observation;
use super::{Result, host_error, log, stripe_call, stripe_now};
use crate::bindings::exports::paydesk::stripe::events::ReconcileReport;
use crate::bindings::paydesk::stripe::helpdesk::{self, PaymentFilter, PaymentStatus};
use crate::bindings::paydesk::stripe::log::Level;
use crate::domain::lease;
use crate::stripe::payment_intents::{self, PaymentIntent};

/// Re-read from Stripe the payments stuck in flight longer than the configured time.
pub fn reconcile(now_at: i64) -> Result<ReconcileReport> {
    super::webhooks::forget_old_events(now_at)?;
    let settings = crate::settings::get();
    let before = now_at - i64::from(settings.reconcile_after_minutes) * 60;
    let stuck = helpdesk::list_payments(&PaymentFilter::Stale((
        vec![
            PaymentStatus::Processing,
            PaymentStatus::RequiresAction,
            PaymentStatus::RequiresPaymentMethod,
        ],
        before,
    )))
    .map_err(|e| host_error("payments", e))?;
    let mut report = ReconcileReport {
        checked: 0,
        updated: 0,
    };
    let mut done: Vec<String> = Vec::new();
    for record in stuck {
        let key = record
            .intent_id
            .clone()
            .unwrap_or_else(|| record.group_id.clone());
        if done.contains(&key) {
            continue;
        }
        done.push(key);
        report.checked += 1;
        let versions_before = record.version;
        let outcome = match record.intent_id.as_deref() {
            Some(intent) => stripe_call::<PaymentIntent>(&payment_intents::retrieve(intent))
                .and_then(|pi| apply_intent(&pi, Observation::read(stripe_now()))),
            None => resolve_unknown(&record.group_id, record.created_at, now_at),
        };
        match outcome {
            Ok(records) => {
                if records
                    .iter()
                    .any(|r| r.id == record.id && r.version != versions_before)
                {
                    report.updated += 1;
                }
            }
            Err(e) => log(
                Level::Warn,
                &format!(
                    "reconciling payment group {}: {}",
                    record.group_id, e.message
                ),
            ),
        }
    }
    Ok(report)
}

/// How long after its records were written an attempt Stripe has no intent for is ruled out.
/// A payment someone started: once no request of it can still be on its way to Stripe — its claim
/// lease (`domain::lease`). An automatic attempt: after
/// [`lease::AUTOMATIC_RULED_OUT_AFTER_SECONDS`].
pub fn ruled_out_after(record: &helpdesk::InvoicePayment) -> i64 {
    match record.initiator {
        helpdesk::Initiator::Autopay => lease::AUTOMATIC_RULED_OUT_AFTER_SECONDS,
        _ => i64::from(crate::settings::get().autopay_claim_lease_seconds),
    }
}

/// A payment whose intent creation got no answer: find the intent among the customer's intents by
/// the group's metadata (listing them is strongly consistent); if Stripe has none once the
/// attempt is [`ruled_out_after`], it never happened and its records are cancelled.
pub fn resolve_unknown(
    group: &str,
    created_at: i64,
    now_at: i64,
) -> Result<Vec<helpdesk::InvoicePayment>> {
    let records = helpdesk::list_payments(&PaymentFilter::Group(group.to_string()))
        .map_err(|e| host_error("payments", e))?;
    let Some(first) = records.first() else {
        return Ok(records);
    };
    let ruled_out_at = created_at.saturating_add(ruled_out_after(first));
    let invoice = helpdesk::get_invoice(first.invoice_id).map_err(|e| host_error("invoice", e))?;
    let customer =
        helpdesk::get_customer(invoice.customer_id).map_err(|e| host_error("customer", e))?;
    let found = match customer.stripe_customer_id.as_deref() {
        Some(stripe_customer) => find_intent(stripe_customer, group)?,
        None => None,
    };
    match found {
        Some(pi) => apply_intent(&pi, Observation::read(stripe_now())),
        None if now_at > ruled_out_at => apply_to_group(
            group,
            None,
            PaymentStatus::Canceled,
            Observation::failed(stripe_now(), "Stripe never made this payment".into(), None),
        ),
        None => Ok(records),
    }
}
