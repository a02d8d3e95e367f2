//! Tenant isolation: plugin storage written for one tenant is invisible to another, each tenant's
//! secret key goes only on its own Stripe calls, and what the guest can read of the settings never
//! holds the key.

use paydesk_host::capabilities::Capabilities;
use paydesk_host::capabilities::Services;
use paydesk_host::contract::paydesk::stripe::helpdesk::Host as _;
use paydesk_host::contract::paydesk::stripe::storage::Host as Storage;
use paydesk_host::db::NewCustomer;
use paydesk_tests::host::TestHost;
use paydesk_tests::recorder::StripeRecorder;
use paydesk_tests::services::LocalStripe;

fn state(host: &TestHost, tenant: &str) -> Capabilities {
    let id = paydesk_host::tenant::TenantId::parse(tenant).unwrap();
    let services: std::sync::Arc<Services> = host.app.services.clone();
    Capabilities::new(&services, host.app.context(&id, None).unwrap())
}

#[test]
fn storage_written_for_one_tenant_is_invisible_to_another() {
    let host = TestHost::new("http://127.0.0.1:9");
    host.tenant("tenant-a", "sk_test_a", |_| {});
    host.tenant("tenant-b", "sk_test_b", |_| {});
    let mut a = state(&host, "tenant-a");
    let mut b = state(&host, "tenant-b");

    assert_eq!(
        Storage::put_new(&mut a.storage, "claim/inv-1".into(), b"a's".to_vec()).unwrap(),
        Ok(1)
    );
    assert_eq!(
        Storage::get(&mut b.storage, "claim/inv-1".into()).unwrap(),
        Ok(None)
    );
    assert_eq!(
        Storage::list_prefix(&mut b.storage, "".into(), None, 100).unwrap(),
        Ok(vec![])
    );
    assert_eq!(
        Storage::delete(&mut b.storage, "claim/inv-1".into(), None).unwrap(),
        Ok(false)
    );
    // B's own key of the same name is separate, and A's value is untouched by B's writes.
    assert_eq!(
        Storage::put_new(&mut b.storage, "claim/inv-1".into(), b"b's".to_vec()).unwrap(),
        Ok(1)
    );
    let a_entry = Storage::get(&mut a.storage, "claim/inv-1".into())
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(a_entry.value, b"a's");
    // Compare-and-swap sees versions: a stale version loses.
    assert_eq!(
        Storage::compare_and_swap(&mut a.storage, "claim/inv-1".into(), 1, b"v2".to_vec()).unwrap(),
        Ok(2)
    );
    assert!(
        Storage::compare_and_swap(&mut a.storage, "claim/inv-1".into(), 1, b"v3".to_vec())
            .unwrap()
            .is_err()
    );
}

#[test]
fn records_of_another_tenant_are_not_found_even_by_id() {
    let host = TestHost::new("http://127.0.0.1:9");
    let a = host.tenant("rec-a", "sk_test_a", |_| {});
    host.tenant("rec-b", "sk_test_b", |_| {});
    let customer = host
        .db()
        .create_customer(
            &a,
            &NewCustomer {
                name: "A's customer".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let mut b = state(&host, "rec-b");
    assert!(b.helpdesk.get_customer(customer.id).unwrap().is_err());
    assert!(
        b.helpdesk
            .set_stripe_customer_id(customer.id, Some("cus_forged".into()))
            .unwrap()
            .is_err()
    );
    assert_eq!(
        host.db()
            .customer(&a, customer.id)
            .unwrap()
            .stripe_customer_id,
        None
    );
}

#[test]
fn each_tenants_secret_key_goes_only_on_its_own_stripe_calls() {
    let stripe = LocalStripe::shared();
    let recorder = StripeRecorder::start(&stripe.base_url).expect("recorder");
    let host = TestHost::new(&recorder.base_url);
    let keys = [
        ("keys-a", "sk_test_AAAAAAAAAAAAAAAA"),
        ("keys-b", "sk_test_BBBBBBBBBBBBBBBB"),
    ];
    for (tenant, key) in keys {
        let id = host.tenant(tenant, key, |s| s.sync_customers_to_stripe = true);
        for n in 0..2 {
            let c = host
                .db()
                .create_customer(
                    &id,
                    &NewCustomer {
                        name: format!("{tenant} customer {n}"),
                        ..Default::default()
                    },
                )
                .unwrap();
            host.app.customer_saved(&id, c.id).expect("sync");
        }
    }
    let sent = recorder.requests();
    assert_eq!(sent.len(), 4);
    for r in &sent {
        let (tenant, key) = keys
            .iter()
            .find(|(t, _)| r.body.contains(&format!("{t}+customer")))
            .expect("each request names its tenant's customer");
        assert_eq!(
            StripeRecorder::header(r, "Authorization"),
            Some(format!("Bearer {key}").as_str()),
            "a request for {tenant} must carry {tenant}'s key only"
        );
    }
}

#[test]
fn the_settings_the_guest_reads_hold_no_secret_key() {
    let host = TestHost::new("http://127.0.0.1:9");
    host.tenant("masked", "sk_live_SuperSecretKey9876", |_| {});
    let mut s = state(&host, "masked");
    let settings = s.helpdesk.get_settings().unwrap();
    let info = settings
        .iter()
        .find_map(|s| match (&s.name[..], &s.value) {
            ("stripe_secret_key", paydesk_host::contract::SettingValue::Key(k)) => Some(k.clone()),
            _ => None,
        })
        .expect("key info");
    assert_eq!(info.masked, "sk_live_…9876");
    assert!(!format!("{settings:?}").contains("SuperSecretKey"));
}

/// Guards the secret sweep's view into the sandbox: the observer hears each import's answer (a
/// storage value as text), under the import's name, and what it hears holds no key.
#[test]
fn the_guest_input_observer_hears_every_import_answer_and_never_the_key() {
    use paydesk_host::capabilities::HttpConfig;
    use std::sync::{Arc, Mutex};
    let host = TestHost::new("http://127.0.0.1:9");
    let id = host.tenant("observed", "sk_test_ObservedKeyNeverSeen42", |_| {});
    let heard: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let mut services = Services::new(host.app.services.db.clone(), HttpConfig::default());
    let sink = heard.clone();
    services.set_guest_input_observer(Arc::new(move |name: &str, value: &dyn std::fmt::Debug| {
        sink.lock()
            .unwrap()
            .push((name.to_string(), format!("{value:?}")));
    }));
    let mut s = Capabilities::new(&services, host.app.context(&id, None).unwrap());
    s.helpdesk.get_settings().unwrap();
    Storage::put_new(&mut s.storage, "note".into(), b"plain text".to_vec())
        .unwrap()
        .unwrap();
    Storage::get(&mut s.storage, "note".into())
        .unwrap()
        .unwrap();
    s.helpdesk.get_invoice(404).unwrap().unwrap_err();
    let heard = heard.lock().unwrap();
    let names: Vec<&str> = heard.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "helpdesk.get-settings",
            "storage.put-new",
            "storage.get",
            "helpdesk.get-invoice"
        ]
    );
    assert!(heard[0].1.contains("sk_test_…en42"), "{}", heard[0].1);
    assert!(heard[2].1.contains("\"plain text\""), "{}", heard[2].1);
    assert!(heard.iter().all(|(_, v)| !v.contains("ObservedKey")));
}

