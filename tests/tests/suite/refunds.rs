//! Refunds (`/invoices/{id}/payments/{payment}/refunds`): an agent with "Can Refund Stripe
//! Payments" refunds a succeeded payment in part and then in full; the invoice owes what was given
//! back again (the processing fee goes back with a full refund only when the setting says so, and
//! is never owed again); the customer is told once per refund; a refund whose answer from Stripe
//! was lost is found again and never made twice; refunds made in Stripe's dashboard arrive by
//! webhook and show the same way, ordered on Stripe's clock. Judged from localstripe's Refunds,
//! the invoice as the API shows it, and the emails delivered.

use serde_json::{Value, json};

use crate::payments::{Shop, shop, stripe_request};
use crate::stripe_calls::assert_valid_for_stripe;
use paydesk_tests::recorder::StripeRecorder;

/// Pay `invoice` with the shop's saved card from the portal; the PaymentIntent's id.
fn pay(shop: &Shop, invoice: i64) -> (String, i64) {
    let paid = shop.user.post(
        &shop.path("/payments"),
        json!({"invoice_ids": [invoice], "pay_with": "saved_method"}),
    );
    assert_eq!(paid.status, 201, "{}", paid.text);
    assert_eq!(paid.body["status"], "succeeded", "{}", paid.text);
    let payment = paid.body["payments"][0]["id"].as_i64().unwrap();
    (
        paid.body["intent_id"].as_str().unwrap().to_string(),
        payment,
    )
}

/// localstripe's Refunds of `intent`, newest first.
fn refunds_at_stripe(shop: &Shop, intent: &str) -> Vec<Value> {
    let list = stripe_request(
        &shop.stripe,
        "GET",
        &format!("/v1/refunds?payment_intent={intent}"),
        &[],
    );
    list["data"].as_array().cloned().unwrap_or_default()
}

fn refunder(shop: &Shop) -> paydesk_tests::host::ApiClient {
    shop.admin
        .with_token(&shop.host.refund_agent_token(&shop.tenant))
}

fn refunds_path(shop: &Shop, invoice: i64, payment: i64) -> String {
    shop.path(&format!("/invoices/{invoice}/payments/{payment}/refunds"))
}

