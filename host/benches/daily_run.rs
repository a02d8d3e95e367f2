//! The daily run at scale (BENCHMARKS.md): seeds `--tenants` tenants, each with one customer with an
//! automatic card and `--invoices` monthly recurring invoices first due on one date, then times one
//! `paydesk autopay` process (the release binary, component cache warm) generating and charging
//! them all against a local Stripe stand-in that answers after `--latency-ms` with Stripe-shaped
//! PaymentIntents. Prints invoices per second, the process's peak RSS, the requests per second
//! Stripe saw and the most it saw in any one second; checks every invoice was charged exactly once.
//!
//!
//! With `--db postgres` it runs on a throwaway PostgreSQL cluster it starts itself, and with
//! `--hosts N` it runs N `paydesk autopay --join` processes at once on that database, as N hosts
//! whose schedulers found the day had come: they share the tenants through the daily run's leases.
//! On PostgreSQL it also prints the server's CPU and the transactions committed per invoice.
//!
//! ```sh
//! cargo bench -p paydesk-host --bench daily_run -- --tenants 1000 --invoices 100
//! cargo bench -p paydesk-host --bench daily_run -- --tenants 20 --invoices 100 \
//!     --latency-ms 200 --max-requests-per-second 100 --workers 32
//! cargo bench -p paydesk-host --bench daily_run -- --db postgres --hosts 3 --tenants 1000 --invoices 100
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

use std::collections::HashSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use clap::Parser;
use paydesk_host::db::{Database, NewCustomer, NewRecurring};
use paydesk_host::settings::TenantSettings;
use paydesk_host::tenant::{Secret, TenantId};
use support::database::{BenchDb, Engine};
use support::{Finished, Rate, StripeStandIn, mib, paydesk, rates, wait_with_rusage};

const DATE: &str = "2026-12-01";

#[derive(Parser, Debug)]
struct Args {
    /// Tenants with the integrator on.
    #[arg(long, default_value_t = 1000)]
    tenants: usize,
    /// Recurring invoices due per tenant.
    #[arg(long, default_value_t = 100)]
    invoices: usize,
    /// The stand-in's answer latency.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// PAYDESK_STRIPE_MAX_REQUESTS_PER_SECOND for the run (none: no limit).
    #[arg(long)]
    max_requests_per_second: Option<u32>,
    /// PAYDESK_AUTOPAY_WORKERS for the run (each host's).
    #[arg(long, default_value_t = 8)]
    workers: u16,
    /// The database engine.
    #[arg(long, value_enum, default_value_t = Engine::Sqlite)]
    db: Engine,
    /// PostgreSQL with its default durability (fsync, synchronous commit) instead of the
    /// throwaway settings.
    #[arg(long)]
    durable: bool,
    /// `paydesk autopay --join` processes running at once, each a host.
    #[arg(long, default_value_t = 1)]
    hosts: usize,
    /// `cargo bench` passes this; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn seed(db: &dyn Database, tenants: usize, invoices: usize) {
    for t in 0..tenants {
        let tenant = TenantId::parse(&format!("bench-{t:05}")).unwrap();
        db.create_tenant(&tenant, &format!("Bench {t}"), "billing@bench.test")
            .unwrap();
        let settings = TenantSettings {
            enabled: true,
            stripe_public_key: Some("pk_test_bench".into()),
            enableautostripepayment: true,
            halointegrator_stripe: true,
            stripetakepaymentonduedate: true,
            stripe_processing_fee_percentage: "2.9".into(),
            ..TenantSettings::default()
        };
        db.save_settings_and_key(
            &tenant,
            &settings,
            Some(&Secret::new(format!("sk_test_bench{t:05}"))),
        )
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
        db.set_stripe_customer_id(&tenant, customer.id, Some(&format!("cus_bench{t:05}")))
            .unwrap();
        db.set_automatic_payment_method(
            &tenant,
            customer.id,
            Some((&format!("pm_bench{t:05}"), "Visa ending 4242")),
        )
        .unwrap();
        for i in 0..invoices {
            db.create_recurring(
                &tenant,
                &NewRecurring {
                    customer_id: customer.id,
                    user_id: None,
                    currency: "usd".into(),
                    description: format!("Seat {i}"),
                    amount: 1_000 + i as i64,
                    interval_months: 1,
                    next_date: DATE.into(),
                    due_days: 0,
                },
            )
            .unwrap();
        }
    }
}

/// Succeeded autopay payment records and the distinct invoices they pay.
fn paid(db: &BenchDb) -> (u64, u64) {
    let n = db.integers(
        "SELECT COUNT(*), COUNT(DISTINCT invoice_id) FROM invoice_payments
         WHERE status = 'succeeded' AND initiator_kind = 'autopay'",
    );
    (n[0] as u64, n[1] as u64)
}

