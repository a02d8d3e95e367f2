//! Stripe PaymentIntents: the create request (one intent for one or many invoices, saved method
//! confirmed at once or new details left to Stripe.js), read, cancel; and the intent object.
//! Metadata links the intent back to the tenant and the payment group, within Stripe's limits
//! (50 keys, values ≤ 500 characters) however many invoices one payment covers.

use crate::json::{self, FromJson, Json};

pub use super::IdOrObject;
use super::{Form, Request};
use crate::domain::vocabulary::PaymentMethodType;

/// Longest metadata value Stripe accepts.
pub const METADATA_VALUE_MAX: usize = 500;

/// What to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIntent<'a> {
    pub amount: i64,
    pub currency: &'a str,
    pub customer: &'a str,
    pub tenant_ref: &'a str,
    pub group_id: &'a str,
    pub invoice_ids: &'a [i64],
    pub invoice_numbers: &'a [String],
    /// Confirm now with this saved method.
    pub payment_method: Option<&'a str>,
    /// The payer is not present (agent or autopay): confirm off-session.
    pub off_session: bool,
    /// Types offered to Stripe.js (new details) or the saved method's type.
    pub method_types: &'a [PaymentMethodType],
    /// Stripe sends its receipt here (`use_stripe_receipt_emails`).
    pub receipt_email: Option<&'a str>,
    /// Where Stripe returns the payer after authentication.
    pub return_url: Option<&'a str>,
    /// 0 for manual payments; the attempt number for autopay.
    pub attempt: u32,
    /// The mandate a saved bank-debit method was set up with, sent with its confirmation.
    pub mandate: Option<&'a str>,
}

/// A comma-separated list cut to fit a metadata value, saying how many were left out.
pub fn fit_list(items: &[String]) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        let rest = items.len() - i;
        let tail = format!(" (+{rest} more)");
        let sep = if out.is_empty() { "" } else { "," };
        if out.len() + sep.len() + item.len() + if rest > 1 { tail.len() } else { 0 }
            > METADATA_VALUE_MAX
        {
            out.push_str(&tail);
            return out;
        }
        out.push_str(sep);
        out.push_str(item);
    }
    out
}

/// `POST /v1/payment_intents`.
pub fn create(n: &NewIntent<'_>) -> Request {
    let ids: Vec<String> = n.invoice_ids.iter().map(ToString::to_string).collect();
    let mut form = Form::new()
        .field("amount", n.amount.to_string())
        .field("currency", n.currency)
        .field("customer", n.customer)
        .list(
            "payment_method_types",
            n.method_types.iter().map(|t| t.wire_name()),
        )
        .metadata("paydesk_tenant", n.tenant_ref)
        .metadata("paydesk_group", n.group_id)
        .metadata("paydesk_invoice_count", ids.len().to_string())
        .metadata("paydesk_invoice_ids", fit_list(&ids))
        .metadata("paydesk_invoice_numbers", fit_list(n.invoice_numbers))
        .opt("receipt_email", n.receipt_email);
    if n.attempt > 0 {
        form = form.metadata("paydesk_attempt", n.attempt.to_string());
    }
    if let Some(pm) = n.payment_method {
        form = form
            .field("payment_method", pm)
            .field("confirm", "true")
            .opt("mandate", n.mandate);
        if n.off_session {
            form = form.field("off_session", "true");
        } else if let Some(url) = n.return_url {
            form = form.field("return_url", url);
        }
    }
    Request::post("/v1/payment_intents", form)
        .with_idempotency_key(format!("paydesk-pi-{}", n.group_id))
}

/// `GET /v1/payment_intents/{id}`.
pub fn retrieve(id: &str) -> Request {
    Request::get(format!("/v1/payment_intents/{id}"), Form::new())
}

/// `GET /v1/payment_intents?customer=…&limit=100` (newest first) — strongly consistent, unlike search.
pub fn list_for_customer(customer: &str, starting_after: Option<&str>) -> Request {
    Request::get(
        "/v1/payment_intents",
        Form::new()
            .field("customer", customer)
            .field("limit", "100")
            .opt("starting_after", starting_after),
    )
}

