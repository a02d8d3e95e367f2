//! The plugin registry: components stored in the database by content hash, tenants moved to a
//! version (by name, all, or a stable percentage) and back, every host running for a tenant the
//! version its record names at the call's start, a call in flight finishing on the version it
//! started with, and a component that doesn't load here refused with nothing stored or moved.
//! Which version served a call is read from the metrics (`version` label), as an operator would.

use std::sync::{Arc, Barrier};

use paydesk_host::app::plugins::{RegistryError, Selection};
use paydesk_host::contract::PaymentMethodType;
use paydesk_host::contract::exports::paydesk::stripe::payments::QuoteItem;
use paydesk_host::runtime::ContractLine;
use paydesk_host::tenant::{Secret, TenantId};
use paydesk_host::web::WebConfig;
use paydesk_tests::host::TestHost;
use serde_json::json;

use crate::metrics::{samples, sum};

/// The plugin built against the 0.1 contract: a second version to move tenants to.
static PLUGIN_V0_1: &[u8] = include_bytes!(env!("PAYDESK_PLUGIN_V0_1_WASM"));

const NO_STRIPE: &str = "http://127.0.0.1:9";

fn host_with(ids: &[&str]) -> (TestHost, Vec<TenantId>) {
    let host = TestHost::new(NO_STRIPE);
    let tenants = ids
        .iter()
        .map(|id| {
            host.tenant(id, &format!("sk_test_{}", id.replace('-', "_")), |s| {
                s.stripe_processing_fee_percentage = "2.9".into();
                s.stripe_currency = "usd".into();
            })
        })
        .collect();
    (host, tenants)
}

/// A quote of 100.00 USD for `tenant` on `host`: its total with the fee.
fn quote(host: &TestHost, tenant: &TenantId) -> i64 {
    let item = QuoteItem {
        invoice_id: 1,
        invoice_number: "INV-1".into(),
        currency: "usd".into(),
        amount_due: 10_000,
    };
    host.app
        .quote(tenant, &[item], PaymentMethodType::Card)
        .expect("a quote")
        .total
        .amount
}

/// Quote calls `host` has made on the component the metrics name `version`.
fn quotes_on(host: &TestHost, version: &str) -> f64 {
    let text = host.app.services.metrics.render(0, 0);
    sum(
        &samples(&text),
        "paydesk_plugin_calls_total",
        &[("export", "payments.quote"), ("version", version)],
    )
}

/// Where `tenant` runs, as its record says (`None`: the embedded component).
fn runs(host: &TestHost, tenant: &TenantId) -> Option<String> {
    host.db().tenant(tenant).expect("the tenant").plugin
}

