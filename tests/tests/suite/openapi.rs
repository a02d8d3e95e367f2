//! The JSON API says what happened, in the shape and with the constraints its OpenAPI document
//! gives (issue 12, items 7–8). Schemathesis (PyPI, pinned in the test venv by
//! `scripts/test-env.sh`) runs every one of its checks against `/api/openapi.json` of a served host
//! whose tenant is connected to localstripe, with an admin's token, over every tenant route, with a
//! fixed seed and a bounded number of examples; any failed check fails the test with schemathesis's
//! own report. Beside it, the framework's own refusals — wrong content type, JSON that does not
//! parse, an unknown field, a body too large, an unknown route or method, a path parameter that does
//! not parse — are each shown to answer in the documented error shape, and `POST autopay/run`
//! without a body is refused without running anything.

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use paydesk_tests::host::{ApiClient, TestHost};
use paydesk_tests::services::{LocalStripe, venv_python};

use crate::payments::{attach_card, stripe_request};

/// Examples per operation and phase: enough to cover every documented constraint's edges, few
/// enough that the run stays within a few minutes on two shared cores.
const MAX_EXAMPLES: u32 = 12;
/// The run is stopped (and the test fails) past this: a bound, not a measurement.
const WATCHDOG: Duration = Duration::from_secs(170);

/// A served host on localstripe: a tenant with a mapped customer whose card is its automatic
/// method, an invoice, and an admin's token.
struct Served {
    _stripe: LocalStripe,
    host: TestHost,
    api: ApiClient,
    tenant: String,
}

