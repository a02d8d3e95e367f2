//! The lifecycle of credentials and people (issue "hardening"), judged from outside — the API's
//! and pages' answers, the database, localstripe's records: a revoked or expired token stops at
//! once; a disabled or removed person's sessions and tokens end at once; a session whose person
//! is gone leads to the sign-in page; expired sessions are purged; "Add payment method" is
//! refused at its start when the setting hides it; `Secure` cookies and HSTS over https (in any
//! case) and behind a TLS proxy; a secret key with a line break is a bad field, not an unknown
//! outcome; and another customer's records answer exactly like missing ones.

use std::sync::Arc;

use serde_json::json;

use paydesk_host::web::WebConfig;
use paydesk_tests::host::{ApiClient, TestHost};
use paydesk_tests::signin::{attempt, send, session_cookie};

use crate::payments::{PAYER, shop, stripe_request};

const PASSWORD: &str = "a long enough password";

fn sql(host: &TestHost, statement: &str) {
    host.sql(statement);
}

fn count(host: &TestHost, query: &str) -> i64 {
    host.query_i64(query)
}

#[test]
fn a_revoked_token_stops_at_once_and_an_expired_one_too() {
    let shop = shop("life-tokens", "usd", |_| {});
    let tokens = shop.admin.get(&shop.path("/tokens"));
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let user_token = tokens
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["owner_kind"] == "user")
        .unwrap()
        .clone();
    assert_eq!(user_token["active"], true, "{user_token}");
    assert!(user_token["expires_at"].as_i64().unwrap() > paydesk_host::db::now() + 80 * 86_400);
    assert!(
        !tokens.text.contains("pdk_"),
        "a token's value is listed: {}",
        tokens.text
    );
    assert_eq!(shop.user.get(&shop.path("/invoices")).status, 200);
    let revoked = shop
        .admin
        .delete(&shop.path(&format!("/tokens/{}", user_token["id"])));
    assert_eq!(revoked.status, 204, "{}", revoked.text);
    assert_eq!(shop.user.get(&shop.path("/invoices")).status, 401);
    let listed = shop.admin.get(&shop.path("/tokens")).body;
    let again = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == user_token["id"])
        .unwrap();
    assert_eq!(again["active"], false);
    assert!(again["revoked_at"].is_i64(), "{again}");

    // An expired token: the admin's own, aged past its expiry.
    assert_eq!(shop.admin.get(&shop.path("/settings")).status, 200);
    sql(
        &shop.host,
        "UPDATE api_tokens SET expires_at = 1 WHERE agent_id IS NOT NULL",
    );
    assert_eq!(shop.admin.get(&shop.path("/settings")).status, 401);
}

