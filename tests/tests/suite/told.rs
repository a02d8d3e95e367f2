//! What the payer and the agent are told is what happened (issue 12, item 9): a payment that
//! succeeded is reported as made even when its email cannot be sent — the email's problem is shown
//! on its own, in the audit trail, on the agent's invoice page and as the outbox row's error; an
//! address paydesk could not send to is refused when a customer, a user or the notification setting
//! is saved; and every link a payment email carries, followed from the message as the SMTP server
//! received it, opens a page of the running server.

use std::time::Duration;

use serde_json::{Value, json};

use paydesk_host::db::NewCustomer;

use crate::payments::{Shop, attach_card, shop, stripe_request};

const PASSWORD: &str = "told what happened password";

/// A page's answer, redirects not followed: (status, Location, body).
fn page(base: &str, path: &str, cookie: Option<&str>) -> (u16, String, String) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .new_agent();
    let url = if path.starts_with("http") {
        path.to_string()
    } else {
        format!("{base}{path}")
    };
    let mut request = agent.get(&url);
    if let Some(c) = cookie {
        request = request.header("Cookie", c);
    }
    let mut response = request.call().expect("the page answers");
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (response.status().as_u16(), location, text)
}

/// Sign in at `/login` as a browser does (the form's CSRF token and cookie); the session cookie.
fn sign_in(shop: &Shop, email: &str, role: &str) -> String {
    paydesk_tests::signin::session_cookie(
        &shop.admin.base,
        shop.tenant.as_str(),
        email,
        PASSWORD,
        role == "agent",
    )
}

#[test]
fn a_payment_whose_email_cannot_be_sent_is_reported_as_made_and_the_email_problem_apart() {
    let shop = shop("told-bad-address", "usd", |_| {});
    // An address saved before addresses were checked: it cannot be refused any more, only lived with.
    let customer = shop
        .host
        .db()
        .customer(&shop.tenant, shop.customer_id)
        .unwrap();
    shop.host
        .db()
        .update_customer(
            &shop.tenant,
            shop.customer_id,
            &NewCustomer {
                name: customer.name.clone(),
                accounts_email: Some("billing@hooli".into()),
                accounts_cc_email: customer.accounts_cc_email.clone(),
            },
        )
        .unwrap();
    let invoice = shop.invoice("usd", 10_000);

    let paid = shop.user.post(
        &shop.path("/payments"),
        json!({"invoice_ids": [invoice], "pay_with": "saved_method"}),
    );
    assert_eq!(paid.status, 201, "the payment was made: {}", paid.text);
    assert_eq!(paid.body["status"], "succeeded", "{}", paid.text);
    let view = shop.invoice_view(invoice);
    assert_eq!(view["status"], "paid", "{view}");

    // The email's problem, apart: the audit trail …
    let audit = shop.admin.get(&shop.path("/autopay/audit")).body;
    let noted: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "email-not-sent" && e["invoice_id"] == invoice)
        .collect();
    assert_eq!(noted.len(), 1, "{audit}");
    assert!(
        noted[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("billing@hooli")),
        "{audit}"
    );
    // … the outbox row, failed with its reason, never delivered …
    let rows = shop.host.db().emails(&shop.tenant, 10).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].status, "failed");
    assert!(
        rows[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("`billing@hooli` is not an email address")),
        "{rows:?}"
    );
    shop.deliver_mail();
    assert!(shop.smtp.messages().is_empty(), "nothing was sent");
    // … and the agent's invoice page, beside the payment that succeeded.
    shop.host
        .agent_with_password(&shop.tenant, "ada@told.test", PASSWORD, true, true);
    let cookie = sign_in(&shop, "ada@told.test", "agent");
    let (status, _, html) = page(
        &shop.admin.base,
        &format!("/app/invoices/{invoice}"),
        Some(&cookie),
    );
    assert_eq!(status, 200, "{html}");
    let emails = html
        .split("id=\"payment-emails\"")
        .nth(1)
        .expect("the invoice page lists its payment emails");
    assert!(emails.contains("succeeded"), "{emails}");
    assert!(emails.contains("failed"), "{emails}");
    assert!(emails.contains("is not an email address"), "{emails}");
    assert!(html.contains("badge succeeded"), "{html}");
}

