//! Autopay caps end to end: the tenant-wide `autopay_max_amount` and a customer's own
//! `stripe_autopay_max_amount`, set through the API and the pages; a charge above either is not
//! made (judged from localstripe), the plan and the audit trail say why, and the notification
//! address is told once per invoice — however many runs skip it, and when two runs skip it at once
//! (the outbox's unique dedup key in the database, not the process, holds "once").

use std::sync::{Arc, Barrier};

use serde_json::{Value, json};

use crate::autopay::{autopay_shop, customer, invoices_of, recurring, recurring_invoice_of, run};
use crate::payments::{NOTIFY, Shop, stripe_request};

const D0: &str = "2026-12-01";
const PASSWORD: &str = "autopay caps password";

/// The Stripe customer a helpdesk customer is mapped to.
fn stripe_customer(shop: &Shop, customer: i64) -> String {
    let c = shop
        .admin
        .get(&shop.path(&format!("/customers/{customer}")));
    c.body["stripe_customer_id"].as_str().unwrap().to_string()
}

/// The PaymentIntents localstripe holds for a helpdesk customer.
fn intents_of(shop: &Shop, customer: i64) -> Vec<Value> {
    let cus = stripe_customer(shop, customer);
    let all = stripe_request(&shop.stripe, "GET", "/v1/payment_intents?limit=100", &[]);
    all["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|pi| {
            pi["customer"].as_str() == Some(cus.as_str())
                || pi["customer"]["id"].as_str() == Some(cus.as_str())
        })
        .cloned()
        .collect()
}

/// The cap emails in the tenant's outbox, oldest first.
fn cap_emails(shop: &Shop) -> Vec<paydesk_host::db::OutboxMessage> {
    shop.host
        .db()
        .emails_with_key_prefix(&shop.tenant, "autopay-cap/")
        .unwrap()
}

fn set_cap(shop: &Shop, customer: i64, cap: Value) -> paydesk_tests::host::Answer {
    shop.admin.put(
        &shop.path(&format!("/customers/{customer}/autopay-cap")),
        json!({ "stripe_autopay_max_amount": cap }),
    )
}

