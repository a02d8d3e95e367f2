//! Webhook ingest over loopback (BENCHMARKS.md): seeds `--tenants` tenants, each with a webhook
//! signing secret and `--events / --tenants` autopay payments in `processing`, starts
//! `paydesk serve` (the release binary, component cache warm), and has `--senders` threads post one
//! signed `payment_intent.succeeded` event per payment (Stripe's fixture event and PaymentIntent,
//! signed as Stripe signs) over keep-alive connections. Prints events per second, the median and
//! 99th-percentile latency of each delivery, the server's peak RSS, and checks none was lost: every
//! delivery answered `applied`, and every payment record is `succeeded` with its event's id.
//!
//! With `--sign-in-flood N`, the first half of the events is sent at rest and the second half
//! while N connections — each from its own loopback address — post failed sign-ins to another
//! tenant without pause, and the two halves' latencies are printed side by side with what the
//! flood got (401s, 429s).
//!
//! With `--db postgres` it runs on a throwaway PostgreSQL cluster it starts itself, and with
//! `--hosts N` it starts N `paydesk serve` hosts on that database and spreads the deliveries over
//! them (event `i` to host `i mod N`), as a load balancer would. On PostgreSQL it also prints the
//! server's CPU and the transactions committed per event.
//!
//! ```sh
//! cargo bench -p paydesk-host --bench webhook_ingest -- --tenants 10 --events 20000 --senders 16
//! cargo bench -p paydesk-host --bench webhook_ingest -- --db postgres --hosts 3 --events 20000 --senders 16
//! cargo bench -p paydesk-host --bench webhook_ingest -- --tenants 10 --events 8000 --senders 4 --sign-in-flood 32
//! ```

#[path = "../../tests/src/postgres.rs"]
#[allow(dead_code)]
mod postgres;
#[path = "../../tests/src/recorder.rs"]
#[allow(dead_code)]
mod recorder;
#[path = "../../tests/src/services.rs"]
#[allow(dead_code, unused_imports)]
mod services;
mod support;
#[path = "../../tests/src/sweep.rs"]
#[allow(dead_code)]
mod sweep;

use support::http1;

use std::net::TcpListener;
use std::path::Path;
use std::process::Stdio;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use hmac::{Hmac, Mac};
use paydesk_host::contract::{Initiator, Money, NewPayment, PaymentStatus};
use paydesk_host::db::{Database, NewCustomer, NewInvoice};
use paydesk_host::settings::TenantSettings;
use paydesk_host::tenant::{Secret, TenantId};
use sha2::Sha256;
use support::database::{BenchDb, Engine};
use support::{Rate, mib, paydesk, percentiles, wait_with_rusage};

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, default_value_t = 10)]
    tenants: usize,
    /// Events in all (one per payment).
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// Concurrent senders, each with its own keep-alive connection.
    #[arg(long, default_value_t = 16)]
    senders: usize,
    /// Connections posting failed sign-ins to another tenant during the second half (0: none).
    #[arg(long, default_value_t = 0)]
    sign_in_flood: usize,
    /// The database engine.
    #[arg(long, value_enum, default_value_t = Engine::Sqlite)]
    db: Engine,
    /// PostgreSQL with its default durability (fsync, synchronous commit) instead of the
    /// throwaway settings.
    #[arg(long)]
    durable: bool,
    /// `paydesk serve` hosts on the database, the deliveries spread over them.
    #[arg(long, default_value_t = 1)]
    hosts: usize,
    /// `cargo bench` passes this; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

struct Delivery {
    tenant: usize,
    intent: String,
    event_id: String,
    group: String,
}

fn secret(t: usize) -> String {
    format!("whsec_bench{t:04}")
}

fn tenant_id(t: usize) -> TenantId {
    TenantId::parse(&format!("hooks-{t:04}")).unwrap()
}

