//! Stripe Refunds: the create request (one refund of part of a PaymentIntent, with paydesk's claim
//! in its metadata and an idempotency key derived from the claim), the list of a PaymentIntent's
//! refunds (the read-back when an answer is lost, and what `charge.refunded` is about), and the
//! objects: the Refund, and the Charge inside `charge.refunded`.

use std::collections::BTreeMap;

use crate::json::{self, FromJson, Json};

use super::{Form, IdOrObject, Request};

/// The metadata keys naming paydesk's claim on a Refund it made.
pub const TENANT_KEY: &str = "paydesk_tenant";
pub const RECORD_KEY: &str = "paydesk_refund";
pub const PAYMENT_KEY: &str = "paydesk_payment";

/// The idempotency key of the refund claimed as record `record_id` of tenant `tenant_ref`: the same
/// for every request for that claim, so Stripe makes it once however often it is asked.
pub fn idempotency_key(tenant_ref: &str, record_id: i64) -> String {
    format!("paydesk-refund-{tenant_ref}-{record_id}")
}

/// `POST /v1/refunds`: `amount` of `intent`, for the claim `record_id` of payment record
/// `payment_id`.
pub fn create(
    intent: &str,
    amount: i64,
    tenant_ref: &str,
    record_id: i64,
    payment_id: i64,
) -> Request {
    Request::post(
        "/v1/refunds",
        Form::new()
            .field("payment_intent", intent)
            .field("amount", amount.to_string())
            .metadata(TENANT_KEY, tenant_ref)
            .metadata(RECORD_KEY, record_id.to_string())
            .metadata(PAYMENT_KEY, payment_id.to_string()),
    )
    .with_idempotency_key(idempotency_key(tenant_ref, record_id))
}

/// `GET /v1/refunds?payment_intent=…`: the intent's refunds, newest first (at most 100).
pub fn of_intent(intent: &str) -> Request {
    Request::get(
        "/v1/refunds",
        Form::new()
            .field("payment_intent", intent)
            .field("limit", "100"),
    )
}

/// A Refund object (API 2023-08-16), the fields paydesk keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub charge: Option<IdOrObject>,
    pub payment_intent: Option<IdOrObject>,
    /// `pending`, `requires_action`, `succeeded`, `failed` or `canceled`.
    pub status: Option<String>,
    /// Why it failed (`lost_or_stolen_card`, `expired_or_canceled_card`, …).
    pub failure_reason: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub created: i64,
}

impl Refund {
    /// paydesk's claim this Refund was made for — its record id and payment record — when its
    /// metadata says tenant `tenant_ref` made it.
    pub fn claim_of(&self, tenant_ref: &str) -> Option<(i64, i64)> {
        if self.metadata.get(TENANT_KEY).map(String::as_str) != Some(tenant_ref) {
            return None;
        }
        let record = self.metadata.get(RECORD_KEY)?.parse().ok()?;
        let payment = self.metadata.get(PAYMENT_KEY)?.parse().ok()?;
        Some((record, payment))
    }
}

/// The Charge inside `charge.refunded`: which PaymentIntent it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub id: String,
    pub payment_intent: Option<IdOrObject>,
}

impl FromJson for Refund {
    fn from_json(v: &Json) -> Result<Self, json::Error> {
        let mut f = v.fields("a Refund")?;
        let read = Refund {
            id: f.req("id"),
            amount: f.req("amount"),
            currency: f.req("currency"),
            charge: f.opt("charge"),
            payment_intent: f.opt("payment_intent"),
            status: f.opt("status"),
            failure_reason: f.opt("failure_reason"),
            metadata: f.or_default("metadata"),
            created: f.req("created"),
        };
        f.done(read)
    }
}

impl FromJson for Charge {
    fn from_json(v: &Json) -> Result<Self, json::Error> {
        let mut f = v.fields("a Charge")?;
        let read = Charge {
            id: f.req("id"),
            payment_intent: f.opt("payment_intent"),
        };
        f.done(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stripe::Method;
    use crate::stripe::events::Event;

    #[test]
    fn the_request_names_its_claim_and_is_keyed_by_it() {
        let r = create("pi_1", 2_500, "t-ref", 42, 7);
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.path, "/v1/refunds");
        assert_eq!(
            r.idempotency_key.as_deref(),
            Some("paydesk-refund-t-ref-42")
        );
        let has = |k: &str, v: &str| r.form.iter().any(|(a, b)| a == k && b == v);
        assert!(has("payment_intent", "pi_1"));
        assert!(has("amount", "2500"));
        assert!(has("metadata[paydesk_refund]", "42"));
        assert!(has("metadata[paydesk_payment]", "7"));
        assert!(has("metadata[paydesk_tenant]", "t-ref"));
    }

    #[test]
    fn reads_a_refund_and_its_claim() {
        let json = r#"{"id":"evt_r","type":"refund.updated","created":1700000100,
            "data":{"object":{"id":"re_1","object":"refund","amount":2500,"currency":"usd",
            "charge":"ch_1","payment_intent":"pi_1","status":"succeeded","created":1700000000,
            "metadata":{"paydesk_tenant":"t-ref","paydesk_refund":"42","paydesk_payment":"7"},
            "balance_transaction":"txn_1","reason":null}}}"#;
        let e: Event<Refund> = json::from_str(json).unwrap();
        let r = e.data.object;
        assert_eq!(r.claim_of("t-ref"), Some((42, 7)));
        // Another tenant's metadata, or none: not a claim of this tenant.
        assert_eq!(r.claim_of("other"), None);
        let bare: Refund = json::from_str(
            r#"{"id":"re_2","amount":5,"currency":"usd","charge":{"id":"ch_2"},"created":1,
               "status":"failed","failure_reason":"expired_or_canceled_card"}"#,
        )
        .unwrap();
        assert_eq!(bare.claim_of("t-ref"), None);
        assert_eq!(bare.payment_intent, None);
        assert_eq!(
            bare.failure_reason.as_deref(),
            Some("expired_or_canceled_card")
        );
    }
}
