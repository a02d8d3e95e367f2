//! The daily run at scale (BENCHMARKS.md): seeds `--tenants` tenants, each with one customer with an
//! automatic card and `--invoices` monthly recurring invoices first due on one date, then times one
//! `paydesk autopay` process (the release binary, component cache warm) generating and charging
//! them all against a local Stripe stand-in that answers after `--latency-ms` with Stripe-shaped
//! PaymentIntents. Prints invoices per second, the process's peak RSS, the requests per second
//! Stripe saw and the most it saw in any one second; checks every invoice was charged exactly once.
//!
//! ```sh
//! cargo bench -p paydesk-host --bench daily_run -- --tenants 1000 --invoices 100
//! cargo bench -p paydesk-host --bench daily_run -- --tenants 20 --invoices 100 \
//!     --latency-ms 200 --max-requests-per-second 100 --workers 32
//! ```

mod support;

use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use clap::Parser;
use paydesk_host::db::stores::*;
use paydesk_host::db::{NewCustomer, NewRecurring, RecurringStore, SqliteDb, TenantStore};
use paydesk_host::settings::TenantSettings;
use paydesk_host::tenant::{Secret, TenantId};
use support::{Rate, StripeStandIn, mib, paydesk, rates, wait_with_rusage};

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
    /// PAYDESK_AUTOPAY_WORKERS for the run.
    #[arg(long, default_value_t = 8)]
    workers: u16,
    /// `cargo bench` passes this; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn seed(db: &SqliteDb, tenants: usize, invoices: usize) {
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
fn paid(db_path: &Path) -> (u64, u64) {
    let conn = rusqlite::Connection::open(db_path).unwrap();
    conn.query_row(
        "SELECT COUNT(*), COUNT(DISTINCT invoice_id) FROM invoice_payments
         WHERE status = 'succeeded' AND initiator_kind = 'autopay'",
        [],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
    )
    .unwrap()
}

fn main() {
    let args = Args::parse();
    let total = (args.tenants * args.invoices) as u64;
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("paydesk.db");
    let stand_in = StripeStandIn::start(Duration::from_millis(args.latency_ms));

    let started = Instant::now();
    seed(
        &SqliteDb::open(&db_path).unwrap(),
        args.tenants,
        args.invoices,
    );
    println!(
        "seeded {} tenants × {} recurring invoices in {:.1?}",
        args.tenants,
        args.invoices,
        started.elapsed()
    );
    // Compile the component into the cache first, as a server's first start would.
    let status = paydesk(&db_path, &stand_in.base_url, &["plugin"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "paydesk plugin");

    let mut cmd = paydesk(&db_path, &stand_in.base_url, &["autopay", "--date", DATE]);
    cmd.env("PAYDESK_AUTOPAY_WORKERS", args.workers.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(limit) = args.max_requests_per_second {
        cmd.env("PAYDESK_STRIPE_MAX_REQUESTS_PER_SECOND", limit.to_string());
    }
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let errors = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let finished = wait_with_rusage(child, started);
    let errors = errors.join().unwrap();
    let seen = stand_in.take();

    let (records, invoices_paid) = paid(&db_path);
    let keys: HashSet<&String> = seen.idempotency_keys.iter().collect();
    let (achieved, most_in_a_second) = rates(&seen.arrivals);
    println!(
        "daily run: {} tenants × {} invoices, Stripe latency {} ms, limit {}, {} workers",
        args.tenants,
        args.invoices,
        args.latency_ms,
        args.max_requests_per_second
            .map_or("none".to_string(), |l| format!("{l} requests/s")),
        args.workers
    );
    println!(
        "  wall {:.2?}  →  {} invoices charged",
        finished.wall,
        Rate::new(invoices_paid, finished.wall)
    );
    println!(
        "  paydesk: peak RSS {}, CPU {:.2?} ({:.0?} per invoice)",
        mib(finished.peak_rss_bytes),
        finished.cpu,
        finished.cpu / u32::try_from(total.max(1)).unwrap_or(u32::MAX)
    );
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
    let mut ok = finished.success;
    if !finished.success {
        let tail: Vec<&str> = errors.lines().rev().take(10).collect();
        println!("  paydesk autopay failed; last lines of stderr (newest first):");
        for line in tail {
            println!("    {line}");
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
