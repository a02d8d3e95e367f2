//! Payment records follow their PaymentIntent: an observation (an event, an API answer) is applied
//! to every record of the intent's group if the state machine lets it (`domain::payment_state`),
//! with compare-and-swap on the record's version so concurrent deliveries apply once. On success
//! the host adds the fee line and marks the invoice paid in the same transaction; an outcome that
//! first reaches `succeeded` or `failed` sends its one email. The records are what happened: an
//! email that cannot be sent (a bad address, a template problem) is reported on its own and never
//! turns the outcome into an error.

use super::{Result, host_error};
use crate::bindings::paydesk::stripe::helpdesk::{
    self, InvoicePayment, PaymentFilter, PaymentStatus, PaymentUpdate,
};
use crate::domain::fees;
use crate::domain::payment_state::{self, Status};
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

pub fn to_domain(s: PaymentStatus) -> Status {
    match s {
        PaymentStatus::RequiresPaymentMethod => Status::RequiresPaymentMethod,
        PaymentStatus::RequiresAction => Status::RequiresAction,
        PaymentStatus::Processing => Status::Processing,
        PaymentStatus::Succeeded => Status::Succeeded,
        PaymentStatus::Failed => Status::Failed,
        PaymentStatus::Canceled => Status::Canceled,
    }
}

pub fn from_domain(s: Status) -> PaymentStatus {
    match s {
        Status::RequiresPaymentMethod => PaymentStatus::RequiresPaymentMethod,
        Status::RequiresAction => PaymentStatus::RequiresAction,
        Status::Processing => PaymentStatus::Processing,
        Status::Succeeded => PaymentStatus::Succeeded,
        Status::Failed => PaymentStatus::Failed,
        Status::Canceled => PaymentStatus::Canceled,
    }
}

/// Stripe's name of a status.
pub fn status_name(s: PaymentStatus) -> &'static str {
    match s {
        PaymentStatus::RequiresPaymentMethod => "requires_payment_method",
        PaymentStatus::RequiresAction => "requires_action",
        PaymentStatus::Processing => "processing",
        PaymentStatus::Succeeded => "succeeded",
        PaymentStatus::Failed => "failed",
        PaymentStatus::Canceled => "canceled",
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

/// Apply what an intent says now. Returns the group's records afterwards.
pub fn apply_intent(
    pi: &PaymentIntent,
    mut observation: Observation,
) -> Result<Vec<InvoicePayment>> {
    let Some(status) = payment_state::from_intent(&pi.status, pi.last_payment_error.is_some())
    else {
        return records_of(pi);
    };
    if let Some(e) = &pi.last_payment_error {
        observation.failure = Some((
            e.message
                .clone()
                .unwrap_or_else(|| "the payment was declined".into()),
            e.decline_code.clone().or_else(|| e.code.clone()),
        ));
    }
    apply(
        records_of(pi)?,
        Some(&pi.id),
        from_domain(status),
        &observation,
    )
}

/// Apply `status` to every record of `group`.
pub fn apply_to_group(
    group: &str,
    intent: Option<&str>,
    status: PaymentStatus,
    observation: Observation,
) -> Result<Vec<InvoicePayment>> {
    let records = helpdesk::list_payments(&PaymentFilter::Group(group.to_string()))
        .map_err(|e| host_error("payments", e))?;
    apply(records, intent, status, &observation)
}

/// Apply `status` to `records` where the state machine allows; send the outcome's email once.
pub fn apply(
    records: Vec<InvoicePayment>,
    intent: Option<&str>,
    status: PaymentStatus,
    observation: &Observation,
) -> Result<Vec<InvoicePayment>> {
    let Some(first) = records.first() else {
        return Ok(records);
    };
    let group = first.group_id.clone();
    let settings = helpdesk::get_settings();
    let policy = super::quote::fee_policy(&settings)?;
    let mut moved_to_outcome = false;
    for record in records {
        let mut current = record;
        loop {
            if !payment_state::should_apply(
                to_domain(current.status),
                current.observed_at,
                to_domain(status),
                observation.at,
            ) {
                break;
            }
            let method_type = current.method_type.map(super::method_type_from_wit);
            let (percent, _) = policy
                .rule_for(method_type.unwrap_or(crate::domain::types::PaymentMethodType::Card));
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
    let records = helpdesk::list_payments(&PaymentFilter::Group(group.clone()))
        .map_err(|e| host_error("payments", e))?;
    if moved_to_outcome && let Err(e) = super::emails::payment_outcome(&records, status, intent) {
        super::emails::not_sent(&records, status, &e);
    }
    Ok(records)
}
