//! Bank debits with mandates (issue 17 item 4), end to end against the Stripe stand-in (localstripe
//! refuses `mandate_data` and `mandate`, and its debits never stay `processing`): a SEPA Debit
//! saved through a SetupIntent confirmed with the payer's acceptance of the mandate (the address
//! and user agent of the payer's own request), the daily run charging it off-session under that
//! mandate, the payment sitting in `processing` for days — shown by the API and the portal,
//! never charged again by the portal, an agent or the next runs — then paid only on `succeeded`,
//! or, returned by the bank, the invoice awaiting payment again with the failure email and the
//! next run retrying it like a soft decline. Every request the plugin sent is checked against
//! Stripe's OpenAPI description.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use paydesk_host::db::{NewInvoice, NewRecurring};
use paydesk_host::tenant::{Secret, TenantId};
use paydesk_tests::fake_stripe::{FakeStripe, Seen};
use paydesk_tests::host::{ApiClient, TestHost};
use paydesk_tests::services::SmtpServer;
use paydesk_tests::stripe_spec::StripeSpec;
use paydesk_tests::webhook::{fixture_event, signature_header};

pub(crate) const CUSTOMER: &str = "cus_bankdebit";
pub(crate) const METHOD: &str = "pm_sepadebit";
pub(crate) const MANDATE: &str = "mandate_sepadebit";
const SETUP: &str = "seti_bankdebit";
/// The mandate of the method when it was saved elsewhere (Stripe's customer portal).
const ELSEWHERE: &str = "mandate_savedelsewhere";
const ACCOUNTS: &str = "ap@acme-gmbh.test";

/// What the stand-in holds: the SetupIntent, the PaymentIntents (by id) and which idempotency
/// key made which (a retried create answers the first intent, as Stripe does).
#[derive(Default)]
pub(crate) struct Held {
    setup: Value,
    intents: BTreeMap<String, Value>,
    by_key: HashMap<String, String>,
}

fn form(body: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(body).unwrap_or_default()
}

fn header<'a>(r: &'a Seen, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn customer_object() -> Value {
    json!({"id": CUSTOMER, "object": "customer", "name": "Acme GmbH", "email": null,
           "invoice_settings": {"default_payment_method": METHOD}, "metadata": {}})
}

fn method_object() -> Value {
    json!({"id": METHOD, "object": "payment_method", "type": "sepa_debit", "customer": CUSTOMER,
           "sepa_debit": {"bank_code": "37040044", "country": "DE", "last4": "3000"}})
}

