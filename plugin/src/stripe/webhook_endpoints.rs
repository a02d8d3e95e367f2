//! Stripe webhook endpoints: create the tenant's endpoint for the events paydesk acts on, or
//! update the one created before to them. (The host takes the signing secret out of the answer.)

use crate::json::{self, FromJson, Json};

use super::{Form, Request};
use crate::domain::payment_state::DISPUTE_EVENTS;

/// The payment events paydesk acts on.
const PAYMENT_EVENTS: [&str; 5] = [
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.processing",
    "payment_intent.canceled",
    "payment_intent.requires_action",
];

/// Every event paydesk acts on: payments, disputes of them (`payment_state::DISPUTE_EVENTS`),
/// and changes made on Stripe's side to customers' payment methods (`domain::stripe_side`).
/// Created and updated endpoints get all of them, so an endpoint made by an older version gets the
/// new ones when it is updated.
pub fn events() -> impl Iterator<Item = &'static str> {
    PAYMENT_EVENTS
        .into_iter()
        .chain(DISPUTE_EVENTS)
        .chain(crate::domain::stripe_side::EVENT_TYPES)
        .chain(crate::domain::refunds::SUBSCRIBED)
}

/// The fields of a webhook endpoint we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    pub enabled_events: Vec<String>,
}

/// `POST /v1/webhook_endpoints`.
pub fn create(url: &str) -> Request {
    Request::post(
        "/v1/webhook_endpoints",
        Form::new()
            .field("url", url)
            .list("enabled_events", events())
            .field("description", "paydesk: invoice payments")
            .field("api_version", "2023-08-16"),
    )
}

/// `POST /v1/webhook_endpoints/{id}`.
pub fn update(id: &str, url: &str) -> Request {
    Request::post(
        format!("/v1/webhook_endpoints/{id}"),
        Form::new()
            .field("url", url)
            .list("enabled_events", events())
            .field("disabled", "false"),
    )
}

impl FromJson for WebhookEndpoint {
    fn from_json(v: &Json) -> Result<Self, json::Error> {
        let mut f = v.fields("a webhook endpoint")?;
        let read = WebhookEndpoint {
            id: f.req("id"),
            url: f.req("url"),
            enabled_events: f.or_default("enabled_events"),
        };
        f.done(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled(req: &Request) -> Vec<String> {
        req.form
            .iter()
            .filter(|(k, _)| k == "enabled_events[]")
            .map(|(_, v)| v.clone())
            .collect()
    }

    #[test]
    fn created_and_updated_endpoints_get_every_event_paydesk_acts_on() {
        let every: Vec<String> = events().map(String::from).collect();
        for t in [
            "payment_intent.succeeded",
            "payment_intent.requires_action",
            "payment_method.detached",
            "payment_method.updated",
            "customer.updated",
        ] {
            assert!(every.iter().any(|e| e == t), "{t}");
        }
        assert_eq!(enabled(&create("https://h.test/w")), every);
        // An endpoint made by an older version, with the payment events only, gets them all.
        let update = update("we_old", "https://h.test/w");
        assert_eq!(update.path, "/v1/webhook_endpoints/we_old");
        assert_eq!(enabled(&update), every);
    }
}
