//! Stripe customers: requests to create, update, read and list them, and the customer object.

use crate::json::{self, FromJson, Json};

use super::{Form, Request};
use crate::domain::hash::fnv1a;

/// The fields of a Stripe customer we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub deleted: bool,
}

/// What we write to a Stripe customer from a helpdesk customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerFields<'a> {
    pub name: &'a str,
    pub email: Option<&'a str>,
    pub helpdesk_id: i64,
}

impl CustomerFields<'_> {
    /// Key for creating this customer: a retried save of the same data reuses it (one Stripe
    /// customer), while changed data gets a new key (Stripe refuses a key reused with other parameters).
    pub fn idempotency_key(&self) -> String {
        // FNV-1a over the fields: stable across builds and platforms.
        let hash = fnv1a(
            self.name
                .bytes()
                .chain([0])
                .chain(self.email.unwrap_or("").bytes()),
        );
        format!("paydesk-customer-{}-{hash:016x}", self.helpdesk_id)
    }

    fn form(&self) -> Form {
        Form::new()
            .field("name", self.name)
            // An empty email clears it in Stripe.
            .field("email", self.email.unwrap_or(""))
            .metadata("helpdesk_id", self.helpdesk_id.to_string())
    }
}

/// `POST /v1/customers`.
pub fn create(fields: &CustomerFields<'_>) -> Request {
    Request::post("/v1/customers", fields.form())
}

/// `POST /v1/customers/{id}`.
pub fn update(id: &str, fields: &CustomerFields<'_>) -> Request {
    Request::post(format!("/v1/customers/{id}"), fields.form())
}

/// `GET /v1/customers/{id}`.
pub fn retrieve(id: &str) -> Request {
    Request::get(format!("/v1/customers/{id}"), Form::new())
}

/// `POST /v1/customers/{id}` setting (or, with none, clearing) the default payment method for invoices.
pub fn set_default_payment_method(id: &str, payment_method: Option<&str>) -> Request {
    Request::post(
        format!("/v1/customers/{id}"),
        Form::new().field(
            "invoice_settings[default_payment_method]",
            payment_method.unwrap_or(""),
        ),
    )
}

/// `GET /v1/customers?limit=…&starting_after=…`.
pub fn list(starting_after: Option<&str>, limit: u32) -> Request {
    Request::get(
        "/v1/customers",
        Form::new()
            .field("limit", limit.clamp(1, 100).to_string())
            .opt("starting_after", starting_after),
    )
}

impl FromJson for Customer {
    fn from_json(v: &Json) -> Result<Self, json::Error> {
        let mut f = v.fields("a Customer")?;
        let read = Customer {
            id: f.req("id"),
            name: f.opt("name"),
            email: f.opt("email"),
            deleted: f.or_default("deleted"),
        };
        f.done(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_sends_name_email_and_helpdesk_id() {
        let req = create(&CustomerFields {
            name: "Acme",
            email: Some("ap@acme.test"),
            helpdesk_id: 42,
        });
        assert_eq!(req.path, "/v1/customers");
        assert!(
            req.form
                .contains(&("metadata[helpdesk_id]".into(), "42".into()))
        );
        assert!(req.form.contains(&("email".into(), "ap@acme.test".into())));
    }

    #[test]
    fn the_idempotency_key_is_the_fields_hash_and_changes_with_them() {
        let fields = CustomerFields {
            name: "Acme",
            email: Some("ap@acme.test"),
            helpdesk_id: 42,
        };
        assert_eq!(
            fields.idempotency_key(),
            "paydesk-customer-42-c2e100ab1e4d53b8"
        );
        let renamed = CustomerFields {
            name: "Acme Ltd",
            ..fields.clone()
        };
        assert_ne!(renamed.idempotency_key(), fields.idempotency_key());
    }

    #[test]
    fn list_limit_is_clamped_to_stripes_range() {
        let req = list(None, 1000);
        assert_eq!(req.query, vec![("limit".to_string(), "100".to_string())]);
    }
}
