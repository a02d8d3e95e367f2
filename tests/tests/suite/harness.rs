//! Self-test of the test harness (services.rs and recorder.rs): proves that localstripe and
//! aiosmtpd start, answer and stop by PID, that parallel instances are independent, that the
//! recording proxy forwards and records faithfully under sequential and concurrent load, and
//! that no child outlives the test process. It tests only the harness, never paydesk itself, and
//! talks to nothing but 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use paydesk_tests::recorder::StripeRecorder;
use paydesk_tests::services::{LocalStripe, SmtpServer, pid_alive, venv_python};

const KEY: &str = "Bearer sk_test_abc";

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent()
}

/// GET with the test key; returns (status, body).
fn get(url: &str) -> (u16, String) {
    let mut r = agent()
        .get(url)
        .header("Authorization", KEY)
        .call()
        .expect("GET");
    let status = r.status().as_u16();
    (status, r.body_mut().read_to_string().expect("body"))
}

/// POST a form with the test key; returns (status, body).
fn post(url: &str, form: &[(&str, &str)], idempotency_key: Option<&str>) -> (u16, String) {
    let mut request = agent().post(url).header("Authorization", KEY);
    if let Some(key) = idempotency_key {
        request = request.header("Idempotency-Key", key);
    }
    let mut r = request.send_form(form.iter().copied()).expect("POST");
    let status = r.status().as_u16();
    (status, r.body_mut().read_to_string().expect("body"))
}

/// The value of `"key": "..."` in localstripe's (indented) JSON; enough for ids.
fn json_str(body: &str, key: &str) -> String {
    let needle = format!("\"{key}\": \"");
    let start = body
        .find(&needle)
        .unwrap_or_else(|| panic!("no {key} in {body}"))
        + needle.len();
    body[start..].split('"').next().unwrap_or("").to_string()
}

fn wait_until_dead(pid: u32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if !pid_alive(pid) {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    !pid_alive(pid)
}

#[test]
fn localstripe_starts_and_answers() {
    let started = Instant::now();
    let stripe = LocalStripe::start().expect("start localstripe");
    eprintln!(
        "localstripe answered {} ms after start() was called (pid {}, {})",
        started.elapsed().as_millis(),
        stripe.pid(),
        stripe.base_url
    );
    assert!(stripe.base_url.starts_with("http://127.0.0.1:"));
    assert!(stripe.base_url.ends_with(&format!(":{}", stripe.port)));
    let (status, body) = get(&format!("{}/v1/customers", stripe.base_url));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"object\": \"list\""), "{body}");
    // no key: 401, passed through as a status, not an error
    let r = agent()
        .get(format!("{}/v1/customers", stripe.base_url))
        .call()
        .expect("GET");
    assert_eq!(r.status().as_u16(), 401);
    // the fake Stripe.js is served
    let (status, _) = get(&format!("{}/js.stripe.com/v3/", stripe.base_url));
    assert_eq!(status, 200);
}

#[test]
fn recorder_sees_customer_creation() {
    let stripe = LocalStripe::shared();
    let recorder = StripeRecorder::start(&stripe.base_url).expect("recorder");
    assert!(recorder.base_url.starts_with("http://127.0.0.1:"));

    let (status, body) = post(
        &format!("{}/v1/customers", recorder.base_url),
        &[
            ("email", "jane@example.test"),
            ("name", "Jane Doe"),
            ("metadata[ticket]", "42"),
        ],
        Some("idem-123"),
    );
    assert_eq!(status, 200, "{body}");
    let id = json_str(&body, "id");
    assert!(id.starts_with("cus_"), "{id}");

    let requests = recorder.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path_and_query, "/v1/customers");
    assert_eq!(
        r.body,
        "email=jane%40example.test&name=Jane+Doe&metadata%5Bticket%5D=42"
    );
    assert_eq!(StripeRecorder::header(r, "authorization"), Some(KEY));
    assert_eq!(
        StripeRecorder::header(r, "IDEMPOTENCY-KEY"),
        Some("idem-123")
    );
    assert_eq!(
        StripeRecorder::header(r, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(StripeRecorder::header(r, "stripe-version"), None);
    assert_eq!(r.status, 200);
    assert!(r.response_body.contains(&id));

    // reads through the proxy see the same object; query strings are kept
    let (status, body) = get(&format!(
        "{}/v1/customers/{id}?expand[]=sources",
        recorder.base_url
    ));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Jane Doe"));
    // upstream 4xx pass through with their body, and are recorded
    let (status, body) = get(&format!("{}/v1/webhook_endpoints", recorder.base_url));
    assert_eq!(status, 404, "{body}");
    let r = agent()
        .get(format!("{}/v1/customers", recorder.base_url))
        .call()
        .expect("GET");
    assert_eq!(r.status().as_u16(), 401);

    let requests = recorder.requests();
    let seen: Vec<(&str, &str, u16)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path_and_query.as_str(), r.status))
        .collect();
    assert_eq!(
        seen,
        [
            ("POST", "/v1/customers", 200),
            ("GET", &*format!("/v1/customers/{id}?expand[]=sources"), 200),
            ("GET", "/v1/webhook_endpoints", 404),
            ("GET", "/v1/customers", 401),
        ]
    );
    recorder.clear();
    assert!(recorder.requests().is_empty());
}