#[test]
fn disabling_a_person_ends_their_session_and_tokens_at_once() {
    let shop = shop("life-disable", "usd", |_| {});
    shop.host.user_password(&shop.tenant, PAYER, PASSWORD);
    let base = shop.admin.base.clone();
    let session = session_cookie(&base, shop.tenant.as_str(), PAYER, PASSWORD, false);
    assert_eq!(
        send(
            &base,
            "GET",
            "/portal",
            std::slice::from_ref(&session),
            &[],
            None
        )
        .status,
        200
    );
    assert_eq!(shop.user.get(&shop.path("/invoices")).status, 200);
    let user_id = shop
        .host
        .db()
        .users(&shop.tenant)
        .unwrap()
        .into_iter()
        .find(|u| u.email == PAYER)
        .unwrap()
        .id;

    let off = shop
        .admin
        .post(&shop.path(&format!("/users/{user_id}/disable")), json!({}));
    assert_eq!(off.status, 204, "{}", off.text);
    let page = send(
        &base,
        "GET",
        "/portal",
        std::slice::from_ref(&session),
        &[],
        None,
    );
    assert_eq!(
        (page.status, page.location.as_str()),
        (303, "/login?msg=session-ended")
    );
    assert_eq!(shop.user.get(&shop.path("/invoices")).status, 401);
    assert_eq!(
        attempt(&base, shop.tenant.as_str(), PAYER, PASSWORD, false).status,
        401
    );
    let login = send(&base, "GET", &page.location, &[], &[], None);
    assert!(
        login.text.contains("Your session has ended"),
        "{}",
        login.text
    );

    // Enabled again: they sign in; what ended stays ended.
    let on = shop
        .admin
        .post(&shop.path(&format!("/users/{user_id}/enable")), json!({}));
    assert_eq!(on.status, 204, "{}", on.text);
    assert_eq!(
        attempt(&base, shop.tenant.as_str(), PAYER, PASSWORD, false).status,
        303
    );
    assert_eq!(shop.user.get(&shop.path("/invoices")).status, 401);
    assert_eq!(
        send(&base, "GET", "/portal", &[session], &[], None).status,
        303
    );

    // An administrator cannot disable or remove themselves.
    let me = shop.host.db().agents(&shop.tenant).unwrap()[0].id;
    assert_eq!(
        shop.admin
            .post(&shop.path(&format!("/agents/{me}/disable")), json!({}))
            .status,
        409
    );
    assert_eq!(
        shop.admin
            .delete(&shop.path(&format!("/agents/{me}")))
            .status,
        409
    );
}

#[test]
fn removing_a_person_ends_everything_and_their_invoices_stay() {
    let shop = shop("life-remove", "usd", |_| {});
    shop.host.user_password(&shop.tenant, PAYER, PASSWORD);
    let base = shop.admin.base.clone();
    let session = session_cookie(&base, shop.tenant.as_str(), PAYER, PASSWORD, false);
    let user_id = shop
        .host
        .db()
        .users(&shop.tenant)
        .unwrap()
        .into_iter()
        .find(|u| u.email == PAYER)
        .unwrap()
        .id;
    let invoice = shop.admin.post(
        &shop.path("/invoices"),
        json!({"number": "OWN-1", "customer_id": shop.customer_id, "user_id": user_id, "currency": "usd",
               "issue_date": "2026-11-01", "due_date": "2026-11-30", "lines": [{"description": "x", "amount": 500}]}),
    );
    assert_eq!(invoice.status, 201, "{}", invoice.text);
    let gone = shop.admin.delete(&shop.path(&format!("/users/{user_id}")));
    assert_eq!(gone.status, 204, "{}", gone.text);
    assert_eq!(shop.user.get(&shop.path("/invoices")).status, 401);
    let page = send(&base, "GET", "/portal", &[session], &[], None);
    assert_eq!(
        (page.status, page.location.as_str()),
        (303, "/login?msg=session-ended")
    );
    assert_eq!(
        count(
            &shop.host,
            &format!("SELECT COUNT(*) FROM users WHERE id = {user_id}")
        ),
        0
    );
    assert_eq!(
        count(
            &shop.host,
            &format!("SELECT COUNT(*) FROM sessions WHERE user_id = {user_id}")
        ),
        0
    );
    let kept = shop
        .admin
        .get(&shop.path(&format!("/invoices/{}", invoice.body["id"])));
    assert_eq!(kept.status, 200, "{}", kept.text);
    assert_eq!(
        shop.admin
            .delete(&shop.path(&format!("/users/{user_id}")))
            .status,
        404
    );
}

