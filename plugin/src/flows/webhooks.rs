//! Stripe's events: the webhook endpoint ("Save and Create/Update Webhooks
//! in Stripe"), and verified events applied once each and never backwards; the ids of applied
//! events are remembered for a while (`event/{id}` in storage). Dispute events go to `disputes`.

use super::outcomes::{anomaly, apply};
use super::records::{Observation, records_of};
use super::{Result, error, host_error, stripe_call, stripe_send};
use crate::bindings::exports::paydesk::stripe::admin::WebhookEndpoint;
use crate::bindings::exports::paydesk::stripe::events::{EventOutcome, StripeEvent};
use crate::bindings::paydesk::stripe::helpdesk::PaymentStatus;
use crate::bindings::paydesk::stripe::storage;
use crate::bindings::paydesk::stripe::types::ErrorKind;
use crate::domain::payment_state;
use crate::stripe::events::Event;
use crate::stripe::payment_intents::PaymentIntent;
use crate::stripe::{self, webhook_endpoints};

/// Create the tenant's endpoint at `url`, or update the one created before.
pub fn ensure_endpoint(url: &str) -> Result<WebhookEndpoint> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(error(
            ErrorKind::InvalidInput,
            format!("`{url}` is not an http(s) URL"),
        ));
    }
    let settings = crate::settings::get();
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
    let parsed: Event = crate::json::from_str(&event.body)
        .map_err(|e| error(ErrorKind::InvalidInput, format!("not a Stripe event: {e}")))?;
    if payment_state::is_dispute_event(&parsed.event_type) {
        return super::disputes::received(&parsed, &event.body);
    }
    if super::stripe_side::handles(&parsed.event_type) {
        return super::stripe_side::received(&parsed.event_type, &event);
    }
    #[cfg(not(feature = "contract-v0_1"))]
    if super::refunds::handles(&parsed.event_type) {
        return super::refunds::received(&parsed, &event.body);
    }
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
    let pi: PaymentIntent = crate::json::from_str::<Event<PaymentIntent>>(&event.body)
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
    let observation = Observation {
        at: parsed.created,
        failure: pi.failure("the payment failed"),
        event: Some((parsed.id.clone(), event.body.clone())),
    };
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

/// How long an applied event's id is remembered. Stripe retries a delivery for up to three days;
/// after that the id can only come back by hand, and the records' forward-only rule still holds.
const EVENT_MEMORY_SECONDS: i64 = 30 * 24 * 3600;

/// Forget the ids of events applied more than `EVENT_MEMORY_SECONDS` ago (their value is the
/// event's `created`), so the tenant's storage does not grow without end.
pub fn forget_old_events(now_at: i64) -> Result<()> {
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