#[test]
fn a_part_then_the_rest_with_the_fee_is_refunded_once_each_and_the_invoice_owes_it_again() {
    let shop = shop("refunds", "usd", |_| {});
    let invoice = shop.invoice("usd", 10_000);
    let (intent, payment) = pay(&shop, invoice);
    let agent = refunder(&shop);
    let refunds = refunds_path(&shop, invoice, payment);

    let quote = agent.post(&format!("{refunds}/quote"), json!({}));
    assert_eq!(quote.status, 200, "{}", quote.text);
    assert_eq!(quote.body["paid"], 10_290);
    assert_eq!(quote.body["refunded"], 0);
    assert_eq!(
        quote.body["refundable"], 10_290,
        "a full refund gives the fee back by default"
    );
    assert_eq!(quote.body["fee_part"], 290);

    let part = agent.post(&refunds, json!({"amount": 4_000}));
    assert_eq!(part.status, 201, "{}", part.text);
    assert_eq!(part.body["status"], "succeeded", "{}", part.text);
    assert_eq!(part.body["amount"], 4_000);
    assert_eq!(part.body["fee_part"], 0);
    let at_stripe = refunds_at_stripe(&shop, &intent);
    assert_eq!(at_stripe.len(), 1, "{at_stripe:?}");
    assert_eq!(at_stripe[0]["amount"], 4_000);
    assert_eq!(at_stripe[0]["id"], part.body["refund_id"]);
    assert_eq!(
        at_stripe[0]["metadata"]["paydesk_refund"],
        part.body["id"].to_string()
    );
    let view = shop.invoice_view(invoice);
    assert_eq!(view["status"], "awaiting_payment", "{view}");
    assert_eq!(
        view["amount_due"], 4_000,
        "what was given back is owed again"
    );
    assert_eq!(view["refunds"][0]["amount"], 4_000);
    assert_eq!(view["refunds"][0]["status"], "succeeded");

    // The rest, in full: the invoice's 6,000 and the 290 fee; the fee is not owed again.
    let rest = agent.post(&refunds, json!({}));
    assert_eq!(rest.status, 201, "{}", rest.text);
    assert_eq!(rest.body["amount"], 6_290);
    assert_eq!(rest.body["fee_part"], 290);
    let at_stripe = refunds_at_stripe(&shop, &intent);
    assert_eq!(at_stripe.len(), 2);
    let total: i64 = at_stripe
        .iter()
        .map(|r| r["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 10_290, "exactly what the customer paid, no more");
    let view = shop.invoice_view(invoice);
    assert_eq!(view["amount_due"], 10_000, "{view}");
    assert_eq!(view["status"], "awaiting_payment");

    // Nothing is left: refused, and nothing more at Stripe.
    let more = agent.post(&refunds, json!({}));
    assert_eq!(more.status, 422, "{}", more.text);
    assert!(
        more.text.contains("nothing of this payment is left"),
        "{}",
        more.text
    );
    assert_eq!(refunds_at_stripe(&shop, &intent).len(), 2);

    // Every refund request carried the key derived from its claim, and was valid for Stripe.
    let posts: Vec<_> = shop
        .recorder
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path_and_query == "/v1/refunds")
        .collect();
    assert_eq!(posts.len(), 2);
    for (post, made) in posts.iter().zip([&part.body, &rest.body]) {
        assert_eq!(
            StripeRecorder::header(post, "idempotency-key"),
            Some(format!("paydesk-refund-{}-{}", shop.tenant, made["id"]).as_str())
        );
    }
    assert_valid_for_stripe(&shop.recorder.requests());

    // The customer is told of each refund once (template 287).
    shop.deliver_mail();
    let mails = shop
        .smtp
        .wait_for(2, paydesk_tests::EVENT_WAIT)
        .into_iter()
        .filter(|m| {
            m.header("Subject")
                .is_some_and(|s| s.starts_with("Refund for invoice"))
        })
        .count();
    assert_eq!(mails, 2);
}

#[test]
fn with_the_fee_kept_a_full_refund_gives_back_the_invoice_part_only() {
    let shop = shop("refundkeep", "usd", |s| {
        s.stripe_refund_processing_fee = false
    });
    let invoice = shop.invoice("usd", 10_000);
    let (intent, payment) = pay(&shop, invoice);
    let agent = refunder(&shop);
    let full = agent.post(&refunds_path(&shop, invoice, payment), json!({}));
    assert_eq!(full.status, 201, "{}", full.text);
    assert_eq!(full.body["amount"], 10_000);
    assert_eq!(full.body["fee_part"], 0);
    let at_stripe = refunds_at_stripe(&shop, &intent);
    assert_eq!(at_stripe.len(), 1);
    assert_eq!(at_stripe[0]["amount"], 10_000, "the 290 fee is kept");
    let view = shop.invoice_view(invoice);
    assert_eq!(view["amount_due"], 10_000);
    assert_eq!(view["status"], "awaiting_payment");
}

#[test]
fn only_agents_with_the_permission_refund_and_never_more_than_is_left() {
    let shop = shop("refundauthz", "usd", |_| {});
    let invoice = shop.invoice("usd", 10_000);
    let (intent, payment) = pay(&shop, invoice);
    let refunds = refunds_path(&shop, invoice, payment);

    // The shop's admin may receive payments but has not "Can Refund Stripe Payments".
    let admin = shop.admin.post(&refunds, json!({}));
    assert_eq!(admin.status, 403, "{}", admin.text);
    assert!(
        admin.text.contains("Can Refund Stripe Payments"),
        "{}",
        admin.text
    );
    let user = shop.user.post(&refunds, json!({}));
    assert_eq!(user.status, 403, "{}", user.text);

    let agent = refunder(&shop);
    for (amount, why) in [
        (json!(0), "more than zero"),
        (json!(-5), "more than zero"),
        (json!(10_291), "USD 102.90 that can still be refunded"),
    ] {
        let refused = agent.post(&refunds, json!({ "amount": amount }));
        assert_eq!(refused.status, 422, "{amount}: {}", refused.text);
        assert_eq!(refused.body["error"]["fields"][0]["field"], "amount");
        assert!(refused.text.contains(why), "{amount}: {}", refused.text);
    }
    // Another invoice's payment, and an unpaid invoice's: not found, not refundable.
    let other = shop.invoice("usd", 500);
    let wrong = agent.post(&refunds_path(&shop, other, payment), json!({}));
    assert_eq!(wrong.status, 404, "{}", wrong.text);
    assert!(
        refunds_at_stripe(&shop, &intent).is_empty(),
        "nothing refunded"
    );
}

#[test]
fn a_lost_answer_is_found_again_and_a_refund_that_never_arrived_is_sent_once_on_retry() {
    let shop = shop("refundlost", "usd", |_| {});
    let invoice = shop.invoice("usd", 10_000);
    let (intent, payment) = pay(&shop, invoice);
    let agent = refunder(&shop);
    let refunds = refunds_path(&shop, invoice, payment);

    // Stripe makes the refund and its answer is lost: read back at once, recorded, made once.
    shop.recorder.drop_responses("POST", "/v1/refunds", 1);
    let lost = agent.post(&refunds, json!({"amount": 1_000}));
    assert_eq!(lost.status, 201, "{}", lost.text);
    assert_eq!(lost.body["status"], "succeeded");
    assert_eq!(refunds_at_stripe(&shop, &intent).len(), 1);

    // The request never reaches Stripe (the connection drops first, so the host cannot know):
    // read back, not there, kept pending, and the agent is told so.
    shop.recorder.inject(
        "POST",
        "/v1/refunds",
        paydesk_tests::recorder::Fault::ResetBeforeForward,
        1,
    );
    let unsent = agent.post(&refunds, json!({"amount": 2_000}));
    assert_eq!(unsent.status, 504, "{}", unsent.text);
    assert!(unsent.text.contains("kept as pending"), "{}", unsent.text);
    assert_eq!(refunds_at_stripe(&shop, &intent).len(), 1);
    let view = shop.invoice_view(invoice);
    let pending = view["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["status"] == "pending")
        .cloned()
        .expect("the claim is kept");
    assert_eq!(pending["refund_id"], Value::Null);
    // While it is pending its amount is taken: the most left is 10,290 − 1,000 − 2,000.
    let quote = agent.post(&format!("{refunds}/quote"), json!({}));
    assert_eq!(quote.body["refundable"], 7_290, "{}", quote.text);

    // Retried: Stripe's refunds are read back (not there), then the same request, once.
    let retry = agent.post(
        &shop.path(&format!(
            "/invoices/{invoice}/refunds/{}/retry",
            pending["id"]
        )),
        json!({}),
    );
    assert_eq!(retry.status, 200, "{}", retry.text);
    assert_eq!(retry.body["status"], "succeeded", "{}", retry.text);
    assert_eq!(retry.body["amount"], 2_000);
    // Asked again: already answered, nothing sent.
    let again = agent.post(
        &shop.path(&format!(
            "/invoices/{invoice}/refunds/{}/retry",
            pending["id"]
        )),
        json!({}),
    );
    assert_eq!(again.status, 200, "{}", again.text);
    let at_stripe = refunds_at_stripe(&shop, &intent);
    assert_eq!(at_stripe.len(), 2, "{at_stripe:?}");
    assert_eq!(shop.invoice_view(invoice)["amount_due"], 3_000);
}

/// A signed event of `kind` whose object is `object`, created at `created`.
fn event(id: &str, kind: &str, created: i64, object: Value) -> String {
    json!({"id": id, "object": "event", "type": kind, "created": created, "livemode": false,
           "api_version": "2023-08-16", "data": {"object": object}})
    .to_string()
}

#[test]
fn a_refund_made_in_stripes_dashboard_arrives_by_webhook_and_its_failure_later_undoes_it() {
    let shop = shop("refundhook", "usd", |_| {});
    let invoice = shop.invoice("usd", 10_000);
    let (intent, _) = pay(&shop, invoice);
    // Someone refunds 2,500 in Stripe's dashboard.
    let made = stripe_request(
        &shop.stripe,
        "POST",
        "/v1/refunds",
        &[("payment_intent", intent.as_str()), ("amount", "2500")],
    );
    let refund_id = made["id"].as_str().unwrap().to_string();
    let pi = stripe_request(
        &shop.stripe,
        "GET",
        &format!("/v1/payment_intents/{intent}"),
        &[],
    );
    let charge_id = pi["latest_charge"]["id"]
        .as_str()
        .or(pi["latest_charge"].as_str())
        .unwrap()
        .to_string();
    let created = paydesk_host::db::now();
    let charge = json!({"id": charge_id, "object": "charge", "payment_intent": intent,
                        "amount": 10_290, "amount_refunded": 2_500, "refunded": false});
    let (status, body) = shop.send_event(&event(
        "evt_ch_ref",
        "charge.refunded",
        created,
        charge.clone(),
    ));
    assert_eq!(status, 200, "{body}");
    let view = shop.invoice_view(invoice);
    assert_eq!(view["refunds"].as_array().unwrap().len(), 1, "{view}");
    let shown = &view["refunds"][0];
    assert_eq!(shown["refund_id"], refund_id.as_str());
    assert_eq!(shown["amount"], 2_500);
    assert_eq!(shown["agent_id"], Value::Null, "made in the dashboard");
    assert_eq!(shown["status"], "succeeded");
    assert_eq!(view["amount_due"], 2_500);
    assert_eq!(view["status"], "awaiting_payment");
    // The same event again, and a refund.updated of the same refund: one refund still.
    shop.send_event(&event("evt_ch_ref", "charge.refunded", created, charge));
    let object = json!({"id": refund_id, "object": "refund", "amount": 2_500, "currency": "usd",
                        "charge": charge_id, "payment_intent": intent, "status": "succeeded",
                        "created": created - 5, "metadata": {}});
    let (status, _) = shop.send_event(&event(
        "evt_r_upd",
        "refund.updated",
        created + 1,
        object.clone(),
    ));
    assert_eq!(status, 200);
    assert_eq!(
        shop.invoice_view(invoice)["refunds"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Its bank returns it: failed, on Stripe's clock after the success; the invoice is paid again.
    let mut failed = object.clone();
    failed["status"] = json!("failed");
    failed["failure_reason"] = json!("expired_or_canceled_card");
    let (status, body) =
        shop.send_event(&event("evt_r_fail", "refund.failed", created + 60, failed));
    assert_eq!(status, 200, "{body}");
    let view = shop.invoice_view(invoice);
    assert_eq!(view["refunds"][0]["status"], "failed", "{view}");
    assert_eq!(
        view["refunds"][0]["failure_reason"],
        "expired or canceled card"
    );
    assert_eq!(view["amount_due"], 0);
    assert_eq!(view["status"], "paid");
    // A stale success (observed before the failure) does not bring it back.
    let (status, _) = shop.send_event(&event(
        "evt_r_stale",
        "refund.updated",
        created + 30,
        object,
    ));
    assert_eq!(status, 200);
    let view = shop.invoice_view(invoice);
    assert_eq!(view["refunds"][0]["status"], "failed");
    assert_eq!(view["status"], "paid");
}
