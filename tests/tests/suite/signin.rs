//! Signing in under attack (issue "hardening"), through the real server and its database: the
//! form's CSRF token and `Origin`, 401 for every wrong sign-in alike (unknown account, wrong
//! password, disabled person) and logged without the password, growing waits and the lockout
//! (429 with `Retry-After`), the owner's email, a lockout that ends, the browser that signed in
//! before not locked out by strangers, the client-address throttle, and the security headers on
//! every answer. Time is moved by ageing the throttle's counters in the database, never by
//! waiting.

use paydesk_host::contract::InvoiceAccessLevel;
use paydesk_host::db::{NewCustomer, NewUser, Principal};
use paydesk_host::tenant::TenantId;
use paydesk_tests::host::TestHost;
use paydesk_tests::signin::{Reply, attempt, login_form, send};

const PASSWORD: &str = "a long enough password";
const ADA: &str = "ada@signin.test";

/// A host with a tenant and its administrator Ada, served.
fn host(name: &str) -> (TestHost, TenantId, String) {
    let host = TestHost::new("http://127.0.0.1:9");
    let tenant = host.tenant(name, "sk_test_signin", |_| {});
    host.agent_with_password(&tenant, ADA, PASSWORD, true, true);
    let base = host.serve().base;
    (host, tenant, base)
}

/// Set a throttling counter as time would have left it.
fn set_counter(host: &TestHost, key: &str, failures: u32, next_allowed_at: i64) {
    let first = paydesk_host::db::now() - 60;
    let key = key.replace('\'', "''");
    host.sql(&format!(
        "INSERT INTO sign_in_counters (key, failures, first_failure_at, next_allowed_at, updated_at)
         VALUES ('{key}', {failures}, {first}, {next_allowed_at}, {first})
         ON CONFLICT (key) DO UPDATE SET failures = {failures}, next_allowed_at = {next_allowed_at}"
    ));
}

fn account_key(tenant: &TenantId, email: &str) -> String {
    format!("account:{tenant}:agent:{email}")
}

fn retry_after(r: &Reply) -> i64 {
    r.header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After on {} {}", r.status, r.text))
}

/// The page without its one-time CSRF token, to compare two answers.
fn without_token(text: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    match text.find(marker) {
        Some(i) => {
            let rest = &text[i + marker.len()..];
            format!("{}{}", &text[..i], &rest[rest.find('"').unwrap_or(0)..])
        }
        None => text.to_string(),
    }
}

#[test]
fn the_sign_in_form_needs_its_own_token_and_refuses_a_cross_site_origin() {
    let (_host, tenant, base) = host("signin-csrf");
    let form = [
        ("tenant", tenant.as_str()),
        ("email", ADA),
        ("password", PASSWORD),
        ("role", "agent"),
    ];
    // A cross-site form has neither the cookie nor the token.
    let forged = send(&base, "POST", "/login", &[], &[], Some(&form));
    assert_eq!(forged.status, 403, "{}", forged.text);
    assert!(forged.cookie("paydesk_session").is_none());
    // The cookie without the matching token, and a token without its cookie.
    let (csrf, cookie) = login_form(&base);
    let (other_csrf, _) = login_form(&base);
    fn with<'a>(form: &[(&'a str, &'a str)], csrf: &'a str) -> Vec<(&'a str, &'a str)> {
        let mut fields = form.to_vec();
        fields.push(("csrf", csrf));
        fields
    }
    let mismatched = send(
        &base,
        "POST",
        "/login",
        std::slice::from_ref(&cookie),
        &[],
        Some(&with(&form, &other_csrf)),
    );
    assert_eq!(mismatched.status, 403, "{}", mismatched.text);
    let no_cookie = send(&base, "POST", "/login", &[], &[], Some(&with(&form, &csrf)));
    assert_eq!(no_cookie.status, 403, "{}", no_cookie.text);
    // Right token, but posted from another site.
    let cross = send(
        &base,
        "POST",
        "/login",
        std::slice::from_ref(&cookie),
        &[("Origin", "https://evil.example")],
        Some(&with(&form, &csrf)),
    );
    assert_eq!(cross.status, 403, "{}", cross.text);
    assert!(cross.cookie("paydesk_session").is_none());
    // The real form signs in: the session cookie is HttpOnly and SameSite; no Secure over http.
    let ok = send(
        &base,
        "POST",
        "/login",
        &[cookie],
        &[],
        Some(&with(&form, &csrf)),
    );
    assert_eq!(
        (ok.status, ok.location.as_str()),
        (303, "/app"),
        "{}",
        ok.text
    );
    let session = ok
        .set_cookies
        .iter()
        .find(|c| c.starts_with("paydesk_session="))
        .expect("a session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
    assert!(!session.contains("Secure"), "{session}");
}

