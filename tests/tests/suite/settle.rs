//! Settle only what was paid: an intent paydesk did not create, naming a pending payment's group,
//! and paydesk's own intent whose amount was lowered at Stripe before it succeeded, are kept as
//! anomalies — shown on the invoice, in the audit trail and mailed to the notification address
//! once — and never mark the invoice paid; the payment's own intent, paid in full, still settles.

use serde_json::Value;

use crate::payments::{
    NOTIFY, Shop, confirm_at_stripe, fee_lines, pending_payment, shop, stripe_request,
};
use paydesk_tests::webhook::{fixture_event, fixture_intent};

const PASSWORD: &str = "settle only what was paid password";

/// The tenant's audit entries with action `anomaly`, as the API lists them.
fn audited_anomalies(shop: &Shop) -> Vec<Value> {
    let trail = shop.admin.get(&shop.path("/autopay/audit"));
    assert_eq!(trail.status, 200, "{}", trail.text);
    trail
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "anomaly")
        .cloned()
        .collect()
}

/// The anomaly emails in the outbox.
fn anomaly_mail(shop: &Shop) -> Vec<paydesk_host::db::OutboxMessage> {
    shop.host
        .db()
        .emails_with_key_prefix(&shop.tenant, "anomaly/")
        .unwrap()
}

#[test]
fn a_foreign_intent_naming_a_pending_group_is_an_anomaly_and_the_own_intent_still_settles() {
    let shop = shop("foreign", "usd", |_| {});
    // USD 200.00 + 2.9 % = USD 205.80.
    let (invoice, own, group, total) = pending_payment(&shop, 20_000);
    assert_eq!(total, 20_580);
    let foreign = fixture_intent("pi_foreign_settle", "succeeded", total, "usd", &group);
    let now = paydesk_host::db::now();
    let event = fixture_event("payment_intent.succeeded", "evt_foreign_1", &foreign, now);
    // Delivered twice, and once more under another event id.
    for body in [
        event.clone(),
        event,
        fixture_event(
            "payment_intent.succeeded",
            "evt_foreign_2",
            &foreign,
            now + 1,
        ),
    ] {
        let (code, answer) = shop.send_event(&body);
        assert_eq!(code, 200, "{answer}");
        let outcome: Value = serde_json::from_str(&answer).unwrap();
        assert!(
            outcome["outcome"] == "ignored" || outcome["outcome"] == "duplicate",
            "{answer}"
        );
    }

    let view = shop.invoice_view(invoice);
    assert_eq!(view["status"], "awaiting_payment", "{view}");
    assert_eq!(view["amount_due"], 20_000);
    assert!(fee_lines(&view).is_empty(), "{view}");
    let payment = &view["payments"][0];
    assert_eq!(payment["intent_id"], own.as_str(), "{view}");
    assert_eq!(payment["status"], "requires_payment_method");
    let anomalies = view["anomalies"].as_array().unwrap();
    assert_eq!(anomalies.len(), 1, "{view}");
    assert_eq!(anomalies[0]["payment_id"], payment["id"]);
    let reason = anomalies[0]["reason"].as_str().unwrap();
    for part in ["pi_foreign_settle", own.as_str(), "USD 205.80"] {
        assert!(reason.contains(part), "{reason} lacks {part}");
    }
    assert!(anomalies[0]["at"].is_i64());

    let audited = audited_anomalies(&shop);
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0]["invoice_id"], invoice);
    assert_eq!(audited[0]["reason"], reason);

    let mail = anomaly_mail(&shop);
    assert_eq!(mail.len(), 1, "one email however often the event came");
    assert_eq!(mail[0].to, vec![NOTIFY.to_string()]);
    assert!(mail[0].subject.contains("INV-0001"), "{}", mail[0].subject);
    assert!(
        mail[0].text.contains("pi_foreign_settle"),
        "{}",
        mail[0].text
    );

    // A portal user does not see the anomaly.
    let seen_by_payer = shop
        .user
        .get(&shop.path(&format!("/invoices/{invoice}")))
        .body;
    assert_eq!(seen_by_payer["anomalies"], serde_json::json!([]));

    // paydesk's own intent can still be paid, and then settles with one fee line.
    confirm_at_stripe(&shop.stripe, &own, "pm_card_visa");
    let view = shop.wait_for_invoice(invoice, |v| v["status"] == "paid");
    assert_eq!(view["status"], "paid", "{view}");
    assert_eq!(fee_lines(&view), vec![580]);
    assert_eq!(view["payments"][0]["status"], "succeeded");
    assert_eq!(view["payments"][0]["intent_id"], own.as_str());
    assert_eq!(view["anomalies"].as_array().unwrap().len(), 1);

    // The API document describes them.
    let doc = shop.admin.get("/api/openapi.json").body;
    let schemas = &doc["components"]["schemas"];
    assert!(
        schemas["InvoiceView"]["properties"]["anomalies"].is_object(),
        "{}",
        schemas["InvoiceView"]
    );
    for field in ["payment_id", "reason", "at"] {
        assert!(
            schemas["AnomalyView"]["properties"][field].is_object(),
            "{field}: {}",
            schemas["AnomalyView"]
        );
    }
}

