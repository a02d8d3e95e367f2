//! Taking payments end to end: portal "Pay all outstanding" as
//! one PaymentIntent with exact fee lines, agent payments and their permission, payment records
//! driven by localstripe's own signed webhooks and by fixture-built ones, duplicates and shuffles,
//! refused forgeries, and the payment emails as they arrive at a real SMTP server.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use paydesk_host::mailer::Mailer;
use paydesk_host::tenant::{Secret, TenantId};
use paydesk_tests::host::{ApiClient, TestHost};
use paydesk_tests::recorder::StripeRecorder;
use paydesk_tests::services::{LocalStripe, SmtpServer};
use paydesk_tests::webhook::{fixture_event, fixture_intent, signature_header};

use crate::stripe_calls::assert_valid_for_stripe;

pub(crate) const NOTIFY: &str = "payments@tenant.test";
const ACCOUNTS: &str = "ap@customer.test";
const ACCOUNTS_CC: &str = "controller@customer.test";
/// The email of `shop()`'s portal user.
pub(crate) const PAYER: &str = "payer@customer.test";

pub(crate) fn stripe_request(
    stripe: &LocalStripe,
    method: &str,
    path: &str,
    form: &[(&str, &str)],
) -> Value {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let url = format!("{}{path}", stripe.base_url);
    let mut response = match method {
        "GET" => agent
            .get(&url)
            .header("Authorization", "Bearer sk_test_setup")
            .call(),
        _ => agent
            .post(&url)
            .header("Authorization", "Bearer sk_test_setup")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(serde_urlencoded::to_string(form).unwrap()),
    }
    .expect("localstripe answers");
    serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap()
}

/// A card with `number` attached to Stripe customer `customer` in localstripe; its id.
pub(crate) fn attach_card(stripe: &LocalStripe, customer: &str, number: &str) -> String {
    let pm = stripe_request(
        stripe,
        "POST",
        "/v1/payment_methods",
        &[
            ("type", "card"),
            ("card[number]", number),
            ("card[exp_month]", "12"),
            ("card[exp_year]", "2030"),
            ("card[cvc]", "123"),
        ],
    );
    let id = pm["id"].as_str().expect("a payment method").to_string();
    stripe_request(
        stripe,
        "POST",
        &format!("/v1/payment_methods/{id}/attach"),
        &[("customer", customer)],
    );
    id
}

/// A tenant connected to its own localstripe (through a recorder), with a mapped customer whose
/// card is its automatic payment method, a portal user, an agent with the payment permission, the
/// webhook registered, and an SMTP server.
pub(crate) struct Shop {
    pub(crate) stripe: LocalStripe,
    pub(crate) smtp: SmtpServer,
    pub(crate) recorder: StripeRecorder,
    pub(crate) host: TestHost,
    pub(crate) tenant: TenantId,
    pub(crate) admin: ApiClient,
    pub(crate) user: ApiClient,
    pub(crate) customer_id: i64,
    webhook_secret: String,
    webhook_url: String,
    next_invoice: std::cell::Cell<u32>,
}

pub(crate) fn shop(
    name: &str,
    currency: &str,
    edit: impl FnOnce(&mut paydesk_host::settings::TenantSettings),
) -> Shop {
    let stripe = LocalStripe::start().expect("localstripe");
    let smtp = SmtpServer::start().expect("smtp");
    let recorder =
        StripeRecorder::start_stripping(&stripe.base_url, &["receipt_email"], &["customer"])
            .expect("recorder");
    let mut host = TestHost::new(&recorder.base_url);
    // Browsers load localstripe's fake Stripe.js straight from localstripe (it answers with CORS).
    host.stripe_js_url = format!("{}/js.stripe.com/v3/", stripe.base_url);
    let tenant = host.tenant(name, "sk_test_shop", |s| {
        s.stripe_currency = currency.into();
        s.stripe_processing_fee_percentage = "2.9".into();
        s.stripenotificationemail = Some(NOTIFY.into());
        s.stripe_send_recipient_email = true;
        edit(s);
    });
    let server = host.serve();
    let admin = server.with_token(&host.admin_token(&tenant));
    let path = |rest: &str| format!("/api/v1/tenants/{tenant}{rest}");

    let cus = stripe_request(&stripe, "POST", "/v1/customers", &[("name", "Acme Ltd")]);
    let cus_id = cus["id"].as_str().unwrap();
    let card = attach_card(&stripe, cus_id, "4242424242424242");
    let card_id = card.as_str();
    let created = admin.post(
        &path("/customers"),
        json!({"name": "Acme Ltd", "accounts_email": ACCOUNTS, "accounts_cc_email": ACCOUNTS_CC}),
    );
    let customer_id = created.body["customer"]["id"].as_i64().unwrap();
    assert_eq!(
        admin
            .post(
                &path("/mappings"),
                json!({"customer_id": customer_id, "stripe_customer_id": cus_id})
            )
            .status,
        201
    );
    let set = admin.put(
        &path(&format!(
            "/customers/{customer_id}/automatic-payment-method"
        )),
        json!({"payment_method_id": card_id}),
    );
    assert_eq!(set.status, 200, "{}", set.text);
    let user = admin.post(
        &path("/users"),
        json!({"customer_id": customer_id, "name": "Pat Payer", "email": PAYER, "invoice_access_level": "customer"}),
    );
    assert_eq!(user.status, 201, "{}", user.text);
    let token = admin.post(
        &path(&format!("/users/{}/tokens", user.body["id"])),
        json!({}),
    );
    let user = server.with_token(token.body["token"].as_str().unwrap());

    let webhook_secret = format!("whsec_{name}_secret");
    host.db()
        .set_webhook_secret(&tenant, &Secret::new(&webhook_secret))
        .unwrap();
    let webhook_url = format!("{}/webhooks/stripe/{tenant}", server.base);
    stripe
        .register_webhook(name, &webhook_url, &webhook_secret, &[])
        .expect("register webhook");
    recorder.clear();
    Shop {
        stripe,
        smtp,
        recorder,
        host,
        tenant,
        admin,
        user,
        customer_id,
        webhook_secret,
        webhook_url,
        next_invoice: std::cell::Cell::new(1),
    }
}