/// `POST /v1/payment_intents/{id}` putting the payer's new method on the intent.
pub fn set_payment_method(id: &str, payment_method: &str) -> Request {
    Request::post(
        format!("/v1/payment_intents/{id}"),
        Form::new().field("payment_method", payment_method),
    )
}

/// `POST /v1/payment_intents/{id}/confirm` (with the method already on the intent).
pub fn confirm(id: &str, return_url: Option<&str>) -> Request {
    Request::post(
        format!("/v1/payment_intents/{id}/confirm"),
        Form::new().opt("return_url", return_url),
    )
}

/// `POST /v1/payment_intents/{id}/cancel`.
pub fn cancel(id: &str) -> Request {
    Request::post(format!("/v1/payment_intents/{id}/cancel"), Form::new())
}

/// Stripe's `last_payment_error`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentError {
    pub code: Option<String>,
    pub decline_code: Option<String>,
    pub message: Option<String>,
}

/// The fields of a PaymentIntent we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIntent {
    pub id: String,
    pub status: String,
    pub amount: i64,
    /// What Stripe says arrived; an intent settles the records only when it covers them.
    pub amount_received: i64,
    pub currency: String,
    /// The Stripe customer it charges.
    pub customer: Option<IdOrObject>,
    pub client_secret: Option<String>,
    pub last_payment_error: Option<PaymentError>,
    pub payment_method: Option<IdOrObject>,
    pub latest_charge: Option<IdOrObject>,
    pub metadata: std::collections::BTreeMap<String, String>,
}

impl PaymentIntent {
    /// The failure it carries (`last_payment_error`): Stripe's message, else `unsaid`, and the
    /// decline code, else the error code.
    pub fn failure(&self, unsaid: &str) -> Option<(String, Option<String>)> {
        self.last_payment_error.as_ref().map(|e| {
            (
                e.message.clone().unwrap_or_else(|| unsaid.to_string()),
                e.decline_code.clone().or_else(|| e.code.clone()),
            )
        })
    }

    /// The payment group it pays, from its metadata.
    pub fn group(&self) -> Option<&str> {
        self.metadata.get("paydesk_group").map(String::as_str)
    }

    /// The facts [`crate::domain::settlement::check`] decides on.
    pub fn facts(&self) -> crate::domain::settlement::IntentFacts<'_> {
        crate::domain::settlement::IntentFacts {
            id: &self.id,
            status: &self.status,
            amount: self.amount,
            amount_received: self.amount_received,
            currency: &self.currency,
            customer: self.customer.as_ref().map(IdOrObject::id),
        }
    }
}

/// Stripe's error body for a refused confirmation: `{"error": {"payment_intent": {...}, ...}}`.
impl FromJson for PaymentError {
    fn from_json(v: &Json) -> Result<Self, json::Error> {
        let mut f = v.fields("a payment error")?;
        let read = PaymentError {
            code: f.opt("code"),
            decline_code: f.opt("decline_code"),
            message: f.opt("message"),
        };
        f.done(read)
    }
}

impl FromJson for PaymentIntent {
    fn from_json(v: &Json) -> Result<Self, json::Error> {
        let mut f = v.fields("a PaymentIntent")?;
        let read = PaymentIntent {
            id: f.req("id"),
            status: f.req("status"),
            amount: f.req("amount"),
            amount_received: f.or_default("amount_received"),
            currency: f.req("currency"),
            customer: f.opt("customer"),
            client_secret: f.opt("client_secret"),
            last_payment_error: f.opt("last_payment_error"),
            payment_method: f.opt("payment_method"),
            latest_charge: f.opt("latest_charge"),
            metadata: f.or_default("metadata"),
        };
        f.done(read)
    }
}