fn main() {
    let args = Args::parse();
    let total = (args.tenants * args.invoices) as u64;
    let db = BenchDb::start(args.db, args.durable);
    let stand_in = StripeStandIn::start(Duration::from_millis(args.latency_ms));

    let started = Instant::now();
    seed(db.open().as_ref(), args.tenants, args.invoices);
    println!(
        "seeded {} tenants × {} recurring invoices in {:.1?}",
        args.tenants,
        args.invoices,
        started.elapsed()
    );
    // Compile the component into the cache first, as a server's first start would.
    let status = paydesk(&db.arg(), &stand_in.base_url, &["plugin"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "paydesk plugin");

    let server_before = db.server_usage();
    let started = Instant::now();
    let children: Vec<_> = (0..args.hosts.max(1))
        .map(|_| {
            let mut cmd = paydesk(
                &db.arg(),
                &stand_in.base_url,
                &["autopay", "--date", DATE, "--join"],
            );
            cmd.env("PAYDESK_AUTOPAY_WORKERS", args.workers.to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            if let Some(limit) = args.max_requests_per_second {
                cmd.env("PAYDESK_STRIPE_MAX_REQUESTS_PER_SECOND", limit.to_string());
            }
            let mut child = cmd.spawn().unwrap();
            let stderr = child.stderr.take().unwrap();
            let errors =
                std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
            (child, errors)
        })
        .collect();
    let hosts: Vec<(Finished, String)> = children
        .into_iter()
        .map(|(child, errors)| {
            let finished = wait_with_rusage(child, started);
            (finished, errors.join().unwrap())
        })
        .collect();
    let wall = started.elapsed();
    let server = db
        .server_usage()
        .zip(server_before)
        .map(|(a, b)| a.since(b));
    let seen = stand_in.take();

    let (records, invoices_paid) = paid(&db);
    let keys: HashSet<&String> = seen.idempotency_keys.iter().collect();
    let (achieved, most_in_a_second) = rates(&seen.arrivals);
    let per_invoice = |d: Duration| d / u32::try_from(total.max(1)).unwrap_or(u32::MAX);
    println!(
        "daily run: {} tenants × {} invoices on {:?}{}, {} host(s), Stripe latency {} ms, limit {}, {} workers each",
        args.tenants,
        args.invoices,
        args.db,
        if args.durable { " (durable)" } else { "" },
        hosts.len(),
        args.latency_ms,
        args.max_requests_per_second
            .map_or("none".to_string(), |l| format!("{l} requests/s")),
        args.workers
    );
    println!(
        "  wall {:.2?}  →  {} invoices charged",
        wall,
        Rate::new(invoices_paid, wall)
    );
    for (n, (finished, _)) in hosts.iter().enumerate() {
        println!(
            "  paydesk host {n}: wall {:.2?}, peak RSS {}, CPU {:.2?} ({:.0?} per invoice of all)",
            finished.wall,
            mib(finished.peak_rss_bytes),
            finished.cpu,
            per_invoice(finished.cpu)
        );
    }
    let host_cpu: Duration = hosts.iter().map(|(f, _)| f.cpu).sum();
    println!(
        "  paydesk CPU, all hosts: {:.2?} ({:.0?} per invoice)",
        host_cpu,
        per_invoice(host_cpu)
    );
    if let Some(server) = server {
        println!(
            "  PostgreSQL: CPU {:.2?} ({:.0?} per invoice); {} write transactions ({}.{:02} per invoice), {} transactions with the read-only ones ({} per invoice)",
            server.cpu,
            per_invoice(server.cpu),
            server.writes,
            server.writes / total.max(1),
            server.writes * 100 / total.max(1) % 100,
            server.commits,
            server.commits / total.max(1)
        );
        let size = db.integers("SELECT pg_database_size(current_database())")[0] as u64;
        println!(
            "  database size after the run: {} ({} bytes per invoice, indexes and the seed included)",
            mib(size),
            size / total.max(1)
        );
    }
    println!(
        "  Stripe saw {} requests: {} between the first and the last, at most {} in any one second",
        seen.arrivals.len(),
        achieved,
        most_in_a_second
    );
    for (route, n) in &seen.by_route {
        println!("    {n:>8}  {route}");
    }
    println!(
        "  {} invoices paid by {} succeeded records; {} PaymentIntents created with {} distinct idempotency keys",
        invoices_paid,
        records,
        seen.idempotency_keys.len(),
        keys.len()
    );
    let mut ok = true;
    for (n, (finished, errors)) in hosts.iter().enumerate() {
        if !finished.success {
            ok = false;
            let tail: Vec<&str> = errors.lines().rev().take(10).collect();
            println!("  paydesk autopay (host {n}) failed; last lines of stderr (newest first):");
            for line in tail {
                println!("    {line}");
            }
        }
    }
    for (what, got) in [
        ("invoices paid", invoices_paid),
        ("succeeded records", records),
        ("PaymentIntents created", seen.idempotency_keys.len() as u64),
        ("distinct idempotency keys", keys.len() as u64),
    ] {
        if got != total {
            println!("  MISMATCH: {what} = {got}, expected {total}");
            ok = false;
        }
    }
    if let Some(limit) = args.max_requests_per_second
        && most_in_a_second > limit as usize
    {
        println!("  OVER THE LIMIT: {most_in_a_second} requests in one second");
        ok = false;
    }
    if !ok {
        std::process::exit(1);
    }
}
