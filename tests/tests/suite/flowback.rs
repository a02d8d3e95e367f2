//! Changes made on Stripe's side flow back (issue 17 item 7): a detached automatic method is
//! cleared (the API, the customer's page and `$-PAYMENTMETHOD` say so), a new default from
//! Stripe's customer portal becomes the automatic method when its type is imported, a new expiry
//! renews the display name; each event once, never backwards on Stripe's clock. The payment
//! methods live in localstripe (which the plugin reads them from); localstripe never emits these
//! events, so they are built from its objects in Stripe's fixture envelope and signed with the
//! endpoint secret. "Save and Create/Update Webhooks" updating an older endpoint is checked with
//! the Stripe stand-in and against Stripe's OpenAPI description.

use serde_json::{Value, json};

use paydesk_tests::fake_stripe::FakeStripe;
use paydesk_tests::host::TestHost;
use paydesk_tests::stripe_spec::StripeSpec;
use paydesk_tests::webhook::fixture_event;

use crate::payments::{Shop, attach_card, shop, stripe_request};
use crate::stripe_calls::assert_valid_for_stripe;

const NO_METHOD: &str = "No automatic payment setup";
const PASSWORD: &str = "flowback agent password";

/// The shop's customer as the JSON API shows it.
fn customer(shop: &Shop) -> Value {
    let answer = shop
        .admin
        .get(&shop.path(&format!("/customers/{}", shop.customer_id)));
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.body
}

fn automatic(shop: &Shop) -> (Value, Value) {
    let c = customer(shop);
    (
        c["stripe_payment_method_id"].clone(),
        c["stripe_payment_method_name"].clone(),
    )
}

fn rendered(shop: &Shop) -> String {
    shop.host
        .app
        .render_plugin_variables(&shop.tenant, shop.customer_id, "$-PAYMENTMETHOD", false)
        .unwrap()
}

/// A Stripe object as localstripe holds it now.
fn stripe_object(shop: &Shop, path: &str) -> Value {
    stripe_request(&shop.stripe, "GET", path, &[])
}