#[test]
fn an_address_paydesk_could_not_send_to_is_refused_when_it_is_saved() {
    let shop = shop("told-saving", "usd", |_| {});
    let named = |answer: &paydesk_tests::host::Answer, field: &str| {
        assert_eq!(answer.status, 422, "{field}: {}", answer.text);
        assert_eq!(
            answer.body["error"]["kind"], "invalid_input",
            "{}",
            answer.text
        );
        let fields = answer.body["error"]["fields"].as_array().unwrap();
        assert!(
            fields.iter().any(|f| f["field"] == field
                && f["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("not an email address"))),
            "{field}: {}",
            answer.text
        );
    };
    let created = shop.admin.post(
        &shop.path("/customers"),
        json!({"name": "Hooli", "accounts_email": "billing@hooli"}),
    );
    named(&created, "accounts_email");
    let updated = shop.admin.put(
        &shop.path(&format!("/customers/{}", shop.customer_id)),
        json!({"name": "Acme Ltd", "accounts_cc_email": "cc@@acme.test"}),
    );
    named(&updated, "accounts_cc_email");
    let user = shop.admin.post(
        &shop.path("/users"),
        json!({"customer_id": shop.customer_id, "name": "Gavin", "email": "gavin@hooli",
               "invoice_access_level": "customer"}),
    );
    named(&user, "email");
    let settings = shop.admin.patch(
        &shop.path("/settings"),
        json!({"stripenotificationemail": "ops@hooli"}),
    );
    named(&settings, "stripenotificationemail");
    // Nothing of it was stored.
    let c = shop
        .admin
        .get(&shop.path(&format!("/customers/{}", shop.customer_id)))
        .body;
    assert_eq!(c["accounts_cc_email"], "controller@customer.test", "{c}");
    let s = shop.admin.get(&shop.path("/settings")).body;
    assert_eq!(s["stripenotificationemail"], "payments@tenant.test", "{s}");
    let customers = shop.admin.get(&shop.path("/customers")).body;
    assert_eq!(customers.as_array().unwrap().len(), 1, "{customers}");
}

/// The `http(s)://…` links of a message's text.
fn links(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, '"' | '<' | '>' | '\''))
        .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
        .map(|w| w.trim_end_matches(['.', ',', ')']).to_string())
        .collect()
}

#[test]
fn every_link_in_a_payment_email_opens_a_page_of_the_running_server() {
    let shop = shop("told-links", "usd", |s| {
        s.enableautostripepayment = true;
        s.halointegrator_stripe = true;
        s.stripetakepaymentonduedate = false;
    });
    // The portal is this server.
    let base = shop.admin.base.clone();
    let set = shop
        .admin
        .patch(&shop.path("/settings"), json!({"portal_base_url": base}));
    assert_eq!(set.status, 200, "{}", set.text);
    // A customer whose card needs authentication off-session, and one whose card declines.
    let mut numbers = Vec::new();
    for (name, card) in [
        ("Threeds", "4000002760003184"),
        ("Declining", "4000000000000341"),
    ] {
        let cus = stripe_request(&shop.stripe, "POST", "/v1/customers", &[("name", name)]);
        let cus = cus["id"].as_str().unwrap().to_string();
        let email = format!("ap@{}.test", name.to_lowercase());
        let created = shop.admin.post(
            &shop.path("/customers"),
            json!({"name": name, "accounts_email": email}),
        );
        let id = created.body["customer"]["id"].as_i64().unwrap();
        let mapped = shop.admin.post(
            &shop.path("/mappings"),
            json!({"customer_id": id, "stripe_customer_id": cus}),
        );
        assert_eq!(mapped.status, 201, "{}", mapped.text);
        let pm = attach_card(&shop.stripe, &cus, card);
        let chosen = shop.admin.put(
            &shop.path(&format!("/customers/{id}/automatic-payment-method")),
            json!({"payment_method_id": pm}),
        );
        assert_eq!(chosen.status, 200, "{}", chosen.text);
        let user = shop.admin.post(
            &shop.path("/users"),
            json!({"customer_id": id, "name": format!("{name} payer"), "email": email,
                   "invoice_access_level": "customer"}),
        );
        assert_eq!(user.status, 201, "{}", user.text);
        shop.host.user_password(&shop.tenant, &email, PASSWORD);
        let r = shop.admin.post(
            &shop.path("/recurring-invoices"),
            json!({"customer_id": id, "currency": "usd", "description": "Monthly support",
                   "amount": 10_000, "next_date": "2026-12-01", "due_days": 14}),
        );
        assert_eq!(r.status, 201, "{}", r.text);
        numbers.push((email, format!("R{}-20261201", r.body["id"])));
    }
    shop.host
        .app
        .run_autopay(&shop.tenant, Some("2026-12-01"), false, &mut |_, _| {})
        .expect("the run");
    shop.deliver_mail();
    let mail = shop.smtp.wait_for(2, Duration::from_secs(10));
    assert_eq!(mail.len(), 2, "an authentication and a failure email");

    for (email, number) in &numbers {
        let message = mail
            .iter()
            .find(|m| m.cc.contains(email))
            .unwrap_or_else(|| panic!("no email copied to {email}"));
        let found = links(&message.body);
        assert!(
            !found.is_empty(),
            "the email to {email} has a link: {}",
            message.body
        );
        let cookie = sign_in(&shop, email, "portal");
        for link in found {
            assert!(link.starts_with(&base), "{link} is not this server's");
            // Signed out, the link leads to the sign-in page …
            let (status, location, _) = page(&base, &link, None);
            let landed = if status == 303 {
                page(&base, &location, None)
            } else {
                (status, location.clone(), String::new())
            };
            assert_eq!(
                landed.0, 200,
                "{link} (signed out) → {location}: {}",
                landed.2
            );
            // … and signed in, to the payer's invoices with the one the email is about.
            let (status, location, html) = page(&base, &link, Some(&cookie));
            assert_eq!(status, 200, "{link} → {status} {location}: {html}");
            assert!(
                html.contains(number.as_str()),
                "{link} shows {number}: {html}"
            );
        }
    }
}
