//! `GET /metrics` from outside: a daily run that charges one invoice and skips another, a payment
//! taken with new details and settled by a signed webhook (delivered twice, and once forged), then
//! the scrape's counts checked against what happened — the plugin calls by export, every Stripe
//! request the recorder saw by operation and status, the webhook outcomes and their lag, the
//! daily run's decisions and results, and the gauges against the database. Also: no tenant or
//! Stripe id in any label, 404 without a configured token, 401 without or with a wrong one, and
//! the token in no log line. And an abusive guest's stopped calls, counted by kind.

use std::collections::BTreeMap;

use serde_json::json;

use paydesk_host::metrics::operation_path;
use paydesk_host::tenant::Secret;
use paydesk_host::web::WebConfig;
use paydesk_tests::webhook::{fixture_event, fixture_intent};

use crate::payments::{pending_payment, shop, stripe_request};

const TOKEN: &str = "scrape-token-5b0e7f2c9a41d638";
const D0: &str = "2026-12-01";

/// One scrape: status, `Content-Type` and body.
fn scrape(base: &str, authorization: Option<&str>) -> (u16, String, String) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut req = agent.get(format!("{base}/metrics"));
    if let Some(value) = authorization {
        req = req.header("Authorization", value);
    }
    let mut response = req.call().expect("the server answers");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let status = response.status().as_u16();
    (
        status,
        content_type,
        response.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// The samples of a scrape: (name, labels) → value.
pub(crate) type Samples = BTreeMap<(String, BTreeMap<String, String>), f64>;

/// Parse the Prometheus text format: `name{key="value",…} value` lines (values may hold `{}`
/// and spaces; `\"`, `\\` and `\n` are escaped), comments skipped.
pub(crate) fn samples(text: &str) -> Samples {
    let mut out = Samples::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let name_end = line.find(['{', ' ']).expect("a sample line");
        let name = line[..name_end].to_string();
        let mut labels = BTreeMap::new();
        let mut rest = &line[name_end..];
        if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices();
            let mut key = String::new();
            loop {
                let (i, c) = chars.next().expect("a closed label set");
                match c {
                    '}' => {
                        rest = &body[i + 1..];
                        break;
                    }
                    ',' => {}
                    '=' => {
                        assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line}");
                        let mut value = String::new();
                        loop {
                            match chars.next().expect("a closed value").1 {
                                '"' => break,
                                '\\' => match chars.next().expect("an escape").1 {
                                    'n' => value.push('\n'),
                                    other => value.push(other),
                                },
                                other => value.push(other),
                            }
                        }
                        labels.insert(std::mem::take(&mut key), value);
                    }
                    other => key.push(other),
                }
            }
        }
        let value: f64 = rest.trim().parse().unwrap_or_else(|_| panic!("{line}"));
        out.insert((name, labels), value);
    }
    out
}

/// The sum of `name`'s samples whose labels include every pair of `labels`.
pub(crate) fn sum(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|((n, l), _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, v)| v)
        .sum()
}

/// How much `name{labels}` grew from `before` to `after`.
fn delta(before: &Samples, after: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    sum(after, name, labels) - sum(before, name, labels)
}

