//! Faults between paydesk and Stripe: an answer lost after Stripe processed the
//! request, a connection reset before it arrived, 429 with `Retry-After`, 500, and latency —
//! injected by the recording proxy in front of localstripe. Under each, the daily run and portal
//! payments end with exactly one successful charge per invoice and correct records, and every
//! retry re-sends the same idempotency key.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use crate::payments::{Shop, shop, stripe_request};
use paydesk_tests::recorder::{Fault, StripeRecorder};

fn faults() -> Vec<(&'static str, Fault)> {
    vec![
        ("lost answer", Fault::DropResponse),
        ("reset", Fault::ResetBeforeForward),
        (
            "429",
            Fault::Status {
                status: 429,
                retry_after: Some(1),
            },
        ),
        (
            "500",
            Fault::Status {
                status: 500,
                retry_after: None,
            },
        ),
        ("latency", Fault::Delay(Duration::from_millis(1500))),
    ]
}

/// Succeeded PaymentIntents per paydesk group in localstripe.
fn succeeded_per_group(shop: &Shop) -> HashMap<String, usize> {
    let list = stripe_request(&shop.stripe, "GET", "/v1/payment_intents?limit=100", &[]);
    let mut counts = HashMap::new();
    for pi in list["data"].as_array().unwrap() {
        if pi["status"] == "succeeded" {
            *counts
                .entry(
                    pi["metadata"]["paydesk_group"]
                        .as_str()
                        .unwrap_or("?")
                        .to_string(),
                )
                .or_insert(0) += 1;
        }
    }
    counts
}

/// Every create of one group carried the same idempotency key.
fn one_key_per_group(recorder: &StripeRecorder) {
    let mut keys: HashMap<String, Vec<String>> = HashMap::new();
    for r in recorder
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path_and_query == "/v1/payment_intents")
    {
        let group = serde_urlencoded::from_str::<Vec<(String, String)>>(&r.body)
            .unwrap()
            .into_iter()
            .find(|(k, _)| k == "metadata[paydesk_group]")
            .map(|(_, v)| v)
            .unwrap();
        keys.entry(group).or_default().push(
            StripeRecorder::header(r, "Idempotency-Key")
                .unwrap_or("")
                .to_string(),
        );
    }
    for (group, sent) in keys {
        assert!(
            sent.iter().all(|k| !k.is_empty() && *k == sent[0]),
            "{group}: keys {sent:?}"
        );
    }
}

#[test]
fn the_daily_run_charges_each_invoice_once_under_every_fault() {
    for (name, fault) in faults() {
        let shop = shop(
            &format!("fault-run-{}", name.replace(' ', "-")),
            "usd",
            |s| {
                s.enableautostripepayment = true;
                s.halointegrator_stripe = true;
            },
        );
        for amount in [1_000, 2_000, 3_000] {
            let r = shop.admin.post(
                &shop.path("/recurring-invoices"),
                json!({"customer_id": shop.customer_id, "currency": "usd", "description": "Seat", "amount": amount, "next_date": "2026-12-01"}),
            );
            assert_eq!(r.status, 201);
        }
        shop.recorder
            .inject("POST", "/v1/payment_intents", fault.clone(), 2);
        let report = shop
            .host
            .app
            .run_autopay(&shop.tenant, Some("2026-12-01"), false, &mut |_, _| {})
            .unwrap();
        assert!(report.errors.is_empty(), "{name}: {:?}", report.errors);
        let invoices = shop.admin.get(&shop.path("/invoices")).body;
        for i in invoices.as_array().unwrap() {
            assert_eq!(i["status"], "paid", "{name}: {i}");
            assert_eq!(
                i["payments"].as_array().unwrap().len(),
                1,
                "{name}: one payment record: {i}"
            );
            assert_eq!(i["payments"][0]["status"], "succeeded", "{name}: {i}");
        }
        let counts = succeeded_per_group(&shop);
        assert_eq!(counts.len(), 3, "{name}: {counts:?}");
        assert!(
            counts.values().all(|c| *c == 1),
            "{name}: charged twice: {counts:?}"
        );
        one_key_per_group(&shop.recorder);
    }
}

#[test]
fn portal_payments_charge_once_under_every_fault() {
    for (name, fault) in faults() {
        let shop = shop(
            &format!("fault-pay-{}", name.replace(' ', "-")),
            "usd",
            |_| {},
        );
        let a = shop.invoice("usd", 4_000);
        let b = shop.invoice("usd", 6_000);
        shop.recorder
            .inject("POST", "/v1/payment_intents", fault.clone(), 1);
        let paid = shop.user.post(
            &shop.path("/payments"),
            json!({"invoice_ids": [a, b], "pay_with": "saved_method"}),
        );
        assert_eq!(paid.status, 201, "{name}: {}", paid.text);
        assert_eq!(paid.body["status"], "succeeded", "{name}: {}", paid.text);
        for id in [a, b] {
            let view = shop.invoice_view(id);
            assert_eq!(view["status"], "paid", "{name}: {view}");
        }
        let counts = succeeded_per_group(&shop);
        assert_eq!(counts.len(), 1, "{name}: {counts:?}");
        assert!(
            counts.values().all(|c| *c == 1),
            "{name}: charged twice: {counts:?}"
        );
        one_key_per_group(&shop.recorder);
    }
}