#[test]
fn an_intent_whose_amount_was_lowered_at_stripe_does_not_settle() {
    let shop = shop("lowered", "usd", |_| {});
    let (invoice, intent, _group, total) = pending_payment(&shop, 20_000);
    assert_eq!(total, 20_580);
    let changed = stripe_request(
        &shop.stripe,
        "POST",
        &format!("/v1/payment_intents/{intent}"),
        &[("amount", "100")],
    );
    assert_eq!(changed["amount"], 100, "{changed}");
    let paid = confirm_at_stripe(&shop.stripe, &intent, "pm_card_visa");
    assert_eq!(paid["status"], "succeeded", "{paid}");
    assert_eq!(paid["amount_received"], 100, "{paid}");

    // localstripe sends its signed payment_intent.succeeded; wait for it to be kept.
    let view = shop.wait_for_invoice(invoice, |v| !v["anomalies"].as_array().unwrap().is_empty());
    assert_eq!(view["status"], "awaiting_payment", "{view}");
    assert_eq!(view["amount_due"], 20_000);
    assert!(fee_lines(&view).is_empty(), "no fee line: {view}");
    assert_eq!(view["payments"][0]["status"], "requires_payment_method");
    assert_eq!(view["payments"][0]["intent_id"], intent.as_str());
    let anomalies = view["anomalies"].as_array().unwrap();
    assert_eq!(anomalies.len(), 1, "{view}");
    assert_eq!(anomalies[0]["payment_id"], view["payments"][0]["id"]);
    let reason = anomalies[0]["reason"].as_str().unwrap();
    for part in [intent.as_str(), "USD 1.00", "USD 205.80"] {
        assert!(reason.contains(part), "{reason} lacks {part}");
    }

    // Reading the intent again (reconciliation) keeps the same anomaly, once, and settles nothing.
    shop.host
        .app
        .reconcile(&shop.tenant, paydesk_host::db::now() + 3600)
        .unwrap();
    let view = shop.invoice_view(invoice);
    assert_eq!(view["status"], "awaiting_payment", "{view}");
    assert!(fee_lines(&view).is_empty());
    assert_eq!(view["anomalies"].as_array().unwrap().len(), 1, "{view}");
    assert_eq!(audited_anomalies(&shop).len(), 1);
    assert_eq!(anomaly_mail(&shop).len(), 1);

    // The agent's invoice page warns above the payments table.
    shop.host
        .agent_with_password(&shop.tenant, "ada@lowered.test", PASSWORD, true, true);
    let cookie = paydesk_tests::signin::session_cookie(
        &shop.admin.base,
        shop.tenant.as_str(),
        "ada@lowered.test",
        PASSWORD,
        true,
    );
    let mut page = ureq::get(format!("{}/app/invoices/{invoice}", shop.admin.base))
        .header("Cookie", &cookie)
        .call()
        .expect("the invoice page answers");
    let html = page.body_mut().read_to_string().unwrap();
    let (before_table, _) = html
        .split_once("id=\"payments\"")
        .expect("the payments table");
    let warning = before_table
        .split("id=\"payment-anomalies\"")
        .nth(1)
        .expect("a warning before the payments table");
    assert!(warning.contains("not applied"), "{warning}");
    assert!(warning.contains(intent.as_str()), "{warning}");
    assert!(warning.contains("USD 1.00"), "{warning}");
}