impl Shop {
    pub(crate) fn path(&self, rest: &str) -> String {
        format!("/api/v1/tenants/{}{rest}", self.tenant)
    }

    /// A new invoice of the shop's customer for `amount` minor units; its id.
    pub(crate) fn invoice(&self, currency: &str, amount: i64) -> i64 {
        let n = self.next_invoice.get();
        self.next_invoice.set(n + 1);
        let created = self.admin.post(
            &self.path("/invoices"),
            json!({"number": format!("INV-{n:04}"), "customer_id": self.customer_id, "currency": currency,
                   "issue_date": "2026-11-01", "due_date": "2026-11-30",
                   "lines": [{"description": "Managed services", "amount": amount}]}),
        );
        assert_eq!(
            created.status,
            201,
            "{}\n{}",
            created.text,
            paydesk_tests::logs::contents()
        );
        created.body["id"].as_i64().unwrap()
    }

    pub(crate) fn invoice_view(&self, id: i64) -> Value {
        self.admin.get(&self.path(&format!("/invoices/{id}"))).body
    }

    /// Deliver the outbox now, as `serve`'s mailer does: a message whose delivery fails (a busy
    /// machine) stays queued and is tried again, within a bound ([`paydesk_tests::EVENT_WAIT`]).
    pub(crate) fn deliver_mail(&self) {
        let mailer = Mailer::new(&format!("smtp://127.0.0.1:{}", self.smtp.port)).unwrap();
        let deadline = Instant::now() + paydesk_tests::EVENT_WAIT;
        loop {
            mailer.deliver(self.host.db(), 100, 300).unwrap();
            if self.host.db().queued_emails(1).unwrap().is_empty() || Instant::now() > deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn post_event(&self, body: &str, signature: Option<String>) -> (u16, String) {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let mut req = agent
            .post(&self.webhook_url)
            .header("Content-Type", "application/json");
        if let Some(sig) = signature {
            req = req.header("Stripe-Signature", &sig);
        }
        let mut response = req.send(body.to_string()).expect("receiver answers");
        (
            response.status().as_u16(),
            response.body_mut().read_to_string().unwrap_or_default(),
        )
    }

    /// Sign `body` with the endpoint secret now and POST it to the receiver.
    pub(crate) fn send_event(&self, body: &str) -> (u16, String) {
        let sig = signature_header(body, &self.webhook_secret, paydesk_host::db::now());
        self.post_event(body, Some(sig))
    }

    /// Wait (bounded) until `check` holds for the invoice.
    pub(crate) fn wait_for_invoice(&self, id: i64, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + paydesk_tests::EVENT_WAIT;
        loop {
            let view = self.invoice_view(id);
            if check(&view) || Instant::now() > deadline {
                return view;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(crate) fn intent_creations(&self) -> Vec<paydesk_tests::recorder::RecordedRequest> {
        self.recorder
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path_and_query == "/v1/payment_intents")
            .collect()
    }
}

/// What Stripe.js does for a payer who enters new details (localstripe's fake confirms only a
/// method already on the intent): put the method on the intent, then confirm it.
pub(crate) fn confirm_at_stripe(stripe: &LocalStripe, intent: &str, payment_method: &str) -> Value {
    stripe_request(
        stripe,
        "POST",
        &format!("/v1/payment_intents/{intent}"),
        &[("payment_method", payment_method)],
    );
    stripe_request(
        stripe,
        "POST",
        &format!("/v1/payment_intents/{intent}/confirm"),
        &[],
    )
}

pub(crate) fn fee_lines(invoice: &Value) -> Vec<i64> {
    invoice["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["is_processing_fee"] == true)
        .map(|l| l["amount"].as_i64().unwrap())
        .collect()
}

/// Pay all three invoices in the portal with the saved method and check every figure.
fn pay_all_outstanding(currency: &str, amounts: [i64; 3], fees: [i64; 3]) {
    let shop = shop(&format!("payall-{currency}"), currency, |_| {});
    let ids: Vec<i64> = amounts.iter().map(|a| shop.invoice(currency, *a)).collect();
    let quote = shop.user.post(
        &shop.path("/payments/quote"),
        json!({"invoice_ids": ids, "method_type": "card"}),
    );
    assert_eq!(quote.status, 200, "{}", quote.text);
    let quoted: Vec<i64> = quote.body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["fee"].as_i64().unwrap())
        .collect();
    assert_eq!(quoted, fees);
    let expected_total: i64 = amounts.iter().sum::<i64>() + fees.iter().sum::<i64>();
    assert_eq!(quote.body["total"], expected_total);

    let paid = shop.user.post(
        &shop.path("/payments"),
        json!({"invoice_ids": ids, "pay_with": "saved_method"}),
    );
    assert_eq!(paid.status, 201, "{}", paid.text);
    assert_eq!(paid.body["status"], "succeeded", "{}", paid.text);
    assert_eq!(paid.body["amount"], expected_total);
    // One PaymentIntent for all three, for exactly Σ(amount due + fee).
    let creations = shop.intent_creations();
    assert_eq!(creations.len(), 1);
    let intent = stripe_request(
        &shop.stripe,
        "GET",
        &format!(
            "/v1/payment_intents/{}",
            paid.body["intent_id"].as_str().unwrap()
        ),
        &[],
    );
    assert_eq!(intent["amount"], expected_total);
    assert_eq!(intent["currency"], currency);
    assert_eq!(intent["status"], "succeeded");
    // One record per invoice, each invoice paid with its own fee line.
    let payments = paid.body["payments"].as_array().unwrap();
    assert_eq!(payments.len(), 3);
    for (i, id) in ids.iter().enumerate() {
        let view = shop.invoice_view(*id);
        assert_eq!(view["status"], "paid", "{view}");
        assert_eq!(view["amount_due"], 0);
        assert_eq!(fee_lines(&view), vec![fees[i]]);
        assert_eq!(view["payments"][0]["status"], "succeeded");
        assert_eq!(view["payments"][0]["fee"], fees[i]);
    }
    assert_valid_for_stripe(&shop.recorder.requests());

    shop.deliver_mail();
    let mail = shop.smtp.wait_for(1, paydesk_tests::EVENT_WAIT);
    assert_eq!(mail.len(), 1, "one payment, one confirmation");
    assert_eq!(mail[0].to, vec![NOTIFY.to_string()]);
    let mut cc = mail[0].cc.clone();
    cc.sort();
    assert_eq!(
        cc,
        vec![
            ACCOUNTS.to_string(),
            ACCOUNTS_CC.to_string(),
            PAYER.to_string()
        ]
    );
    assert!(mail[0].subject.contains("INV-0001"), "{}", mail[0].subject);
    assert!(
        mail[0]
            .from
            .contains(&format!("invoices@{}.paydesk.test", shop.tenant)),
        "{}",
        mail[0].from
    );
}

#[test]
fn pay_all_outstanding_in_usd_charges_exactly_the_amounts_and_fee_lines() {
    // 2.9 %: 1234 → 35.786 → 36; 5000 → 145; 99 → 2.871 → 3.
    pay_all_outstanding("usd", [1234, 5000, 99], [36, 145, 3]);
}

#[test]
fn pay_all_outstanding_in_jpy_charges_exactly_the_amounts_and_fee_lines() {
    // 2.9 % of ¥1,000 = 29; of ¥2,550 = 73.95 → 74; of ¥50,000 = 1,450.
    pay_all_outstanding("jpy", [1000, 2550, 50_000], [29, 74, 1450]);
}

#[test]
fn localstripes_signed_webhooks_drive_the_records_and_fees_come_only_with_success() {
    let shop = shop("webhooks", "usd", |s| s.stripe_send_recipient_email = false);
    let agent = shop.admin.clone();
    let ok_invoice = shop.invoice("usd", 10_000);
    let started = agent.post(
        &shop.path("/payments"),
        json!({"invoice_ids": [ok_invoice], "pay_with": {"new_details": ["card"]}}),
    );
    assert_eq!(started.status, 201, "{}", started.text);
    assert_eq!(started.body["status"], "requires_payment_method");
    assert!(
        started.body["client_secret"]
            .as_str()
            .unwrap()
            .contains("_secret_")
    );
    let intent = started.body["intent_id"].as_str().unwrap().to_string();
    assert!(
        fee_lines(&shop.invoice_view(ok_invoice)).is_empty(),
        "no fee line before the payment succeeds"
    );

    // The payer confirms in Stripe.js; localstripe then signs and sends payment_intent.succeeded.
    confirm_at_stripe(&shop.stripe, &intent, "pm_card_visa");
    let view = shop.wait_for_invoice(ok_invoice, |v| v["status"] == "paid");
    assert_eq!(
        view["status"], "paid",
        "the succeeded webhook must mark it paid: {view}"
    );
    assert_eq!(fee_lines(&view), vec![290]);
    assert!(view["payments"][0]["webhook_received_at"].is_i64());

    // A card that declines at charge: payment_intent.payment_failed; the invoice stays as it was.
    let bad_invoice = shop.invoice("usd", 4_000);
    let started = agent.post(
        &shop.path("/payments"),
        json!({"invoice_ids": [bad_invoice], "pay_with": {"new_details": ["card"]}}),
    );
    let intent = started.body["intent_id"].as_str().unwrap().to_string();
    let declining = stripe_request(
        &shop.stripe,
        "POST",
        "/v1/payment_methods",
        &[
            ("type", "card"),
            ("card[number]", "4000000000000341"),
            ("card[exp_month]", "12"),
            ("card[exp_year]", "2030"),
            ("card[cvc]", "123"),
        ],
    );
    confirm_at_stripe(&shop.stripe, &intent, declining["id"].as_str().unwrap());
    let view = shop.wait_for_invoice(bad_invoice, |v| v["payments"][0]["status"] == "failed");
    assert_eq!(view["payments"][0]["status"], "failed", "{view}");
    assert_eq!(view["status"], "awaiting_payment");
    assert_eq!(view["amount_due"], 4_000);
    assert!(fee_lines(&view).is_empty());
    assert!(view["payments"][0]["failure_reason"].is_string());
    // Failures always notify, even with success emails off. The email is queued by the same
    // webhook call that recorded the failure, after the record: wait until it is in the outbox
    // (the view above may have been read between the two), then deliver.
    let deadline = Instant::now() + paydesk_tests::EVENT_WAIT;
    let queued = || {
        shop.host
            .db()
            .emails(&shop.tenant, 10)
            .unwrap()
            .iter()
            .any(|m| m.subject.contains("failed"))
    };
    while !queued() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    shop.deliver_mail();
    let mail = shop.smtp.wait_for(1, paydesk_tests::EVENT_WAIT);
    assert_eq!(mail.len(), 1);
    assert!(mail[0].subject.contains("failed"), "{}", mail[0].subject);
}

/// A new-details payment of a fresh invoice: (invoice id, intent id, group id, total).
pub(crate) fn pending_payment(shop: &Shop, amount: i64) -> (i64, String, String, i64) {
    let invoice = shop.invoice("usd", amount);
    let started = shop.admin.post(
        &shop.path("/payments"),
        json!({"invoice_ids": [invoice], "pay_with": {"new_details": ["card"]}}),
    );
    assert_eq!(started.status, 201, "{}", started.text);
    (
        invoice,
        started.body["intent_id"].as_str().unwrap().to_string(),
        started.body["group_id"].as_str().unwrap().to_string(),
        started.body["amount"].as_i64().unwrap(),
    )
}

#[test]
fn fixture_built_processing_canceled_and_requires_action_events_update_the_records() {
    let shop = shop("fixtures", "usd", |_| {});
    for (event_type, status, expected) in [
        ("payment_intent.processing", "processing", "processing"),
        (
            "payment_intent.requires_action",
            "requires_action",
            "requires_action",
        ),
        ("payment_intent.canceled", "canceled", "canceled"),
    ] {
        let (invoice, intent, group, total) = pending_payment(&shop, 2_000);
        // Stripe's event comes after the answer that created the intent (whose `Date` the record
        // holds), never before it: the same second at the earliest, when the state's rank decides.
        let after_the_read = paydesk_host::db::now();
        let pi = fixture_intent(&intent, status, total, "usd", &group);
        let (code, body) = shop.send_event(&fixture_event(
            event_type,
            &format!("evt_{status}_{invoice}"),
            &pi,
            after_the_read,
        ));
        assert_eq!(code, 200, "{body}");
        assert!(body.contains("applied"), "{body}");
        let view = shop.invoice_view(invoice);
        assert_eq!(view["payments"][0]["status"], expected, "{view}");
        assert_eq!(view["status"], "awaiting_payment");
    }
}

#[test]
fn duplicated_and_shuffled_events_always_end_in_the_same_state() {
    let shop = shop("shuffle", "usd", |s| s.stripe_send_recipient_email = true);
    let t0 = paydesk_host::db::now() - 100;
    let mut seed: u64 = 0x5eed;
    for round in 0..6 {
        let (invoice, intent, group, total) = pending_payment(&shop, 1_000);
        let steps = [
            ("payment_intent.requires_action", "requires_action", t0 + 1),
            ("payment_intent.processing", "processing", t0 + 2),
            ("payment_intent.succeeded", "succeeded", t0 + 3),
        ];
        let mut events: Vec<String> = steps
            .iter()
            .map(|(t, s, at)| {
                fixture_event(
                    t,
                    &format!("evt_{round}_{s}"),
                    &fixture_intent(&intent, s, total, "usd", &group),
                    *at,
                )
            })
            .collect();
        events.extend(events.clone());
        // A fixed pseudo-random shuffle per round (Fisher–Yates over an LCG).
        for i in (1..events.len()).rev() {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            events.swap(i, (seed >> 33) as usize % (i + 1));
        }
        for e in &events {
            let (code, body) = shop.send_event(e);
            assert_eq!(code, 200, "{body}");
        }
        let view = shop.invoice_view(invoice);
        assert_eq!(
            view["payments"][0]["status"], "succeeded",
            "round {round}: {view}"
        );
        assert_eq!(view["status"], "paid");
        assert_eq!(fee_lines(&view), vec![29], "the fee line is added once");
    }
    // A late processing after success changes nothing.
    let (invoice, intent, group, total) = pending_payment(&shop, 1_000);
    shop.send_event(&fixture_event(
        "payment_intent.succeeded",
        "evt_late_1",
        &fixture_intent(&intent, "succeeded", total, "usd", &group),
        t0 + 10,
    ));
    let (_, body) = shop.send_event(&fixture_event(
        "payment_intent.processing",
        "evt_late_2",
        &fixture_intent(&intent, "processing", total, "usd", &group),
        t0 + 20,
    ));
    assert!(body.contains("stale"), "{body}");
    assert_eq!(
        shop.invoice_view(invoice)["payments"][0]["status"],
        "succeeded"
    );
    // One outcome, one email, however often its event arrived.
    shop.deliver_mail();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(shop.smtp.messages().len(), 7);
}

#[test]
fn forged_stale_malformed_and_oversized_webhooks_are_refused_and_change_nothing() {
    let shop = shop("forgery", "usd", |_| {});
    let (invoice, intent, group, total) = pending_payment(&shop, 3_000);
    let event = fixture_event(
        "payment_intent.succeeded",
        "evt_forged",
        &fixture_intent(&intent, "succeeded", total, "usd", &group),
        paydesk_host::db::now(),
    );
    let now = paydesk_host::db::now();
    let cases = [
        (
            "forged",
            event.clone(),
            Some(signature_header(&event, "whsec_wrong", now)),
            400,
        ),
        (
            "stale",
            event.clone(),
            Some(signature_header(&event, &shop.webhook_secret, now - 301)),
            400,
        ),
        ("unsigned", event.clone(), None, 400),
        (
            "malformed",
            "{not json".to_string(),
            Some(signature_header("{not json", &shop.webhook_secret, now)),
            400,
        ),
        ("oversized", "x".repeat(300 << 10), None, 413),
    ];
    for (what, body, sig, status) in cases {
        let (code, text) = shop.post_event(&body, sig);
        assert_eq!(code, status, "{what}: {text}");
    }
    let view = shop.invoice_view(invoice);
    assert_eq!(view["payments"][0]["status"], "requires_payment_method");
    assert_eq!(view["status"], "awaiting_payment");
    // The genuine event still applies afterwards (a refused delivery did not mark it seen).
    let (code, body) = shop.send_event(&event);
    assert_eq!(code, 200, "{body}");
    assert_eq!(shop.invoice_view(invoice)["status"], "paid");
}

#[test]
fn with_stripe_receipts_the_intent_carries_receipt_email_and_we_send_no_confirmation() {
    let shop = shop("receipts", "usd", |s| s.use_stripe_receipt_emails = true);
    let invoice = shop.invoice("usd", 2_500);
    let paid = shop.user.post(
        &shop.path("/payments"),
        json!({"invoice_ids": [invoice], "pay_with": "saved_method"}),
    );
    assert_eq!(paid.status, 201, "{}", paid.text);
    assert_eq!(paid.body["status"], "succeeded");
    let creations = shop.intent_creations();
    assert_eq!(creations.len(), 1);
    assert!(
        creations[0]
            .body
            .contains(&format!("receipt_email={}", PAYER.replace('@', "%40"))),
        "{}",
        creations[0].body
    );
    assert_valid_for_stripe(&creations);
    shop.deliver_mail();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        shop.smtp.messages().is_empty(),
        "Stripe sends the receipt; we send nothing"
    );
}

#[test]
fn an_agent_without_the_permission_and_a_user_of_another_customer_are_refused() {
    let shop = shop("refusals", "usd", |_| {});
    let invoice = shop.invoice("usd", 1_500);
    let plain_agent = shop
        .admin
        .with_token(&shop.host.agent_token(&shop.tenant, false, false));
    let refused = plain_agent.post(
        &shop.path("/payments"),
        json!({"invoice_ids": [invoice], "pay_with": "saved_method"}),
    );
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(
        refused.text.contains("Can Receive Manual Stripe Payments"),
        "{}",
        refused.text
    );

    // A user of another customer: the invoice is not theirs to see.
    let other = shop
        .admin
        .post(&shop.path("/customers"), json!({"name": "Other Co"}));
    let other_user = shop.admin.post(
        &shop.path("/users"),
        json!({"customer_id": other.body["customer"]["id"], "name": "Olly", "email": "olly@other.test", "invoice_access_level": "customer"}),
    );
    let token = shop.admin.post(
        &shop.path(&format!("/users/{}/tokens", other_user.body["id"])),
        json!({}),
    );
    let stranger = shop.admin.with_token(token.body["token"].as_str().unwrap());
    let refused = stranger.post(
        &shop.path("/payments"),
        json!({"invoice_ids": [invoice], "pay_with": "saved_method"}),
    );
    assert_eq!(refused.status, 404, "{}", refused.text);
    assert_eq!(
        stranger
            .get(&shop.path(&format!("/invoices/{invoice}")))
            .status,
        404
    );
    assert!(
        shop.intent_creations().is_empty(),
        "nothing may be created in Stripe"
    );
    assert_eq!(shop.invoice_view(invoice)["payments"], json!([]));
}

#[test]
fn a_missed_webhook_is_caught_by_reconciliation() {
    let shop = shop("reconcile", "usd", |_| {});
    let (invoice, intent, _, _) = pending_payment(&shop, 7_000);
    // Confirmed at Stripe, but the webhook is lost: only this tenant's endpoint would have got it.
    shop.stripe
        .register_webhook(
            "reconcile",
            "http://127.0.0.1:9/nowhere",
            "whsec_nowhere",
            &[],
        )
        .unwrap();
    confirm_at_stripe(&shop.stripe, &intent, "pm_card_visa");
    // localstripe tried to deliver the event and failed (its log says so): the webhook is lost.
    let deadline = Instant::now() + paydesk_tests::EVENT_WAIT;
    while !shop
        .stripe
        .log()
        .contains("webhook \"payment_intent.succeeded\" failed")
    {
        assert!(
            Instant::now() < deadline,
            "no delivery attempt: {}",
            shop.stripe.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(shop.invoice_view(invoice)["status"], "awaiting_payment");
    // An hour (the tenant's `reconcile_after_minutes`) and a second later, whichever second the
    // record was written in.
    let report = shop
        .host
        .app
        .reconcile(&shop.tenant, paydesk_host::db::now() + 3600 + 1)
        .expect("reconcile");
    assert_eq!((report.checked, report.updated), (1, 1));
    let view = shop.invoice_view(invoice);
    assert_eq!(view["status"], "paid", "{view}\n{}", shop.stripe.log());
    assert_eq!(fee_lines(&view), vec![203]);
}

#[test]
fn the_webhook_endpoint_request_is_valid_for_stripe_and_its_secret_stays_in_the_host() {
    let shop = shop("endpoint", "usd", |_| {});
    // localstripe has no /v1/webhook_endpoints: the request is checked against Stripe's description.
    let answer = shop.admin.post(
        &shop.path("/webhooks/stripe-endpoint"),
        json!({"url": "https://help.example.com/webhooks/stripe/endpoint"}),
    );
    assert_ne!(answer.status, 200);
    let sent: Vec<_> = shop
        .recorder
        .requests()
        .into_iter()
        .filter(|r| r.path_and_query.starts_with("/v1/webhook_endpoints"))
        .collect();
    assert_eq!(sent.len(), 1);
    assert_valid_for_stripe(&sent);
    for event in [
        "succeeded",
        "payment_failed",
        "processing",
        "canceled",
        "requires_action",
    ] {
        assert!(
            sent[0].body.contains(&format!("payment_intent.{event}")),
            "{}",
            sent[0].body
        );
    }
    for event in ["created", "updated", "closed"] {
        assert!(
            sent[0].body.contains(&format!("charge.dispute.{event}")),
            "{}",
            sent[0].body
        );
    }
}

#[test]
fn an_agent_with_the_permission_charges_the_saved_method_off_session() {
    let shop = shop("agentpay", "eur", |_| {});
    let invoice = shop.invoice("eur", 12_000);
    let paid = shop.admin.post(
        &shop.path("/payments"),
        json!({"invoice_ids": [invoice], "pay_with": "saved_method"}),
    );
    assert_eq!(paid.status, 201, "{}", paid.text);
    assert_eq!(paid.body["status"], "succeeded");
    assert_eq!(
        paid.body["client_secret"],
        Value::Null,
        "nothing for a browser to do"
    );
    let creation = &shop.intent_creations()[0];
    assert!(
        creation.body.contains("off_session=true") && creation.body.contains("confirm=true"),
        "{}",
        creation.body
    );
    let view = shop.invoice_view(invoice);
    assert_eq!(view["payments"][0]["initiator"], "agent");
    assert_eq!(
        view["payments"][0]["method"],
        "Visa ending 4242, expires 12/2030"
    );
    assert_eq!(fee_lines(&view), vec![348]);
    assert_valid_for_stripe(&shop.recorder.requests());
}

#[test]
fn paid_in_flight_and_no_method_are_refused_with_a_reason() {
    let shop = shop("refusereason", "usd", |_| {});
    // Paid already.
    let paid = shop.invoice("usd", 1_000);
    assert_eq!(
        shop.user
            .post(
                &shop.path("/payments"),
                json!({"invoice_ids": [paid], "pay_with": "saved_method"})
            )
            .status,
        201
    );
    let again = shop.user.post(
        &shop.path("/payments"),
        json!({"invoice_ids": [paid], "pay_with": "saved_method"}),
    );
    assert_eq!(again.status, 409, "{}", again.text);
    assert!(again.text.contains("already paid"), "{}", again.text);
    // A payment in flight (a bank debit processing).
    let (busy, intent, group, total) = pending_payment(&shop, 2_000);
    shop.send_event(&fixture_event(
        "payment_intent.processing",
        "evt_busy",
        &fixture_intent(&intent, "processing", total, "usd", &group),
        paydesk_host::db::now(),
    ));
    let in_flight = shop.user.post(
        &shop.path("/payments"),
        json!({"invoice_ids": [busy], "pay_with": "saved_method"}),
    );
    assert_eq!(in_flight.status, 409, "{}", in_flight.text);
    assert!(in_flight.text.contains("in progress"), "{}", in_flight.text);
    // No automatic payment method: the portal can't pay (the guide's rule).
    let cleared = shop.admin.put(
        &shop.path(&format!(
            "/customers/{}/automatic-payment-method",
            shop.customer_id
        )),
        json!({"payment_method_id": null}),
    );
    assert_eq!(cleared.status, 200, "{}", cleared.text);
    let fresh = shop.invoice("usd", 3_000);
    let refused = shop.user.post(
        &shop.path("/payments"),
        json!({"invoice_ids": [fresh], "pay_with": {"new_details": ["card"]}}),
    );
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert!(
        refused.text.contains("automatic payment method"),
        "{}",
        refused.text
    );
    assert_eq!(
        shop.intent_creations().len(),
        2,
        "only the first payment and the pending one reached Stripe"
    );
}

/// A server died after writing a payment's records and before its request reached Stripe: the
/// invoice is held while that request could still arrive, then paying again asks Stripe, finds
/// nothing, rules the dead attempt out and charges once.
#[test]
fn a_payment_that_died_before_reaching_stripe_is_ruled_out_once_its_request_cannot_arrive() {
    use paydesk_host::contract::{Initiator, Money, NewPayment, PaymentMethodType, PaymentStatus};
    let shop = shop("diedearly", "usd", |_| {});
    let invoice = shop.invoice("usd", 4_000);
    let usd = |amount| Money {
        amount,
        currency: "usd".into(),
    };
    shop.host
        .db()
        .create_payments(
            &shop.tenant,
            &[NewPayment {
                invoice_id: invoice,
                group_id: "pg_died_before_stripe".into(),
                intent_id: None,
                status: PaymentStatus::RequiresPaymentMethod,
                method: Some("Visa ending 4242".into()),
                method_type: Some(PaymentMethodType::Card),
                amount: usd(4_000),
                fee: usd(116),
                initiator: Initiator::PortalUser(1),
                attempt: 0,
            }],
        )
        .unwrap();
    let pay = || {
        shop.user.post(
            &shop.path("/payments"),
            json!({"invoice_ids": [invoice], "pay_with": "saved_method"}),
        )
    };
    let held = pay();
    assert_eq!(held.status, 409, "{}", held.text);
    assert!(held.text.contains("being confirmed"), "{}", held.text);
    assert!(shop.intent_creations().is_empty());

    // Three minutes on: longer than any request of it can take (2 × (60 s + 10 s) + 5 s).
    shop.host.sql(
        "UPDATE invoice_payments SET created_at = created_at - 180, updated_at = updated_at - 180
         WHERE group_id = 'pg_died_before_stripe'",
    );
    let paid = pay();
    assert_eq!(paid.status, 201, "{}", paid.text);
    assert_eq!(paid.body["status"], "succeeded", "{}", paid.text);
    let asked = shop
        .recorder
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path_and_query.starts_with("/v1/payment_intents"))
        .count();
    assert!(asked >= 1, "Stripe was asked for the dead attempt's intent");
    assert_eq!(shop.intent_creations().len(), 1, "charged once");
    let view = shop.invoice_view(invoice);
    assert_eq!(view["status"], "paid", "{view}");
    let payments = view["payments"].as_array().unwrap();
    let dead = payments
        .iter()
        .find(|p| p["group_id"] == "pg_died_before_stripe")
        .unwrap_or_else(|| panic!("{view}"));
    assert_eq!(dead["status"], "canceled", "{view}");
    assert_eq!(dead["failure_reason"], "Stripe never made this payment");
    assert_eq!(
        payments
            .iter()
            .filter(|p| p["status"] == "succeeded")
            .count(),
        1
    );
}

#[test]
fn the_customer_portal_and_setup_requests_are_valid_for_stripe() {
    let shop = shop("portalspec", "usd", |s| {
        s.stripe_customer_portal_enabled = true;
        s.show_auto_payment_on_portal = paydesk_host::settings::PortalAccess::Show;
    });
    // localstripe has no billing portal: the request is checked against Stripe's description.
    let outcome = shop.host.app.customer_portal_session(
        &shop.tenant,
        shop.customer_id,
        "https://help.example.com/portal",
    );
    assert!(outcome.is_err());
    let user = shop.host.db().users(&shop.tenant).unwrap().remove(0);
    let setup = shop
        .host
        .app
        .start_setup(
            &shop.tenant,
            shop.customer_id,
            paydesk_host::contract::Initiator::PortalUser(user.id),
        )
        .expect("a SetupIntent");
    assert!(setup.client_secret.starts_with(&setup.setup_intent_id));
    let sent: Vec<_> = shop
        .recorder
        .requests()
        .into_iter()
        .filter(|r| {
            r.path_and_query.starts_with("/v1/billing_portal")
                || r.path_and_query.starts_with("/v1/setup_intents")
        })
        .collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_valid_for_stripe(&sent);
    // With the portal link off, no session is asked for.
    shop.admin.patch(
        &shop.path("/settings"),
        json!({"stripe_customer_portal_enabled": false}),
    );
    shop.recorder.clear();
    assert!(
        shop.host
            .app
            .customer_portal_session(&shop.tenant, shop.customer_id, "https://x.example")
            .is_err()
    );
    assert!(shop.recorder.requests().is_empty());
}

#[test]
fn applied_event_ids_are_remembered_for_thirty_days_then_forgotten() {
    let shop = shop("eventmemory", "usd", |_| {});
    let (_, intent, group, total) = pending_payment(&shop, 1_500);
    let now = paydesk_host::db::now();
    let event = fixture_event(
        "payment_intent.processing",
        "evt_memory",
        &fixture_intent(&intent, "processing", total, "usd", &group),
        now,
    );
    assert!(shop.send_event(&event).1.contains("applied"));
    assert!(shop.send_event(&event).1.contains("duplicate"));
    let remembered = || {
        shop.host
            .db()
            .kv_list(&shop.tenant, "event/", None, 100)
            .unwrap()
            .len()
    };
    shop.host
        .app
        .reconcile(&shop.tenant, now + 24 * 3600)
        .unwrap();
    assert_eq!(remembered(), 1, "a day later the id is still remembered");
    shop.host
        .app
        .reconcile(&shop.tenant, now + 31 * 24 * 3600)
        .unwrap();
    assert_eq!(remembered(), 0, "a month later it is forgotten");
}
