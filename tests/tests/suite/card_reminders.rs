//! Expiring automatic cards end to end: the daily run emails each customer whose automatic card
//! (in localstripe) expires this month or next, with template 286, once per card and month —
//! however many runs that month, and when two runs remind at once (the outbox's unique dedup key
//! in the database) — and the customer's Stripe section says so.

use chrono::Datelike;
use serde_json::json;

use crate::autopay::{autopay_shop, run};
use crate::payments::{Shop, stripe_request};

const PASSWORD: &str = "expiring cards password";

/// A mapped customer whose automatic method is a Visa expiring `month`/`year`; its id.
fn customer_with_card(shop: &Shop, name: &str, month: u32, year: i32) -> i64 {
    let cus = stripe_request(&shop.stripe, "POST", "/v1/customers", &[("name", name)]);
    let cus = cus["id"].as_str().unwrap().to_string();
    let created = shop.admin.post(
        &shop.path("/customers"),
        json!({"name": name, "accounts_email": format!("ap@{}.test", name.to_lowercase()),
               "accounts_cc_email": format!("cfo@{}.test", name.to_lowercase())}),
    );
    let id = created.body["customer"]["id"].as_i64().unwrap();
    let mapped = shop.admin.post(
        &shop.path("/mappings"),
        json!({"customer_id": id, "stripe_customer_id": cus}),
    );
    assert_eq!(mapped.status, 201, "{}", mapped.text);
    let (month, year) = (month.to_string(), year.to_string());
    let pm = stripe_request(
        &shop.stripe,
        "POST",
        "/v1/payment_methods",
        &[
            ("type", "card"),
            ("card[number]", "4242424242424242"),
            ("card[exp_month]", &month),
            ("card[exp_year]", &year),
            ("card[cvc]", "123"),
        ],
    );
    let pm = pm["id"].as_str().unwrap().to_string();
    stripe_request(
        &shop.stripe,
        "POST",
        &format!("/v1/payment_methods/{pm}/attach"),
        &[("customer", &cus)],
    );
    let set = shop.admin.put(
        &shop.path(&format!("/customers/{id}/automatic-payment-method")),
        json!({"payment_method_id": pm}),
    );
    assert_eq!(set.status, 200, "{}", set.text);
    id
}

fn reminder_emails(shop: &Shop) -> Vec<paydesk_host::db::OutboxMessage> {
    shop.host
        .db()
        .emails_with_key_prefix(&shop.tenant, "card-expiring/")
        .unwrap()
}

#[test]
fn the_daily_run_reminds_each_customer_of_an_expiring_card_once_per_card_and_month() {
    let shop = autopay_shop("cards", true);
    let next = customer_with_card(&shop, "Nextmonth", 1, 2027);
    let this = customer_with_card(&shop, "Thismonth", 12, 2026);
    // The shop's own customer's card expires 12/2030: no reminder.

    let first = run(&shop, "2026-12-01");
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    let mut reminded: Vec<(i64, bool, bool)> = first
        .reminders
        .iter()
        .map(|r| (r.card.customer_id, r.card.this_month, r.queued))
        .collect();
    reminded.sort();
    assert_eq!(reminded, vec![(next, false, true), (this, true, true)]);
    let json = paydesk_host::autopay_cli::report_json(&first);
    assert_eq!(
        json["card_reminders"].as_array().unwrap().len(),
        2,
        "{json}"
    );
    let mail = reminder_emails(&shop);
    assert_eq!(mail.len(), 2, "{mail:?}");
    let to_next = mail
        .iter()
        .find(|m| m.to == vec!["ap@nextmonth.test".to_string()])
        .expect("Nextmonth is reminded");
    assert_eq!(to_next.cc, vec!["cfo@nextmonth.test".to_string()]);
    assert_eq!(
        to_next.subject,
        "Your card Visa ending 4242, expires 01/2027 expires soon"
    );
    assert!(
        to_next.text.contains("expires at the end of 01/2027"),
        "{}",
        to_next.text
    );
    assert!(
        to_next.text.contains("https://help.example.test/portal"),
        "{}",
        to_next.text
    );

    // A later run of the month tells no one again.
    let later = run(&shop, "2026-12-15");
    assert_eq!(later.reminders.len(), 2);
    assert!(
        later.reminders.iter().all(|r| !r.queued),
        "{:?}",
        later.reminders
    );
    assert_eq!(reminder_emails(&shop).len(), 2);

    // A new month, reminded by two runs at once: the card expiring in it is reminded again, once;
    // the expired one is not.
    let (app, tenant) = (&shop.host.app, &shop.tenant);
    let barrier = std::sync::Barrier::new(2);
    let reminded: Vec<(i64, bool, bool)> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    app.remind_expiring_cards(tenant, "2027-01-04").unwrap()
                })
            })
            .collect();
        runs.into_iter()
            .flat_map(|r| r.join().unwrap())
            .map(|r| (r.card.customer_id, r.card.this_month, r.queued))
            .collect()
    });
    let mut reminded = reminded;
    reminded.sort();
    assert_eq!(reminded, vec![(next, true, false), (next, true, true)]);
    let mail = reminder_emails(&shop);
    assert_eq!(mail.len(), 3, "{mail:?}");
    assert_eq!(
        mail.iter()
            .filter(|m| m.to == vec!["ap@nextmonth.test".to_string()])
            .count(),
        2,
        "one per card and month"
    );
    // What the reminders asked Stripe is what Stripe's OpenAPI description allows.
    let asked = shop.recorder.requests();
    assert!(
        asked
            .iter()
            .any(|r| r.method == "GET" && r.path_and_query.starts_with("/v1/payment_methods/pm_")),
        "the expiry was read from Stripe"
    );
    crate::stripe_calls::assert_valid_for_stripe(&asked);
    // The tenant's template 286 is there to edit, like 264 and 285.
    let template = shop.admin.get(&shop.path("/email-templates/286"));
    assert_eq!(template.status, 200, "{}", template.text);
    assert_eq!(template.body["name"], "Stripe Card Expiring");
}