#[test]
fn tenants_moved_to_a_version_run_it_on_every_host_until_the_move_is_rolled_back() {
    let (host, t) = host_with(&["reg-alpha", "reg-beta"]);
    let (alpha, beta) = (&t[0], &t[1]);
    let peer = host.peer();
    let added = host
        .app
        .add_plugin(PLUGIN_V0_1, Some("lines-0.1"))
        .expect("the 0.1 build is added");
    assert_eq!(added.contract_version, "0.1.0");
    assert_eq!(added.size, PLUGIN_V0_1.len() as u64);
    let old = format!("0.1.0-{}", &added.sha256[..12]);
    let current = host
        .app
        .runtime
        .default_plugin()
        .label()
        .as_str()
        .to_string();
    assert!(current.starts_with("0.2.0-"), "{current}");

    // Added is not used: both tenants still run the embedded component.
    let before = quote(&host, alpha);
    quote(&host, beta);
    assert_eq!(
        (quotes_on(&host, &current), quotes_on(&host, &old)),
        (2.0, 0.0)
    );

    let moved = host
        .app
        .use_plugin("lines-0.1", &Selection::Tenants(vec![alpha.clone()]))
        .expect("the move")
        .expect("alpha moves");
    assert_eq!(moved.version, "lines-0.1");
    assert_eq!(moved.moved.len(), 1);
    assert_eq!(
        (&moved.moved[0].tenant, moved.moved[0].from.as_str()),
        (alpha, "embedded")
    );
    assert_eq!(runs(&host, alpha).as_deref(), Some(added.sha256.as_str()));
    assert_eq!(runs(&host, beta), None);

    // Both hosts run alpha on the 0.1 build at its next call, beta on the embedded one; the
    // other host loads the version from the registry itself. The fees are the same.
    for h in [&host, &peer] {
        assert_eq!(quote(h, alpha), before);
        assert_eq!(quote(h, beta), before);
    }
    assert_eq!(
        (quotes_on(&host, &current), quotes_on(&host, &old)),
        (3.0, 1.0)
    );
    assert_eq!(
        (quotes_on(&peer, &current), quotes_on(&peer, &old)),
        (1.0, 1.0)
    );

    // The listing shows who runs what.
    let versions = host.app.plugin_versions().expect("the listing");
    let names: Vec<(&str, Vec<&str>)> = versions
        .iter()
        .map(|v| {
            (
                v.version.as_str(),
                v.tenants.iter().map(TenantId::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![
            ("embedded", vec!["reg-beta"]),
            ("lines-0.1", vec!["reg-alpha"])
        ]
    );

    // Moving it there again moves nobody and records nothing.
    assert!(
        host.app
            .use_plugin("lines-0.1", &Selection::Tenants(vec![alpha.clone()]))
            .expect("no move")
            .is_none()
    );

    // A rollback from the other host puts alpha back; the next call runs the embedded one.
    let back = peer
        .app
        .roll_back_plugins()
        .expect("the rollback")
        .expect("a move to undo");
    assert_eq!(back.rollout, moved.rollout);
    assert_eq!(back.moved.len(), 1);
    assert_eq!(runs(&host, alpha), None);
    quote(&host, alpha);
    assert_eq!(
        (quotes_on(&host, &current), quotes_on(&host, &old)),
        (4.0, 1.0)
    );
    assert!(
        host.app
            .roll_back_plugins()
            .expect("nothing left")
            .is_none()
    );
}

#[test]
fn a_component_that_does_not_load_here_is_refused_and_nothing_is_stored_or_moved() {
    let (host, t) = host_with(&["refused-alpha"]);
    let alpha = &t[0];
    let invalid = |e: RegistryError| match e {
        RegistryError::Invalid(m) => m,
        other => panic!("refused as invalid, not {other:?}"),
    };
    let garbage = invalid(
        host.app
            .add_plugin(b"not a component", Some("junk"))
            .unwrap_err(),
    );
    assert!(garbage.contains("refused"), "{garbage}");
    let other_line = br#"(component
        (instance $admin)
        (export "paydesk:stripe/admin@0.9.0" (instance $admin))
    )"#;
    let line = invalid(host.app.add_plugin(other_line, Some("v0.9")).unwrap_err());
    assert!(line.contains("paydesk:stripe@0.9.0"), "{line}");
    assert!(host.db().plugins().unwrap().is_empty());

    // The embedded component is not added; the same bytes or the same name twice are refused.
    assert!(matches!(
        host.app
            .add_plugin(paydesk_host::runtime::EMBEDDED_PLUGIN, None)
            .unwrap_err(),
        RegistryError::Conflict(_)
    ));
    let added = host.app.add_plugin(PLUGIN_V0_1, None).expect("added");
    assert_eq!(added.version, format!("0.1.0-{}", &added.sha256[..12]));
    assert!(matches!(
        host.app.add_plugin(PLUGIN_V0_1, Some("again")).unwrap_err(),
        RegistryError::Conflict(_)
    ));
    assert!(matches!(
        host.app
            .add_plugin(b"(component)", Some("embedded"))
            .unwrap_err(),
        RegistryError::Invalid(_)
    ));
    assert_eq!(host.db().plugins().unwrap().len(), 1);

    // An unknown version, or a selection naming an unknown tenant: nobody moves.
    invalid(
        host.app
            .use_plugin("no-such-version", &Selection::Tenants(vec![alpha.clone()]))
            .unwrap_err(),
    );
    let ghost = TenantId::parse("refused-ghost").unwrap();
    let unknown = invalid(
        host.app
            .use_plugin(
                &added.version,
                &Selection::Tenants(vec![alpha.clone(), ghost]),
            )
            .unwrap_err(),
    );
    assert!(unknown.contains("refused-ghost"), "{unknown}");
    assert_eq!(runs(&host, alpha), None);
    assert!(host.db().plugin_rollouts(10).unwrap().is_empty());

    // A stored component whose bytes no longer match their hash doesn't load: a move to it is
    // refused and nobody moves; a tenant already on it gets a clear error, not another version.
    let moved = host
        .app
        .use_plugin(
            &added.sha256[..10],
            &Selection::Tenants(vec![alpha.clone()]),
        )
        .expect("a move by hash prefix")
        .expect("alpha moves");
    assert_eq!(moved.version, added.version);
    if host.is_postgres() {
        host.sql("UPDATE plugins SET wasm = substring(wasm from 1 for 100)");
    } else {
        host.sql("UPDATE plugins SET wasm = substr(wasm, 1, 100)");
    }
    let fresh = host.peer();
    let e = fresh
        .app
        .quote(
            alpha,
            &[QuoteItem {
                invoice_id: 1,
                invoice_number: "INV-1".into(),
                currency: "usd".into(),
                amount_due: 100,
            }],
            PaymentMethodType::Card,
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("could not be loaded on this host") && e.contains(&added.sha256[..12]),
        "{e}"
    );
    fresh.app.roll_back_plugins().unwrap().expect("undone");
    let refused = invalid(
        fresh
            .app
            .use_plugin(&added.version, &Selection::All)
            .unwrap_err(),
    );
    assert!(refused.contains("does not load on this host"), "{refused}");
    assert_eq!(runs(&host, alpha), None);
    assert_eq!(fresh.db().plugin_rollouts(10).unwrap().len(), 1);
}

#[test]
fn a_call_in_flight_finishes_on_the_version_it_started_with() {
    let (host, t) = host_with(&["flight-alpha"]);
    let alpha = t[0].clone();
    host.app
        .add_plugin(PLUGIN_V0_1, Some("flight-0.1"))
        .expect("added");
    let ctx = host.app.context(&alpha, None).unwrap();
    let app = host.app.clone();
    let moved_to = alpha.clone();
    let item = QuoteItem {
        invoice_id: 1,
        invoice_number: "INV-1".into(),
        currency: "usd".into(),
        amount_due: 100,
    };
    let during = host
        .app
        .call_in(ctx, "payments.quote", &(), move |plugin, store| {
            // The tenant moves while this call runs.
            app.use_plugin("flight-0.1", &Selection::Tenants(vec![moved_to]))
                .expect("the move")
                .expect("alpha moves");
            let line = plugin.line();
            let quoted = plugin.paydesk_stripe_payments().call_quote(
                store,
                &[item],
                &PaymentMethodType::Card,
            )?;
            Ok(quoted.map(|_| line))
        })
        .expect("the call finishes");
    assert_eq!(during, ContractLine::V0_2);
    let next = host
        .app
        .call_in(
            host.app.context(&alpha, None).unwrap(),
            "payments.quote",
            &(),
            |plugin, _| Ok(Ok(plugin.line())),
        )
        .expect("the next call");
    assert_eq!(next, ContractLine::V0_1);
}

#[test]
fn percentages_take_stable_tenants_and_each_rollback_undoes_one_move() {
    let ids: Vec<String> = (0..24).map(|i| format!("share-{i:02}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let (host, tenants) = host_with(&refs);
    let added = host
        .app
        .add_plugin(PLUGIN_V0_1, Some("share-0.1"))
        .expect("added");
    let on_new = |h: &TestHost| -> Vec<TenantId> {
        tenants
            .iter()
            .filter(|t| runs(h, t).as_deref() == Some(added.sha256.as_str()))
            .cloned()
            .collect()
    };
    let first = host
        .app
        .use_plugin("share-0.1", &Selection::percent("25").unwrap())
        .expect("25 %")
        .map(|r| r.moved.len())
        .unwrap_or(0);
    let quarter = on_new(&host);
    assert_eq!(first, quarter.len());
    assert!(quarter.len() < tenants.len(), "{quarter:?}");
    // The same share again moves nobody; a larger one keeps the first and adds more.
    assert!(
        host.app
            .use_plugin("share-0.1", &Selection::percent("25").unwrap())
            .unwrap()
            .is_none()
    );
    host.app
        .use_plugin("share-0.1", &Selection::percent("75").unwrap())
        .expect("75 %");
    let three_quarters = on_new(&host);
    assert!(quarter.iter().all(|t| three_quarters.contains(t)));
    assert!(three_quarters.len() > quarter.len());
    // A fresh host on the same database agrees (the buckets are the tenants' ids alone).
    assert_eq!(on_new(&host.peer()), three_quarters);
    host.app
        .use_plugin("share-0.1", &Selection::All)
        .expect("all");
    assert_eq!(on_new(&host).len(), tenants.len());

    // Two rollbacks at once, on two hosts: two moves undone (all, then 75 %), not one twice.
    let peer = host.peer();
    let barrier = Arc::new(Barrier::new(2));
    let undone: Vec<i64> = std::thread::scope(|s| {
        let handles: Vec<_> = [&host, &peer]
            .into_iter()
            .map(|h| {
                let barrier = barrier.clone();
                s.spawn(move || {
                    barrier.wait();
                    h.app.roll_back_plugins().unwrap().expect("a move").rollout
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_ne!(undone[0], undone[1]);
    assert_eq!(on_new(&host), quarter, "back to the first 25 %");
    host.app
        .roll_back_plugins()
        .unwrap()
        .expect("the first move");
    assert!(on_new(&host).is_empty());
    assert!(host.app.roll_back_plugins().unwrap().is_none());
}

const PLATFORM_TOKEN: &str = "platform-token-7d1c0b9e3f2a4856";

/// A request with a raw body.
fn send(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut req = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("Content-Type", "application/wasm");
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let mut response = agent
        .run(req.body(body).unwrap())
        .expect("the server answers");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

#[test]
fn the_platform_api_manages_the_registry_for_the_platform_token_only() {
    let (host, t) = host_with(&["api-alpha", "api-beta"]);
    let alpha = &t[0];
    paydesk_tests::sweep::register_secret(PLATFORM_TOKEN);
    let tenant_admin = host.admin_token(alpha);

    // Without a configured token there are no such routes.
    let off = host.serve();
    assert_eq!(
        off.with_token(PLATFORM_TOKEN)
            .get("/api/v1/platform/plugins")
            .status,
        404
    );

    let api = host.serve_with(WebConfig {
        platform_token: Some(Secret::new(PLATFORM_TOKEN)),
        ..WebConfig::new(host.stripe_js_url.clone())
    });
    // Tenants' tokens — even an administrator's — and no token are refused (before the body is
    // read: a large one may meet a closed connection, so these send a small one); nothing is
    // stored.
    for token in [
        None,
        Some(tenant_admin.as_str()),
        Some("platform-token-7d1c0b9e3f2a485X"),
    ] {
        let (status, body) = send(
            &api.base,
            "POST",
            "/api/v1/platform/plugins?version=x",
            token,
            b"(component)".to_vec(),
        );
        assert_eq!(status, 401, "{token:?}: {body}");
    }
    assert!(host.db().plugins().unwrap().is_empty());
    let admin = api.with_token(PLATFORM_TOKEN);

    let (status, added) = send(
        &api.base,
        "POST",
        "/api/v1/platform/plugins?version=api-0.1",
        Some(PLATFORM_TOKEN),
        PLUGIN_V0_1.to_vec(),
    );
    assert_eq!(status, 201, "{added}");
    assert_eq!(added["version"], "api-0.1");
    assert_eq!(added["contract_version"], "0.1.0");
    let (status, again) = send(
        &api.base,
        "POST",
        "/api/v1/platform/plugins?version=other",
        Some(PLATFORM_TOKEN),
        PLUGIN_V0_1.to_vec(),
    );
    assert_eq!(
        (status, again["error"]["kind"].as_str()),
        (409, Some("conflict"))
    );
    let (status, junk) = send(
        &api.base,
        "POST",
        "/api/v1/platform/plugins",
        Some(PLATFORM_TOKEN),
        b"junk".to_vec(),
    );
    assert_eq!(
        (status, junk["error"]["kind"].as_str()),
        (422, Some("invalid_input"))
    );

    let two = admin.post(
        "/api/v1/platform/plugins/use",
        json!({"version": "api-0.1", "all": true, "tenants": ["api-alpha"]}),
    );
    assert_eq!(two.status, 422, "{}", two.text);
    let moved = admin.post(
        "/api/v1/platform/plugins/use",
        json!({"version": "api-0.1", "tenants": ["api-alpha"]}),
    );
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.body["moved"][0]["tenant"], "api-alpha");
    assert_eq!(moved.body["moved"][0]["from"], "embedded");
    assert_eq!(runs(&host, alpha).as_deref(), added["sha256"].as_str());

    let list = admin.get("/api/v1/platform/plugins");
    assert_eq!(list.status, 200);
    assert_eq!(list.body["versions"][0]["version"], "embedded");
    assert_eq!(list.body["versions"][0]["tenants"], json!(["api-beta"]));
    assert_eq!(list.body["versions"][1]["version"], "api-0.1");
    assert_eq!(list.body["versions"][1]["tenants"], json!(["api-alpha"]));
    assert_eq!(
        api.with_token(&tenant_admin)
            .get("/api/v1/platform/plugins")
            .status,
        401
    );

    let back = admin.post("/api/v1/platform/plugins/rollback", json!({}));
    assert_eq!(back.status, 200, "{}", back.text);
    assert_eq!(runs(&host, alpha), None);
    let none = admin.post("/api/v1/platform/plugins/rollback", json!({}));
    assert_eq!(
        (none.status, none.body["error"]["kind"].as_str()),
        (404, Some("not_found"))
    );
}
