//! What Stripe says about a payment, taken in: the records follow it (`records`), and the one
//! email its outcome calls for goes out (`emails`) — on `succeeded` the confirmation, on `failed`
//! (or an automatic payment that needs the payer) the failure; for an anomaly, the notice to the
//! notification address. The records are what happened: an email that cannot be sent (a bad
//! address, a template problem) is reported on its own and never turns the outcome into an error.

use super::Result;
use super::emails;
use super::records::{self, Observation, records_of};
use crate::bindings::paydesk::stripe::helpdesk::{InvoicePayment, PaymentStatus};
use crate::domain::vocabulary as vocab;
use crate::stripe::payment_intents::PaymentIntent;

/// Apply what an intent says now. Returns the group's records afterwards.
pub fn apply_intent(pi: &PaymentIntent, observation: Observation) -> Result<Vec<InvoicePayment>> {
    let Some((status, observation)) = records::said_by(pi, observation) else {
        return records_of(pi);
    };
    let records = records_of(pi)?;
    if anomaly(pi, status, &records)?.is_some() {
        return Ok(records);
    }
    apply(records, Some(&pi.id), status, &observation)
}

/// Apply `status` to every record of `group`.
pub fn apply_to_group(
    group: &str,
    intent: Option<&str>,
    status: PaymentStatus,
    observation: Observation,
) -> Result<Vec<InvoicePayment>> {
    apply(records::of_group(group)?, intent, status, &observation)
}

/// Apply `status` to `records` where the state machine allows; send the outcome's email once.
pub fn apply(
    records: Vec<InvoicePayment>,
    intent: Option<&str>,
    status: PaymentStatus,
    observation: &Observation,
) -> Result<Vec<InvoicePayment>> {
    let applied = records::apply(records, intent, status, observation)?;
    if applied.reached_outcome
        && let Err(e) = emails::payment_outcome(&applied.records, status, intent)
    {
        let email = format!("the `{}` payment email", vocab::PaymentStatus::from(status));
        emails::not_sent(&applied.records, &email, &e);
    }
    Ok(applied.records)
}

/// Keep `pi` as an anomaly of `records` if it must not be applied with `status`
/// ([`records::anomaly`]), and tell the notification address, once per intent, record and status.
/// Returns why, in a few words.
pub fn anomaly(
    pi: &PaymentIntent,
    status: PaymentStatus,
    records: &[InvoicePayment],
) -> Result<Option<String>> {
    let Some(kept) = records::anomaly(pi, status, records)? else {
        return Ok(None);
    };
    if let Some(first) = records.first() {
        let key = format!(
            "anomaly/{}/{}/{}",
            pi.id,
            first.id,
            vocab::PaymentStatus::from(status)
        );
        if let Err(e) = emails::anomaly(records, &kept.reasons, &key) {
            emails::not_sent(records, "the payment anomaly email", &e);
        }
    }
    Ok(Some(kept.summary))
}