/// A signed event of `event_type` about `object`, created at `created` on Stripe's clock, posted
/// to the receiver; its answer's outcome and detail.
fn deliver(
    shop: &Shop,
    event_type: &str,
    id: &str,
    object: &Value,
    previous: Option<Value>,
    created: i64,
) -> (String, Value) {
    let mut event: Value =
        serde_json::from_str(&fixture_event(event_type, id, object, created)).unwrap();
    event["data"]["previous_attributes"] = previous.unwrap_or(Value::Null);
    let (status, text) = shop.send_event(&event.to_string());
    assert_eq!(status, 200, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    (
        answer["outcome"].as_str().unwrap().to_string(),
        answer["detail"].clone(),
    )
}

/// The shop's Stripe customer now, with `pm` as its default payment method for invoices (as
/// Stripe's customer portal leaves it), and the `previous_attributes` naming the old default.
fn new_default(shop: &Shop, pm: &str, old: &str) -> (Value, Value) {
    let stripe_id = customer(shop)["stripe_customer_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut cus = stripe_object(shop, &format!("/v1/customers/{stripe_id}"));
    cus["invoice_settings"] = json!({"custom_fields": null, "default_payment_method": pm, "footer": null, "rendering_options": null});
    (
        cus,
        json!({"invoice_settings": {"default_payment_method": old}}),
    )
}

fn stripe_customer(shop: &Shop) -> String {
    customer(shop)["stripe_customer_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Stripe's clock for the events: after the agent's choice in `shop()` (observed at the `Date` of
/// localstripe's answer, this machine's clock).
fn later(seconds: i64) -> i64 {
    paydesk_host::db::now() + 60 + seconds
}

#[test]
fn a_detached_automatic_method_is_cleared_in_the_api_the_page_and_the_template() {
    let shop = shop("flowback-detached", "usd", |_| {});
    let (pm, name) = automatic(&shop);
    let pm = pm.as_str().unwrap().to_string();
    assert_eq!(name, "Visa ending 4242, expires 12/2030");
    stripe_request(
        &shop.stripe,
        "POST",
        &format!("/v1/payment_methods/{pm}/detach"),
        &[],
    );
    let object = stripe_object(&shop, &format!("/v1/payment_methods/{pm}"));
    let at = later(0);
    let (outcome, detail) = deliver(
        &shop,
        "payment_method.detached",
        "evt_flowback_detached",
        &object,
        Some(json!({"customer": stripe_customer(&shop)})),
        at,
    );
    assert_eq!(outcome, "applied", "{detail}");
    assert_eq!(detail, 1);
    assert_eq!(automatic(&shop), (Value::Null, Value::Null));
    // The database keeps when Stripe showed it, on Stripe's clock.
    assert_eq!(
        shop.host.query_i64(&format!(
            "SELECT stripe_payment_method_observed_at FROM customers WHERE id = {}",
            shop.customer_id
        )),
        at
    );
    assert_eq!(rendered(&shop), NO_METHOD);

    // The customer's page says so too.
    shop.host
        .agent_with_password(&shop.tenant, "ada@flowback.test", PASSWORD, true, true);
    let base = shop.admin.base.clone();
    let agent = paydesk_tests::signin::session_cookie(
        &base,
        shop.tenant.as_str(),
        "ada@flowback.test",
        PASSWORD,
        true,
    );
    let page = paydesk_tests::signin::send(
        &base,
        "GET",
        &format!("/app/customers/{}", shop.customer_id),
        &[agent],
        &[],
        None,
    );
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains(NO_METHOD), "{}", page.text);
    assert!(!page.text.contains("Visa ending 4242"), "{}", page.text);

    // The same event again is a duplicate, and changes nothing.
    let (outcome, _) = deliver(
        &shop,
        "payment_method.detached",
        "evt_flowback_detached",
        &object,
        None,
        later(0),
    );
    assert_eq!(outcome, "duplicate");
    assert_eq!(automatic(&shop), (Value::Null, Value::Null));
}

#[test]
fn a_detached_method_that_is_not_the_automatic_one_changes_nothing() {
    let shop = shop("flowback-other", "usd", |_| {});
    let before = automatic(&shop);
    let other = attach_card(&shop.stripe, &stripe_customer(&shop), "5555555555554444");
    stripe_request(
        &shop.stripe,
        "POST",
        &format!("/v1/payment_methods/{other}/detach"),
        &[],
    );
    let object = stripe_object(&shop, &format!("/v1/payment_methods/{other}"));
    let (outcome, detail) = deliver(
        &shop,
        "payment_method.detached",
        "evt_flowback_other",
        &object,
        None,
        later(0),
    );
    assert_eq!(outcome, "ignored");
    assert!(
        detail
            .as_str()
            .unwrap()
            .contains("is not a customer's automatic payment method"),
        "{detail}"
    );
    assert_eq!(automatic(&shop), before);
    assert_eq!(rendered(&shop), "Visa ending 4242, expires 12/2030");
}

#[test]
fn a_new_default_card_from_stripes_portal_becomes_the_automatic_method_and_an_older_one_does_not_undo_it()
 {
    let shop = shop("flowback-default", "usd", |_| {});
    let (old, _) = automatic(&shop);
    let old = old.as_str().unwrap().to_string();
    let card = attach_card(&shop.stripe, &stripe_customer(&shop), "5555555555554444");
    let shown = stripe_object(&shop, &format!("/v1/payment_methods/{card}"));
    let last4 = shown["card"]["last4"].as_str().unwrap().to_string();
    shop.recorder.clear();

    let (cus, previous) = new_default(&shop, &card, &old);
    let (outcome, detail) = deliver(
        &shop,
        "customer.updated",
        "evt_flowback_new_default",
        &cus,
        Some(previous),
        later(20),
    );
    assert_eq!(outcome, "applied", "{detail}");
    let (pm, name) = automatic(&shop);
    assert_eq!(pm, card.as_str());
    let name = name.as_str().unwrap().to_string();
    assert!(
        name.contains(&format!("ending {last4}, expires 12/2030")),
        "{name}"
    );
    assert_eq!(rendered(&shop), name);
    // The plugin read the method from Stripe, with a request Stripe accepts.
    let sent = shop.recorder.requests();
    assert!(
        sent.iter()
            .any(|r| r.method == "GET" && r.path_and_query == format!("/v1/payment_methods/{card}")),
        "{sent:?}"
    );
    assert_valid_for_stripe(&sent);

    // An older change (the customer's earlier default, delivered late) changes nothing.
    let (cus, previous) = new_default(&shop, &old, &card);
    let (outcome, _) = deliver(
        &shop,
        "customer.updated",
        "evt_flowback_older_default",
        &cus,
        Some(previous),
        later(10),
    );
    assert_eq!(outcome, "stale");
    assert_eq!(automatic(&shop).0, card.as_str());
    // Nor does an older detach of the method that is automatic now.
    let object = stripe_object(&shop, &format!("/v1/payment_methods/{card}"));
    let (outcome, _) = deliver(
        &shop,
        "payment_method.detached",
        "evt_flowback_older_detach",
        &object,
        None,
        later(5),
    );
    assert_eq!(outcome, "stale");
    assert_eq!(automatic(&shop).0, card.as_str());

    // An update of other fields of the customer is not a new default.
    let (cus, _) = new_default(&shop, &old, &card);
    let (outcome, detail) = deliver(
        &shop,
        "customer.updated",
        "evt_flowback_renamed",
        &cus,
        Some(json!({"name": "Acme Limited"})),
        later(30),
    );
    assert_eq!(outcome, "ignored");
    assert!(
        detail
            .as_str()
            .unwrap()
            .contains("did not change its default payment method"),
        "{detail}"
    );
    assert_eq!(automatic(&shop).0, card.as_str());
}

#[test]
fn a_new_default_of_a_type_not_imported_is_ignored_with_the_reason() {
    // The tenant imports cards only (the default).
    let shop = shop("flowback-sepa", "eur", |_| {});
    let before = automatic(&shop);
    let sepa = stripe_request(
        &shop.stripe,
        "POST",
        "/v1/payment_methods",
        &[
            ("type", "sepa_debit"),
            ("sepa_debit[iban]", "DE89370400440532013000"),
            ("billing_details[name]", "Acme Ltd"),
            ("billing_details[email]", "ap@customer.test"),
        ],
    );
    let sepa = sepa["id"].as_str().expect("a SEPA method").to_string();
    stripe_request(
        &shop.stripe,
        "POST",
        &format!("/v1/payment_methods/{sepa}/attach"),
        &[("customer", &stripe_customer(&shop))],
    );
    let old = before.0.as_str().unwrap().to_string();
    let (cus, previous) = new_default(&shop, &sepa, &old);
    let (outcome, detail) = deliver(
        &shop,
        "customer.updated",
        "evt_flowback_sepa",
        &cus,
        Some(previous),
        later(0),
    );
    assert_eq!(outcome, "ignored");
    let why = detail.as_str().unwrap();
    assert!(
        why.contains(&format!("{sepa} is a SEPA Debit"))
            && why.contains("not among the payment method types imported"),
        "{why}"
    );
    assert_eq!(automatic(&shop), before);
}

#[test]
fn a_new_expiry_from_the_card_account_updater_renews_the_display_name() {
    let shop = shop("flowback-expiry", "usd", |_| {});
    let (pm, _) = automatic(&shop);
    let pm = pm.as_str().unwrap().to_string();
    let mut object = stripe_object(&shop, &format!("/v1/payment_methods/{pm}"));
    object["card"]["exp_month"] = 3.into();
    object["card"]["exp_year"] = 2033.into();
    let (outcome, detail) = deliver(
        &shop,
        "payment_method.updated",
        "evt_flowback_expiry",
        &object,
        Some(json!({"card": {"exp_month": 12, "exp_year": 2030}})),
        later(10),
    );
    assert_eq!(outcome, "applied", "{detail}");
    let renewed = "Visa ending 4242, expires 03/2033";
    assert_eq!(automatic(&shop), (json!(pm), json!(renewed)));
    assert_eq!(rendered(&shop), renewed);

    // The older expiry, delivered late, does not come back.
    object["card"]["exp_month"] = 12.into();
    object["card"]["exp_year"] = 2030.into();
    let (outcome, _) = deliver(
        &shop,
        "payment_method.updated",
        "evt_flowback_expiry_older",
        &object,
        None,
        later(5),
    );
    assert_eq!(outcome, "stale");
    assert_eq!(automatic(&shop).1, renewed);
}

#[test]
fn updating_an_endpoint_made_by_an_older_version_subscribes_it_to_every_event_handled() {
    let fake = FakeStripe::start(|r| {
        match (r.method.as_str(), r.path.as_str()) {
            ("POST", "/v1/webhook_endpoints/we_older") => {
                // Stripe answers with what was asked for.
                let form: Vec<(String, String)> =
                    serde_urlencoded::from_str(&r.body).unwrap_or_default();
                let events: Vec<String> = form
                    .into_iter()
                    .filter(|(k, _)| k == "enabled_events[]")
                    .map(|(_, v)| v)
                    .collect();
                (
                    200,
                    json!({"id": "we_older", "object": "webhook_endpoint",
                           "url": "https://help.example.com/webhooks/stripe/flowback-endpoint",
                           "enabled_events": events, "status": "enabled"})
                    .to_string(),
                )
            }
            _ => (404, r#"{"error":{"message":"no such route"}}"#.into()),
        }
    });
    let host = TestHost::new(&fake.base_url);
    let tenant = host.tenant("flowback-endpoint", "sk_test_flowback_endpoint", |s| {
        // Made by a version that knew the payment events only.
        s.stripe_webhook_endpoint_id = Some("we_older".into());
        s.enablehalostripewebhooks = true;
    });
    let api = host.serve().with_token(&host.admin_token(&tenant));
    let answer = api.post(
        "/api/v1/tenants/flowback-endpoint/webhooks/stripe-endpoint",
        json!({"url": "https://help.example.com/webhooks/stripe/flowback-endpoint"}),
    );
    assert_eq!(answer.status, 200, "{}", answer.text);

    let sent: Vec<_> = fake
        .seen()
        .into_iter()
        .filter(|r| r.path.starts_with("/v1/webhook_endpoints"))
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        (sent[0].method.as_str(), sent[0].path.as_str()),
        ("POST", "/v1/webhook_endpoints/we_older")
    );
    if let Err(violations) = StripeSpec::shared().validate("POST", &sent[0].path, &sent[0].body) {
        let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
        panic!("the update is not valid for Stripe: {}", list.join("; "));
    }
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&sent[0].body).unwrap();
    let enabled: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "enabled_events[]")
        .map(|(_, v)| v.as_str())
        .collect();
    let every = [
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.processing",
        "payment_intent.canceled",
        "payment_intent.requires_action",
        "payment_method.detached",
        "payment_method.updated",
        "customer.updated",
        "charge.refunded",
        "charge.refund.updated",
        "refund.created",
        "refund.updated",
    ];
    for event in every {
        assert!(enabled.contains(&event), "{event} missing: {enabled:?}");
    }
    // And the answer shows the endpoint as Stripe keeps it now.
    assert!(
        every.iter().all(|e| answer.text.contains(e)),
        "{}",
        answer.text
    );
}