/// The intent Stripe embeds in the error body of a declined create-and-confirm, if it is there
/// and readable.
pub fn declined_intent(body: &str) -> Option<PaymentIntent> {
    let body = json::parse(body).ok()?;
    let error = body.object("").ok()?.get("error").ok()??;
    error.object("").ok()?.opt("payment_intent").ok()?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_hundred_invoices_fit_stripes_metadata_limits() {
        let ids: Vec<i64> = (100_000..100_200).collect();
        let numbers: Vec<String> = ids.iter().map(|i| format!("INV-2026-{i}")).collect();
        let req = create(&NewIntent {
            amount: 1,
            currency: "usd",
            customer: "cus_1",
            tenant_ref: "acme",
            group_id: "grp_1",
            invoice_ids: &ids,
            invoice_numbers: &numbers,
            payment_method: None,
            off_session: false,
            method_types: &[PaymentMethodType::Card],
            receipt_email: None,
            return_url: None,
            attempt: 0,
            mandate: None,
        });
        let metadata: Vec<_> = req
            .form
            .iter()
            .filter(|(k, _)| k.starts_with("metadata["))
            .collect();
        assert!(metadata.len() <= 50);
        for (k, v) in &metadata {
            assert!(k.len() - "metadata[]".len() <= 40, "{k}");
            assert!(v.len() <= METADATA_VALUE_MAX, "{k} is {} long", v.len());
        }
        let listed = metadata
            .iter()
            .find(|(k, _)| k == "metadata[paydesk_invoice_ids]")
            .unwrap();
        assert!(listed.1.ends_with("more)"), "{}", listed.1);
        assert_eq!(req.idempotency_key.as_deref(), Some("paydesk-pi-grp_1"));
    }

    #[test]
    fn saved_method_off_session_is_confirmed_at_once() {
        let req = create(&NewIntent {
            amount: 1050,
            currency: "usd",
            customer: "cus_1",
            tenant_ref: "acme",
            group_id: "grp_2",
            invoice_ids: &[1],
            invoice_numbers: &["INV-1".to_string()],
            payment_method: Some("pm_1"),
            off_session: true,
            method_types: &[PaymentMethodType::Card],
            receipt_email: Some("ap@acme.test"),
            return_url: None,
            attempt: 0,
            mandate: None,
        });
        for pair in [
            ("confirm", "true"),
            ("off_session", "true"),
            ("payment_method", "pm_1"),
            ("receipt_email", "ap@acme.test"),
        ] {
            assert!(
                req.form.contains(&(pair.0.to_string(), pair.1.to_string())),
                "{pair:?}"
            );
        }
    }

    #[test]
    fn a_declined_confirmation_carries_its_intent() {
        let body = r#"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds",
            "message":"Your card has insufficient funds.","payment_intent":{"id":"pi_9","object":"payment_intent",
            "status":"requires_payment_method","amount":500,"currency":"eur","metadata":{"paydesk_group":"grp_9"},
            "last_payment_error":{"code":"card_declined","decline_code":"insufficient_funds"}}}}"#;
        let pi = declined_intent(body).unwrap();
        assert_eq!(pi.id, "pi_9");
        assert_eq!(pi.group(), Some("grp_9"));
        assert_eq!(
            pi.last_payment_error.unwrap().decline_code.as_deref(),
            Some("insufficient_funds")
        );
    }

    #[test]
    fn no_intent_in_an_error_body_is_none() {
        for body in [
            r#"{"error":{"type":"card_error","message":"declined"}}"#,
            r#"{"error":{"payment_intent":null}}"#,
            r#"{"error":{"payment_intent":{"id":"pi_1"}}}"#,
            r#"{"error":"nope"}"#,
            r#"[1,2]"#,
            "Bad Gateway",
        ] {
            assert!(declined_intent(body).is_none(), "{body}");
        }
    }

    #[test]
    fn reads_an_intent_with_an_embedded_charge() {
        let json = r#"{"id":"pi_1","status":"succeeded","amount":1080,"currency":"usd","client_secret":"pi_1_secret_x",
            "payment_method":"pm_1","latest_charge":{"id":"ch_1","object":"charge"},"metadata":{"paydesk_group":"grp_1"}}"#;
        let pi: PaymentIntent = json::from_str(json).unwrap();
        assert_eq!(pi.latest_charge.unwrap().id(), "ch_1");
        assert_eq!(pi.metadata["paydesk_group"], "grp_1");
    }
}
