//! Part payments and charges held to the total agreed (`/invoices/{id}/charges`): an agent takes
//! part of an invoice with the fee on what is paid, the invoice keeps awaiting payment with the
//! rest, which the portal then pays; a charge is never for another total than the one agreed, nor
//! for more than is due; the agent's page prices a part, its saved-method button shows the total
//! and a confirmation naming amount, fee and method comes before anything is charged. Judged from
//! localstripe's PaymentIntents and the invoice as the API shows it.

use serde_json::{Value, json};

use crate::payments::{fee_lines, shop, stripe_request};
use crate::stripe_calls::assert_valid_for_stripe;

const PASSWORD: &str = "part payments password";

fn intent(shop: &crate::payments::Shop, id: &Value) -> Value {
    stripe_request(
        &shop.stripe,
        "GET",
        &format!("/v1/payment_intents/{}", id.as_str().unwrap()),
        &[],
    )
}

#[test]
fn an_agent_takes_part_with_the_fee_on_what_is_paid_and_the_portal_pays_the_rest() {
    let shop = shop("partpay", "usd", |_| {});
    let invoice = shop.invoice("usd", 10_000);
    let charges = shop.path(&format!("/invoices/{invoice}/charges"));

    let quote = shop.admin.post(
        &format!("{charges}/quote"),
        json!({"amount": 4_000, "pay_with": "saved_method"}),
    );
    assert_eq!(quote.status, 200, "{}", quote.text);
    assert_eq!(quote.body["amount_due"], 10_000);
    assert_eq!(quote.body["amount"], 4_000);
    assert_eq!(
        quote.body["fee"], 116,
        "2.9% of what is paid, not of the invoice"
    );
    assert_eq!(quote.body["total"], 4_116);
    assert_eq!(quote.body["method"], "Visa ending 4242, expires 12/2030");
    assert_eq!(quote.body["method_type"], "card");

    let paid = shop.admin.post(
        &charges,
        json!({"amount": 4_000, "pay_with": "saved_method", "agreed_total": 4_116}),
    );
    assert_eq!(paid.status, 201, "{}", paid.text);
    assert_eq!(paid.body["status"], "succeeded", "{}", paid.text);
    assert_eq!(paid.body["total"], 4_116);
    let first = intent(&shop, &paid.body["intent_id"]);
    assert_eq!(first["amount"], 4_116);
    assert_eq!(first["status"], "succeeded");

    let view = shop.invoice_view(invoice);
    assert_eq!(view["status"], "awaiting_payment", "{view}");
    assert_eq!(view["amount_due"], 6_000, "the rest is still due: {view}");
    assert_eq!(fee_lines(&view), vec![116]);
    assert_eq!(view["payments"][0]["amount"], 4_000);
    assert_eq!(view["payments"][0]["status"], "succeeded");

    // The portal offers what is left, with the fee on it, and pays it.
    let quote = shop.user.post(
        &shop.path("/payments/quote"),
        json!({"invoice_ids": [invoice], "method_type": "card"}),
    );
    assert_eq!(quote.status, 200, "{}", quote.text);
    assert_eq!(quote.body["lines"][0]["amount_due"], 6_000);
    assert_eq!(quote.body["total"], 6_174);
    let rest = shop.user.post(
        &shop.path("/payments"),
        json!({"invoice_ids": [invoice], "pay_with": "saved_method"}),
    );
    assert_eq!(rest.status, 201, "{}", rest.text);
    assert_eq!(rest.body["status"], "succeeded", "{}", rest.text);
    let second = intent(&shop, &rest.body["intent_id"]);
    assert_eq!(second["amount"], 6_174);
    assert_eq!(second["status"], "succeeded");

    let view = shop.invoice_view(invoice);
    assert_eq!(view["status"], "paid", "{view}");
    assert_eq!(view["amount_due"], 0);
    assert_eq!(fee_lines(&view), vec![116, 174]);
    assert_eq!(shop.intent_creations().len(), 2);
    assert_valid_for_stripe(&shop.recorder.requests());
}