#[test]
fn a_session_whose_person_is_gone_leads_to_sign_in_and_expired_sessions_are_purged() {
    let host = TestHost::new("http://127.0.0.1:9");
    let tenant = host.tenant("life-gone", "sk_test_gone", |_| {});
    host.agent_with_password(&tenant, "gone@life.test", PASSWORD, false, false);
    host.agent_with_password(&tenant, "stays@life.test", PASSWORD, false, false);
    let base = host.serve().base;
    let gone = session_cookie(&base, tenant.as_str(), "gone@life.test", PASSWORD, true);
    let stays = session_cookie(&base, tenant.as_str(), "stays@life.test", PASSWORD, true);
    // The agent's row vanishes under its live session (another host, a hand-made deletion).
    sql(
        &host,
        if host.is_postgres() {
            "SET session_replication_role = replica; DELETE FROM agents WHERE email = 'gone@life.test';"
        } else {
            "PRAGMA foreign_keys = OFF; DELETE FROM agents WHERE email = 'gone@life.test';"
        },
    );
    let page = send(&base, "GET", "/app", &[gone], &[], None);
    assert_eq!(
        (page.status, page.location.as_str()),
        (303, "/login?msg=session-ended"),
        "{}",
        page.text
    );
    assert_eq!(
        send(
            &base,
            "GET",
            "/app",
            std::slice::from_ref(&stays),
            &[],
            None
        )
        .status,
        200
    );

    // An expired session is refused, and purged with the rest.
    sql(&host, "UPDATE sessions SET expires_at = 1");
    assert_eq!(send(&base, "GET", "/app", &[stays], &[], None).status, 303);
    assert!(count(&host, "SELECT COUNT(*) FROM sessions") >= 2);
    paydesk_host::scheduler::purge(&host.app);
    assert_eq!(count(&host, "SELECT COUNT(*) FROM sessions"), 0);
}

#[test]
fn add_payment_method_is_refused_at_its_start_when_the_setting_hides_it() {
    let shop = shop("life-hide", "usd", |s| {
        s.show_auto_payment_on_portal = paydesk_host::settings::PortalAccess::Hide
    });
    shop.host.user_password(&shop.tenant, PAYER, PASSWORD);
    let base = shop.admin.base.clone();
    let session = session_cookie(&base, shop.tenant.as_str(), PAYER, PASSWORD, false);
    let token = session.strip_prefix("paydesk_session=").unwrap();
    let (_, _, csrf) = shop.host.db().session(token).unwrap().unwrap();
    shop.recorder.clear();
    let page = send(
        &base,
        "GET",
        "/portal/payment-method",
        std::slice::from_ref(&session),
        &[],
        None,
    );
    assert_eq!(page.status, 403, "{}", page.text);
    let start = send(
        &base,
        "POST",
        "/portal/payment-method/start",
        &[session],
        &[("X-CSRF-Token", &csrf)],
        Some(&[]),
    );
    assert_eq!(start.status, 403, "{}", start.text);
    assert!(!start.text.contains("client_secret"), "{}", start.text);
    let setups: Vec<_> = shop
        .recorder
        .requests()
        .into_iter()
        .filter(|r| r.path_and_query.starts_with("/v1/setup_intents"))
        .collect();
    assert!(setups.is_empty(), "a SetupIntent was made: {setups:?}");
}

#[test]
fn cookies_are_secure_over_https_in_any_case_and_behind_a_tls_proxy() {
    for (public_url, behind_proxy) in [(Some("HTTPS://Pay.Example.test"), false), (None, true)] {
        let mut host = TestHost::new("http://127.0.0.1:9");
        let tenant = host.tenant("life-secure", "sk_test_secure", |_| {});
        host.agent_with_password(&tenant, "ada@secure.test", PASSWORD, true, true);
        Arc::get_mut(&mut host.app).unwrap().public_url = public_url.map(str::to_string);
        let mut web = WebConfig::new(host.stripe_js_url.clone());
        web.behind_tls_proxy = behind_proxy;
        let base = host.serve_with(web).base;
        let page = send(&base, "GET", "/login", &[], &[], None);
        assert_eq!(
            page.header("strict-transport-security"),
            Some("max-age=31536000")
        );
        let signed_in = attempt(&base, tenant.as_str(), "ada@secure.test", PASSWORD, true);
        assert_eq!(signed_in.status, 303, "{}", signed_in.text);
        for c in &signed_in.set_cookies {
            assert!(
                c.contains("; Secure"),
                "{public_url:?} behind proxy {behind_proxy}: {c}"
            );
        }
    }
}

