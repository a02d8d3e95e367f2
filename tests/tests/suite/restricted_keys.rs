//! Restricted secret keys (`rk_…`): accepted and kept like `sk_…` keys (masked, never shown or
//! logged), and a call Stripe refuses for a missing permission names the permission to add — in the
//! API and on the setup page — without the key. localstripe has no restricted keys: the project's
//! Stripe stand-in answers as Stripe does.

use serde_json::json;

use paydesk_tests::fake_stripe::FakeStripe;
use paydesk_tests::host::TestHost;
use paydesk_tests::logs;

const FULL: &str = "rk_test_RestrictedKeyAllowed0001";
const LIMITED: &str = "rk_test_RestrictedKeyLimited0002";
const PASSWORD: &str = "restricted keys password";

/// Stripe as it answers each key: `FULL` may list customers; `LIMITED` is refused with Stripe's
/// words, naming the key in full (worse than Stripe, which masks most of it).
fn stripe() -> FakeStripe {
    FakeStripe::start(|r| {
        let auth = r
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        match (r.method.as_str(), r.path.split('?').next().unwrap_or("")) {
            ("GET", "/v1/customers") if auth == format!("Bearer {LIMITED}") => (
                403,
                json!({"error": {"type": "invalid_request_error", "message": format!(
                    "The provided key '{LIMITED}' does not have the required permissions for this endpoint on account 'acct_1Fake'. Having the 'rak_customer_read' permission would allow this request to continue."
                )}})
                .to_string(),
            ),
            ("GET", "/v1/customers") if auth.starts_with("Bearer ") => (
                200,
                json!({"object": "list", "data": [], "has_more": false, "url": "/v1/customers"})
                    .to_string(),
            ),
            _ => (404, r#"{"error":{"message":"no such route"}}"#.into()),
        }
    })
}

#[test]
fn a_restricted_key_is_accepted_stored_and_never_shown_or_logged() {
    logs::capture();
    paydesk_tests::sweep::register_secret(FULL);
    let fake = stripe();
    let host = TestHost::new(&fake.base_url);
    let tenant = host.tenant("rk-accepted", "sk_test_rk_accepted", |_| {});
    let api = host.serve().with_token(&host.admin_token(&tenant));
    let path = "/api/v1/tenants/rk-accepted/settings";

    let answer = api.patch(path, json!({"stripe_secret_key": FULL}));
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body["stripe_secret_key"], "rk_test_…0001");
    assert_eq!(
        host.db().secret_key(&tenant).unwrap().unwrap().expose(),
        FULL
    );
    // Tried against Stripe before it was kept, and used from now on.
    assert!(fake.seen().iter().any(|r| {
        r.headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("authorization") && *v == format!("Bearer {FULL}"))
    }));
    let tested = api.post(&format!("{path}/test-connection"), json!({}));
    assert_eq!(tested.status, 200, "{}", tested.text);
    assert_eq!(tested.body["livemode"], false);

    // A live restricted key beside a test publishable key: the modes must match, as for sk keys.
    let live = "rk_live_RestrictedKeyLiveMode0003";
    paydesk_tests::sweep::register_secret(live);
    let refused = api.patch(path, json!({"stripe_secret_key": live}));
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(refused.text.contains("same mode"), "{}", refused.text);
    assert_eq!(
        host.db().secret_key(&tenant).unwrap().unwrap().expose(),
        FULL
    );

    let shown = api.get(path);
    assert_eq!(shown.body["stripe_secret_key"], "rk_test_…0001");
    for text in [&answer.text, &tested.text, &refused.text, &shown.text] {
        assert!(
            !text.contains("RestrictedKey"),
            "a response shows the key: {text}"
        );
    }
    assert!(
        !logs::contents().contains("RestrictedKey"),
        "a log line shows the key"
    );
}

#[test]
fn a_missing_permission_is_named_by_the_api_and_the_setup_page_without_the_key() {
    logs::capture();
    paydesk_tests::sweep::register_secret(LIMITED);
    let fake = stripe();
    let host = TestHost::new(&fake.base_url);
    let tenant = host.tenant("rk-limited", LIMITED, |_| {});
    let api = host.serve().with_token(&host.admin_token(&tenant));

    // The API: test connection says which permission to add.
    let answer = api.post(
        "/api/v1/tenants/rk-limited/settings/test-connection",
        json!({}),
    );
    assert_eq!(answer.status, 409, "{}", answer.text);
    assert!(
        answer
            .text
            .contains("lacks the permission rak_customer_read")
            && answer.text.contains("add it to the key"),
        "{}",
        answer.text
    );
    assert!(!answer.text.contains("RestrictedKey"), "{}", answer.text);

    // Saving such a key is refused the same way, naming the field and the permission.
    let saved = api.patch(
        "/api/v1/tenants/rk-limited/settings",
        json!({"stripe_secret_key": LIMITED}),
    );
    assert_eq!(saved.status, 422, "{}", saved.text);
    assert_eq!(
        saved.body["error"]["fields"][0]["field"],
        "stripe_secret_key"
    );
    assert!(saved.text.contains("rak_customer_read"), "{}", saved.text);
    assert!(!saved.text.contains("RestrictedKey"), "{}", saved.text);

    // The setup page's "Test connection" shows it too.
    host.agent_with_password(&tenant, "ada@rk.test", PASSWORD, true, true);
    let base = api.base.clone();
    let agent = paydesk_tests::signin::session_cookie(
        &base,
        tenant.as_str(),
        "ada@rk.test",
        PASSWORD,
        true,
    );
    let send = |method: &str, path: &str, form: Option<&[(&str, &str)]>| {
        paydesk_tests::signin::send(&base, method, path, std::slice::from_ref(&agent), &[], form)
    };
    let setup = send("GET", "/app/setup", None);
    assert_eq!(setup.status, 200, "{}", setup.text);
    let marker = "name=\"csrf\" value=\"";
    let rest = &setup.text[setup.text.find(marker).expect("a form") + marker.len()..];
    let token = rest[..rest.find('"').unwrap()].to_string();
    let tested = send(
        "POST",
        "/app/setup/test-connection",
        Some(&[("csrf", &token)]),
    );
    let page = if tested.status == 303 {
        send("GET", &tested.location, None)
    } else {
        tested
    };
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains("lacks the permission rak_customer_read"),
        "{}",
        page.text
    );
    assert!(!page.text.contains("RestrictedKey"), "{}", page.text);
    assert!(
        !logs::contents().contains("RestrictedKey"),
        "a log line shows the key"
    );
}
