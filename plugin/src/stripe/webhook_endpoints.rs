//! Stripe webhook endpoints: create the tenant's endpoint for the five payment events and the
//! dispute events (`payment_state::DISPUTE_EVENTS`), or update the one created before. (The host takes the signing secret out of the answer.)

use serde::Deserialize;

use super::{Form, Request};
use crate::domain::payment_state::DISPUTE_EVENTS;

/// The events paydesk acts on.
pub const EVENTS: [&str; 5] = [
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.processing",
    "payment_intent.canceled",
    "payment_intent.requires_action",
];

/// Every event the endpoint is enabled for: [`EVENTS`], then the dispute events.
pub fn enabled_events() -> impl Iterator<Item = &'static str> {
    EVENTS.into_iter().chain(DISPUTE_EVENTS)
}

/// The fields of a webhook endpoint we use.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    #[serde(default)]
    pub enabled_events: Vec<String>,
}

/// `POST /v1/webhook_endpoints`.
pub fn create(url: &str) -> Request {
    Request::post(
        "/v1/webhook_endpoints",
        Form::new()
            .field("url", url)
            .list("enabled_events", enabled_events())
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
            .list("enabled_events", enabled_events())
            .field("disabled", "false"),
    )
}
