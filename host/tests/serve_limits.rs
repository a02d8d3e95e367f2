//! `paydesk serve` as an attacker without credentials meets it, as a child process on loopback:
//! 1,000 failed sign-ins from 32 connections (each from its own loopback address, so the
//! per-address throttle lets each through its free attempts and the password pool does real
//! work) must leave the server's peak RSS under 300 MB and get only clean 401 and 429 answers;
//! a client that sends its request headers too slowly, or opens a connection and sends nothing,
//! is cut off by the server soon after the configured timeout (a generous bound, never a
//! measurement of speed). `/metrics` opens to its token only, and the token is in no log line nor
//! in the error that refuses a malformed one. What the server logs goes to the secret sweep.

#[path = "../benches/support/http1.rs"]
mod http1;
#[path = "../../tests/src/sweep.rs"]
#[allow(dead_code)]
mod sweep;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use http1::Conn;
use paydesk_host::db::{NewAgent, Principal, SqliteDb};
use paydesk_host::tenant::TenantId;

/// A `paydesk serve` process; killed when dropped, its log then goes to the sweep.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: std::path::PathBuf,
}

impl Server {
    fn start(dir: &std::path::Path, args: &[&str]) -> Server {
        Server::start_with(dir, args, &[])
    }

    /// [`Server::start`] with extra environment variables.
    fn start_with(dir: &std::path::Path, args: &[&str], envs: &[(&str, &str)]) -> Server {
        let db = dir.join("paydesk.db");
        let log = dir.join("serve.log");
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let out = std::fs::File::options()
                .create(true)
                .append(true)
                .open(&log)
                .unwrap();
            let child = Command::new(env!("CARGO_BIN_EXE_paydesk"))
                .arg("serve")
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .arg("--db")
                .arg(&db)
                .args(args)
                .env_remove("PAYDESK_METRICS_TOKEN")
                .envs(envs.iter().copied())
                .env("PAYDESK_STRIPE_API_BASE", "http://127.0.0.1:9")
                .env(
                    "PAYDESK_CACHE_DIR",
                    std::env::temp_dir().join("paydesk-test-component-cache"),
                )
                .env("PAYDESK_LOG", "info")
                .env_remove("PAYDESK_SMTP_URL")
                .env_remove("PAYDESK_PUBLIC_URL")
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .expect("spawn paydesk serve");
            let mut server = Server {
                child,
                addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                log: log.clone(),
            };
            let deadline = Instant::now() + Duration::from_secs(120);
            while Instant::now() < deadline {
                if server.child.try_wait().unwrap().is_some() {
                    break;
                }
                if let Ok(mut c) = Conn::open(server.addr, Ipv4Addr::LOCALHOST)
                    && c.request("GET", "/healthz", &[], "")
                        .is_ok_and(|r| r.status == 200)
                {
                    return server;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = server.child.kill();
        }
        panic!(
            "paydesk serve did not come up:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// The server's peak resident memory so far, in bytes (`VmHWM`).
    fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmHWM")
            * 1024
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        sweep::record(sweep::Kind::Logs, "paydesk serve (limits)", &log);
    }
}

const ATTEMPTS: usize = 1_000;
const CONNECTIONS: usize = 32;

#[test]
fn a_thousand_failed_sign_ins_from_32_connections_keep_memory_bounded_and_answers_clean() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = SqliteDb::open(&dir.path().join("paydesk.db")).unwrap();
        let tenant = TenantId::parse("flood").unwrap();
        paydesk_host::db::TenantStore::create_tenant(&db, &tenant, "Flood", "invoices@flood.test")
            .unwrap();
        let agent = paydesk_host::db::UserStore::create_agent(
            &db,
            &tenant,
            &NewAgent {
                name: "Victim".into(),
                email: "victim@flood.test".into(),
                can_receive_manual_stripe_payments: false,
                is_admin: true,
            },
        )
        .unwrap();
        paydesk_host::db::AuthStore::set_password(
            &db,
            &tenant,
            &Principal::Agent(agent),
            "the victim's password",
        )
        .unwrap();
    }
    let server = Server::start(dir.path(), &[]);
    let before = server.peak_rss();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let statuses: Vec<Vec<u16>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..CONNECTIONS)
            .map(|n| {
                let (next, addr) = (&next, server.addr);
                s.spawn(move || {
                    let from = Ipv4Addr::new(127, 0, 1, n as u8 + 1);
                    let mut conn = Conn::open(addr, from).expect("connect");
                    let (csrf, cookie) = http1::login_form(&mut conn).expect("the sign-in form");
                    let mut seen = Vec::new();
                    while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < ATTEMPTS {
                        // Half at the real account, half at accounts that do not exist.
                        let i = seen.len();
                        let email = if i % 2 == 0 {
                            "victim@flood.test".to_string()
                        } else {
                            format!("nobody{n}-{i}@flood.test")
                        };
                        let answer = http1::sign_in(
                            &mut conn,
                            (&csrf, &cookie),
                            "flood",
                            &email,
                            &format!("guess {n} {i}"),
                        )
                        .expect("an answer to every sign-in");
                        if answer.status == 429 {
                            assert!(
                                answer.headers.iter().any(|(k, _)| k == "retry-after"),
                                "429 without Retry-After"
                            );
                        }
                        assert!(
                            answer.body.contains("Sign in"),
                            "{}: not the sign-in page: {}",
                            answer.status,
                            answer.body
                        );
                        seen.push(answer.status);
                    }
                    seen
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let all: Vec<u16> = statuses.concat();
    let peak = server.peak_rss();
    let count = |code: u16| all.iter().filter(|s| **s == code).count();
    println!(
        "{} sign-ins: {} × 401, {} × 429; peak RSS {:.1} MiB (at start {:.1} MiB)",
        all.len(),
        count(401),
        count(429),
        peak as f64 / 1048576.0,
        before as f64 / 1048576.0
    );
    assert_eq!(all.len(), ATTEMPTS);
    assert_eq!(
        count(401) + count(429),
        ATTEMPTS,
        "only 401 and 429: {all:?}"
    );
    // The pool's queue (16) and worker (1) take at least that many checks to the end.
    assert!(
        count(401) >= 17,
        "the password pool checked almost nothing: {all:?}"
    );
    assert!(peak < 300 * 1024 * 1024, "peak RSS {peak} bytes");
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(log.contains("failed sign-in"), "failures are logged");
    assert!(!log.contains("guess 0 0"), "a password was logged");
}

#[test]
fn a_client_too_slow_with_its_headers_or_silent_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteDb::open(&dir.path().join("paydesk.db")).unwrap());
    let server = Server::start(
        dir.path(),
        &["--header-read-timeout", "1", "--idle-timeout", "2"],
    );
    let closed_within = |stream: &mut TcpStream, bound: Duration| {
        stream.set_read_timeout(Some(bound)).unwrap();
        let mut buf = [0u8; 256];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    };
    // Half a request head, then nothing more.
    let mut slow = TcpStream::connect(server.addr).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .unwrap();
    assert!(
        closed_within(&mut slow, Duration::from_secs(30)),
        "a slow-headers client was kept"
    );
    // A connection that never sends a byte.
    let mut silent = TcpStream::connect(server.addr).unwrap();
    assert!(
        closed_within(&mut silent, Duration::from_secs(30)),
        "a silent client was kept"
    );
    // A kept-alive connection is closed once idle.
    let mut kept = Conn::open(server.addr, Ipv4Addr::LOCALHOST).unwrap();
    assert_eq!(
        kept.request("GET", "/healthz", &[], "").unwrap().status,
        200
    );
    let mut stream = kept.reader.into_inner();
    assert!(
        closed_within(&mut stream, Duration::from_secs(30)),
        "an idle connection was kept"
    );
    // A client that keeps to the limits is served.
    let mut fine = Conn::open(server.addr, Ipv4Addr::LOCALHOST).unwrap();
    assert_eq!(
        fine.request("GET", "/healthz", &[], "").unwrap().status,
        200
    );
    assert_eq!(
        fine.request("GET", "/healthz", &[], "").unwrap().status,
        200
    );
}

#[test]
fn metrics_open_to_their_token_only_and_the_token_is_in_no_log_line() {
    const TOKEN: &str = "process-metrics-token-8c1d2e7f";
    sweep::register_secret(TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &[], &[("PAYDESK_METRICS_TOKEN", TOKEN)]);
    let mut conn = Conn::open(server.addr, Ipv4Addr::LOCALHOST).unwrap();
    let bearer = format!("Bearer {TOKEN}");
    let wrong = format!("Bearer {TOKEN}x");
    for headers in [vec![], vec![("Authorization", wrong.as_str())]] {
        let answer = conn.request("GET", "/metrics", &headers, "").unwrap();
        assert_eq!(answer.status, 401, "{}", answer.body);
        assert!(!answer.body.contains(TOKEN));
    }
    let answer = conn
        .request("GET", "/metrics", &[("Authorization", &bearer)], "")
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer
            .headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("content-type")
                && v.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        answer.headers
    );
    for line in [
        "paydesk_outbox_queued_emails 0",
        "paydesk_open_payment_claims 0",
    ] {
        assert!(
            answer.body.lines().any(|l| l == line),
            "{line} in\n{}",
            answer.body
        );
    }
    drop(conn);
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(log.contains("paydesk serving"), "{log}");
    assert!(!log.contains(TOKEN), "{log}");
}

#[test]
fn a_malformed_metrics_token_stops_serve_with_an_error_that_does_not_repeat_it() {
    let dir = tempfile::tempdir().unwrap();
    let malformed = "has a space in it, and is long";
    let mut child = Command::new(env!("CARGO_BIN_EXE_paydesk"))
        .arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--db")
        .arg(dir.path().join("paydesk.db"))
        .env("PAYDESK_METRICS_TOKEN", malformed)
        .env(
            "PAYDESK_CACHE_DIR",
            std::env::temp_dir().join("paydesk-test-component-cache"),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn paydesk serve");
    // It must exit on its own; a server that came up instead is stopped and fails the test.
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    sweep::record(
        sweep::Kind::Logs,
        "paydesk serve (bad metrics token)",
        &stderr,
    );
    assert!(
        status.is_some_and(|s| !s.success()),
        "serve must refuse to start: {stderr}"
    );
    assert!(stderr.contains("PAYDESK_METRICS_TOKEN must be"), "{stderr}");
    assert!(!stderr.contains(malformed), "{stderr}");
}