#[test]
fn a_secret_key_with_a_line_break_is_a_bad_field_and_nothing_is_sent() {
    let shop = shop("life-crlf", "usd", |_| {});
    shop.recorder.clear();
    let bad = shop.admin.patch(
        &shop.path("/settings"),
        json!({"stripe_secret_key": "sk_test_abc\r\nX-Injected: 1"}),
    );
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert_eq!(bad.body["error"]["kind"], "invalid_input", "{}", bad.text);
    assert_eq!(
        bad.body["error"]["fields"][0]["field"], "stripe_secret_key",
        "{}",
        bad.text
    );
    assert!(shop.recorder.requests().is_empty(), "Stripe was called");
    // The stored key still works.
    assert_eq!(
        shop.admin
            .post(&shop.path("/settings/test-connection"), json!({}))
            .status,
        200
    );
}

#[test]
fn another_customers_records_answer_exactly_like_missing_ones() {
    let shop = shop("life-notyours", "usd", |_| {});
    let other = shop
        .admin
        .post(&shop.path("/customers"), json!({"name": "Other Co"}));
    let cus = stripe_request(
        &shop.stripe,
        "POST",
        "/v1/customers",
        &[("name", "Other Co")],
    );
    let mapped = shop.admin.post(
        &shop.path("/mappings"),
        json!({"customer_id": other.body["customer"]["id"], "stripe_customer_id": cus["id"]}),
    );
    assert_eq!(mapped.status, 201, "{}", mapped.text);
    let foreign = shop.admin.post(
        &shop.path("/invoices"),
        json!({"number": "OTHER-1", "customer_id": other.body["customer"]["id"], "currency": "usd",
               "issue_date": "2026-11-01", "due_date": "2026-11-30", "lines": [{"description": "x", "amount": 999}]}),
    );
    let foreign_id = foreign.body["id"].as_i64().unwrap();
    let missing_id = foreign_id + 1_000;
    let same = |what: &str, a: paydesk_tests::host::Answer, b: paydesk_tests::host::Answer| {
        let show = |t: &str, id: i64| t.replace(&id.to_string(), "ID");
        assert_eq!(a.status, b.status, "{what}: {} vs {}", a.text, b.text);
        assert_eq!(
            show(&a.text, foreign_id),
            show(&b.text, missing_id),
            "{what}"
        );
        assert!((400..500).contains(&a.status), "{what}: {}", a.text);
    };
    let user: &ApiClient = &shop.user;
    for path in ["/payments/quote", "/payments"] {
        let body = |id: i64| json!({"invoice_ids": [id], "method_type": "card", "pay_with": "saved_method"});
        let body = |id| {
            let mut b = body(id);
            if path == "/payments" {
                b.as_object_mut().unwrap().remove("method_type");
            } else {
                b.as_object_mut().unwrap().remove("pay_with");
            }
            b
        };
        same(
            path,
            user.post(&shop.path(path), body(foreign_id)),
            user.post(&shop.path(path), body(missing_id)),
        );
    }
    same(
        "invoice",
        user.get(&shop.path(&format!("/invoices/{foreign_id}"))),
        user.get(&shop.path(&format!("/invoices/{missing_id}"))),
    );
    // A payment of the other customer's, and an intent nobody has.
    let started = shop.admin.post(
        &shop.path("/payments"),
        json!({"invoice_ids": [foreign_id], "pay_with": {"new_details": ["card"]}}),
    );
    assert_eq!(started.status, 201, "{}", started.text);
    let intent = started.body["intent_id"].as_str().unwrap().to_string();
    let a = user.post(
        &shop.path(&format!("/payments/{intent}/refresh")),
        json!({}),
    );
    let b = user.post(&shop.path("/payments/pi_nobodys/refresh"), json!({}));
    assert_eq!((a.status, &a.text), (b.status, &b.text));
    assert_eq!(a.status, 404);
}