fn served(name: &str) -> Served {
    let stripe = LocalStripe::start().expect("localstripe");
    let host = TestHost::new(&stripe.base_url);
    let tenant = host.tenant(name, "sk_test_openapi", |s| {
        s.stripe_currency = "usd".into();
        s.stripe_processing_fee_percentage = "2.9".into();
    });
    let api = host.serve().with_token(&host.admin_token(&tenant));
    let path = |rest: &str| format!("/api/v1/tenants/{tenant}{rest}");
    let cus = stripe_request(&stripe, "POST", "/v1/customers", &[("name", "Initech")]);
    let cus = cus["id"].as_str().expect("a Stripe customer");
    let card = attach_card(&stripe, cus, "4242424242424242");
    let created = api.post(
        &path("/customers"),
        json!({"name": "Initech", "accounts_email": "ap@initech.test"}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["customer"]["id"].as_i64().unwrap();
    let mapped = api.post(
        &path("/mappings"),
        json!({"customer_id": id, "stripe_customer_id": cus}),
    );
    assert_eq!(mapped.status, 201, "{}", mapped.text);
    let set = api.put(
        &path(&format!("/customers/{id}/automatic-payment-method")),
        json!({"payment_method_id": card}),
    );
    assert_eq!(set.status, 200, "{}", set.text);
    let invoice = api.post(
        &path("/invoices"),
        json!({"number": "OAS-1", "customer_id": id, "currency": "usd", "issue_date": "2026-11-01",
               "due_date": "2026-11-30", "lines": [{"description": "Support", "amount": 12_300}]}),
    );
    assert_eq!(invoice.status, 201, "{}", invoice.text);
    Served {
        _stripe: stripe,
        host,
        api,
        tenant: tenant.to_string(),
    }
}

/// Run `command` to its end, or kill it at the watchdog; (exited in time and successfully, output).
fn run_bounded(mut command: Command) -> (bool, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("schemathesis starts");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = std::time::Instant::now() + WATCHDOG;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = format!(
        "{}\n--- stderr ---\n{}",
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default()
    );
    match status {
        Some(s) => (s.success(), text),
        None => (
            false,
            format!("stopped after {WATCHDOG:?} (the bound of this test)\n{text}"),
        ),
    }
}

#[test]
fn schemathesis_finds_every_check_passing_on_every_tenant_route() {
    let s = served("openapi-schemathesis");
    let python = venv_python().expect("the test venv");
    let schemathesis = python.with_file_name("schemathesis");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(
        &config,
        format!(
            "[parameters]\n\"path.tenant\" = \"{}\"\n\n[generation]\ndatabase = \"none\"\n",
            s.tenant
        ),
    )
    .unwrap();
    let token = s.api.token.clone().unwrap();
    let mut command = Command::new(&schemathesis);
    command
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(format!("{}/api/openapi.json", s.api.base))
        .args(["--checks", "all"])
        .args(["--include-path-regex", "^/api/v1/tenants/"])
        // PATCH settings is left out: its rules span fields (modes of the two keys, manual types
        // within imported ones) and a new secret key is tried against Stripe, none of which its
        // free-form body schema states; its refusals are covered in connect.rs.
        .args(["--exclude-operation-id", "patch_settings"])
        // PUT email-templates/{id} is left out: schemathesis 4.32.5 sends a bare `0` as its body
        // and counts that as valid for the object schema (`TemplateView`, additionalProperties
        // false); the server's 422 for it is right.
        .args(["--exclude-operation-id", "put_template"])
        .args(["--max-examples", &MAX_EXAMPLES.to_string()])
        .args(["--seed", "12"])
        .args(["--workers", "1"])
        .args(["--request-timeout", "60"])
        .args(["--suppress-health-check", "too_slow"])
        .args(["--no-color", "--output-truncate", "false"])
        .arg("-H")
        .arg(format!("Authorization: Bearer {token}"));
    let (ok, report) = run_bounded(command);
    assert!(
        ok,
        "schemathesis found the OpenAPI document and the server disagree:\n{report}\n--- host log ---\n{}",
        paydesk_tests::logs::contents()
    );
    // It really ran: every tenant route was exercised (and the report says so).
    assert!(report.contains("passed"), "{report}");
    drop(s.host);
}

/// A raw request: (status, content type, body).
fn raw(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, String, String) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .new_agent();
    let mut request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"));
    if let Some(t) = token {
        request = request.header("Authorization", format!("Bearer {t}"));
    }
    if let Some(c) = content_type {
        request = request.header("Content-Type", c);
    }
    let mut response = agent
        .run(request.body(body).unwrap())
        .expect("the server answers");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (response.status().as_u16(), content_type, text)
}

/// POST a JSON `body` over a plain connection, reading the answer while the body is still being
/// sent: a server may refuse a body that is too large before it has all arrived, and close the
/// connection, which a client that first sends everything sees as a broken pipe instead of the
/// answer. (status, content type, body).
fn raw_while_sending(base: &str, path: &str, token: &str, body: Vec<u8>) -> (u16, String, String) {
    use std::io::{BufRead, BufReader, Read, Write};
    let addr = base.trim_start_matches("http://");
    let stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let sender = std::thread::spawn(move || {
        // Write errors are expected once the server has answered and closed.
        let _ = writer
            .write_all(head.as_bytes())
            .and_then(|()| writer.write_all(&body));
    });
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).expect("a status line");
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {line:?}"));
    let (mut content_type, mut length) = (String::new(), None);
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).expect("a header line");
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-type" => content_type = v.trim().to_string(),
                "content-length" => length = v.trim().parse::<usize>().ok(),
                _ => {}
            }
        }
    }
    let mut text = vec![0; length.expect("a content-length")];
    reader.read_exact(&mut text).expect("the body");
    let _ = sender.join();
    (
        status,
        content_type,
        String::from_utf8_lossy(&text).into_owned(),
    )
}

/// The documented error shape, of this kind; returns the body.
fn assert_error_shape(
    what: &str,
    answer: &(u16, String, String),
    status: u16,
    kind: &str,
) -> Value {
    let (got, content_type, text) = answer;
    assert_eq!(*got, status, "{what}: {text}");
    assert!(
        content_type.starts_with("application/json"),
        "{what}: content type `{content_type}`: {text}"
    );
    let body: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}: {text}"));
    let error = body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("{what}: {text}"));
    assert_eq!(error["kind"], kind, "{what}: {text}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {text}"
    );
    assert!(
        error
            .keys()
            .all(|k| ["kind", "message", "fields", "stripe_request_id"].contains(&k.as_str())),
        "{what}: {text}"
    );
    body
}