#[test]
fn every_wrong_sign_in_answers_alike_and_is_logged_without_the_password() {
    let (host, tenant, base) = host("signin-alike");
    let clerk = "clerk@signin.test";
    host.agent_with_password(&tenant, clerk, PASSWORD, false, false);
    let disabled = host
        .db()
        .agents(&tenant)
        .unwrap()
        .into_iter()
        .find(|a| a.email == clerk)
        .unwrap();
    paydesk_host::db::PeopleStore::set_disabled(
        host.db(),
        &tenant,
        paydesk_host::db::Person::Agent(disabled.id),
        true,
    )
    .unwrap();
    let wrong = "Wrong-Password-Canary-1234";
    let known = attempt(&base, tenant.as_str(), ADA, wrong, true);
    let unknown = attempt(&base, tenant.as_str(), "nobody@signin.test", wrong, true);
    let off = attempt(&base, tenant.as_str(), clerk, PASSWORD, true);
    let no_tenant = attempt(&base, "no-such-tenant", ADA, PASSWORD, true);
    for r in [&known, &unknown, &off, &no_tenant] {
        assert_eq!(r.status, 401, "{}", r.text);
        assert!(r.cookie("paydesk_session").is_none());
        assert!(
            r.text.contains("Unknown organisation, email or password."),
            "{}",
            r.text
        );
    }
    let page = |r: &Reply, email: &str, tenant: &str| {
        without_token(&r.text)
            .replace(email, "EMAIL")
            .replace(tenant, "TENANT")
    };
    assert_eq!(
        page(&known, ADA, tenant.as_str()),
        page(&unknown, "nobody@signin.test", tenant.as_str())
    );
    let logs = paydesk_tests::logs::contents();
    assert!(
        logs.contains("failed sign-in") && logs.contains("nobody@signin.test"),
        "no log line"
    );
    assert!(!logs.contains(wrong), "a password was logged");
}

#[test]
fn failures_make_the_account_wait_longer_and_longer_then_lock_it_and_tell_its_owner() {
    let (host, tenant, base) = host("signin-lockout");
    let key = account_key(&tenant, ADA);
    // Eleven failures behind it and its wait over: the twelfth makes it wait 128 s.
    set_counter(&host, &key, 11, 0);
    assert_eq!(
        attempt(&base, tenant.as_str(), ADA, "wrong", true).status,
        401
    );
    let waiting = attempt(&base, tenant.as_str(), ADA, PASSWORD, true);
    assert_eq!(
        waiting.status, 429,
        "even the right password waits: {}",
        waiting.text
    );
    assert!(waiting.cookie("paydesk_session").is_none());
    let first = retry_after(&waiting);
    assert!((60..=128).contains(&first), "Retry-After {first}");
    // The wait over, the thirteenth failure doubles it.
    set_counter(&host, &key, 12, 0);
    assert_eq!(
        attempt(&base, tenant.as_str(), ADA, "wrong", true).status,
        401
    );
    let second = retry_after(&attempt(&base, tenant.as_str(), ADA, PASSWORD, true));
    assert!((129..=256).contains(&second), "Retry-After {second}");
    assert!(
        host.db().emails(&tenant, 10).unwrap().is_empty(),
        "no lockout yet"
    );

    // The fifteenth failure is the lockout: 15 minutes, and Ada is told once.
    set_counter(&host, &key, 14, 0);
    assert_eq!(
        attempt(&base, tenant.as_str(), ADA, "wrong", true).status,
        401
    );
    let locked = attempt(&base, tenant.as_str(), ADA, PASSWORD, true);
    assert_eq!(locked.status, 429);
    assert!(
        (600..=900).contains(&retry_after(&locked)),
        "{:?}",
        locked.header("retry-after")
    );
    assert!(
        locked.text.contains("Too many failed sign-ins"),
        "{}",
        locked.text
    );
    let mail = host.db().emails(&tenant, 10).unwrap();
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0].to, vec![ADA.to_string()]);
    assert!(
        mail[0].text.contains("15 failed attempts"),
        "{}",
        mail[0].text
    );
    assert!(!mail[0].text.contains("wrong"), "{}", mail[0].text);
    // Another failure after the lockout, in the same streak, sends no second email.
    set_counter(&host, &key, 15, 0);
    assert_eq!(
        attempt(&base, tenant.as_str(), ADA, "wrong", true).status,
        401
    );
    assert_eq!(host.db().emails(&tenant, 10).unwrap().len(), 1);

    // A lockout ends: once its time has passed, the right password signs in, and the counter is
    // cleared.
    set_counter(&host, &key, 16, paydesk_host::db::now() - 1);
    let back = attempt(&base, tenant.as_str(), ADA, PASSWORD, true);
    assert_eq!(back.status, 303, "{}", back.text);
    assert_eq!(
        attempt(&base, tenant.as_str(), ADA, "wrong", true).status,
        401
    );
    assert_eq!(
        attempt(&base, tenant.as_str(), ADA, PASSWORD, true).status,
        303
    );
}