#[test]
fn a_charge_is_only_for_the_total_agreed_and_at_most_what_is_due() {
    let shop = shop("partrefused", "usd", |_| {});
    let invoice = shop.invoice("usd", 10_000);
    let charges = shop.path(&format!("/invoices/{invoice}/charges"));

    // Another total than the one agreed: refused, nothing sent to Stripe.
    let other = shop.admin.post(
        &charges,
        json!({"amount": 4_000, "pay_with": "saved_method", "agreed_total": 4_000}),
    );
    assert_eq!(other.status, 409, "{}", other.text);
    let message = other.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("USD 41.16")
            && message.contains("USD 40.00")
            && message.contains("nothing was charged"),
        "{message}"
    );
    for (amount, why) in [
        (json!(0), "more than zero"),
        (json!(-100), "more than zero"),
        (json!(10_001), "more than the 10000 due"),
    ] {
        let refused = shop.admin.post(
            &charges,
            json!({"amount": amount, "pay_with": "saved_method"}),
        );
        assert_eq!(refused.status, 422, "{amount}: {}", refused.text);
        assert_eq!(refused.body["error"]["fields"][0]["field"], "amount");
        assert!(refused.text.contains(why), "{amount}: {}", refused.text);
    }
    // A portal user pays all that is due or nothing.
    let part = shop.user.post(
        &charges,
        json!({"amount": 4_000, "pay_with": "saved_method"}),
    );
    assert_eq!(part.status, 422, "{}", part.text);
    assert!(part.text.contains("only an agent"), "{}", part.text);
    assert!(shop.intent_creations().is_empty(), "nothing was charged");

    // Priced for the whole invoice, then part of it is paid: the old total is refused.
    let whole = shop.admin.post(
        &format!("{charges}/quote"),
        json!({"pay_with": "saved_method"}),
    );
    assert_eq!(whole.body["total"], 10_290, "{}", whole.text);
    let part = shop.admin.post(
        &charges,
        json!({"amount": 2_500, "pay_with": "saved_method", "agreed_total": 2_573}),
    );
    assert_eq!(part.status, 201, "{}", part.text);
    let stale = shop.admin.post(
        &charges,
        json!({"pay_with": "saved_method", "agreed_total": 10_290}),
    );
    assert_eq!(stale.status, 409, "{}", stale.text);
    assert!(
        stale.text.contains("USD 77.18"),
        "the total now: {}",
        stale.text
    );
    let whole = shop.admin.post(
        &charges,
        json!({"pay_with": "saved_method", "agreed_total": 7_718}),
    );
    assert_eq!(whole.status, 201, "{}", whole.text);
    let view = shop.invoice_view(invoice);
    assert_eq!(view["status"], "paid", "{view}");
    assert_eq!(fee_lines(&view), vec![73, 218]);
    let charged: Vec<i64> = shop
        .intent_creations()
        .iter()
        .map(|r| {
            r.body
                .split('&')
                .find_map(|kv| kv.strip_prefix("amount="))
                .and_then(|a| a.parse().ok())
                .unwrap()
        })
        .collect();
    assert_eq!(charged, vec![2_573, 7_718], "exactly the totals agreed");
    // Nothing more is due: a charge of a paid invoice is refused.
    let again = shop
        .admin
        .post(&charges, json!({"pay_with": "saved_method"}));
    assert_eq!(again.status, 409, "{}", again.text);
}

#[test]
fn the_agents_page_prices_a_part_and_charges_it_only_once_confirmed() {
    let shop = shop("partpage", "usd", |_| {});
    let invoice = shop.invoice("usd", 10_000);
    let base = shop.admin.base.clone();
    shop.host
        .agent_with_password(&shop.tenant, "cash@part.test", PASSWORD, false, true);
    let agent = paydesk_tests::signin::session_cookie(
        &base,
        shop.tenant.as_str(),
        "cash@part.test",
        PASSWORD,
        true,
    );
    let send = |method: &str, path: &str, form: Option<&[(&str, &str)]>| {
        paydesk_tests::signin::send(&base, method, path, std::slice::from_ref(&agent), &[], form)
    };
    let page_path = format!("/app/invoices/{invoice}");

    let page = send("GET", &page_path, None);
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("id=\"no-payments\""), "{}", page.text);
    assert!(
        page.text.contains("Charge USD 102.90 to Visa ending 4242"),
        "{}",
        page.text
    );

    let bad = send("GET", &format!("{page_path}?amount=forty"), None);
    assert!(bad.text.contains("is not an amount of USD"), "{}", bad.text);
    assert!(!bad.text.contains("id=\"pay-saved\""), "{}", bad.text);

    let part = send("GET", &format!("{page_path}?amount=40.00"), None);
    assert!(
        part.text.contains("USD 40.00 of the USD 100.00 due"),
        "{}",
        part.text
    );
    assert!(
        part.text.contains("Charge USD 41.16 to Visa ending 4242"),
        "{}",
        part.text
    );
    assert!(
        part.text.contains("Pay USD 41.16 with a new card"),
        "{}",
        part.text
    );

    let confirm = send("GET", &format!("{page_path}/charge?amount=4000"), None);
    assert_eq!(confirm.status, 200, "{}", confirm.text);
    for said in [
        "USD 41.16",
        "USD 40.00",
        "USD 1.16",
        "part of the USD 100.00 due",
        "Visa ending 4242",
    ] {
        assert!(confirm.text.contains(said), "{said}: {}", confirm.text);
    }
    assert!(
        shop.intent_creations().is_empty(),
        "nothing charged before confirming"
    );
    let marker = "name=\"csrf\" value=\"";
    let rest = &confirm.text[confirm.text.find(marker).expect("a form") + marker.len()..];
    let csrf = rest[..rest.find('"').unwrap()].to_string();

    // A post without the confirmed total charges nothing.
    let unconfirmed = send(
        "POST",
        &format!("{page_path}/pay-saved"),
        Some(&[("csrf", &csrf), ("amount", "4000")]),
    );
    assert_eq!(unconfirmed.status, 303);
    let back = send("GET", &unconfirmed.location, None);
    assert!(
        back.text.contains("Not charged: confirm the charge"),
        "{}",
        back.text
    );
    assert!(shop.intent_creations().is_empty());

    let done = send(
        "POST",
        &format!("{page_path}/pay-saved"),
        Some(&[
            ("csrf", &csrf),
            ("amount", "4000"),
            ("agreed_total", "4116"),
        ]),
    );
    assert_eq!(done.status, 303);
    let back = send("GET", &done.location, None);
    assert!(
        back.text.contains("of USD 41.16: succeeded"),
        "{}",
        back.text
    );
    assert!(!back.text.contains("id=\"no-payments\""), "{}", back.text);
    let view = shop.invoice_view(invoice);
    assert_eq!(view["amount_due"], 6_000, "{view}");
    assert_eq!(view["status"], "awaiting_payment");
    assert_eq!(shop.intent_creations().len(), 1);
}