#[test]
fn the_frameworks_own_refusals_answer_in_the_documented_error_shape() {
    let s = served("openapi-refusals");
    let (base, token) = (s.api.base.clone(), s.api.token.clone().unwrap());
    let t = Some(token.as_str());
    let customers = format!("/api/v1/tenants/{}/customers", s.tenant);
    let json = Some("application/json");
    let body = |v: &str| v.as_bytes().to_vec();

    let answer = raw(
        &base,
        "POST",
        &customers,
        t,
        Some("text/plain"),
        body(r#"{"name": "A"}"#),
    );
    assert_error_shape("wrong content type", &answer, 415, "unsupported_media_type");
    let answer = raw(&base, "POST", &customers, t, None, body(r#"{"name": "A"}"#));
    assert_error_shape("no content type", &answer, 415, "unsupported_media_type");
    let answer = raw(&base, "POST", &customers, t, json, body(r#"{"name": "#));
    assert_error_shape("malformed JSON", &answer, 400, "bad_request");
    let answer = raw(
        &base,
        "POST",
        &customers,
        t,
        json,
        body(r#"{"name": "A", "colour": "red"}"#),
    );
    let e = assert_error_shape("unknown field", &answer, 422, "invalid_input");
    assert_eq!(e["error"]["fields"][0]["field"], "colour", "{e}");
    let answer = raw(&base, "POST", &customers, t, json, body(r#"{"name": 7}"#));
    let e = assert_error_shape("mistyped field", &answer, 422, "invalid_input");
    assert_eq!(e["error"]["fields"][0]["field"], "name", "{e}");
    let mut big = br#"{"name": ""#.to_vec();
    big.extend(std::iter::repeat_n(b'a', 2 << 20));
    big.extend(br#""}"#);
    let answer = raw_while_sending(&base, &customers, &token, big);
    assert_error_shape("body too large", &answer, 413, "payload_too_large");

    let answer = raw(
        &base,
        "GET",
        &format!("/api/v1/tenants/{}/nothing-here", s.tenant),
        t,
        None,
        vec![],
    );
    assert_error_shape("unknown route", &answer, 404, "not_found");
    let answer = raw(&base, "GET", "/api/v2/anything", None, None, vec![]);
    assert_error_shape("unknown API version", &answer, 404, "not_found");
    let answer = raw(&base, "DELETE", &customers, t, None, vec![]);
    assert_error_shape("unknown method", &answer, 405, "method_not_allowed");
    let answer = raw(
        &base,
        "GET",
        &format!("{customers}/not-a-number"),
        t,
        None,
        vec![],
    );
    let e = assert_error_shape("path parameter", &answer, 400, "bad_request");
    assert_eq!(e["error"]["fields"][0]["field"], "id", "{e}");
    let answer = raw(
        &base,
        "GET",
        &format!("{customers}?limit=lots"),
        t,
        None,
        vec![],
    );
    let e = assert_error_shape("query parameter", &answer, 400, "bad_request");
    assert_eq!(e["error"]["fields"][0]["field"], "limit", "{e}");
    let answer = raw(
        &base,
        "GET",
        &format!("{customers}?limit=1001"),
        t,
        None,
        vec![],
    );
    assert_error_shape(
        "limit above the documented maximum",
        &answer,
        400,
        "bad_request",
    );
    // Pages keep their own answers.
    let (status, _, _) = raw(&base, "GET", "/no-such-page", None, None, vec![]);
    assert_eq!(status, 404);
}

#[test]
fn a_payment_run_needs_an_explicit_body() {
    let s = served("openapi-autopay-run");
    let run = format!("/api/v1/tenants/{}/autopay/run", s.tenant);
    let token = s.api.token.clone().unwrap();
    let answer = raw(&s.api.base, "POST", &run, Some(&token), None, vec![]);
    assert_error_shape(
        "a run without a body",
        &answer,
        415,
        "unsupported_media_type",
    );
    let audit = s
        .api
        .get(&format!("/api/v1/tenants/{}/autopay/audit", s.tenant));
    assert_eq!(audit.body, json!([]), "nothing ran: {}", audit.text);
    let status = s
        .api
        .get(&format!("/api/v1/tenants/{}/autopay/status", s.tenant));
    assert_eq!(status.body["last_run"], Value::Null, "{}", status.text);
    // With a body it runs (a dry run here: the plan, nothing charged).
    let planned = s.api.post(&run, json!({"dry_run": true}));
    assert_eq!(planned.status, 200, "{}", planned.text);
}