#[test]
fn the_scrape_counts_what_a_daily_run_a_payment_and_its_webhooks_did() {
    let shop = shop("gauged", "usd", |s| {
        s.enableautostripepayment = true;
        s.halointegrator_stripe = true;
        s.stripetakepaymentonduedate = true;
        s.autopay_max_attempts = 2;
        s.autopay_retry_interval_days = 1;
    });
    // Only the test's own events reach the receiver: localstripe's deliveries would arrive when
    // they like, so its registration is replaced by one for an event it never sends.
    shop.stripe
        .register_webhook(
            "gauged",
            "http://127.0.0.1:9/",
            "whsec_gauged_silenced",
            &["payment_intent.canceled"],
        )
        .expect("webhook replaced");
    paydesk_tests::sweep::register_secret(TOKEN);
    let scraper = shop.host.serve_with(WebConfig {
        metrics_token: Some(Secret::new(TOKEN)),
        ..WebConfig::new(shop.host.stripe_js_url.clone())
    });
    let bearer = format!("Bearer {TOKEN}");

    // Without a token configured there is no such route; with one, only the token opens it.
    assert_eq!(scrape(&shop.admin.base, Some(&bearer)).0, 404);
    assert_eq!(scrape(&scraper.base, None).0, 401);
    assert_eq!(
        scrape(&scraper.base, Some("Bearer scrape-token-5b0e7f2c9a41d639")).0,
        401
    );
    assert_eq!(
        scrape(&scraper.base, Some(TOKEN)).0,
        401,
        "Bearer is required"
    );
    let (status, content_type, text) = scrape(&scraper.base, Some(&bearer));
    assert_eq!(status, 200, "{text}");
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let before = samples(&text);

    // The daily run: one customer with a card, one without a method, a monthly invoice each.
    let cus = stripe_request(
        &shop.stripe,
        "POST",
        "/v1/customers",
        &[("name", "Nomethod")],
    );
    let no_method = shop.admin.post(
        &shop.path("/customers"),
        json!({"name": "Nomethod", "accounts_email": "ap@nomethod.test"}),
    );
    let no_method = no_method.body["customer"]["id"].as_i64().unwrap();
    let mapped = shop.admin.post(
        &shop.path("/mappings"),
        json!({"customer_id": no_method, "stripe_customer_id": cus["id"]}),
    );
    assert_eq!(mapped.status, 201, "{}", mapped.text);
    for customer in [shop.customer_id, no_method] {
        let r = shop.admin.post(
            &shop.path("/recurring-invoices"),
            json!({"customer_id": customer, "currency": "usd", "description": "Monthly support",
                   "amount": 10_000, "next_date": D0, "due_days": 0}),
        );
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let report = shop
        .host
        .app
        .run_autopay(&shop.tenant, Some(D0), false, &mut |_, _| {})
        .expect("the run");
    let charges = report.plan.iter().filter(|d| d.charge).count();
    let skips = report.plan.len() - charges;
    assert_eq!((charges, skips), (1, 1), "{:?}", report.plan);
    let succeeded = report
        .results
        .iter()
        .filter(|r| r.status == Some(paydesk_host::contract::PaymentStatus::Succeeded))
        .count();
    assert_eq!(succeeded, 1, "{:?}", report.results);

    // A payment with new details, open until its webhook says it succeeded.
    let (_, intent, group, total) = pending_payment(&shop, 5_000);
    let (_, _, open) = scrape(&scraper.base, Some(&bearer));
    let open = samples(&open);
    let open_sql = if shop.host.is_postgres() {
        "SELECT COUNT(*) FROM invoice_payments WHERE status IN ('requires_payment_method', 'requires_action', 'processing') AND NOT opened_before_claims"
    } else {
        "SELECT COUNT(*) FROM invoice_payments WHERE status IN ('requires_payment_method', 'requires_action', 'processing') AND opened_before_claims = 0"
    };
    assert_eq!(shop.host.query_i64(open_sql), 1);
    assert_eq!(sum(&open, "paydesk_open_payment_claims", &[]), 1.0);

    // Stripe's event, 30 seconds after it was created; again (a retry); and a forgery.
    let event = fixture_event(
        "payment_intent.succeeded",
        "evt_gauged_1",
        &fixture_intent(&intent, "succeeded", total, "usd", &group),
        paydesk_host::db::now() - 30,
    );
    let (code, body) = shop.send_event(&event);
    assert_eq!((code, body.contains("\"applied\"")), (200, true), "{body}");
    let (code, body) = shop.send_event(&event);
    assert_eq!(
        (code, body.contains("\"duplicate\"")),
        (200, true),
        "{body}"
    );
    let forged = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
        .post(format!("{}/webhooks/stripe/{}", scraper.base, shop.tenant))
        .header("Stripe-Signature", "t=1,v1=00")
        .send(event.clone())
        .expect("the receiver answers");
    assert_eq!(forged.status().as_u16(), 400);

    let (status, _, text) = scrape(&scraper.base, Some(&bearer));
    assert_eq!(status, 200);
    let after = samples(&text);
    let d = |name: &str, labels: &[(&str, &str)]| delta(&before, &after, name, labels);

    // Plugin calls, by export and outcome, on the loaded component's version.
    let info = shop.host.app.runtime.describe();
    let version = format!("{}-{}", info.version, &info.sha256[..12]);
    let calls = "paydesk_plugin_calls_total";
    let charge_ok = [
        ("export", "events.autopay-charge"),
        ("outcome", "ok"),
        ("version", version.as_str()),
    ];
    assert_eq!(d(calls, &charge_ok), report.plan.len() as f64, "{text}");
    assert_eq!(d(calls, &[("export", "events.autopay-plan")]), 1.0);
    assert_eq!(d(calls, &[("export", "events.invoice-created")]), 2.0);
    assert_eq!(
        d(
            calls,
            &[("export", "events.webhook-received"), ("outcome", "ok")]
        ),
        2.0,
        "the forgery never reaches the plugin"
    );
    assert_eq!(
        d(calls, &[("outcome", "ok")]),
        d(calls, &[]),
        "every call ended well"
    );
    assert_eq!(sum(&after, "paydesk_sandbox_stops_total", &[]), 0.0);
    let export = [("export", "events.autopay-charge")];
    assert_eq!(
        d("paydesk_plugin_call_duration_seconds_count", &export),
        report.plan.len() as f64
    );
    assert_eq!(
        d("paydesk_plugin_call_fuel_count", &export),
        report.plan.len() as f64
    );
    assert!(d("paydesk_plugin_call_fuel_sum", &export) > 0.0);

    // Every request the recorder saw, by operation and status, and nothing else.
    let mut seen: BTreeMap<(String, String), f64> = BTreeMap::new();
    let recorded = shop.recorder.requests();
    for r in &recorded {
        let operation = format!("{} {}", r.method, operation_path(&r.path_and_query));
        *seen.entry((operation, r.status.to_string())).or_default() += 1.0;
    }
    for ((operation, status), n) in &seen {
        assert_eq!(
            d(
                "paydesk_stripe_requests_total",
                &[("operation", operation), ("status", status)]
            ),
            *n,
            "{operation} {status}\n{text}"
        );
    }
    assert_eq!(
        d("paydesk_stripe_requests_total", &[]),
        recorded.len() as f64
    );
    assert_eq!(
        d("paydesk_stripe_request_duration_seconds_count", &[]),
        recorded.len() as f64
    );
    let intents = recorded
        .iter()
        .filter(|r| r.method == "POST" && r.path_and_query == "/v1/payment_intents")
        .count();
    assert_eq!(intents, 2, "the autopay charge and the payment");
    assert_eq!(
        d(
            "paydesk_stripe_requests_total",
            &[("operation", "POST /v1/payment_intents"), ("status", "200")]
        ),
        2.0
    );

    // The webhooks: applied, seen again, forged; the lag of the two verified ones.
    let events = "paydesk_webhook_events_total";
    let succeeded_type = ("type", "payment_intent.succeeded");
    assert_eq!(d(events, &[succeeded_type, ("outcome", "applied")]), 1.0);
    assert_eq!(d(events, &[succeeded_type, ("outcome", "duplicate")]), 1.0);
    assert_eq!(
        d(events, &[("type", "unverified"), ("outcome", "rejected")]),
        1.0
    );
    assert_eq!(d(events, &[]), 3.0);
    assert_eq!(
        d("paydesk_webhook_lag_seconds_count", &[succeeded_type]),
        2.0
    );
    assert!(d("paydesk_webhook_lag_seconds_sum", &[succeeded_type]) >= 60.0);

    // The daily run's decisions and results.
    let decisions = "paydesk_autopay_decisions_total";
    assert_eq!(d(decisions, &[("action", "charge")]), charges as f64);
    assert_eq!(d(decisions, &[("action", "skip")]), skips as f64);
    let results = "paydesk_autopay_results_total";
    assert_eq!(d(results, &[("status", "succeeded")]), 1.0);
    assert_eq!(d(results, &[("status", "skipped")]), 1.0);
    assert_eq!(d(results, &[]), report.plan.len() as f64);

    // The gauges, as the database has it now.
    assert_eq!(shop.host.query_i64(open_sql), 0);
    assert_eq!(sum(&after, "paydesk_open_payment_claims", &[]), 0.0);
    let queued = shop
        .host
        .query_i64("SELECT COUNT(*) FROM email_outbox WHERE status = 'queued'");
    assert!(queued > 0, "the payments queued emails");
    assert_eq!(
        sum(&after, "paydesk_outbox_queued_emails", &[]),
        queued as f64
    );

    // No label names a tenant, an invoice or a Stripe object; the token is in no log line.
    for id in [
        shop.tenant.as_str(),
        intent.as_str(),
        group.as_str(),
        "cus_",
        "pi_",
        "pm_",
        "INV-",
    ] {
        assert!(!text.contains(id), "{id} in the scrape:\n{text}");
    }
    assert!(!paydesk_tests::logs::contents().contains(TOKEN));
}

#[test]
fn calls_the_sandbox_stops_are_counted_by_kind_with_their_fuel() {
    let fuel = 50_000_000;
    let host = paydesk_tests::host::TestHost::abusive(paydesk_host::runtime::Limits {
        memory_bytes: 32 << 20,
        fuel,
        deadline: std::time::Duration::from_secs(60),
        ..paydesk_host::runtime::Limits::default()
    });
    let tenant = host.tenant("hogwash", "sk_test_hogwash", |_| {});
    paydesk_tests::sweep::register_secret(TOKEN);
    let scraper = host.serve_with(WebConfig {
        metrics_token: Some(Secret::new(TOKEN)),
        ..WebConfig::new(host.stripe_js_url.clone())
    });
    let quote = |currency: &str| {
        host.app.quote(
            &tenant,
            &[
                paydesk_host::contract::exports::paydesk::stripe::payments::QuoteItem {
                    invoice_id: 1,
                    invoice_number: "INV-1".into(),
                    currency: currency.into(),
                    amount_due: 500,
                },
            ],
            paydesk_host::contract::PaymentMethodType::Card,
        )
    };
    use paydesk_host::app::CallError;
    use paydesk_host::runtime::SandboxError;
    assert!(matches!(
        quote("loop"),
        Err(CallError::Sandbox(SandboxError::OutOfFuel { .. }))
    ));
    assert!(matches!(
        quote("hog"),
        Err(CallError::Sandbox(SandboxError::Memory { .. }))
    ));
    assert!(matches!(
        quote("panic"),
        Err(CallError::Sandbox(SandboxError::Trap { .. }))
    ));
    assert!(quote("usd").is_ok());

    let (status, _, text) = scrape(&scraper.base, Some(&format!("Bearer {TOKEN}")));
    assert_eq!(status, 200, "{text}");
    let s = samples(&text);
    for kind in ["out_of_fuel", "memory", "trap"] {
        assert_eq!(
            sum(&s, "paydesk_sandbox_stops_total", &[("kind", kind)]),
            1.0,
            "{kind}\n{text}"
        );
        assert_eq!(
            sum(
                &s,
                "paydesk_plugin_calls_total",
                &[("export", "payments.quote"), ("outcome", kind)]
            ),
            1.0,
            "{kind}\n{text}"
        );
    }
    assert_eq!(sum(&s, "paydesk_sandbox_stops_total", &[]), 3.0);
    let quote_calls = [("export", "payments.quote")];
    assert_eq!(
        sum(
            &s,
            "paydesk_plugin_calls_total",
            &[("export", "payments.quote"), ("outcome", "ok")]
        ),
        1.0
    );
    assert_eq!(sum(&s, "paydesk_plugin_call_fuel_count", &quote_calls), 4.0);
    // The endless loop burnt what instantiation left of the call's fuel.
    let burnt = sum(&s, "paydesk_plugin_call_fuel_sum", &quote_calls);
    assert!(
        burnt > fuel as f64 * 0.9 && burnt < fuel as f64 * 4.0,
        "{burnt}"
    );
    assert!(
        !text.contains("hogwash"),
        "the tenant is in no label:\n{text}"
    );
}