#[test]
fn a_charge_above_the_tenants_or_the_customers_cap_is_skipped_said_why_and_told_once() {
    let shop = autopay_shop("caps", true);
    // The tenant-wide cap through the API: checked, stored, shown.
    let refused = shop
        .admin
        .patch(&shop.path("/settings"), json!({"autopay_max_amount": 0}));
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert_eq!(
        refused.body["error"]["fields"][0]["field"], "autopay_max_amount",
        "{}",
        refused.text
    );
    let saved = shop.admin.patch(
        &shop.path("/settings"),
        json!({"autopay_max_amount": 15_000}),
    );
    assert_eq!(saved.status, 200, "{}", saved.text);
    assert_eq!(saved.body["autopay_max_amount"], 15_000);

    // Acme (the shop's customer): USD 100.00 + 2.9 % = USD 102.90, within USD 150.00.
    let acme = shop.customer_id;
    let big = customer(&shop, "Bigspender", Some("4242424242424242"));
    let capped = customer(&shop, "Capped", Some("4242424242424242"));
    let exact = customer(&shop, "Exact", Some("4242424242424242"));
    // A customer's own cap through the API: checked, stored, shown.
    for bad in [json!(0), json!(100_000_000), json!("100")] {
        let r = set_cap(&shop, capped, bad.clone());
        assert_eq!(r.status, 422, "{bad}: {}", r.text);
    }
    let r = set_cap(&shop, capped, json!(10_000));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["stripe_autopay_max_amount"], 10_000, "{}", r.text);
    assert_eq!(
        set_cap(&shop, exact, json!(10_290)).body["stripe_autopay_max_amount"],
        10_290
    );
    let listed = shop.admin.get(&shop.path("/customers")).body;
    let cap_of = |id: i64| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()["stripe_autopay_max_amount"]
            .clone()
    };
    assert_eq!(cap_of(capped), json!(10_000));
    assert_eq!(cap_of(acme), Value::Null);

    recurring(&shop, acme, 10_000, D0, 0);
    recurring(&shop, big, 20_000, D0, 0);
    recurring(&shop, capped, 10_000, D0, 0);
    recurring(&shop, exact, 10_000, D0, 0);

    // The plan, as `autopay --dry-run` and "Run now"'s preview show it.
    let planned = shop
        .admin
        .post(&shop.path("/autopay/run"), json!({"dry_run": true}));
    assert_eq!(planned.status, 200, "{}", planned.text);

    let report = run(&shop, D0);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let number = |c: i64| {
        recurring_invoice_of(&shop, c)["number"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let decision = |c: i64| {
        let n = number(c);
        report
            .plan
            .iter()
            .find(|d| d.invoice_number == n)
            .unwrap_or_else(|| panic!("{n} in {:?}", report.plan))
            .clone()
    };
    let over_tenant = "USD 205.80 (USD 200.00 due + USD 5.80 fee) is above the automatic payment cap of every customer of USD 150.00";
    let over_own = "USD 102.90 (USD 100.00 due + USD 2.90 fee) is above this customer's automatic payment cap of USD 100.00";
    assert!(decision(acme).charge, "{:?}", decision(acme));
    assert!(
        decision(exact).charge,
        "a charge equal to the cap is made: {:?}",
        decision(exact)
    );
    for (c, why) in [(big, over_tenant), (capped, over_own)] {
        let d = decision(c);
        assert!(!d.charge && d.reason.starts_with(why), "{d:?}");
        let result = report
            .results
            .iter()
            .find(|r| r.invoice_id == recurring_invoice_of(&shop, c)["id"])
            .unwrap();
        assert_eq!(result.status, None, "{result:?}");
        assert!(result.message.starts_with(why), "{result:?}");
    }

    // Judged from Stripe: one charge each within the caps, none above.
    assert_eq!(intents_of(&shop, acme).len(), 1);
    assert_eq!(intents_of(&shop, exact).len(), 1);
    assert_eq!(intents_of(&shop, exact)[0]["amount"], 10_290);
    assert!(intents_of(&shop, big).is_empty());
    assert!(intents_of(&shop, capped).is_empty());
    for c in [big, capped] {
        let invoice = recurring_invoice_of(&shop, c);
        assert_eq!(invoice["status"], "awaiting_payment", "{invoice}");
        assert_eq!(invoice["payments"], json!([]), "{invoice}");
    }

    // The audit trail says why; the notification address is told once per invoice.
    let audit = shop.admin.get(&shop.path("/autopay/audit")).body;
    for (c, why) in [(big, over_tenant), (capped, over_own)] {
        let id = recurring_invoice_of(&shop, c)["id"].clone();
        assert!(
            audit
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["invoice_id"] == id
                    && a["action"] == "skip"
                    && a["reason"].as_str().unwrap().starts_with(why)),
            "{audit}"
        );
    }
    // The next day's run skips them again, and tells no one again.
    let next = run(&shop, "2026-12-02");
    assert!(next.errors.is_empty(), "{:?}", next.errors);
    assert!(intents_of(&shop, big).is_empty());
    let mail = cap_emails(&shop);
    assert_eq!(mail.len(), 2, "once per invoice: {mail:?}");
    for c in [big, capped] {
        let about: Vec<_> = mail
            .iter()
            .filter(|m| m.subject.contains(&number(c)))
            .collect();
        assert_eq!(about.len(), 1, "{mail:?}");
        assert_eq!(about[0].to, vec![NOTIFY.to_string()]);
        assert!(
            about[0].text.contains("Receive Payment (Manual)"),
            "{}",
            about[0].text
        );
    }

    crate::stripe_calls::assert_valid_for_stripe(&shop.recorder.requests());

    // Without its own cap, Capped is held to the tenant's alone, and charged.
    let cleared = set_cap(&shop, capped, Value::Null);
    assert_eq!(cleared.body["stripe_autopay_max_amount"], Value::Null);
    let third = run(&shop, "2026-12-03");
    assert!(third.errors.is_empty(), "{:?}", third.errors);
    assert_eq!(recurring_invoice_of(&shop, capped)["status"], "paid");
    assert_eq!(intents_of(&shop, capped).len(), 1);
    assert!(intents_of(&shop, big).is_empty());
}

#[test]
fn two_runs_skipping_capped_invoices_at_once_tell_the_notification_address_once_each() {
    let shop = autopay_shop("caps-race", true);
    let saved = shop.admin.patch(
        &shop.path("/settings"),
        json!({"autopay_max_amount": 5_000}),
    );
    assert_eq!(saved.status, 200, "{}", saved.text);
    const INVOICES: usize = 6;
    for _ in 0..INVOICES {
        recurring(&shop, shop.customer_id, 10_000, D0, 0);
    }
    let generated = shop
        .host
        .db()
        .generate_due(&shop.tenant, D0)
        .expect("generated");
    assert_eq!(generated.len(), INVOICES);
    // Each invoice skipped by two charges released together.
    let (app, tenant) = (&shop.host.app, &shop.tenant);
    for invoice in generated {
        let barrier = Arc::new(Barrier::new(2));
        std::thread::scope(|scope| {
            for _ in 0..2 {
                let barrier = barrier.clone();
                scope.spawn(move || {
                    barrier.wait();
                    let r = app.autopay_charge(tenant, invoice, D0).expect("the charge");
                    assert_eq!(r.status, None, "{r:?}");
                    assert!(
                        r.message.contains("above the automatic payment cap"),
                        "{r:?}"
                    );
                });
            }
        });
    }
    let mail = cap_emails(&shop);
    assert_eq!(mail.len(), INVOICES, "one email per invoice: {mail:?}");
    assert!(intents_of(&shop, shop.customer_id).is_empty());
    assert!(
        invoices_of(&shop, shop.customer_id)
            .iter()
            .all(|i| i["status"] == "awaiting_payment")
    );
}