#[test]
fn recorder_handles_many_sequential_and_concurrent_requests() {
    let stripe = LocalStripe::shared();
    let recorder = StripeRecorder::start(&stripe.base_url).expect("recorder");
    let (status, body) = post(
        &format!("{}/v1/customers", recorder.base_url),
        &[("email", "many@example.test")],
        None,
    );
    assert_eq!(status, 200, "{body}");
    let url = format!(
        "{}/v1/customers/{}",
        recorder.base_url,
        json_str(&body, "id")
    );

    for _ in 0..60 {
        assert_eq!(get(&url).0, 200);
    }
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let url = url.clone();
            thread::spawn(move || {
                for i in 0..15 {
                    assert_eq!(get(&format!("{url}?t={t}&i={i}")).0, 200);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
    let requests = recorder.requests();
    assert_eq!(requests.len(), 1 + 60 + 6 * 15);
    assert!(requests.iter().all(|r| r.status == 200));
    for t in 0..6 {
        for i in 0..15 {
            let target = format!("?t={t}&i={i}");
            assert_eq!(
                requests
                    .iter()
                    .filter(|r| r.path_and_query.ends_with(&target))
                    .count(),
                1
            );
        }
    }
}

#[test]
fn recorder_forwards_empty_bodies_and_upstream_failures() {
    let stripe = LocalStripe::shared();
    let recorder = StripeRecorder::start(&stripe.base_url).expect("recorder");
    // POST without parameters (Content-Length: 0) still reaches localstripe as a POST
    let (status, body) = post(&format!("{}/v1/customers", recorder.base_url), &[], None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(recorder.requests()[0].body, "");

    // a raw client: chunked body and Expect: 100-continue
    let addr = recorder.base_url.trim_start_matches("http://").to_string();
    let mut s = std::net::TcpStream::connect(&addr).expect("connect");
    s.write_all(
        b"POST /v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk_test_abc\r\n\
          Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\
          Expect: 100-continue\r\n\r\n6\r\nname=C\r\n5\r\nhunky\r\n0\r\n\r\n",
    )
    .expect("write");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read");
    assert!(
        answer.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"),
        "{answer}"
    );
    assert!(answer.contains("\"name\": \"Chunky\""), "{answer}");
    assert_eq!(recorder.requests()[1].body, "name=Chunky");

    // an upstream that is gone gives a recorded 502
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let orphan = StripeRecorder::start(&format!("http://127.0.0.1:{dead}")).expect("recorder");
    let (status, body) = get(&format!("{}/v1/customers", orphan.base_url));
    assert_eq!(status, 502, "{body}");
    assert_eq!(orphan.requests()[0].status, 502);

    // after Drop the port no longer accepts
    let port = orphan
        .base_url
        .rsplit(':')
        .next()
        .expect("port")
        .to_string();
    drop(orphan);
    assert!(std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err());
}

#[test]
fn two_localstripes_are_independent() {
    let (a, b) = thread::scope(|s| {
        let a = s.spawn(LocalStripe::start);
        let b = s.spawn(LocalStripe::start);
        (
            a.join().expect("a").expect("start a"),
            b.join().expect("b").expect("start b"),
        )
    });
    assert_ne!(a.port, b.port);
    assert_ne!(a.pid(), b.pid());
    assert_ne!(a.dir(), b.dir());

    let (status, body) = post(
        &format!("{}/v1/customers", a.base_url),
        &[("name", "only-in-a")],
        None,
    );
    assert_eq!(status, 200, "{body}");
    let id = json_str(&body, "id");
    assert!(get(&format!("{}/v1/customers", a.base_url)).1.contains(&id));
    assert!(
        !get(&format!("{}/v1/customers", b.base_url))
            .1
            .contains("only-in-a")
    );
    assert_eq!(get(&format!("{}/v1/customers/{id}", b.base_url)).0, 404);
    // each pickles into its own temp dir, not /tmp/localstripe.pickle
    assert!(a.dir().join("localstripe.pickle").is_file());
    assert!(!b.dir().join("localstripe.pickle").exists());

    a.flush_data().expect("flush");
    assert!(!get(&format!("{}/v1/customers", a.base_url)).1.contains(&id));
}

/// A one-shot HTTP receiver for webhook deliveries: (headers, body) of the first request.
fn webhook_receiver() -> (String, mpsc::Receiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut reader = BufReader::new(&stream);
        let mut head = String::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("line");
            if line.trim().is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().expect("length");
            }
            head.push_str(&line);
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).expect("body");
        (&stream)
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .expect("answer");
        let _ = tx.send((head, String::from_utf8_lossy(&body).into_owned()));
    });
    (url, rx)
}

