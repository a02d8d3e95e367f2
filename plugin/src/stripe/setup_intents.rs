//! Stripe SetupIntents (the portal's "Add payment method") and customer-portal sessions.

use crate::json::{self, FromJson, Json};

use super::IdOrObject;
use super::{Form, Request};
use crate::domain::vocabulary::PaymentMethodType;

/// The fields of a SetupIntent we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupIntent {
    pub id: String,
    pub status: String,
    pub client_secret: Option<String>,
    pub customer: Option<IdOrObject>,
    pub payment_method: Option<IdOrObject>,
    /// The multi-use mandate the SetupIntent made (bank debits), once confirmed.
    pub mandate: Option<IdOrObject>,
    /// Why the last confirmation failed.
    pub last_setup_error: Option<super::payment_intents::PaymentError>,
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

/// The payer's acceptance of a mandate, online, as their browser request showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acceptance<'a> {
    pub ip_address: &'a str,
    pub user_agent: &'a str,
}

/// `POST /v1/setup_intents/{id}/confirm` with the payer's method and, for a bank debit, the
/// mandate they accepted (`mandate_data[customer_acceptance]`, type `online`).
pub fn confirm(id: &str, payment_method: &str, mandate: Option<&Acceptance<'_>>) -> Request {
    let mut form = Form::new().field("payment_method", payment_method);
    if let Some(a) = mandate {
        form = form
            .field("mandate_data[customer_acceptance][type]", "online")
            .field(
                "mandate_data[customer_acceptance][online][ip_address]",
                a.ip_address,
            )
            .field(
                "mandate_data[customer_acceptance][online][user_agent]",
                a.user_agent,
            );
    }
    Request::post(format!("/v1/setup_intents/{id}/confirm"), form)
        .with_idempotency_key(format!("paydesk-si-confirm-{id}-{payment_method}"))
}

/// `GET /v1/setup_intents?customer=…&payment_method=…`: the SetupIntents that saved a method (to
/// find its mandate when paydesk did not save it).
pub fn list_for_method(customer: &str, payment_method: &str) -> Request {
    Request::get(
        "/v1/setup_intents",
        Form::new()
            .field("customer", customer)
            .field("payment_method", payment_method)
            .field("limit", "100"),
    )
}

/// `GET /v1/setup_intents/{id}`.
pub fn retrieve(id: &str) -> Request {
    Request::get(format!("/v1/setup_intents/{id}"), Form::new())
}

/// A customer-portal session.
#[derive(Debug, Clone, PartialEq, Eq)]
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

impl FromJson for SetupIntent {
    fn from_json(v: &Json) -> Result<Self, json::Error> {
        let mut f = v.fields("a SetupIntent")?;
        let read = SetupIntent {
            id: f.req("id"),
            status: f.req("status"),
            client_secret: f.opt("client_secret"),
            customer: f.opt("customer"),
            payment_method: f.opt("payment_method"),
            mandate: f.opt("mandate"),
            last_setup_error: f.opt("last_setup_error"),
        };
        f.done(read)
    }
}

impl FromJson for PortalSession {
    fn from_json(v: &Json) -> Result<Self, json::Error> {
        Ok(PortalSession {
            url: v.object("a portal session")?.req("url")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value<'a>(req: &'a Request, key: &str) -> Option<&'a str> {
        req.form
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_bank_debit_is_confirmed_with_the_mandate_accepted_online() {
        let acceptance = Acceptance {
            ip_address: "203.0.113.7",
            user_agent: "Mozilla/5.0",
        };
        let req = confirm("seti_1", "pm_1", Some(&acceptance));
        assert_eq!(value(&req, "payment_method"), Some("pm_1"));
        assert_eq!(
            value(&req, "mandate_data[customer_acceptance][type]"),
            Some("online")
        );
        assert_eq!(
            value(
                &req,
                "mandate_data[customer_acceptance][online][ip_address]"
            ),
            Some("203.0.113.7")
        );
        assert_eq!(
            value(
                &req,
                "mandate_data[customer_acceptance][online][user_agent]"
            ),
            Some("Mozilla/5.0")
        );
        // A card has no mandate to accept.
        let card = confirm("seti_1", "pm_2", None);
        assert!(
            card.form
                .iter()
                .all(|(k, _)| !k.starts_with("mandate_data"))
        );
        assert_ne!(card.idempotency_key, req.idempotency_key);
    }
}