#[test]
fn the_setup_page_and_the_customer_page_set_and_show_the_caps() {
    let shop = autopay_shop("caps-pages", true);
    let base = shop.admin.base.clone();
    shop.host
        .agent_with_password(&shop.tenant, "ada@caps.test", PASSWORD, true, true);
    let agent = paydesk_tests::signin::session_cookie(
        &base,
        shop.tenant.as_str(),
        "ada@caps.test",
        PASSWORD,
        true,
    );
    let send = |method: &str, path: &str, form: Option<&[(&str, &str)]>| {
        paydesk_tests::signin::send(&base, method, path, std::slice::from_ref(&agent), &[], form)
    };
    let csrf = |html: &str| {
        let marker = "name=\"csrf\" value=\"";
        let rest = &html[html.find(marker).expect("a form") + marker.len()..];
        rest[..rest.find('"').unwrap()].to_string()
    };
    let customer_page = format!("/app/customers/{}", shop.customer_id);
    let page = send("GET", &customer_page, None);
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains("id=\"autopay-cap\">none of its own<"),
        "{}",
        page.text
    );
    let token = csrf(&page.text);
    let action = format!("{customer_page}/autopay-cap");
    let bad = send(
        "POST",
        &action,
        Some(&[("csrf", &token), ("stripe_autopay_max_amount", "0")]),
    );
    assert_eq!(bad.status, 303);
    let back = send("GET", &bad.location, None);
    assert!(
        back.text
            .contains("Not changed: a cap is at least 1 minor unit"),
        "{}",
        back.text
    );
    let ok = send(
        "POST",
        &action,
        Some(&[("csrf", &token), ("stripe_autopay_max_amount", "25000")]),
    );
    assert_eq!(ok.status, 303);
    let page = send("GET", &ok.location, None);
    assert!(
        page.text.contains("automatic payment cap was saved"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("id=\"autopay-cap\">USD 250.00<"),
        "{}",
        page.text
    );
    assert_eq!(
        shop.host
            .db()
            .autopay_cap(&shop.tenant, shop.customer_id)
            .unwrap(),
        Some(25_000)
    );

    // The setup page shows the tenant-wide cap with its help text, and saves it.
    let setup = send("GET", "/app/setup", None);
    assert_eq!(setup.status, 200, "{}", setup.text);
    assert!(
        setup
            .text
            .contains("name=\"autopay_max_amount\" value=\"\""),
        "{}",
        setup.text
    );
    assert!(
        setup
            .text
            .contains("emails the notification address once per invoice")
    );
    let api = shop.admin.get(&shop.path("/settings")).body;
    let mut form: Vec<(String, String)> = vec![
        ("csrf".into(), csrf(&setup.text)),
        ("enabled".into(), "on".into()),
        (
            "stripe_public_key".into(),
            api["stripe_public_key"].as_str().unwrap_or("").into(),
        ),
        ("stripe_currency".into(), "usd".into()),
        ("stripepaymentmethodoptions".into(), "card".into()),
        ("stripe_processing_fee_percentage".into(), "2.9".into()),
        ("enableautostripepayment".into(), "on".into()),
        ("stripetakepaymentonduedate".into(), "due".into()),
        ("halointegrator_stripe".into(), "on".into()),
        ("autopay_max_attempts".into(), "2".into()),
        ("autopay_retry_interval_days".into(), "1".into()),
        ("stripenotificationemail".into(), NOTIFY.into()),
        ("autopay_max_amount".into(), "40000".into()),
    ];
    let post = |form: &[(String, String)]| {
        let fields: Vec<(&str, &str)> =
            form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        send("POST", "/app/setup", Some(&fields))
    };
    let saved = post(&form);
    assert!(saved.status == 303 || saved.status == 200, "{}", saved.text);
    assert_eq!(
        shop.admin.get(&shop.path("/settings")).body["autopay_max_amount"],
        40_000
    );
    form.last_mut().unwrap().1 = "0".into();
    let refused = post(&form);
    let shown = if refused.status == 303 {
        send("GET", &refused.location, None).text
    } else {
        refused.text
    };
    assert!(shown.contains("a cap is at least 1 minor unit"), "{shown}");
    assert_eq!(
        shop.admin.get(&shop.path("/settings")).body["autopay_max_amount"],
        40_000,
        "nothing stored on error"
    );
}
