//! Payment records follow their PaymentIntent: an observation (an event, an API answer) is applied
//! to every record of the intent's group if the state machine lets it (`domain::payment_state`),
//! with compare-and-swap on the record's version so concurrent deliveries apply once. On success
//! the host adds the fee line and marks the invoice paid in the same transaction. An intent that is
//! not the records' own, or whose success does not cover them, is never applied: it is kept as an
//! anomaly ([`anomaly`]). Records only: what happened is returned ([`Applied`], [`Anomaly`]), and
//! the emails it calls for are `outcomes`' to send.

use super::{Result, host_error, log};
use crate::bindings::paydesk::stripe::helpdesk::AuditEntry;
use crate::bindings::paydesk::stripe::helpdesk::{
    self, InvoicePayment, PaymentFilter, PaymentStatus, PaymentUpdate,
};
use crate::bindings::paydesk::stripe::log::Level;
use crate::bindings::paydesk::stripe::types::Money;
use crate::domain::fees;
use crate::domain::money::MinorUnits;
use crate::domain::payment_state;
use crate::domain::settlement;
use crate::domain::vocabulary as vocab;
use crate::stripe::payment_intents::PaymentIntent;

/// What was seen at Stripe, and when.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    /// Stripe's event time, or when the API was read (Unix seconds).
    pub at: i64,
    /// (message, code) of a failure, when the intent doesn't carry its own.
    pub failure: Option<(String, Option<String>)>,
    /// The event (id, raw JSON) when it came by webhook.
    pub event: Option<(String, String)>,
}

impl Observation {
    pub fn read(at: i64) -> Observation {
        Observation {
            at,
            ..Observation::default()
        }
    }

    pub fn failed(at: i64, message: String, code: Option<String>) -> Observation {
        Observation {
            at,
            failure: Some((message, code)),
            event: None,
        }
    }
}

/// The records an intent pays: by intent id, else (its creation answer was lost) by its group.
pub fn records_of(pi: &PaymentIntent) -> Result<Vec<InvoicePayment>> {
    let by_intent = helpdesk::list_payments(&PaymentFilter::Intent(pi.id.clone()))
        .map_err(|e| host_error("payments", e))?;
    if !by_intent.is_empty() {
        return Ok(by_intent);
    }
    match pi.group() {
        Some(g) => helpdesk::list_payments(&PaymentFilter::Group(g.to_string()))
            .map_err(|e| host_error("payments", e)),
        None => Ok(Vec::new()),
    }
}

/// The records of payment group `group`.
pub fn of_group(group: &str) -> Result<Vec<InvoicePayment>> {
    helpdesk::list_payments(&PaymentFilter::Group(group.to_string()))
        .map_err(|e| host_error("payments", e))
}

/// What an intent says now: the status its records take, and `observation` with the intent's own
/// failure, if it carries one. `None`: a state that moves no record.
pub fn said_by(
    pi: &PaymentIntent,
    mut observation: Observation,
) -> Option<(PaymentStatus, Observation)> {
    let status = payment_state::from_intent(&pi.status, pi.last_payment_error.is_some())?;
    if let Some(failure) = pi.failure("the payment was declined") {
        observation.failure = Some(failure);
    }
    Some((status.into(), observation))
}

/// An intent kept as an anomaly instead of applied.
#[derive(Debug, Clone)]
pub struct Anomaly {
    /// Why, one per record (as audited).
    pub reasons: Vec<String>,
    /// Why, in a few words (the first reason without its record).
    pub summary: String,
}