#[test]
fn the_customers_stripe_section_shows_that_its_automatic_card_expires_soon() {
    let shop = autopay_shop("cards-page", true);
    // Next month, as the page's own day (the tenant's today) sees it.
    let today = chrono::Utc::now().date_naive();
    let (month, year) = if today.month() == 12 {
        (1, today.year() + 1)
    } else {
        (today.month() + 1, today.year())
    };
    let soon = customer_with_card(&shop, "Soon", month, year);
    let base = shop.admin.base.clone();
    shop.host
        .agent_with_password(&shop.tenant, "ada@cards.test", PASSWORD, false, false);
    let agent = paydesk_tests::signin::session_cookie(
        &base,
        shop.tenant.as_str(),
        "ada@cards.test",
        PASSWORD,
        true,
    );
    let page = |id: i64| {
        let p = paydesk_tests::signin::send(
            &base,
            "GET",
            &format!("/app/customers/{id}"),
            std::slice::from_ref(&agent),
            &[],
            None,
        );
        assert_eq!(p.status, 200, "{}", p.text);
        p.text
    };
    let shown = format!("{month:02}/{year}");
    let soon_page = page(soon);
    let warning = soon_page
        .split("id=\"card-expiring\">")
        .nth(1)
        .unwrap_or_else(|| panic!("no expiry warning: {soon_page}"));
    assert!(
        warning.starts_with(&format!("Visa ending 4242, expires {shown} expires ")),
        "{warning}"
    );
    assert!(
        warning.contains("the daily run emails the customer"),
        "{warning}"
    );
    // The API says the same.
    let api = shop
        .admin
        .get(&shop.path(&format!("/customers/{soon}/expiring-card")));
    assert_eq!(api.status, 200, "{}", api.text);
    assert_eq!(api.body["exp_month"], month);
    assert_eq!(api.body["exp_year"], year);
    assert_eq!(api.body["reminded"], false);
    let later = shop
        .admin
        .get(&shop.path(&format!("/customers/{}/expiring-card", shop.customer_id)));
    assert_eq!(later.status, 200, "{}", later.text);
    assert_eq!(later.body, serde_json::Value::Null);
    // The shop's customer's card expires 12/2030.
    assert!(!page(shop.customer_id).contains("id=\"card-expiring\""));
    // Once reminded, the page says so.
    let date = today.to_string();
    shop.host
        .app
        .remind_expiring_cards(&shop.tenant, &date)
        .expect("reminders");
    let again = page(soon);
    assert!(
        again.contains("the customer was emailed a reminder this month"),
        "{again}"
    );
    assert_eq!(
        shop.admin
            .get(&shop.path(&format!("/customers/{soon}/expiring-card")))
            .body["reminded"],
        true
    );
}
