//! Stripe SetupIntents (the portal's "Add payment method") and customer-portal sessions.

use serde::Deserialize;

use super::IdOrObject;
use super::{Form, Request};
use crate::domain::vocabulary::PaymentMethodType;

/// The fields of a SetupIntent we use.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct SetupIntent {
    pub id: String,
    pub status: String,
    pub client_secret: Option<String>,
    pub customer: Option<IdOrObject>,
    pub payment_method: Option<IdOrObject>,
}

/// `POST /v1/setup_intents`: save a method for off-session use by `customer`.
pub fn create(customer: &str, types: &[PaymentMethodType]) -> Request {
    Request::post(
        "/v1/setup_intents",
        Form::new()
            .field("customer", customer)
            .field("usage", "off_session")
            .list("payment_method_types", types.iter().map(|t| t.wire_name())),
    )
}

/// `GET /v1/setup_intents/{id}`.
pub fn retrieve(id: &str) -> Request {
    Request::get(format!("/v1/setup_intents/{id}"), Form::new())
}

/// A customer-portal session.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct PortalSession {
    pub url: String,
}

/// `POST /v1/billing_portal/sessions`.
pub fn portal_session(customer: &str, return_url: &str) -> Request {
    Request::post(
        "/v1/billing_portal/sessions",
        Form::new()
            .field("customer", customer)
            .field("return_url", return_url),
    )
}
