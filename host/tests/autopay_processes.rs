//! `paydesk autopay` as separate processes on one database: two runs started
//! together charge each of 200 invoices once; a run killed with SIGKILL midway and run again
//! leaves exactly one successful PaymentIntent per invoice; `--dry-run` lists every invoice with
//! its reason and leaves the database byte-for-byte unchanged; runs joining the shared run
//! (`--join`) take a tenant's day once between them. What the runs print goes to the
//! secret sweep.

// The service harness and the recording proxy are shared with the end-to-end suite.
mod common;

#[path = "../../tests/src/recorder.rs"]
#[allow(dead_code)]
mod recorder;
#[path = "../../tests/src/services.rs"]
#[allow(dead_code)]
mod services;
#[path = "../../tests/src/sweep.rs"]
#[allow(dead_code)]
mod sweep;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use paydesk_host::db::stores::*;
use paydesk_host::db::{Database, NewInvoice, NewRecurring, RecurringStore, SqliteDb, TenantStore};
use paydesk_host::settings::TenantSettings;
use paydesk_host::tenant::{Secret, TenantId};

const KEY: &str = "sk_test_autopay_processes";
const DATE: &str = "2026-12-01";

/// A tenant with autopay on the due date, one customer with a card, `n` monthly recurring
/// invoices first issued (and due) on `DATE`.
fn seed(db_path: &Path, stripe_base: &str, n: usize) -> TenantId {
    let db = SqliteDb::open(db_path).unwrap();
    sweep::register_secret(KEY);
    let tenant = TenantId::parse("acme").unwrap();
    db.create_tenant(&tenant, "Acme", "invoices@acme.test")
        .unwrap();
    let settings = TenantSettings {
        enabled: true,
        stripe_public_key: Some("pk_test_x".into()),
        enableautostripepayment: true,
        halointegrator_stripe: true,
        stripetakepaymentonduedate: true,
        stripe_processing_fee_percentage: "2.9".into(),
        ..TenantSettings::default()
    };
    db.save_settings_and_key(&tenant, &settings, Some(&Secret::new(KEY)))
        .unwrap();
    let customer = common::customer_with_card(&db, &tenant, stripe_base, KEY);
    for i in 0..n {
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
    tenant
}

/// `paydesk autopay --date DATE EXTRA` on `db`, with the default Stripe request limits (60 s): a
/// loaded machine answering slowly must not turn charges into unknown outcomes.
fn autopay(db: &Path, stripe_base: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_paydesk"));
    cmd.arg("autopay")
        .arg("--date")
        .arg(DATE)
        .args(extra)
        .arg("--db")
        .arg(db)
        .env("PAYDESK_STRIPE_API_BASE", stripe_base)
        .env("PAYDESK_CACHE_DIR", db.parent().unwrap().join("cache"))
        .env_remove("PAYDESK_STRIPE_TIMEOUT_SECONDS")
        .env_remove("PAYDESK_STRIPE_CONNECT_TIMEOUT_SECONDS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn finish(child: Child) -> Output {
    kept(child.wait_with_output().expect("paydesk ran"))
}

/// A run's output, also handed to the secret sweep.
fn kept(out: Output) -> Output {
    sweep::record(
        sweep::Kind::Cli,
        "paydesk autopay",
        &String::from_utf8_lossy(&out.stdout),
    );
    sweep::record(
        sweep::Kind::Logs,
        "paydesk autopay",
        &String::from_utf8_lossy(&out.stderr),
    );
    out
}

/// Succeeded PaymentIntents per invoice id, as localstripe holds them.
fn succeeded_per_invoice(stripe_base: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for pi in common::all_intents(stripe_base, KEY) {
        if pi["status"] == "succeeded" {
            let invoice = pi["metadata"]["paydesk_invoice_ids"]
                .as_str()
                .unwrap_or("?")
                .to_string();
            *counts.entry(invoice).or_insert(0) += 1;
        }
    }
    counts
}

fn assert_each_paid_once(db_path: &Path, tenant: &TenantId, stripe_base: &str, n: usize) {
    let counts = succeeded_per_invoice(stripe_base);
    assert_eq!(
        counts.len(),
        n,
        "every invoice has a succeeded PaymentIntent"
    );
    let twice: Vec<_> = counts.iter().filter(|(_, c)| **c != 1).collect();
    assert!(
        twice.is_empty(),
        "invoices charged more than once: {twice:?}"
    );
    let db = SqliteDb::open(db_path).unwrap();
    let invoices = db
        .invoices(
            tenant,
            &paydesk_host::contract::InvoiceFilter {
                customer_id: None,
                status: None,
                due_on_or_before: None,
                recurring_only: true,
                after_id: None,
                limit: 1000,
            },
        )
        .unwrap();
    assert_eq!(invoices.len(), n, "each recurring invoice generated once");
    assert!(
        invoices
            .iter()
            .all(|i| i.status == paydesk_host::contract::InvoiceStatus::Paid)
    );
}

/// localstripe behind a recorder that drops the list filter it doesn't know (`customer` on
/// `GET /v1/payment_intents`, which real Stripe has).
fn stripe_pair() -> (services::LocalStripe, recorder::StripeRecorder) {
    let ls = services::LocalStripe::start().expect("localstripe");
    let rec = recorder::StripeRecorder::start_stripping(&ls.base_url, &[], &["customer"])
        .expect("recorder");
    (ls, rec)
}

#[test]
fn two_runs_started_together_charge_each_of_200_invoices_once() {
    let (ls, rec) = stripe_pair();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("paydesk.db");
    let tenant = seed(&db, &ls.base_url, 200);
    let a = autopay(&db, &rec.base_url, &[]).spawn().unwrap();
    let b = autopay(&db, &rec.base_url, &[]).spawn().unwrap();
    let (a, b) = (finish(a), finish(b));
    for (name, out) in [("first", &a), ("second", &b)] {
        assert!(
            out.status.success(),
            "{name} run: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_each_paid_once(&db, &tenant, &ls.base_url, 200);
}

#[test]
fn a_run_killed_midway_and_run_again_charges_each_invoice_once() {
    let (ls, rec) = stripe_pair();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("paydesk.db");
    let tenant = seed(&db, &ls.base_url, 200);
    // Short request limits for the run that is killed, so its claims' lease (stored in each
    // claim: 2 × (3 + 1) s + 5 s = 13 s) runs out soon; the run after it has the default ones.
    let mut child = autopay(&db, &rec.base_url, &[])
        .env("PAYDESK_STRIPE_TIMEOUT_SECONDS", "3")
        .env("PAYDESK_STRIPE_CONNECT_TIMEOUT_SECONDS", "1")
        .spawn()
        .unwrap();
    // A bound against hanging, not an expectation of speed (a loaded machine is slow to get there).
    let deadline = Instant::now() + Duration::from_secs(900);
    while rec
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path_and_query == "/v1/payment_intents")
        .count()
        < 60
    {
        assert!(Instant::now() < deadline, "the run did not get going");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGKILL: no cleanup, possibly in the middle of a charge.
    child.kill().unwrap();
    child.wait().unwrap();
    // Claims of the killed run hold for their lease (13 s from when each was taken, all before
    // the kill), then are resolved by asking Stripe: 14 s after the kill every lease has run out.
    std::thread::sleep(Duration::from_secs(14));
    let out = kept(autopay(&db, &rec.base_url, &[]).output().unwrap());
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_each_paid_once(&db, &tenant, &ls.base_url, 200);
}

#[test]
fn dry_run_lists_every_invoice_with_its_reason_and_changes_nothing() {
    let (ls, rec) = stripe_pair();
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("paydesk.db");
    let tenant = seed(&db_path, &ls.base_url, 3);
    {
        // A manual invoice, due: listed, never charged; and a customer without a method.
        let db = SqliteDb::open(&db_path).unwrap();
        let c = db.customer(&tenant, 1).unwrap();
        db.create_invoice(
            &tenant,
            &NewInvoice {
                number: "MANUAL-1".into(),
                customer_id: c.id,
                user_id: None,
                currency: "usd".into(),
                issue_date: "2026-11-01".into(),
                due_date: "2026-11-15".into(),
                recurring_invoice_id: None,
                lines: vec![("Consulting".into(), 50_000)],
            },
        )
        .unwrap();
        // Generate the recurring invoices (a real run on the day before changes nothing else).
        db.generate_due(&tenant, DATE).unwrap();
    }
    let before = std::fs::read(&db_path).unwrap();
    let out = kept(
        autopay(&db_path, &rec.base_url, &["--dry-run"])
            .output()
            .unwrap(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("dry run: nothing changed"), "{stdout}");
    for line in ["MANUAL-1", "R1-20261201", "R2-20261201", "R3-20261201"] {
        assert!(stdout.contains(line), "{line} missing:\n{stdout}");
    }
    assert!(
        stdout.contains("not generated by a recurring invoice"),
        "{stdout}"
    );
    assert!(
        stdout.contains("charge") && stdout.contains("USD 10.29"),
        "{stdout}"
    );
    let json = kept(
        autopay(&db_path, &rec.base_url, &["--dry-run", "--json"])
            .output()
            .unwrap(),
    );
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let plan = report[0]["plan"].as_array().unwrap();
    assert_eq!(plan.len(), 4);
    assert!(
        plan.iter()
            .all(|d| d["reason"].as_str().is_some_and(|r| !r.is_empty()))
    );
    assert_eq!(
        std::fs::read(&db_path).unwrap(),
        before,
        "the database is byte-for-byte unchanged"
    );
    assert!(
        rec.requests().iter().all(|r| r.method == "GET"),
        "a dry run sends nothing that changes Stripe"
    );
    let _: &dyn Database = &SqliteDb::open(&db_path).unwrap();
}

#[test]
fn runs_joining_the_shared_run_take_each_tenant_day_once_and_leave_it_to_whoever_took_it() {
    let (ls, rec) = stripe_pair();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("paydesk.db");
    let tenant = seed(&db, &ls.base_url, 40);
    let a = autopay(&db, &rec.base_url, &["--join"]).spawn().unwrap();
    let b = autopay(&db, &rec.base_url, &["--join"]).spawn().unwrap();
    let outs = [finish(a), finish(b)];
    let mut ran = 0;
    for out in &outs {
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let left = stdout.contains("tenant acme: left to another host");
        let charged = stdout.contains("tenant acme — 2026-12-01: 40 invoice(s) in the plan");
        assert!(
            left != charged,
            "a run either ran the day or left it: {stdout}"
        );
        ran += usize::from(charged);
    }
    assert_eq!(ran, 1, "exactly one of the two runs ran the tenant's day");
    assert_each_paid_once(&db, &tenant, &ls.base_url, 40);
    // The day is done: a third run joining leaves it, and Stripe hears nothing more.
    let before = common::all_intents(&ls.base_url, KEY).len();
    let third = kept(
        autopay(&db, &rec.base_url, &["--join"])
            .output()
            .expect("paydesk ran"),
    );
    assert!(third.status.success());
    assert!(String::from_utf8_lossy(&third.stdout).contains("tenant acme: left to another host"));
    assert_eq!(common::all_intents(&ls.base_url, KEY).len(), before);
    // A run by hand runs the finished day again, and finds nothing left to charge.
    let again = kept(
        autopay(&db, &rec.base_url, &[])
            .output()
            .expect("paydesk ran"),
    );
    assert!(again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stdout)
            .contains("tenant acme — 2026-12-01: 0 invoice(s) in the plan"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    assert_each_paid_once(&db, &tenant, &ls.base_url, 40);
}
