//! `paydesk demo` as a user runs it against localstripe: every step's line is checked against what
//! it claims — the database's records and localstripe's objects — and `--serve` is checked by
//! signing in to the pages it serves, as an agent and as a portal user. What the demo printed goes
//! to the secret sweep.

// The service harness is shared with the end-to-end suite (one source, compiled into both).
#[allow(dead_code)]
mod common;
#[path = "../../tests/src/fake_stripe.rs"]
#[allow(dead_code)]
mod fake_stripe;
#[path = "../../tests/src/services.rs"]
#[allow(dead_code)]
mod services;
#[path = "../../tests/src/sweep.rs"]
#[allow(dead_code)]
mod sweep;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use paydesk_host::contract::{Initiator, InvoiceStatus, PaymentFilter, PaymentStatus};
use paydesk_host::db::stores::*;
use paydesk_host::db::{OutboxStore, SignInStore, SqliteDb, TenantStore};
use paydesk_host::tenant::TenantId;
use serde_json::Value;

/// `paydesk demo ARGS` on `dir/paydesk.db` against localstripe at `stripe`.
fn demo(dir: &Path, stripe: &str, args: &[&str]) -> Command {
    // `demo` connects with this placeholder key when PAYDESK_STRIPE_SECRET_KEY is unset.
    sweep::register_secret("sk_test_paydesk_demo_key");
    let mut command = Command::new(env!("CARGO_BIN_EXE_paydesk"));
    command
        .arg("demo")
        .args(args)
        .arg("--db")
        .arg(dir.join("paydesk.db"))
        .env("PAYDESK_STRIPE_API_BASE", stripe)
        .env(
            "PAYDESK_STRIPE_JS_URL",
            format!("{stripe}/js.stripe.com/v3/"),
        )
        .env_remove("PAYDESK_STRIPE_SECRET_KEY")
        .env_remove("PAYDESK_STRIPE_PUBLISHABLE_KEY")
        .env_remove("PAYDESK_PUBLIC_URL")
        .env_remove("PAYDESK_SMTP_URL")
        .env_remove("PAYDESK_LOG");
    command
}

/// The line of step `name` (`" 7. agent      …"`), without its number and name.
fn step<'a>(stdout: &'a str, name: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| {
            let (number, rest) = l.trim_start().split_once(". ")?;
            number.parse::<u32>().ok()?;
            rest.strip_prefix(name)
                .filter(|r| r.starts_with(' '))
                .map(str::trim)
        })
        .unwrap_or_else(|| panic!("no `{name}` step in:\n{stdout}"))
}