#[test]
fn a_browser_that_signed_in_before_is_not_locked_out_by_strangers() {
    let (host, tenant, base) = host("signin-device");
    let first = attempt(&base, tenant.as_str(), ADA, PASSWORD, true);
    assert_eq!(first.status, 303, "{}", first.text);
    let device = first.cookie("paydesk_device").expect("a device cookie");
    // Strangers lock the account out.
    set_counter(
        &host,
        &account_key(&tenant, ADA),
        15,
        paydesk_host::db::now() + 900,
    );
    assert_eq!(
        attempt(&base, tenant.as_str(), ADA, PASSWORD, true).status,
        429
    );
    // Ada's own browser still signs in.
    let (csrf, cookie) = login_form(&base);
    let mine = send(
        &base,
        "POST",
        "/login",
        &[cookie, device.clone()],
        &[],
        Some(&[
            ("csrf", csrf.as_str()),
            ("tenant", tenant.as_str()),
            ("email", ADA),
            ("password", PASSWORD),
            ("role", "agent"),
        ]),
    );
    assert_eq!(mine.status, 303, "{}", mine.text);
    // A device cookie of another account is a stranger's.
    host.agent_with_password(&tenant, "bob@signin.test", PASSWORD, false, false);
    set_counter(
        &host,
        &account_key(&tenant, "bob@signin.test"),
        15,
        paydesk_host::db::now() + 900,
    );
    let (csrf, cookie) = login_form(&base);
    let borrowed = send(
        &base,
        "POST",
        "/login",
        &[cookie, device],
        &[],
        Some(&[
            ("csrf", csrf.as_str()),
            ("tenant", tenant.as_str()),
            ("email", "bob@signin.test"),
            ("password", PASSWORD),
            ("role", "agent"),
        ]),
    );
    assert_eq!(borrowed.status, 429, "{}", borrowed.text);
}

#[test]
fn a_client_address_with_too_many_failures_waits_whatever_account_it_names() {
    let (host, tenant, base) = host("signin-address");
    set_counter(
        &host,
        "address:127.0.0.1",
        40,
        paydesk_host::db::now() + 300,
    );
    let r = attempt(&base, tenant.as_str(), ADA, PASSWORD, true);
    assert_eq!(r.status, 429, "{}", r.text);
    assert!((200..=300).contains(&retry_after(&r)));
    let other = attempt(&base, tenant.as_str(), "someone@else.test", "x", false);
    assert_eq!(other.status, 429);
}