/// Stripe's answers for a customer saving a SEPA Debit and being debited: a new PaymentIntent
/// is `processing` (the bank takes days); the test moves it on.
fn answer(held: &Mutex<Held>, r: &Seen) -> (u16, String) {
    let mut held = held.lock().unwrap();
    let path = r.path.split('?').next().unwrap_or("");
    let found = |v: &Value| (200, v.to_string());
    match (r.method.as_str(), path) {
        ("GET" | "POST", p) if p == format!("/v1/customers/{CUSTOMER}") => {
            found(&customer_object())
        }
        ("GET", p) if p == format!("/v1/payment_methods/{METHOD}") => found(&method_object()),
        ("POST", "/v1/setup_intents") => {
            held.setup = json!({"id": SETUP, "object": "setup_intent", "status": "requires_payment_method",
                "client_secret": format!("{SETUP}_secret_x"), "customer": CUSTOMER,
                "payment_method": null, "mandate": null, "usage": "off_session"});
            found(&held.setup)
        }
        ("GET", p) if p == format!("/v1/setup_intents/{SETUP}") => found(&held.setup),
        // The SetupIntent that saved the method elsewhere (Stripe's customer portal).
        ("GET", "/v1/setup_intents") => found(&json!({"object": "list", "has_more": false,
            "data": [{"id": "seti_elsewhere", "object": "setup_intent", "status": "succeeded",
                      "client_secret": "seti_elsewhere_secret_x", "customer": CUSTOMER,
                      "payment_method": METHOD, "mandate": ELSEWHERE}]})),
        ("POST", p) if p == format!("/v1/setup_intents/{SETUP}/confirm") => {
            held.setup["status"] = "succeeded".into();
            held.setup["payment_method"] = METHOD.into();
            held.setup["mandate"] = MANDATE.into();
            found(&held.setup)
        }
        ("POST", "/v1/payment_intents") => {
            let key = header(r, "Idempotency-Key").unwrap_or("").to_string();
            if let Some(id) = held.by_key.get(&key) {
                return found(&held.intents[id]);
            }
            let fields = form(&r.body);
            let get = |k: &str| {
                fields
                    .iter()
                    .find(|(f, _)| f == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            let metadata: serde_json::Map<String, Value> = fields
                .iter()
                .filter_map(|(k, v)| {
                    let name = k.strip_prefix("metadata[")?.strip_suffix(']')?;
                    Some((name.to_string(), Value::from(v.clone())))
                })
                .collect();
            let id = format!("pi_debit{}", held.intents.len() + 1);
            let pi = json!({"id": id, "object": "payment_intent", "status": "processing",
                "amount": get("amount").parse::<i64>().unwrap(), "amount_received": 0,
                "currency": get("currency"), "customer": CUSTOMER,
                "client_secret": format!("{id}_secret_x"), "last_payment_error": null,
                "payment_method": get("payment_method"), "latest_charge": format!("py_{id}"),
                "payment_method_types": ["sepa_debit"], "metadata": metadata,
                "created": paydesk_host::db::now()});
            held.by_key.insert(key, id.clone());
            held.intents.insert(id, pi.clone());
            found(&pi)
        }
        ("GET", "/v1/payment_intents") => {
            let data: Vec<Value> = held.intents.values().rev().cloned().collect();
            found(&json!({"object": "list", "data": data, "has_more": false}))
        }
        ("GET", p) if p.starts_with("/v1/payment_intents/") => {
            match held.intents.get(&p["/v1/payment_intents/".len()..]) {
                Some(pi) => found(pi),
                None => (
                    404,
                    json!({"error": {"type": "invalid_request_error", "code": "resource_missing",
                                     "message": "No such payment_intent"}})
                    .to_string(),
                ),
            }
        }
        _ => (
            404,
            json!({"error": {"type": "invalid_request_error", "message": format!("no route {} {}", r.method, r.path)}})
                .to_string(),
        ),
    }
}

/// A tenant importing card and SEPA Debit, on the stand-in, with a customer mapped to it (no
/// automatic method yet), a portal user, an agent who may take payments, automatic payments on the
/// due date, and an SMTP server.
pub(crate) struct Bank {
    pub(crate) stripe: FakeStripe,
    pub(crate) held: Arc<Mutex<Held>>,
    pub(crate) smtp: SmtpServer,
    pub(crate) host: TestHost,
    pub(crate) tenant: TenantId,
    pub(crate) admin: ApiClient,
    pub(crate) user: ApiClient,
    pub(crate) customer_id: i64,
    recurring: i64,
    secret: String,
    webhook_url: String,
}

pub(crate) fn bank(name: &str) -> Bank {
    let held = Arc::new(Mutex::new(Held::default()));
    let h = held.clone();
    let stripe = FakeStripe::start(move |r| answer(&h, r));
    let smtp = SmtpServer::start().expect("smtp");
    let host = TestHost::new(&stripe.base_url);
    let tenant = host.tenant(name, "sk_test_bankdebit", |s| {
        s.stripe_currency = "eur".into();
        s.stripepaymentmethodoptions = vec!["card".into(), "sepa_debit".into()];
        s.stripenotificationemail = Some("payments@tenant.test".into());
        s.enableautostripepayment = true;
        s.halointegrator_stripe = true;
        s.stripetakepaymentonduedate = true;
        s.autopay_max_attempts = 3;
        s.autopay_retry_interval_days = 1;
        s.show_auto_payment_on_portal = paydesk_host::settings::PortalAccess::Show;
        s.portal_base_url = Some("https://help.example.test".into());
    });
    let server = host.serve();
    let admin = server.with_token(&host.admin_token(&tenant));
    let path = |rest: &str| format!("/api/v1/tenants/{tenant}{rest}");
    let created = admin.post(
        &path("/customers"),
        json!({"name": "Acme GmbH", "accounts_email": ACCOUNTS}),
    );
    let customer_id = created.body["customer"]["id"].as_i64().unwrap();
    let mapped = admin.post(
        &path("/mappings"),
        json!({"customer_id": customer_id, "stripe_customer_id": CUSTOMER}),
    );
    assert_eq!(mapped.status, 201, "{}", mapped.text);
    let user = admin.post(
        &path("/users"),
        json!({"customer_id": customer_id, "name": "Pat Payer", "email": "payer@acme-gmbh.test", "invoice_access_level": "customer"}),
    );
    assert_eq!(user.status, 201, "{}", user.text);
    let token = admin.post(
        &path(&format!("/users/{}/tokens", user.body["id"])),
        json!({}),
    );
    let user = server.with_token(token.body["token"].as_str().unwrap());
    let secret = format!("whsec_{name}_secret");
    host.db()
        .set_webhook_secret(&tenant, &Secret::new(&secret))
        .unwrap();
    let recurring = host
        .db()
        .create_recurring(
            &tenant,
            &NewRecurring {
                customer_id,
                user_id: None,
                currency: "eur".into(),
                description: "Monthly support".into(),
                amount: 4_000,
                interval_months: 1,
                next_date: "2099-01-01".into(),
                due_days: 0,
            },
        )
        .unwrap()
        .id;
    let webhook_url = format!("{}/webhooks/stripe/{tenant}", server.base);
    Bank {
        stripe,
        held,
        smtp,
        host,
        tenant,
        admin,
        user,
        customer_id,
        recurring,
        secret,
        webhook_url,
    }
}

impl Bank {
    pub(crate) fn path(&self, rest: &str) -> String {
        format!("/api/v1/tenants/{}{rest}", self.tenant)
    }

    /// The portal user saves the SEPA Debit through the API, as the Payment Element's page does:
    /// a SetupIntent, then its confirmation with the method Stripe.js made.
    pub(crate) fn save_debit(&self) {
        let started = self.user.post(
            &self.path(&format!("/customers/{}/setup", self.customer_id)),
            json!({}),
        );
        assert_eq!(started.status, 201, "{}", started.text);
        assert_eq!(started.body["setup_intent_id"], SETUP);
        let confirmed = self.user.post(
            &self.path(&format!("/customers/{}/setup/confirm", self.customer_id)),
            json!({"setup_intent_id": SETUP, "payment_method_id": METHOD}),
        );
        assert_eq!(confirmed.status, 200, "{}", confirmed.text);
        assert_eq!(confirmed.body["status"], "succeeded");
        assert_eq!(
            confirmed.body["automatic_payment_method"],
            "SEPA Debit ending 3000"
        );
    }

    /// A recurring invoice of the customer due before the run of 2026-12-01; its id.
    pub(crate) fn due_invoice(&self, number: &str, amount: i64) -> i64 {
        self.host
            .db()
            .create_invoice(
                &self.tenant,
                &NewInvoice {
                    number: number.into(),
                    customer_id: self.customer_id,
                    user_id: None,
                    currency: "eur".into(),
                    issue_date: "2026-11-01".into(),
                    due_date: "2026-11-30".into(),
                    recurring_invoice_id: Some(self.recurring),
                    lines: vec![("Monthly support".into(), amount)],
                },
            )
            .unwrap()
            .id
    }

    pub(crate) fn invoice(&self, id: i64) -> Value {
        let answer = self.admin.get(&self.path(&format!("/invoices/{id}")));
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.body
    }

    /// The PaymentIntents created, with the form each was created with.
    pub(crate) fn creations(&self) -> Vec<Vec<(String, String)>> {
        self.stripe
            .seen()
            .iter()
            .filter(|r| r.method == "POST" && r.path == "/v1/payment_intents")
            .map(|r| form(&r.body))
            .collect()
    }

    /// The intents the stand-in made (one per idempotency key).
    pub(crate) fn intents(&self) -> Vec<Value> {
        self.held
            .lock()
            .unwrap()
            .intents
            .values()
            .cloned()
            .collect()
    }

    /// Move intent `id` at Stripe and deliver `event_type` about it, created at `created` on
    /// Stripe's clock; the receiver's answer.
    fn tell(&self, event_type: &str, id: &str, created: i64, edit: impl FnOnce(&mut Value)) {
        let pi = {
            let mut held = self.held.lock().unwrap();
            let pi = held.intents.get_mut(id).expect("the intent");
            edit(pi);
            pi.clone()
        };
        let body = fixture_event(
            event_type,
            &format!("evt_{event_type}_{id}_{created}"),
            &pi,
            created,
        );
        let sig = signature_header(&body, &self.secret, paydesk_host::db::now());
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let mut response = agent
            .post(&self.webhook_url)
            .header("Content-Type", "application/json")
            .header("Stripe-Signature", &sig)
            .send(body)
            .expect("receiver answers");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        assert_eq!(status, 200, "{text}");
    }

    /// Wait (bounded) until the invoice's first payment has `status`; the invoice.
    fn wait_for_payment(&self, id: i64, index: usize, status: &str) -> Value {
        let deadline = Instant::now() + paydesk_tests::EVENT_WAIT;
        loop {
            let view = self.invoice(id);
            if view["payments"][index]["status"] == status || Instant::now() > deadline {
                return view;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `path` as a signed-in portal user (`agent: false`) or agent sees it.
    fn page(&self, path: &str, agent: bool) -> String {
        const PASSWORD: &str = "debit pages password";
        let email = if agent {
            self.host.agent_with_password(
                &self.tenant,
                "ada@acme-gmbh.test",
                PASSWORD,
                false,
                true,
            );
            "ada@acme-gmbh.test"
        } else {
            self.host
                .user_password(&self.tenant, "payer@acme-gmbh.test", PASSWORD);
            "payer@acme-gmbh.test"
        };
        let base = self.admin.base.clone();
        let cookie = paydesk_tests::signin::session_cookie(
            &base,
            self.tenant.as_str(),
            email,
            PASSWORD,
            agent,
        );
        let page = paydesk_tests::signin::send(&base, "GET", path, &[cookie], &[], None);
        assert_eq!(page.status, 200, "{}", page.text);
        page.text
    }

    /// Every request the plugin sent to the stand-in is valid for Stripe's API 2023-08-16.
    pub(crate) fn assert_valid_for_stripe(&self) {
        let seen = self.stripe.seen();
        assert!(!seen.is_empty());
        for r in &seen {
            if let Err(v) = StripeSpec::shared().validate(&r.method, &r.path, &r.body) {
                let list: Vec<String> = v.iter().map(ToString::to_string).collect();
                panic!(
                    "{} {} is not valid for Stripe: {}",
                    r.method,
                    r.path,
                    list.join("; ")
                );
            }
        }
    }
}

fn value<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn run(bank: &Bank, date: &str) -> String {
    let report = bank
        .host
        .app
        .run_autopay(&bank.tenant, Some(date), false, &mut |_, _| {})
        .expect("the run");
    format!("{report:?}")
}

const DAY: i64 = 86_400;

#[test]
fn a_sepa_debit_saved_with_its_mandate_is_charged_under_it_and_paid_only_on_succeeded() {
    let bank = bank("debit-mandate");
    bank.save_debit();

    // The SetupIntent was confirmed with the mandate accepted online by the payer's own request:
    // the address it came from and its User-Agent.
    let seen = bank.stripe.seen();
    let confirm = seen
        .iter()
        .find(|r| r.path == format!("/v1/setup_intents/{SETUP}/confirm"))
        .expect("the SetupIntent confirmed by the plugin");
    let f = form(&confirm.body);
    assert_eq!(value(&f, "payment_method"), Some(METHOD));
    assert_eq!(
        value(&f, "mandate_data[customer_acceptance][type]"),
        Some("online")
    );
    assert_eq!(
        value(&f, "mandate_data[customer_acceptance][online][ip_address]"),
        Some("127.0.0.1")
    );
    let agent = value(&f, "mandate_data[customer_acceptance][online][user_agent]").unwrap();
    assert!(
        agent.starts_with("ureq"),
        "the request's own User-Agent: {agent}"
    );
    let customer = bank
        .admin
        .get(&bank.path(&format!("/customers/{}", bank.customer_id)));
    assert_eq!(customer.body["stripe_payment_method_id"], METHOD);

    // The daily run charges it off-session under the mandate; the bank takes days.
    let invoice = bank.due_invoice("D-0001", 4_000);
    let report = run(&bank, "2026-12-01");
    let created = bank.creations();
    assert_eq!(created.len(), 1, "{report}");
    let c = &created[0];
    assert_eq!(value(c, "mandate"), Some(MANDATE));
    assert_eq!(value(c, "off_session"), Some("true"));
    assert_eq!(value(c, "confirm"), Some("true"));
    assert_eq!(value(c, "payment_method"), Some(METHOD));
    assert_eq!(value(c, "payment_method_types[]"), Some("sepa_debit"));
    let pi = bank.intents()[0]["id"].as_str().unwrap().to_string();

    // Processing: the API says so, the invoice awaits payment, nothing else charges it.
    let view = bank.invoice(invoice);
    assert_eq!(view["status"], "awaiting_payment");
    assert_eq!(view["payments"][0]["status"], "processing", "{view}");
    let t0 = paydesk_host::db::now();
    bank.tell("payment_intent.processing", &pi, t0, |_| {});
    for day in ["2026-12-02", "2026-12-03", "2026-12-05"] {
        let report = run(&bank, day);
        assert!(report.contains("pending"), "{day}: {report}");
    }
    let portal = bank.user.post(
        &bank.path("/payments"),
        json!({"invoice_ids": [invoice], "pay_with": "saved_method"}),
    );
    assert_eq!(portal.status, 409, "{}", portal.text);
    let agent = bank.admin.post(
        &bank.path(&format!("/invoices/{invoice}/charges")),
        json!({"pay_with": "saved_method"}),
    );
    assert_eq!(agent.status, 409, "{}", agent.text);
    assert_eq!(bank.creations().len(), 1, "charged once");
    assert_eq!(bank.invoice(invoice)["status"], "awaiting_payment");
    // The pages say so: the portal's row has no Pay but "Payment processing", the agent's invoice
    // page lists the payment as processing.
    let portal = bank.page("/portal", false);
    let row = &portal[portal.find(r#"data-invoice="D-0001""#).expect("the row")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("Payment processing"), "{row}");
    assert!(!row.contains("pay-one"), "{row}");
    let agent_page = bank.page(&format!("/app/invoices/{invoice}"), true);
    assert!(
        agent_page.contains(r#"<span class="badge processing">processing</span>"#),
        "{agent_page}"
    );

    // Days later the money arrives: paid.
    bank.tell("payment_intent.succeeded", &pi, t0 + 4 * DAY, |pi| {
        pi["status"] = "succeeded".into();
        pi["amount_received"] = pi["amount"].clone();
    });
    let view = bank.wait_for_payment(invoice, 0, "succeeded");
    assert_eq!(view["payments"][0]["status"], "succeeded", "{view}");
    assert_eq!(view["status"], "paid");
    assert_eq!(bank.creations().len(), 1);
    bank.assert_valid_for_stripe();
}

#[test]
fn a_debit_returned_after_processing_reopens_the_invoice_emails_the_failure_and_is_retried() {
    let bank = bank("debit-returned");
    bank.save_debit();
    let invoice = bank.due_invoice("D-0002", 2_500);
    run(&bank, "2026-12-01");
    let pi = bank.intents()[0]["id"].as_str().unwrap().to_string();
    let t0 = paydesk_host::db::now();
    bank.tell("payment_intent.processing", &pi, t0, |_| {});
    assert_eq!(bank.invoice(invoice)["payments"][0]["status"], "processing");

    // Returned by the bank three days later.
    bank.tell("payment_intent.payment_failed", &pi, t0 + 3 * DAY, |pi| {
        pi["status"] = "requires_payment_method".into();
        pi["last_payment_error"] = json!({"type": "card_error", "code": "insufficient_funds",
            "message": "The account has insufficient funds to cover this payment."});
    });
    let view = bank.wait_for_payment(invoice, 0, "failed");
    assert_eq!(view["payments"][0]["status"], "failed", "{view}");
    assert_eq!(view["status"], "awaiting_payment");
    assert_eq!(view["amount_due"], 2_500, "{view}");

    // The failure email goes to the notification address, the customer's accounts address copied.
    let deadline = Instant::now() + paydesk_tests::EVENT_WAIT;
    let failure = || {
        bank.host
            .db()
            .emails(&bank.tenant, 10)
            .unwrap()
            .into_iter()
            .find(|m| m.subject.contains("failed"))
    };
    while failure().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let mailer =
        paydesk_host::mailer::Mailer::new(&format!("smtp://127.0.0.1:{}", bank.smtp.port)).unwrap();
    mailer.deliver(bank.host.db(), 100, 300).unwrap();
    let mail = bank.smtp.wait_for(1, paydesk_tests::EVENT_WAIT);
    assert_eq!(mail.len(), 1);
    assert!(mail[0].subject.contains("failed"), "{}", mail[0].subject);
    assert_eq!(mail[0].to, vec!["payments@tenant.test".to_string()]);
    assert_eq!(mail[0].cc, vec![ACCOUNTS.to_string()]);
    assert!(
        mail[0].body.contains("insufficient funds"),
        "{}",
        mail[0].body
    );

    // A returned debit is a soft decline: the next run (after the one-day interval) tries again,
    // under the same mandate, with a new attempt.
    let report = run(&bank, "2026-12-02");
    let created = bank.creations();
    assert_eq!(created.len(), 2, "{report}");
    assert_eq!(value(&created[1], "mandate"), Some(MANDATE));
    assert_eq!(value(&created[1], "metadata[paydesk_attempt]"), Some("2"));
    let view = bank.invoice(invoice);
    assert_eq!(view["payments"][1]["status"], "processing", "{view}");
    assert_eq!(view["status"], "awaiting_payment");
    bank.assert_valid_for_stripe();
}

#[test]
fn a_portal_payment_and_an_agents_charge_of_the_saved_debit_carry_its_mandate() {
    let bank = bank("debit-manual");
    bank.save_debit();
    let invoice = |number: &str| {
        let created = bank.admin.post(
            &bank.path("/invoices"),
            json!({"number": number, "customer_id": bank.customer_id, "currency": "eur",
                   "issue_date": "2026-11-01", "due_date": "2026-11-30",
                   "lines": [{"description": "Consulting", "amount": 12_000}]}),
        );
        assert_eq!(created.status, 201, "{}", created.text);
        created.body["id"].as_i64().unwrap()
    };
    // The payer, on the portal's API: on-session, under the mandate.
    let first = invoice("M-0001");
    let paid = bank.user.post(
        &bank.path("/payments"),
        json!({"invoice_ids": [first], "pay_with": "saved_method"}),
    );
    assert_eq!(paid.status, 201, "{}", paid.text);
    assert_eq!(paid.body["status"], "processing");
    // An agent: off-session, under the mandate.
    let second = invoice("M-0002");
    let charged = bank.admin.post(
        &bank.path(&format!("/invoices/{second}/charges")),
        json!({"pay_with": "saved_method"}),
    );
    assert_eq!(charged.status, 201, "{}", charged.text);
    assert_eq!(charged.body["status"], "processing");
    let created = bank.creations();
    assert_eq!(created.len(), 2);
    for c in &created {
        assert_eq!(value(c, "mandate"), Some(MANDATE));
        assert_eq!(value(c, "payment_method"), Some(METHOD));
    }
    assert_eq!(value(&created[0], "off_session"), None);
    assert_eq!(value(&created[1], "off_session"), Some("true"));
    for id in [first, second] {
        let view = bank.invoice(id);
        assert_eq!(view["status"], "awaiting_payment");
        assert_eq!(view["payments"][0]["status"], "processing", "{view}");
    }
    bank.assert_valid_for_stripe();
}

#[test]
fn a_debit_saved_elsewhere_is_charged_under_the_mandate_of_the_setup_that_saved_it() {
    let bank = bank("debit-elsewhere");
    // Chosen by an agent among the customer's methods, not saved through paydesk.
    let set = bank.admin.put(
        &bank.path(&format!(
            "/customers/{}/automatic-payment-method",
            bank.customer_id
        )),
        json!({"payment_method_id": METHOD}),
    );
    assert_eq!(set.status, 200, "{}", set.text);
    let first = bank.due_invoice("E-0001", 1_500);
    run(&bank, "2026-12-01");
    let second = bank.due_invoice("E-0002", 1_600);
    run(&bank, "2026-12-01");
    let created = bank.creations();
    assert_eq!(created.len(), 2);
    for c in &created {
        assert_eq!(value(c, "mandate"), Some(ELSEWHERE));
    }
    // Looked up once, then kept.
    let lookups = bank
        .stripe
        .seen()
        .iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/v1/setup_intents?"))
        .count();
    assert_eq!(lookups, 1);
    for id in [first, second] {
        assert_eq!(bank.invoice(id)["payments"][0]["status"], "processing");
    }
    bank.assert_valid_for_stripe();
}

#[test]
fn the_portal_saves_a_debit_through_the_payment_element_with_the_browsers_acceptance() {
    const PASSWORD: &str = "debit page password";
    const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64) paydesk-test";
    let bank = bank("debit-page");
    let base = bank.admin.base.clone();
    bank.host
        .user_password(&bank.tenant, "payer@acme-gmbh.test", PASSWORD);
    let cookie = paydesk_tests::signin::session_cookie(
        &base,
        bank.tenant.as_str(),
        "payer@acme-gmbh.test",
        PASSWORD,
        false,
    );
    let page = paydesk_tests::signin::send(
        &base,
        "GET",
        "/portal/payment-method",
        std::slice::from_ref(&cookie),
        &[],
        None,
    );
    assert_eq!(page.status, 200, "{}", page.text);
    // With SEPA Debit imported: the Payment Element for every imported type, and the mandate said.
    assert!(
        page.text.contains("add-method payment-element"),
        "{}",
        page.text
    );
    assert!(page.text.contains(r#"data-method-types="card,sepa_debit""#));
    assert!(page.text.contains(r#"data-currency="eur""#));
    assert!(page.text.contains("accepts the mandate"));
    let marker = "data-csrf=\"";
    let rest = &page.text[page.text.find(marker).unwrap() + marker.len()..];
    let csrf = rest[..rest.find('"').unwrap()].to_string();

    // What the page's script does: start, let Stripe.js make the method, confirm it.
    let post = |path: &str, body: Value| {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let mut response = agent
            .post(&format!("{base}{path}"))
            .header("Cookie", &cookie)
            .header("X-CSRF-Token", &csrf)
            .header("User-Agent", BROWSER)
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .expect("the page answers");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
        )
    };
    let (status, started) = post("/portal/payment-method/start", json!({}));
    assert_eq!(status, 200, "{started}");
    let (status, done) = post(
        "/portal/payment-method/confirm",
        json!({"setup_intent_id": started["setup_intent_id"], "payment_method": METHOD}),
    );
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["automatic_payment_method"], "SEPA Debit ending 3000");
    let seen = bank.stripe.seen();
    let confirm = seen
        .iter()
        .find(|r| r.path == format!("/v1/setup_intents/{SETUP}/confirm"))
        .expect("the SetupIntent confirmed");
    let f = form(&confirm.body);
    assert_eq!(
        value(&f, "mandate_data[customer_acceptance][online][user_agent]"),
        Some(BROWSER)
    );
    assert_eq!(
        value(&f, "mandate_data[customer_acceptance][online][ip_address]"),
        Some("127.0.0.1")
    );
    bank.assert_valid_for_stripe();
}