fn seed(db: &dyn Database, args: &Args) -> Vec<Delivery> {
    let mut deliveries = Vec::new();
    let per_tenant = args.events.div_ceil(args.tenants);
    for t in 0..args.tenants {
        let tenant = tenant_id(t);
        db.create_tenant(&tenant, &format!("Hooks {t}"), "billing@hooks.test")
            .unwrap();
        let settings = TenantSettings {
            enabled: true,
            stripe_public_key: Some("pk_test_hooks".into()),
            enablehalostripewebhooks: true,
            ..TenantSettings::default()
        };
        db.save_settings_and_key(
            &tenant,
            &settings,
            Some(&Secret::new(format!("sk_test_hooks{t:04}"))),
        )
        .unwrap();
        db.set_webhook_secret(&tenant, &Secret::new(secret(t)))
            .unwrap();
        let customer = db
            .create_customer(
                &tenant,
                &NewCustomer {
                    name: format!("Customer of {t}"),
                    ..Default::default()
                },
            )
            .unwrap();
        for i in 0..per_tenant.min(args.events - deliveries.len()) {
            let invoice = db
                .create_invoice(
                    &tenant,
                    &NewInvoice {
                        number: format!("INV-{i:06}"),
                        customer_id: customer.id,
                        user_id: None,
                        currency: "usd".into(),
                        issue_date: "2026-12-01".into(),
                        due_date: "2026-12-01".into(),
                        recurring_invoice_id: None,
                        lines: vec![("Support".into(), 1_000 + i as i64)],
                    },
                )
                .unwrap();
            let group = format!("ap-{tenant}-{}-1", invoice.id);
            let intent = format!("pi_hooks{t:04}x{i:06}");
            let usd = |amount| Money {
                amount,
                currency: "usd".into(),
            };
            db.create_payments(
                &tenant,
                &[NewPayment {
                    invoice_id: invoice.id,
                    group_id: group.clone(),
                    intent_id: Some(intent.clone()),
                    status: PaymentStatus::Processing,
                    method: Some("Visa ending 4242".into()),
                    method_type: None,
                    amount: usd(1_000 + i as i64),
                    fee: usd(0),
                    initiator: Initiator::Autopay,
                    attempt: 1,
                }],
            )
            .unwrap();
            deliveries.push(Delivery {
                tenant: t,
                event_id: format!("evt_hooks{t:04}x{i:06}"),
                intent,
                group,
            });
        }
    }
    deliveries
}

/// The tenant the sign-in flood attacks, with one agent.
fn seed_flood_tenant(db: &dyn Database) {
    use paydesk_host::db::{NewAgent, Principal};
    let tenant = TenantId::parse("flooded").unwrap();
    db.create_tenant(&tenant, "Flooded", "billing@flooded.test")
        .unwrap();
    let agent = db
        .create_agent(
            &tenant,
            &NewAgent {
                name: "Victim".into(),
                email: "victim@flooded.test".into(),
                can_receive_manual_stripe_payments: false,
                is_admin: true,
            },
        )
        .unwrap();
    db.set_password(&tenant, &Principal::Agent(agent), "the victim's password")
        .unwrap();
}

/// Failed sign-ins from `connections` loopback addresses until `stop`; (401s, 429s, others).
fn flood(
    addr: std::net::SocketAddr,
    connections: usize,
    stop: &std::sync::atomic::AtomicBool,
) -> (usize, usize, usize) {
    let counts = Mutex::new((0, 0, 0));
    let deadline = Instant::now() + Duration::from_secs(600);
    std::thread::scope(|scope| {
        for n in 0..connections {
            let counts = &counts;
            scope.spawn(move || {
                let from = std::net::Ipv4Addr::new(127, 0, 2, n as u8 + 1);
                // A connection the server closed (a 429 may end it) is opened again, with a
                // fresh sign-in form: an attacker keeps going, and retrying on a dead socket
                // would only spin this thread.
                let connect = || -> std::io::Result<(http1::Conn, String, String)> {
                    let mut conn = http1::Conn::open(addr, from)?;
                    let (csrf, cookie) = http1::login_form(&mut conn)?;
                    Ok((conn, csrf, cookie))
                };
                let mut session = None;
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    let (conn, csrf, cookie) = match session.as_mut() {
                        Some(s) => s,
                        None => match connect() {
                            Ok(s) => session.insert(s),
                            Err(_) => {
                                counts.lock().unwrap().2 += 1;
                                std::thread::sleep(Duration::from_millis(20));
                                continue;
                            }
                        },
                    };
                    i += 1;
                    let email = format!("guess{n}-{i}@flooded.test");
                    let answer = http1::sign_in(
                        conn,
                        (csrf.as_str(), cookie.as_str()),
                        "flooded",
                        &email,
                        "wrong",
                    );
                    let closes = answer.as_ref().map_or(true, |a| {
                        a.headers
                            .iter()
                            .any(|(k, v)| k == "connection" && v.eq_ignore_ascii_case("close"))
                    });
                    let status = answer.map(|a| a.status).unwrap_or(0);
                    if closes {
                        session = None;
                    }
                    let mut c = counts.lock().unwrap();
                    match status {
                        401 => c.0 += 1,
                        429 => c.1 += 1,
                        _ => c.2 += 1,
                    }
                }
            });
        }
    });
    counts.into_inner().unwrap()
}