#[test]
fn webhook_registration_delivers_signed_events() {
    let stripe = LocalStripe::start().expect("start");
    let (url, deliveries) = webhook_receiver();
    stripe
        .register_webhook(
            "selftest",
            &url,
            "whsec_selftest",
            &["payment_intent.succeeded"],
        )
        .expect("register");
    assert!(
        stripe
            .register_webhook("bad name", &url, "whsec_x", &[])
            .is_err()
    );

    let base = &stripe.base_url;
    let (status, body) = post(
        &format!("{base}/v1/payment_intents"),
        &[
            ("amount", "1234"),
            ("currency", "eur"),
            ("payment_method", "pm_card_visa"),
        ],
        None,
    );
    assert_eq!(status, 200, "{body}");
    let pi = json_str(&body, "id");
    let (status, body) = post(
        &format!("{base}/v1/payment_intents/{pi}/confirm"),
        &[],
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(json_str(&body, "status"), "succeeded");

    let (head, payload) = deliveries
        .recv_timeout(paydesk_tests::EVENT_WAIT)
        .unwrap_or_else(|_| panic!("no webhook delivery; localstripe log:\n{}", stripe.log()));
    assert!(
        head.to_ascii_lowercase().contains("stripe-signature: t="),
        "{head}"
    );
    assert!(payload.contains("payment_intent.succeeded"), "{payload}");
    assert!(payload.contains(&pi));
}

#[test]
fn smtp_server_receives_mail_with_to_and_cc() {
    let smtp = SmtpServer::start().expect("start aiosmtpd");
    assert!(smtp.maildir.join("new").is_dir());
    assert!(smtp.messages().is_empty());
    let script = r#"
import smtplib, sys
from email.message import EmailMessage
port = int(sys.argv[1])
m = EmailMessage()
m['From'] = 'Paydesk <billing@desk.test>'
m['To'] = '"Doe, Jane" <jane@customer.test>, bob@customer.test'
m['Cc'] = 'Carol =?utf-8?q?M=C3=BCller?= <carol@customer.test>'
m['Subject'] = 'Zahlung für Rechnung #42 – 12,00 €'
m.set_content('Grüße,\nIhre Zahlung ist eingegangen.\n', cte='quoted-printable')
m.add_alternative('<p>Grüße</p>', subtype='html')
n = EmailMessage()
n['From'] = 'billing@desk.test'
n['To'] = 'dave@customer.test'
n['Subject'] = 'second'
n.set_content('plain body\n')
with smtplib.SMTP('127.0.0.1', port) as s:
    s.send_message(m, to_addrs=['jane@customer.test', 'bob@customer.test', 'carol@customer.test', 'audit@desk.test'])
    s.send_message(n)
"#;
    let status = Command::new(venv_python().expect("venv"))
        .args(["-c", script, &smtp.port.to_string()])
        .status()
        .expect("python");
    assert!(status.success());

    let mails = smtp.wait_for(2, paydesk_tests::EVENT_WAIT);
    assert_eq!(mails.len(), 2);
    let m = &mails[0];
    assert_eq!(m.from, "billing@desk.test");
    assert_eq!(m.to, ["jane@customer.test", "bob@customer.test"]);
    assert_eq!(m.cc, ["carol@customer.test"]);
    assert_eq!(m.header("Cc"), Some("Carol Müller <carol@customer.test>"));
    assert_eq!(m.subject, "Zahlung für Rechnung #42 – 12,00 €");
    assert_eq!(m.body, "Grüße,\nIhre Zahlung ist eingegangen.\n");
    assert_eq!(m.envelope_from, "billing@desk.test");
    assert_eq!(
        m.envelope_to,
        [
            "jane@customer.test",
            "bob@customer.test",
            "carol@customer.test",
            "audit@desk.test"
        ]
    );
    assert!(m.raw.contains("X-RcptTo:"));
    let n = &mails[1];
    assert_eq!(
        (n.subject.as_str(), n.body.as_str()),
        ("second", "plain body\n")
    );
    assert_eq!(n.to, ["dave@customer.test"]);
    assert!(n.cc.is_empty());
}

#[test]
fn drop_kills_the_children() {
    let stripe = LocalStripe::start().expect("start");
    let smtp = SmtpServer::start().expect("start smtp");
    let (stripe_pid, smtp_pid) = (stripe.pid(), smtp.pid());
    let dir = stripe.dir().to_path_buf();
    assert!(pid_alive(stripe_pid) && pid_alive(smtp_pid));
    let started = Instant::now();
    drop(stripe);
    drop(smtp);
    eprintln!("stopping both took {} ms", started.elapsed().as_millis());
    assert!(
        !pid_alive(stripe_pid),
        "localstripe {stripe_pid} still alive"
    );
    assert!(!pid_alive(smtp_pid), "aiosmtpd {smtp_pid} still alive");
    assert!(!dir.exists(), "temp dir {} left behind", dir.display());
}

#[test]
fn child_outlives_its_spawning_thread_while_the_struct_lives() {
    let stripe = thread::spawn(|| LocalStripe::start().expect("start"))
        .join()
        .expect("spawning thread");
    // The thread that called start() is gone; give a (wrong) PDEATHSIG time to strike.
    thread::sleep(Duration::from_millis(500));
    assert!(pid_alive(stripe.pid()));
    assert_eq!(get(&format!("{}/v1/customers", stripe.base_url)).0, 200);
    let pid = stripe.pid();
    drop(stripe);
    assert!(!pid_alive(pid));
}

const CHILD_ENV: &str = "PAYDESK_HARNESS_SELFTEST_OUT";
const MODE_ENV: &str = "PAYDESK_HARNESS_SELFTEST_MODE";

/// libtest's name of `child_process_body`, wherever this file is mounted (its own test binary,
/// or a module of a bigger one).
fn child_test_name() -> String {
    match module_path!().split_once("::") {
        Some((_, module)) => format!("{module}::child_process_body"),
        None => "child_process_body".to_string(),
    }
}

/// Runs this test binary again with only `child_process_body`, then checks that every service
/// it started is gone once it has exited. Returns (pids, temp dirs) it reported.
fn run_child_process(mode: &str) -> (Vec<u32>, Vec<PathBuf>) {
    let out = tempfile::NamedTempFile::new().expect("temp file");
    // Output captured: the inner run's own "test result" line must not reach the outer log.
    let run = Command::new(std::env::current_exe().expect("current exe"))
        .args(["--exact", &child_test_name(), "--test-threads=1"])
        .env(CHILD_ENV, out.path())
        .env(MODE_ENV, mode)
        .output()
        .expect("re-run the test binary");
    let status = run.status;
    let report = std::fs::read_to_string(out.path()).unwrap_or_default();
    assert!(
        !report.is_empty(),
        "the inner run reported nothing ({status}):\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let mut pids = Vec::new();
    let mut dirs = Vec::new();
    for line in report.lines() {
        let (pid, dir) = line.split_once(' ').expect("pid dir");
        pids.push(pid.parse().expect("pid"));
        dirs.push(PathBuf::from(dir));
    }
    assert_eq!(
        pids.len(),
        3,
        "child reported {report:?} and exited with {status}"
    );
    for &pid in &pids {
        assert!(
            wait_until_dead(pid, paydesk_tests::EVENT_WAIT),
            "{mode}: service pid {pid} survived the test process ({status})"
        );
    }
    (pids, dirs)
}

#[test]
fn children_die_with_the_test_process_on_normal_exit() {
    let (_, dirs) = run_child_process("exit");
    // the shared instance's temp dir is removed by the atexit hook; the two leaked ones stay
    assert!(
        !dirs[0].exists(),
        "shared dir {} left behind",
        dirs[0].display()
    );
    for dir in &dirs[1..] {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn children_die_with_the_test_process_on_sigkill() {
    // SIGKILL: no atexit, no Drop; only PR_SET_PDEATHSIG can stop the children
    let (_, dirs) = run_child_process("sigkill");
    for dir in &dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The body of the child process that `run_child_process` starts: it starts the shared instance
/// plus two leaked (never dropped) per-test instances, from a short-lived thread, reports them,
/// then exits as told. In the normal run (no child environment) it returns at once: it is an
/// entry point for the death tests, which assert on what it did.
#[test]
fn child_process_body() {
    let Ok(out) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (stripe, smtp) = thread::spawn(|| {
        (
            LocalStripe::start().expect("start"),
            SmtpServer::start().expect("start smtp"),
        )
    })
    .join()
    .expect("thread");
    let shared = LocalStripe::shared();
    assert_eq!(get(&format!("{}/v1/customers", shared.base_url)).0, 200);
    let report = format!(
        "{} {}\n{} {}\n{} {}\n",
        shared.pid(),
        shared.dir().display(),
        stripe.pid(),
        stripe.dir().display(),
        smtp.pid(),
        smtp.maildir.parent().expect("dir").display()
    );
    std::fs::write(out, report).expect("write report");
    std::mem::forget(stripe);
    std::mem::forget(smtp);
    if std::env::var(MODE_ENV).as_deref() == Ok("sigkill") {
        // SAFETY: kill(2) on ourselves.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    }
}