#[test]
fn a_webhook_signing_secret_is_kept_by_the_host_and_never_reaches_the_guest() {
    use paydesk_host::contract::paydesk::stripe::http::{Host as Http, Method, Request};
    use paydesk_tests::fake_stripe::FakeStripe;
    const SECRET: &str = "whsec_FixtureSigningSecret0123456789";
    let fake = FakeStripe::start(|r| {
        let endpoint = serde_json::json!({
            "id": "we_fake", "object": "webhook_endpoint", "url": "https://help.example.com/webhooks/stripe/hooks",
            "enabled_events": ["payment_intent.succeeded"], "secret": SECRET, "status": "enabled"
        });
        match (r.method.as_str(), r.path.as_str()) {
            ("POST", "/v1/webhook_endpoints") => (200, endpoint.to_string()),
            _ => (404, r#"{"error":{"message":"no such route"}}"#.into()),
        }
    });
    let host = TestHost::new(&fake.base_url);
    let tenant = host.tenant("hooks", "sk_test_hooks", |_| {});

    // What the guest's `http.send` returns: the secret masked, the real one stored in the host.
    let mut state = state(&host, "hooks");
    let answer = Http::send(
        &mut state.http,
        Request {
            method: Method::Post,
            path: "/v1/webhook_endpoints".into(),
            query: vec![],
            form: vec![(
                "url".into(),
                "https://help.example.com/webhooks/stripe/hooks".into(),
            )],
            idempotency_key: None,
        },
    )
    .unwrap()
    .expect("the fake answers");
    assert!(
        !answer.body.contains("FixtureSigningSecret"),
        "{}",
        answer.body
    );
    assert!(answer.body.contains("whsec_…6789"), "{}", answer.body);
    assert_eq!(
        host.db().webhook_secret(&tenant).unwrap().unwrap().expose(),
        SECRET
    );

    // The whole "Save and Create/Update Webhooks" action through the plugin, the same way.
    let endpoint = host
        .app
        .ensure_webhooks(&tenant, "https://help.example.com/webhooks/stripe/hooks")
        .expect("endpoint");
    assert_eq!(endpoint.id, "we_fake");
    let settings = host.db().tenant(&tenant).unwrap().settings;
    assert!(settings.enablehalostripewebhooks);
    assert_eq!(
        settings.stripe_webhook_endpoint_id.as_deref(),
        Some("we_fake")
    );
    assert!(fake.seen().iter().all(|r| {
        r.headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("authorization") && v == "Bearer sk_test_hooks")
    }));
}

#[test]
fn the_guest_can_reach_only_stripe_api_paths() {
    use paydesk_host::contract::paydesk::stripe::http::{Host as Http, Method, Request, SendError};
    let host = TestHost::new("http://127.0.0.1:9");
    host.tenant("egress", "sk_test_egress", |_| {});
    let mut state = state(&host, "egress");
    for path in [
        "https://evil.example/steal",
        "//evil.example/v1/x",
        "/v1/../../etc/passwd",
        "/v2/x",
        "/v1/customers?x=1",
    ] {
        let outcome = Http::send(
            &mut state.http,
            Request {
                method: Method::Get,
                path: path.into(),
                query: vec![],
                form: vec![],
                idempotency_key: None,
            },
        )
        .unwrap();
        assert!(
            matches!(outcome, Err(SendError::Denied(_))),
            "{path}: {outcome:?}"
        );
    }
}