/// Stripe's fixture event around Stripe's fixture PaymentIntent, made to say `d` succeeded.
fn event_body(fixtures: &serde_json::Value, d: &Delivery, amount: i64) -> String {
    let mut pi = fixtures["resources"]["payment_intent"].clone();
    pi["id"] = d.intent.clone().into();
    pi["status"] = "succeeded".into();
    pi["amount"] = amount.into();
    pi["amount_received"] = amount.into();
    pi["currency"] = "usd".into();
    pi["client_secret"] = format!("{}_secret_fixture", d.intent).into();
    pi["metadata"] = serde_json::json!({"paydesk_group": d.group});
    let mut event = fixtures["resources"]["event"].clone();
    event["id"] = d.event_id.clone().into();
    event["type"] = "payment_intent.succeeded".into();
    event["created"] = paydesk_host::db::now().into();
    event["data"]["object"] = pi;
    event.to_string()
}

fn sign(body: &str, secret: &str) -> String {
    let t = paydesk_host::db::now();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// (records succeeded with their event's id, records in all).
fn applied(db: &BenchDb) -> (u64, u64) {
    let n = db.integers(
        "SELECT SUM(CASE WHEN status = 'succeeded' AND last_event_id = 'evt_' || substr(intent_id, 4) THEN 1 ELSE 0 END), COUNT(*)
         FROM invoice_payments",
    );
    (n[0] as u64, n[1] as u64)
}

fn main() {
    let args = Args::parse();
    let bench_db = BenchDb::start(args.db, args.durable);
    let db_arg = bench_db.arg();
    let deliveries = {
        let db = bench_db.open();
        if args.sign_in_flood > 0 {
            seed_flood_tenant(db.as_ref());
        }
        seed(db.as_ref(), &args)
    };
    let fixtures: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../shared/stripe-openapi/fixtures3.json"),
        )
        .expect("../shared/stripe-openapi/fixtures3.json"),
    )
    .unwrap();
    // Bodies are made before the clock starts; each is signed as it is sent, as Stripe does.
    let bodies: Vec<String> = deliveries
        .iter()
        .enumerate()
        .map(|(i, d)| event_body(&fixtures, d, 1_000 + i as i64))
        .collect();
    let body_bytes: usize = bodies.iter().map(String::len).sum();

    // Nothing answers Stripe calls here: webhooks need none.
    let unreachable = "http://127.0.0.1:9";
    let status = paydesk(&db_arg, unreachable, &["plugin"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "paydesk plugin");
    let server_before = bench_db.server_usage();
    let ports: Vec<u16> = (0..args.hosts.max(1)).map(|_| free_port()).collect();
    let bases: Vec<String> = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    let started = Instant::now();
    let servers: Vec<_> = ports
        .iter()
        .map(|port| {
            let mut server = paydesk(&db_arg, unreachable, &["serve"]);
            server
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .env("PAYDESK_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            let mut child = server.spawn().unwrap();
            // The server's log (a warning per failed sign-in during the flood) is read as it
            // comes: a pipe nobody reads fills up and blocks the server on its next log line.
            let log = child.stderr.take().unwrap();
            let log_lines = std::thread::spawn(move || {
                use std::io::BufRead;
                std::io::BufReader::new(log)
                    .lines()
                    .map_while(Result::ok)
                    .count()
            });
            (child, log_lines)
        })
        .collect();
    let agent = || {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent()
    };
    let probe = agent();
    for base in &bases {
        while probe.get(format!("{base}/healthz")).call().is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "serve started");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    let deliver = |range: std::ops::Range<usize>| -> (Vec<Duration>, Vec<String>, Duration) {
        let next = AtomicUsize::new(range.start);
        let latencies = Mutex::new(Vec::with_capacity(range.len()));
        let failures = Mutex::new(Vec::new());
        let clock = Instant::now();
        std::thread::scope(|scope| {
            for _ in 0..args.senders {
                scope.spawn(|| {
                    let agent = agent();
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= range.end {
                            break;
                        }
                        let d = &deliveries[i];
                        let body = &bodies[i];
                        let sent = Instant::now();
                        let answer = agent
                            .post(format!(
                                "{}/webhooks/stripe/{}",
                                bases[i % bases.len()],
                                tenant_id(d.tenant)
                            ))
                            .header("Stripe-Signature", sign(body, &secret(d.tenant)))
                            .header("Content-Type", "application/json")
                            .send(body.as_str());
                        mine.push(sent.elapsed());
                        let ok = match answer {
                            Ok(mut r) => {
                                let status = r.status().as_u16();
                                let text = r.body_mut().read_to_string().unwrap_or_default();
                                (status == 200 && text.contains("\"applied\""))
                                    .then_some(())
                                    .ok_or(format!("{status} {text}"))
                            }
                            Err(e) => Err(e.to_string()),
                        };
                        if let Err(why) = ok {
                            failures
                                .lock()
                                .unwrap()
                                .push(format!("{}: {why}", d.event_id));
                        }
                    }
                    latencies.lock().unwrap().extend(mine);
                });
            }
        });
        (
            latencies.into_inner().unwrap(),
            failures.into_inner().unwrap(),
            clock.elapsed(),
        )
    };
    let half = if args.sign_in_flood > 0 {
        deliveries.len() / 2
    } else {
        deliveries.len()
    };
    let (mut latencies, mut failures, mut wall) = deliver(0..half);
    if args.sign_in_flood > 0 {
        let addr: std::net::SocketAddr = format!("127.0.0.1:{}", ports[0]).parse().unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        let (at_rest_p50, at_rest_p99) = percentiles(&mut latencies.clone());
        let ((mut flooded, more_failures, flooded_wall), (f401, f429, other)) =
            std::thread::scope(|scope| {
                let attackers = scope.spawn(|| flood(addr, args.sign_in_flood, &stop));
                // Let the flood reach full strength before measuring.
                std::thread::sleep(Duration::from_secs(2));
                let measured = deliver(half..deliveries.len());
                stop.store(true, Ordering::Relaxed);
                (measured, attackers.join().unwrap())
            });
        let (p50, p99) = percentiles(&mut flooded);
        println!(
            "another tenant's webhooks: at rest median {at_rest_p50:.2?}, p99 {at_rest_p99:.2?} ({half} events); \
             during the sign-in flood median {p50:.2?}, p99 {p99:.2?} ({} events)",
            deliveries.len() - half
        );
        println!(
            "  the flood: {} connections, {} failed sign-ins answered 401, {} answered 429, {} other, in {:.2?}",
            args.sign_in_flood, f401, f429, other, flooded_wall
        );
        latencies.extend(flooded);
        failures.extend(more_failures);
        wall += flooded_wall;
    }
    let finished: Vec<_> = servers
        .into_iter()
        .map(|(child, log_lines)| {
            // SAFETY: sending SIGINT to our own child, which shuts down gracefully on it.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
            (
                wait_with_rusage(child, started),
                log_lines.join().unwrap_or(0),
            )
        })
        .collect();
    let server = bench_db
        .server_usage()
        .zip(server_before)
        .map(|(a, b)| a.since(b));

    let (p50, p99) = percentiles(&mut latencies);
    let (succeeded, records) = applied(&bench_db);
    println!(
        "webhook ingest: {} signed events ({} KiB of bodies) to {} tenants from {} senders, on {:?}{} with {} host(s)",
        deliveries.len(),
        body_bytes / 1024,
        args.tenants,
        args.senders,
        args.db,
        if args.durable { " (durable)" } else { "" },
        finished.len()
    );
    println!(
        "  wall {:.2?}  →  {} events; latency median {:.2?}, p99 {:.2?}",
        wall,
        Rate::new(deliveries.len() as u64, wall),
        p50,
        p99
    );
    for (n, (f, log_lines)) in finished.iter().enumerate() {
        println!(
            "  paydesk serve {n}: peak RSS {}, CPU {:.2?}, {log_lines} log lines",
            mib(f.peak_rss_bytes),
            f.cpu
        );
    }
    let events = deliveries.len().max(1) as u64;
    let host_cpu: Duration = finished.iter().map(|(f, _)| f.cpu).sum();
    println!(
        "  paydesk CPU, all hosts: {:.2?} ({:.0?} per event)",
        host_cpu,
        host_cpu / events as u32
    );
    if let Some(server) = server {
        println!(
            "  PostgreSQL: CPU {:.2?} ({:.0?} per event); {} write transactions ({}.{:02} per event), {} transactions with the read-only ones ({} per event)",
            server.cpu,
            server.cpu / events as u32,
            server.writes,
            server.writes / events,
            server.writes * 100 / events % 100,
            server.commits,
            server.commits / events
        );
    }
    println!(
        "  {} deliveries not applied; {} of {} payment records succeeded with their event's id",
        failures.len(),
        succeeded,
        records
    );
    for f in failures.iter().take(5) {
        println!("    {f}");
    }
    if !failures.is_empty() || succeeded != deliveries.len() as u64 {
        println!("  LOST EVENTS");
        std::process::exit(1);
    }
}