/// The first word of `line` that starts with `prefix`, without the punctuation around it.
fn word<'a>(line: &'a str, prefix: &str) -> &'a str {
    line.split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_'))
        .find(|w| w.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}…` in: {line}"))
}

fn stripe_get(stripe: &str, path: &str) -> Value {
    common::stripe(stripe, "sk_test_x", "GET", path, &[])
}

#[test]
fn demo_takes_real_payments_and_each_line_says_what_happened() {
    let stripe = services::LocalStripe::start().expect("localstripe");
    let base = stripe.base_url.as_str();
    let dir = tempfile::tempdir().unwrap();
    let out = demo(dir.path(), base, &[])
        .output()
        .expect("run paydesk demo");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    sweep::record(sweep::Kind::Cli, "paydesk demo", &stdout);
    sweep::record(sweep::Kind::Logs, "paydesk demo", &stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");

    let db = SqliteDb::open(&dir.path().join("paydesk.db")).unwrap();
    let tenant = TenantId::parse("demo").unwrap();
    assert!(step(&stdout, "plugin").starts_with("paydesk:stripe@"));
    assert!(step(&stdout, "connect").contains(base));

    // 3–4: the tenant's settings as printed, and webhooks from localstripe signed with its secret.
    let record = db.tenant(&tenant).unwrap();
    assert!(step(&stdout, "tenant").starts_with("demo (created): currency USD"));
    assert!(record.settings.enableautostripepayment && record.settings.halointegrator_stripe);
    assert!(db.webhook_secret(&tenant).unwrap().is_some());
    assert!(step(&stdout, "webhooks").contains("/webhooks/stripe/demo"));

    // 5: the customer exists in Stripe under its name and is mapped.
    let line = step(&stdout, "customer");
    let cus = word(line, "cus_");
    let customer = db.customer(&tenant, 1).unwrap();
    assert_eq!(customer.stripe_customer_id.as_deref(), Some(cus));
    let in_stripe = stripe_get(base, &format!("/v1/customers/{cus}"));
    assert_eq!(in_stripe["name"], customer.name.as_str());
    assert!(line.contains(&customer.name), "{line}");

    // 6: the card is attached to that customer in Stripe and is its automatic payment method.
    let line = step(&stdout, "card");
    let pm = word(line, "pm_");
    assert_eq!(customer.stripe_payment_method_id.as_deref(), Some(pm));
    let card = stripe_get(base, &format!("/v1/payment_methods/{pm}"));
    assert_eq!(card["customer"], cus, "{card}");
    assert_eq!(card["card"]["last4"], "4242");
    assert!(line.starts_with("Visa ending 4242"), "{line}");

    // 7–8: the agent's payment: Stripe took amount + fee; the webhook marked it paid with the fee line.
    let line = step(&stdout, "agent");
    assert!(
        line.contains("USD 123.45, fee USD 3.58") && line.contains("USD 127.03"),
        "{line}"
    );
    let pi = word(line, "pi_");
    let intent = stripe_get(base, &format!("/v1/payment_intents/{pi}"));
    assert_eq!(
        (intent["amount"].as_i64(), intent["status"].as_str()),
        (Some(12_703), Some("succeeded"))
    );
    let invoice = db.invoice(&tenant, 1).unwrap();
    assert_eq!(invoice.status, InvoiceStatus::Paid);
    let fees: Vec<i64> = invoice
        .lines
        .iter()
        .filter(|l| l.is_processing_fee)
        .map(|l| l.amount)
        .collect();
    assert_eq!(fees, vec![358]);
    let payments = db.payments(&tenant, &PaymentFilter::Invoice(1)).unwrap();
    assert_eq!(payments.len(), 1);
    let paid = &payments[0];
    assert_eq!(paid.status, PaymentStatus::Succeeded);
    assert!(matches!(paid.initiator, Initiator::Agent(_)));
    assert_eq!(paid.intent_id.as_deref(), Some(pi));
    assert!(paid.webhook_received_at.is_some(), "{paid:?}");
    let line = step(&stdout, "webhook");
    assert_eq!(paid.last_event_id.as_deref(), Some(word(line, "evt_")));
    assert!(
        line.contains("USD 3.58") && line.contains(&invoice.number),
        "{line}"
    );

    // 9: the daily run generated the recurring invoice and charged the saved card off-session.
    let line = step(&stdout, "daily run");
    let generated = db.invoice(&tenant, 2).unwrap();
    assert!(generated.recurring_invoice_id.is_some());
    assert_eq!(generated.status, InvoiceStatus::Paid);
    let auto = &db.payments(&tenant, &PaymentFilter::Invoice(2)).unwrap()[0];
    assert_eq!(
        (auto.initiator, auto.status),
        (Initiator::Autopay, PaymentStatus::Succeeded)
    );
    let pi = word(line, "pi_");
    assert_eq!(auto.intent_id.as_deref(), Some(pi));
    let intent = stripe_get(base, &format!("/v1/payment_intents/{pi}"));
    // USD 49.00 + 2.9 % (142) charged to the saved card.
    assert_eq!(intent["amount"], 5_042, "{intent}");
    assert_eq!(intent["payment_method"], pm);
    assert!(
        line.contains(&generated.number) && line.contains("USD 49.00 + fee USD 1.42"),
        "{line}"
    );

    // 10: both confirmations are in the outbox, to the notification address.
    let emails = db.emails(&tenant, 10).unwrap();
    assert_eq!(emails.len(), 2);
    assert!(
        emails
            .iter()
            .all(|m| m.to == ["payments@demo.paydesk.test"])
    );
    assert!(emails.iter().any(|m| m.subject.contains(&invoice.number)));
    assert!(step(&stdout, "email").starts_with("2 payment confirmations"));

    // 11: $-PAYMENTMETHOD is the saved card.
    assert!(step(&stdout, "document").contains("\"Visa ending 4242"));

    // 12: the printed sign-in works for the agent and the portal user.
    let line = step(&stdout, "sign in");
    let password = line.rsplit(' ').next().unwrap();
    let agent = word(line, "ada@");
    let user = word(line, "pat-");
    for (is_agent, email) in [(true, agent), (false, user)] {
        let account = db
            .sign_in_account(&tenant, is_agent, email)
            .unwrap()
            .unwrap_or_else(|| panic!("no account {email}: {line}"));
        let hash = account.password_hash.expect("a password is set");
        assert!(
            paydesk_host::signin::passwords::matches(password.as_bytes(), &hash, &mut Vec::new()),
            "{line}"
        );
    }

    let done = stdout.lines().last().unwrap();
    let named = done.rsplit(' ').next().unwrap();
    assert!(Path::new(named).is_file(), "{done}");
}

/// Kills the child when dropped (a failing test must not leave `paydesk` running).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A page client with the session cookie of one sign-in.
struct Browser {
    base: String,
    cookie: String,
    agent: ureq::Agent,
}

impl Browser {
    fn sign_in(base: &str, role: &str, email: &str, password: &str) -> Browser {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .new_agent();
        // The sign-in form's CSRF token and the cookie it is tied to, as a browser gets them.
        let mut form = agent
            .get(format!("{base}/login"))
            .call()
            .expect("the login page answers");
        let login_cookie = form
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .find(|c| c.starts_with("paydesk_login="))
            .expect("the sign-in CSRF cookie")
            .to_string();
        let page = form.body_mut().read_to_string().unwrap_or_default();
        let marker = "name=\"csrf\" value=\"";
        let start = page.find(marker).expect("a CSRF field in the form") + marker.len();
        let csrf = page[start..]
            .split('"')
            .next()
            .unwrap_or_default()
            .to_string();
        let response = agent
            .post(format!("{base}/login"))
            .header("Cookie", &login_cookie)
            .send_form([
                ("csrf", csrf.as_str()),
                ("tenant", "demo"),
                ("email", email),
                ("password", password),
                ("role", role),
            ])
            .expect("the login page answers");
        assert_eq!(response.status().as_u16(), 303, "{role} {email} signs in");
        let cookie = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .find(|c| c.starts_with("paydesk_session="))
            .expect("a session cookie")
            .to_string();
        Browser {
            base: base.to_string(),
            cookie,
            agent,
        }
    }

    /// GET a page: its status and text.
    fn get(&self, path: &str) -> (u16, String) {
        let mut response = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .call()
            .expect("the page answers");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        sweep::record(
            sweep::Kind::Responses,
            &format!("GET {path} -> {status}"),
            &text,
        );
        (status, text)
    }
}

#[test]
fn demo_serve_keeps_the_seeded_pages_up_for_the_printed_sign_in_until_terminated() {
    let stripe = services::LocalStripe::start().expect("localstripe");
    let dir = tempfile::tempdir().unwrap();
    let mut child = demo(
        dir.path(),
        &stripe.base_url,
        &["--serve", "--listen", "127.0.0.1:0"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn paydesk demo --serve");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut child = Running(child);
    // Lines as they come; the story ends with the URLs, then the server runs until signalled.
    let (lines, seen) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = String::new();
    while !printed.contains("sign in at") {
        match seen.recv_timeout(Duration::from_secs(300)) {
            Ok(line) => printed += &(line + "\n"),
            Err(e) => {
                let mut err = String::new();
                std::io::Read::read_to_string(&mut { stderr }, &mut err).ok();
                panic!("the demo ended before serving ({e}):\n{printed}\n{err}");
            }
        }
    }
    sweep::record(sweep::Kind::Cli, "paydesk demo --serve", &printed);
    let url = |label: &str| {
        printed
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .and_then(|l| l.split_whitespace().find(|w| w.starts_with("http://")))
            .unwrap_or_else(|| panic!("no {label} URL in:\n{printed}"))
            .to_string()
    };
    let login = url("sign in at");
    let base = login.trim_end_matches("/login");
    let sign_in = step(&printed, "sign in");
    let password = sign_in.rsplit(' ').next().unwrap();

    let agent = Browser::sign_in(base, "agent", word(sign_in, "ada@"), password);
    let (status, setup) = agent.get(url("setup page").trim_start_matches(base));
    assert_eq!(status, 200, "{setup}");
    assert!(
        setup.contains("sk_test_…"),
        "the key shows masked on the setup page"
    );
    let (status, invoice) = agent.get(url("agent invoice view").trim_start_matches(base));
    assert_eq!(status, 200, "{invoice}");
    assert!(
        invoice.contains("succeeded") && invoice.contains("Processing fee"),
        "{invoice}"
    );

    let user = Browser::sign_in(base, "portal", word(sign_in, "pat-"), password);
    let (status, portal) = user.get(url("portal").trim_start_matches(base));
    assert_eq!(status, 200, "{portal}");
    assert!(
        portal.contains("Visa ending 4242"),
        "the portal shows the saved card: {portal}"
    );
    assert!(
        portal.contains(&format!("{}/js.stripe.com/v3/", stripe.base_url)),
        "Stripe.js from localstripe"
    );

    // SIGTERM stops it cleanly, as Ctrl-C does.
    let pid = libc::pid_t::try_from(child.0.id()).unwrap();
    // SAFETY: kill(2) on our own child, not yet reaped.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = child.0.wait().expect("paydesk exits");
    assert!(status.success(), "{status}");
    reader.join().unwrap();
}

#[test]
fn a_stripe_that_cannot_post_webhooks_here_stops_the_demo_before_anything_is_written() {
    // Answers the connection test like Stripe (an empty customer list) but, unlike localstripe,
    // has no `/_config/webhooks`: without PAYDESK_PUBLIC_URL, no webhook could reach the demo.
    let stripe = fake_stripe::FakeStripe::start(|seen| {
        if seen.path.starts_with("/v1/customers") {
            (
                200,
                r#"{"object":"list","data":[],"has_more":false,"url":"/v1/customers"}"#.into(),
            )
        } else {
            (404, "Not Found".into())
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let out = demo(dir.path(), &stripe.base_url, &[])
        .output()
        .expect("run paydesk demo");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    sweep::record(sweep::Kind::Cli, "paydesk demo (no webhooks)", &stdout);
    sweep::record(sweep::Kind::Logs, "paydesk demo (no webhooks)", &stderr);
    assert!(!out.status.success(), "{stdout}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("can't post webhooks") && stderr.contains("PAYDESK_PUBLIC_URL"),
        "{stderr}"
    );
    assert!(step(&stdout, "connect").contains(&stripe.base_url));
    let db = SqliteDb::open(&dir.path().join("paydesk.db")).unwrap();
    assert!(
        db.tenant(&TenantId::parse("demo").unwrap()).is_err(),
        "nothing written"
    );
}