#[test]
fn every_answer_carries_the_security_headers() {
    let (host, tenant, base) = host("signin-headers");
    let token = host.admin_token(&tenant);
    let customer = host
        .db()
        .create_customer(
            &tenant,
            &NewCustomer {
                name: "Headers Ltd".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let user = host
        .db()
        .create_user(
            &tenant,
            &NewUser {
                customer_id: customer.id,
                name: "Hal".into(),
                email: "hal@headers.test".into(),
                invoice_access_level: InvoiceAccessLevel::Customer,
            },
        )
        .unwrap();
    host.db()
        .set_password(&tenant, &Principal::User(user), PASSWORD)
        .unwrap();
    let session = paydesk_tests::signin::session_cookie(
        &base,
        tenant.as_str(),
        "hal@headers.test",
        PASSWORD,
        false,
    );
    let bearer = format!("Bearer {token}");
    let answers = [
        ("/login", send(&base, "GET", "/login", &[], &[], None)),
        (
            "/portal",
            send(
                &base,
                "GET",
                "/portal",
                std::slice::from_ref(&session),
                &[],
                None,
            ),
        ),
        (
            "/app (signed out)",
            send(&base, "GET", "/app", &[], &[], None),
        ),
        (
            "the API",
            send(
                &base,
                "GET",
                &format!("/api/v1/tenants/{tenant}/customers"),
                &[],
                &[("Authorization", &bearer)],
                None,
            ),
        ),
        ("/healthz", send(&base, "GET", "/healthz", &[], &[], None)),
        (
            "/api/openapi.json",
            send(&base, "GET", "/api/openapi.json", &[], &[], None),
        ),
        (
            "a missing page",
            send(&base, "GET", "/no/such/page", &[], &[], None),
        ),
    ];
    for (what, r) in &answers {
        let csp = r
            .header("content-security-policy")
            .unwrap_or_else(|| panic!("{what}: no CSP"));
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{what}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{what}");
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{what}"
        );
        assert_eq!(r.header("referrer-policy"), Some("same-origin"), "{what}");
        assert_eq!(r.header("cache-control"), Some("no-store"), "{what}");
        assert_eq!(
            r.header("strict-transport-security"),
            None,
            "{what}: HSTS over http"
        );
    }
    assert_eq!(answers[1].1.status, 200, "{}", answers[1].1.text);
    assert!(
        answers[3].1.text.contains("Headers Ltd"),
        "{}",
        answers[3].1.text
    );
    let script = send(&base, "GET", "/static/paydesk.js", &[], &[], None);
    assert_eq!(script.header("cache-control"), Some("no-cache"));
    assert_eq!(script.header("x-content-type-options"), Some("nosniff"));
}

#[test]
fn pages_show_only_messages_the_server_kept_never_text_from_the_url() {
    let (host, tenant, base) = host("signin-flash");
    let planted = send(
        &base,
        "GET",
        "/login?msg=Your+session+expired,+call+555-0100",
        &[],
        &[],
        None,
    );
    assert_eq!(planted.status, 200);
    assert!(!planted.text.contains("555-0100"), "{}", planted.text);
    let keyed = send(&base, "GET", "/login?msg=signed-out", &[], &[], None);
    assert!(
        keyed.text.contains("You have signed out."),
        "{}",
        keyed.text
    );

    let ada = paydesk_tests::signin::session_cookie(&base, tenant.as_str(), ADA, PASSWORD, true);
    host.agent_with_password(&tenant, "bob@signin.test", PASSWORD, true, true);
    let bob = paydesk_tests::signin::session_cookie(
        &base,
        tenant.as_str(),
        "bob@signin.test",
        PASSWORD,
        true,
    );
    let token = |cookie: &str| cookie.trim_start_matches("paydesk_session=").to_string();
    let id = paydesk_host::db::SignInStore::save_flash(host.db(), &token(&ada), "Kept for Ada.")
        .unwrap();
    let shown = send(
        &base,
        "GET",
        &format!("/app/people?msg={id}"),
        std::slice::from_ref(&ada),
        &[],
        None,
    );
    assert!(shown.text.contains("Kept for Ada."), "{}", shown.text);
    let other = send(
        &base,
        "GET",
        &format!("/app/people?msg={id}"),
        &[bob],
        &[],
        None,
    );
    assert!(
        !other.text.contains("Kept for Ada."),
        "another session read Ada's message"
    );
    let free = send(
        &base,
        "GET",
        "/app/people?msg=Call+555-0100",
        std::slice::from_ref(&ada),
        &[],
        None,
    );
    assert!(!free.text.contains("555-0100"), "{}", free.text);

    // A form's own message comes back the same way: by id, for this session only.
    let (_, _, csrf) = host.db().session(&token(&ada)).unwrap().unwrap();
    let me = host.db().agents(&tenant).unwrap()[0].id;
    let refused = send(
        &base,
        "POST",
        &format!("/app/people/agents/{me}/disable"),
        std::slice::from_ref(&ada),
        &[],
        Some(&[("csrf", csrf.as_str())]),
    );
    assert_eq!(refused.status, 303);
    assert!(
        !refused.location.contains("disable yourself"),
        "{}",
        refused.location
    );
    let page = send(&base, "GET", &refused.location, &[ada], &[], None);
    assert!(
        page.text
            .contains("you can&#39;t disable or remove yourself")
            || page.text.contains("you can't disable or remove yourself"),
        "{}",
        page.text
    );
}