/// Whether `pi` must not be applied with `status` to `records` (the records it names,
/// [`records_of`]): it is another intent than theirs, or they have none yet and it does not match
/// them exactly, or it succeeded without covering them (`domain::settlement`). Then the anomaly is
/// kept — an audit entry (`anomaly`) per record, which agents see on the invoice, and a log line —
/// and returned; the records are left as they are.
pub fn anomaly(
    pi: &PaymentIntent,
    status: PaymentStatus,
    records: &[InvoicePayment],
) -> Result<Option<Anomaly>> {
    let Some(first) = records.first() else {
        return Ok(None);
    };
    let own = records.iter().find_map(|r| r.intent_id.as_deref());
    let total = MinorUnits::checked_sum(
        records
            .iter()
            .flat_map(|r| [MinorUnits(r.amount.amount), MinorUnits(r.fee.amount)]),
    )
    .ok()
    .map(|m| m.0);
    // The Stripe customer counts only when an intent is linked to records that have none.
    let customer = match own {
        Some(_) => None,
        None => {
            let invoice =
                helpdesk::get_invoice(first.invoice_id).map_err(|e| host_error("invoice", e))?;
            helpdesk::get_customer(invoice.customer_id)
                .map_err(|e| host_error("customer", e))?
                .stripe_customer_id
        }
    };
    let expected = settlement::Expected {
        intent_id: own,
        total,
        currency: &first.amount.currency,
        customer: customer.as_deref(),
    };
    let facts = pi.facts();
    let Err(mismatch) = settlement::check(&facts, &expected, status == PaymentStatus::Succeeded)
    else {
        return Ok(None);
    };
    let reasons: Vec<String> = records
        .iter()
        .map(|r| settlement::reason(r.id, &facts, &expected, &mismatch))
        .collect();
    let received = if status == PaymentStatus::Succeeded {
        pi.amount_received
    } else {
        pi.amount
    };
    let entries: Vec<AuditEntry> = records
        .iter()
        .zip(&reasons)
        .map(|(r, reason)| AuditEntry {
            invoice_id: Some(r.invoice_id),
            action: "anomaly".into(),
            reason: reason.clone(),
            amount: Some(Money {
                amount: received,
                currency: pi.currency.clone(),
            }),
        })
        .collect();
    // Kept before anything else: if this fails, the event is refused and Stripe delivers it again.
    helpdesk::audit(&entries).map_err(|e| host_error("audit trail", e))?;
    log(Level::Warn, &reasons[0]);
    let summary = reasons[0]
        .split_once(": ")
        .map_or(String::new(), |(_, why)| why.to_string());
    Ok(Some(Anomaly { reasons, summary }))
}

/// What applying a status did.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The group's records afterwards.
    pub records: Vec<InvoicePayment>,
    /// A record moved to the status now, and the status is an outcome the payer hears of
    /// (succeeded, failed, requires action): its email is due.
    pub reached_outcome: bool,
}

/// Apply `status` to `records` where the state machine allows.
pub fn apply(
    records: Vec<InvoicePayment>,
    intent: Option<&str>,
    status: PaymentStatus,
    observation: &Observation,
) -> Result<Applied> {
    let Some(first) = records.first() else {
        return Ok(Applied {
            records,
            reached_outcome: false,
        });
    };
    let group = first.group_id.clone();
    let settings = crate::settings::get();
    let policy = super::quote::fee_policy(&settings)?;
    let mut moved_to_outcome = false;
    for record in records {
        let mut current = record;
        loop {
            if !payment_state::should_apply(
                current.status.into(),
                current.observed_at,
                status.into(),
                observation.at,
            ) {
                break;
            }
            let method_type = current
                .method_type
                .clone()
                .and_then(|t| crate::bindings::known_type(t).ok());
            let (percent, _) =
                policy.rule_for(method_type.unwrap_or(vocab::PaymentMethodType::Card));
            let ended_badly = matches!(status, PaymentStatus::Failed | PaymentStatus::Canceled);
            let update = PaymentUpdate {
                status,
                intent_id: intent.map(str::to_string),
                method: None,
                method_type: None,
                // Why it failed, or why it was cancelled ("Stripe never made this payment").
                failure_reason: ended_badly
                    .then(|| observation.failure.as_ref().map(|f| f.0.clone()))
                    .flatten(),
                failure_code: ended_badly
                    .then(|| observation.failure.as_ref().and_then(|f| f.1.clone()))
                    .flatten(),
                event_id: observation.event.as_ref().map(|e| e.0.clone()),
                webhook_payload: observation.event.as_ref().map(|e| e.1.clone()),
                observed_at: observation.at,
                settle_with_fee_line: (status == PaymentStatus::Succeeded)
                    .then(|| fees::fee_description(percent)),
            };
            match helpdesk::update_payment(current.id, current.version, &update) {
                Ok(_) => {
                    if current.status != status
                        && matches!(
                            status,
                            PaymentStatus::Succeeded
                                | PaymentStatus::Failed
                                | PaymentStatus::RequiresAction
                        )
                    {
                        moved_to_outcome = true;
                    }
                    break;
                }
                // Someone else moved it first: read it again and decide again.
                Err(_) => {
                    let fresh =
                        helpdesk::list_payments(&PaymentFilter::Invoice(current.invoice_id))
                            .map_err(|e| host_error("payments", e))?;
                    match fresh.into_iter().find(|p| p.id == current.id) {
                        Some(p) if p.version != current.version => current = p,
                        _ => break,
                    }
                }
            }
        }
    }
    Ok(Applied {
        records: of_group(&group)?,
        reached_outcome: moved_to_outcome,
    })
}
