//! Stripe's side of the story (REQUIREMENTS M16, B3): the webhook endpoint ("Save and
//! Create/Update Webhooks in Stripe"), verified events applied once each and never backwards, and
//! reconciliation of payments whose webhook never came.

use super::records::{Observation, anomaly, apply, apply_intent, records_of};
use super::{Result, error, host_error, log, stripe_call, stripe_now, stripe_send};
use crate::bindings::exports::paydesk::stripe::admin::WebhookEndpoint;
use crate::bindings::exports::paydesk::stripe::events::{
    EventOutcome, ReconcileReport, StripeEvent,
};
use crate::bindings::paydesk::stripe::helpdesk::{self, PaymentFilter, PaymentStatus};
use crate::bindings::paydesk::stripe::log::Level;
use crate::bindings::paydesk::stripe::storage;
use crate::bindings::paydesk::stripe::types::ErrorKind;
use crate::domain::{lease, payment_state};
use crate::stripe::events::Event;
use crate::stripe::payment_intents::{self, PaymentIntent};
use crate::stripe::{self, webhook_endpoints};

/// Create the tenant's endpoint at `url`, or update the one created before.
pub fn ensure_endpoint(url: &str) -> Result<WebhookEndpoint> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(error(
            ErrorKind::InvalidInput,
            format!("`{url}` is not an http(s) URL"),
        ));
    }
    let settings = helpdesk::get_settings();
    if let Some(id) = settings.stripe_webhook_endpoint_id.as_deref() {
        let response = stripe_send(&webhook_endpoints::update(id, url))?;
        match stripe::parse::<webhook_endpoints::WebhookEndpoint>(&response) {
            Ok(e) => {
                return Ok(WebhookEndpoint {
                    id: e.id,
                    url: e.url,
                    enabled_events: e.enabled_events,
                    created: false,
                });
            }
            // Deleted in Stripe's dashboard: make a new one below.
            Err(stripe::StripeFailure::Api { status: 404, .. }) => {}
            Err(other) => return Err(super::stripe_failure(other)),
        }
    }
    let e: webhook_endpoints::WebhookEndpoint = stripe_call(&webhook_endpoints::create(url))?;
    Ok(WebhookEndpoint {
        id: e.id,
        url: e.url,
        enabled_events: e.enabled_events,
        created: true,
    })
}

/// Apply a verified Stripe event.
pub fn received(event: StripeEvent) -> Result<EventOutcome> {
    let parsed: Event = serde_json::from_str(&event.body)
        .map_err(|e| error(ErrorKind::InvalidInput, format!("not a Stripe event: {e}")))?;
    let Some(status) = payment_state::from_event(&parsed.event_type) else {
        return Ok(EventOutcome::Ignored(format!(
            "{} is not an event paydesk acts on",
            parsed.event_type
        )));
    };
    let seen_key = format!("event/{}", parsed.id);
    if storage::lookup(&seen_key)
        .map_err(|e| host_error("storage", e))?
        .entry
        .is_some()
    {
        return Ok(EventOutcome::Duplicate);
    }
    let pi: PaymentIntent = serde_json::from_str::<Event<PaymentIntent>>(&event.body)
        .map_err(|e| {
            error(
                ErrorKind::InvalidInput,
                format!("the event's object is not a PaymentIntent: {e}"),
            )
        })?
        .data
        .object;
    let records = records_of(&pi)?;
    if records.is_empty() {
        return Ok(EventOutcome::Ignored(format!(
            "{} is not a payment of this helpdesk",
            pi.id
        )));
    }
    let status = PaymentStatus::from(status);
    // Another intent naming a group, or a success short of what its records expect: kept on the
    // records as an anomaly and never applied; the event is done with.
    if let Some(why) = anomaly(&pi, status, &records)? {
        let _ = storage::put_new(&seen_key, parsed.created.to_string().as_bytes());
        return Ok(EventOutcome::Ignored(why));
    }
    let before: Vec<_> = records.iter().map(|r| (r.id, r.version)).collect();
    let mut observation = Observation {
        at: parsed.created,
        failure: None,
        event: Some((parsed.id.clone(), event.body.clone())),
    };
    if let Some(e) = &pi.last_payment_error {
        observation.failure = Some((
            e.message
                .clone()
                .unwrap_or_else(|| "the payment failed".into()),
            e.decline_code.clone().or_else(|| e.code.clone()),
        ));
    }
    let after = apply(records, Some(&pi.id), status, &observation)?;
    // Seen only once applied: a delivery that failed half-way is applied again on Stripe's retry.
    let _ = storage::put_new(&seen_key, parsed.created.to_string().as_bytes());
    let moved = after
        .iter()
        .filter(|r| before.iter().any(|(id, v)| *id == r.id && *v != r.version))
        .count();
    Ok(if moved == 0 {
        EventOutcome::Stale
    } else {
        EventOutcome::Applied(moved as u32)
    })
}

/// Re-read from Stripe the payments stuck in flight longer than the configured time.
pub fn reconcile(now_at: i64) -> Result<ReconcileReport> {
    forget_old_events(now_at)?;
    let settings = helpdesk::get_settings();
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

/// How long an applied event's id is remembered. Stripe retries a delivery for up to three days;
/// after that the id can only come back by hand, and the records' forward-only rule still holds.
const EVENT_MEMORY_SECONDS: i64 = 30 * 24 * 3600;

/// Forget the ids of events applied more than `EVENT_MEMORY_SECONDS` ago (their value is the
/// event's `created`), so the tenant's storage does not grow without end.
fn forget_old_events(now_at: i64) -> Result<()> {
    let mut after: Option<String> = None;
    loop {
        let page = storage::list_prefix("event/", after.as_deref(), 500)
            .map_err(|e| host_error("storage", e))?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = Some(last.key.clone());
        for entry in &page {
            let created: i64 = std::str::from_utf8(&entry.value)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(now_at);
            if now_at - created > EVENT_MEMORY_SECONDS {
                storage::delete(&entry.key, Some(entry.version))
                    .map_err(|e| host_error("storage", e))?;
            }
        }
    }
}

/// How long after its records were written an attempt Stripe has no intent for is ruled out
/// A payment someone started: once no request of it can still be on its way to Stripe — its claim
/// lease (`domain::lease`). An automatic attempt: after
/// [`lease::AUTOMATIC_RULED_OUT_AFTER_SECONDS`].
pub fn ruled_out_after(record: &helpdesk::InvoicePayment) -> i64 {
    match record.initiator {
        helpdesk::Initiator::Autopay => lease::AUTOMATIC_RULED_OUT_AFTER_SECONDS,
        _ => i64::from(helpdesk::get_settings().autopay_claim_lease_seconds),
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
        Some(stripe_customer) => super::intents::find_intent(stripe_customer, group)?,
        None => None,
    };
    match found {
        Some(pi) => apply_intent(&pi, Observation::read(stripe_now())),
        None if now_at > ruled_out_at => super::records::apply_to_group(
            group,
            None,
            PaymentStatus::Canceled,
            Observation::failed(stripe_now(), "Stripe never made this payment".into(), None),
        ),
        None => Ok(records),
    }
}
