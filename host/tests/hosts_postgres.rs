//! Several hosts on one PostgreSQL database (issue: scale out), as separate processes: three
//! `paydesk serve` hosts whose schedulers all find the day has come, plus two `paydesk autopay`
//! runs started by hand, on a throwaway cluster (`tests/src/postgres.rs`) and localstripe behind
//! the recording proxy.
//!
//! - 300 due invoices; the host running the day is killed with SIGKILL at a moment chosen by the
//!   charges it has sent (a seed picks how many, printed; `PAYDESK_KILL_SEED` replays it); another
//!   process takes the run over once its lease has run out: exactly one succeeded PaymentIntent
//!   per invoice in localstripe, none missing, every invoice paid.
//! - PostgreSQL restarted in the middle of a run: every host goes on without a restart (its pool
//!   drops the dead connections), answers again, and a run by hand finishes the day: nothing lost
//!   or doubled.
//! - Hosts starting together on a new database migrate it once; the partial unique rules exist.
//! - The rate limit: three processes charging three tenants of one Stripe account with a limit of
//!   25 requests a second: no second of the recorder's log (arrival times) holds more than 25.
//!
//! Waits are bounds against hanging, never expectations of speed: each ends when what it waits
//! for happened. What the processes print goes to the secret sweep.

mod common;

#[path = "../../tests/src/postgres.rs"]
#[allow(dead_code)]
mod postgres;
#[path = "../../tests/src/recorder.rs"]
#[allow(dead_code)]
mod recorder;
#[path = "../../tests/src/services.rs"]
#[allow(dead_code)]
mod services;
#[path = "../../tests/src/sweep.rs"]
#[allow(dead_code)]
mod sweep;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, UNIX_EPOCH};

use paydesk_host::contract::{InvoiceFilter, InvoiceStatus};
use paydesk_host::db::stores::*;
use paydesk_host::db::{
    AuthStore, NewAgent, NewRecurring, PgDb, Principal, RecurringStore, TenantStore,
};
use paydesk_host::settings::TenantSettings;
use paydesk_host::tenant::{Secret, TenantId};

const KEY: &str = "sk_test_hosts_postgres";
/// A bound against hanging.
const BOUND: Duration = Duration::from_secs(900);

/// A time zone where it is now between 02:00 and 21:00 (the daily run starts from 01:00 local,
/// and the day must not change during the test), and today's date there.
fn zone_and_day() -> (String, String) {
    use chrono::Timelike;
    let now = chrono::Utc::now();
    let offset = (-12i32..=14)
        .filter(|o| (2..=20).contains(&(now.hour() as i32 + o).rem_euclid(24)))
        .min_by_key(|o| o.abs())
        .expect("some offset");
    let zone = match offset {
        0 => "UTC".to_string(),
        // The Etc zones' signs are POSIX's: Etc/GMT-3 is three hours ahead of UTC.
        o if o > 0 => format!("Etc/GMT-{o}"),
        o => format!("Etc/GMT+{}", -o),
    };
    let day = (now + chrono::Duration::hours(i64::from(offset)))
        .date_naive()
        .to_string();
    (zone, day)
}

/// Tenants (sharing one Stripe account) with autopay on, `n` recurring invoices each issued and
/// due today, one customer with a card each; and an admin token of the first.
fn seed(
    db: &PgDb,
    stripe_base: &str,
    tenants: &[&str],
    n: usize,
    edit: impl Fn(&mut TenantSettings),
) -> (Vec<TenantId>, String) {
    sweep::register_secret(KEY);
    let (zone, day) = zone_and_day();
    let mut ids = Vec::new();
    let mut token = String::new();
    for name in tenants {
        let tenant = TenantId::parse(name).unwrap();
        db.create_tenant(&tenant, name, &format!("invoices@{name}.test"))
            .unwrap();
        let mut settings = TenantSettings {
            enabled: true,
            stripe_public_key: Some("pk_test_x".into()),
            enableautostripepayment: true,
            halointegrator_stripe: true,
            stripetakepaymentonduedate: true,
            stripe_processing_fee_percentage: "2.9".into(),
            time_zone: zone.clone(),
            ..TenantSettings::default()
        };
        edit(&mut settings);
        db.save_settings_and_key(&tenant, &settings, Some(&Secret::new(KEY)))
            .unwrap();
        let customer = common::customer_with_card(db, &tenant, stripe_base, KEY);
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
                    next_date: day.clone(),
                    due_days: 0,
                },
            )
            .unwrap();
        }
        if token.is_empty() {
            let admin = db
                .create_agent(
                    &tenant,
                    &NewAgent {
                        name: "Admin".into(),
                        email: format!("admin@{name}.test"),
                        can_receive_manual_stripe_payments: true,
                        is_admin: true,
                    },
                )
                .unwrap();
            token = db
                .create_token(&tenant, &Principal::Agent(admin), "test")
                .unwrap()
                .expose()
                .to_string();
        }
        ids.push(tenant);
    }
    (ids, token)
}

/// Environment every process gets: the database, Stripe behind the recorder, short request
/// limits (a claim's lease is 2 × (3 + 1) s + 5 s = 13 s, a run's lease 13 s + 40 s).
fn configure(cmd: &mut Command, url: &str, stripe_base: &str, _dir: &Path) {
    cmd.env("PAYDESK_DATABASE_URL", url)
        .env("PAYDESK_STRIPE_API_BASE", stripe_base)
        // One compiled component for every process of these tests (keyed by its hash).
        .env(
            "PAYDESK_CACHE_DIR",
            std::env::temp_dir().join("paydesk-hosts-test-component-cache"),
        )
        .env("PAYDESK_STRIPE_TIMEOUT_SECONDS", "3")
        .env("PAYDESK_STRIPE_CONNECT_TIMEOUT_SECONDS", "1")
        .env("PAYDESK_SCHEDULER_CHECK_SECONDS", "1")
        .env("PAYDESK_LOG", "info")
        .env_remove("PAYDESK_SMTP_URL")
        .env_remove("PAYDESK_PUBLIC_URL")
        .env_remove("PAYDESK_STRIPE_MAX_REQUESTS_PER_SECOND")
        .stdin(Stdio::null());
}

struct Server {
    child: Child,
    base: String,
    log: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        sweep::record(
            sweep::Kind::Logs,
            "paydesk serve",
            &std::fs::read_to_string(&self.log).unwrap_or_default(),
        );
    }
}

fn serve(url: &str, stripe_base: &str, dir: &Path, n: usize, extra: &[(&str, &str)]) -> Server {
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.join(format!("serve-{n}.log"));
        let log_file = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_paydesk"));
        cmd.arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"));
        configure(&mut cmd, url, stripe_base, dir);
        cmd.envs(extra.iter().copied())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file);
        let mut server = Server {
            child: cmd.spawn().expect("spawn paydesk serve"),
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + BOUND;
        while Instant::now() < deadline {
            if server.child.try_wait().unwrap().is_some() {
                break; // the port was taken meanwhile: try another
            }
            if get(&server.base, None, "/healthz") == Some(200) {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            Instant::now() < deadline,
            "paydesk serve did not start: {}",
            std::fs::read_to_string(&server.log).unwrap_or_default()
        );
    }
}

fn autopay(url: &str, stripe_base: &str, dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_paydesk"));
    cmd.arg("autopay").args(extra);
    configure(&mut cmd, url, stripe_base, dir);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

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

fn assert_ran(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The status of `GET path` (None when the server does not answer).
fn get(base: &str, token: Option<&str>, path: &str) -> Option<u16> {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent();
    let mut request = agent.get(format!("{base}{path}"));
    if let Some(t) = token {
        request = request.header("Authorization", format!("Bearer {t}"));
    }
    request.call().ok().map(|r| r.status().as_u16())
}

fn intents_created(rec: &recorder::StripeRecorder) -> usize {
    rec.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path_and_query == "/v1/payment_intents")
        .count()
}

/// Wait (bounded) until `done` holds.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + BOUND;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {BOUND:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every tenant's run for the day is finished (its lease row says so).
fn runs_finished(cluster: &postgres::Cluster, db: &str, tenants: usize) -> bool {
    cluster
        .client(db)
        .and_then(|mut c| {
            Ok(c.query_one(
                "SELECT COUNT(*) FROM work_leases WHERE work LIKE 'autopay:%' AND finished_at IS NOT NULL",
                &[],
            )?)
        })
        .map(|row| row.get::<_, i64>(0) as usize >= tenants)
        .unwrap_or(false)
}

/// Exactly one succeeded PaymentIntent per invoice in localstripe, every invoice paid.
fn assert_each_paid_once(db: &PgDb, tenants: &[TenantId], stripe_base: &str, n: usize) {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for pi in common::all_intents(stripe_base, KEY) {
        if pi["status"] == "succeeded" {
            let key = format!(
                "{}/{}",
                pi["metadata"]["paydesk_tenant"].as_str().unwrap_or("?"),
                pi["metadata"]["paydesk_invoice_ids"]
                    .as_str()
                    .unwrap_or("?")
            );
            *counts.entry(key).or_insert(0) += 1;
        }
    }
    let twice: Vec<_> = counts.iter().filter(|(_, c)| **c != 1).collect();
    assert!(
        twice.is_empty(),
        "invoices charged more than once: {twice:?}"
    );
    assert_eq!(
        counts.values().sum::<usize>(),
        n * tenants.len(),
        "one succeeded PaymentIntent per invoice"
    );
    for tenant in tenants {
        let invoices = db
            .invoices(
                tenant,
                &InvoiceFilter {
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
        let unpaid: Vec<_> = invoices
            .iter()
            .filter(|i| i.status != InvoiceStatus::Paid)
            .map(|i| i.number.clone())
            .collect();
        assert!(unpaid.is_empty(), "{tenant}: unpaid {unpaid:?}");
    }
}

fn kill_seed() -> u64 {
    std::env::var("PAYDESK_KILL_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
}

fn stripe_pair() -> (services::LocalStripe, recorder::StripeRecorder) {
    let ls = services::LocalStripe::start().expect("localstripe");
    let rec = recorder::StripeRecorder::start_stripping(&ls.base_url, &[], &["customer"])
        .expect("recorder");
    (ls, rec)
}

#[test]
fn three_hosts_and_two_runs_by_hand_charge_300_invoices_once_when_the_running_host_is_killed() {
    const N: usize = 300;
    let cluster = postgres::Cluster::start().expect("PostgreSQL");
    let url = cluster.new_database().unwrap();
    let name = url.rsplit('/').next().unwrap().to_string();
    let (ls, rec) = stripe_pair();
    let dir = tempfile::tempdir().unwrap();
    let db = PgDb::open(&url).unwrap();
    let (tenants, _) = seed(&db, &ls.base_url, &["acme"], N, |_| {});
    let mut hosts: Vec<Option<Server>> = (0..3)
        .map(|i| Some(serve(&url, &rec.base_url, dir.path(), i, &[])))
        .collect();
    // Killed after this many charges were sent (of 300).
    let seed = kill_seed();
    let kill_after = 20 + (seed % 200) as usize;
    println!("PAYDESK_KILL_SEED={seed}: the running host is killed after {kill_after} charges");
    wait_until("the day's run gets going", || intents_created(&rec) >= 10);
    // Two runs by hand on the same day join in: they wait for the lease. They are not killed,
    // so they get the usual time for Stripe's answers: on a loaded machine localstripe may take
    // longer than the hosts' short limit, and a run that reports an unanswered charge exits
    // with an error — what is asserted of them is that they finish the protocol, not the speed.
    let by_hand: Vec<Child> = (0..2)
        .map(|_| {
            autopay(&url, &rec.base_url, dir.path(), &[])
                .env("PAYDESK_STRIPE_TIMEOUT_SECONDS", "60")
                .spawn()
                .unwrap()
        })
        .collect();
    wait_until("the run reaches the kill point", || {
        intents_created(&rec) >= kill_after
    });
    let holder: String = cluster
        .client(&name)
        .unwrap()
        .query_one(
            "SELECT holder FROM work_leases WHERE work LIKE 'autopay:%'",
            &[],
        )
        .unwrap()
        .get(0);
    let pid: u32 = holder.split(':').nth(1).unwrap().parse().unwrap();
    let killed = hosts
        .iter()
        .position(|h| h.as_ref().is_some_and(|h| h.child.id() == pid))
        .unwrap_or_else(|| panic!("the run is held by {holder}, which is not a serve host"));
    // SIGKILL: no cleanup, possibly in the middle of a charge.
    let mut dead = hosts[killed].take().unwrap();
    dead.child.kill().unwrap();
    dead.child.wait().unwrap();
    drop(dead);
    for child in by_hand {
        assert_ran(&kept(child.wait_with_output().unwrap()), "run by hand");
    }
    wait_until("the day's run is finished", || {
        runs_finished(&cluster, &name, 1)
    });
    assert_each_paid_once(&db, &tenants, &ls.base_url, N);
    // The run was taken over, not started again by every host: the lease's holder changed once.
    let holder_now: String = cluster
        .client(&name)
        .unwrap()
        .query_one(
            "SELECT holder FROM work_leases WHERE work LIKE 'autopay:%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_ne!(holder_now, holder, "another process finished the run");
}

#[test]
fn postgres_restarted_mid_run_every_host_goes_on_and_nothing_is_lost_or_doubled() {
    const N: usize = 120;
    let mut cluster = postgres::Cluster::start().expect("PostgreSQL");
    let url = cluster.new_database().unwrap();
    let (ls, rec) = stripe_pair();
    let dir = tempfile::tempdir().unwrap();
    let (tenants, token) = {
        let db = PgDb::open(&url).unwrap();
        // A charge whose success the restart kept from the database is settled by the next
        // run's reconciliation: at once, not after the default wait.
        seed(&db, &ls.base_url, &["acme"], N, |s| {
            s.reconcile_after_minutes = 0
        })
    };
    let hosts: Vec<Server> = (0..3)
        .map(|i| serve(&url, &rec.base_url, dir.path(), i, &[]))
        .collect();
    for h in &hosts {
        assert_eq!(
            get(&h.base, Some(&token), "/api/v1/tenants/acme/settings"),
            Some(200)
        );
    }
    wait_until("the day's run gets going", || intents_created(&rec) >= 30);
    cluster.restart().expect("PostgreSQL restarts");
    // Every host answers from the database again, without a restart of its own.
    for h in &hosts {
        wait_until("a host answers after PostgreSQL restarted", || {
            get(&h.base, Some(&token), "/api/v1/tenants/acme/settings") == Some(200)
        });
        assert!(matches!(h.child.id(), pid if services::pid_alive(pid)));
    }
    // A run by hand joins the day's protocol (waiting while a host still runs it) and finishes
    // whatever the restart cut short, once the claims it left have run out.
    wait_until("no run holds the day", || {
        runs_finished(&cluster, url.rsplit('/').next().unwrap(), 1)
    });
    std::thread::sleep(Duration::from_secs(14));
    assert_ran(
        &kept(
            autopay(&url, &rec.base_url, dir.path(), &[])
                .output()
                .unwrap(),
        ),
        "run by hand",
    );
    let db = PgDb::open(&url).unwrap();
    assert_each_paid_once(&db, &tenants, &ls.base_url, N);
    drop(hosts);
}

#[test]
fn three_processes_on_one_stripe_account_keep_to_25_requests_a_second_together() {
    const N: usize = 60;
    let cluster = postgres::Cluster::start().expect("PostgreSQL");
    let url = cluster.new_database().unwrap();
    let (ls, rec) = stripe_pair();
    let dir = tempfile::tempdir().unwrap();
    let db = PgDb::open(&url).unwrap();
    let (tenants, _) = seed(&db, &ls.base_url, &["north", "south", "west"], N, |_| {});
    let started = rec.requests().len();
    let runs: Vec<Child> = tenants
        .iter()
        .map(|t| {
            autopay(&url, &rec.base_url, dir.path(), &["--tenant", t.as_str()])
                .env("PAYDESK_STRIPE_MAX_REQUESTS_PER_SECOND", "25")
                // No host dies here, so the claims' lease needn't be short: the default request
                // timeout, so that a slow answer from localstripe on a loaded machine is waited
                // for instead of left to reconciliation as an unknown outcome.
                .env_remove("PAYDESK_STRIPE_TIMEOUT_SECONDS")
                .env_remove("PAYDESK_STRIPE_CONNECT_TIMEOUT_SECONDS")
                .spawn()
                .unwrap()
        })
        .collect();
    for run in runs {
        assert_ran(&kept(run.wait_with_output().unwrap()), "run");
    }
    let mut per_second: BTreeMap<u64, usize> = BTreeMap::new();
    let requests = rec.requests();
    for r in &requests[started..] {
        let second = r.received_at.duration_since(UNIX_EPOCH).unwrap().as_secs();
        *per_second.entry(second).or_insert(0) += 1;
    }
    let total: usize = per_second.values().sum();
    assert!(
        total > 3 * N,
        "every run sent its charges ({total} requests)"
    );
    let busiest = per_second.values().max().copied().unwrap_or(0);
    println!(
        "{total} requests over {} seconds, the busiest second {busiest}",
        per_second.len()
    );
    assert!(
        busiest <= 25,
        "a second of Stripe's log holds {busiest} requests of the account: {per_second:?}"
    );
    assert_each_paid_once(&db, &tenants, &ls.base_url, N);
}

#[test]
fn hosts_starting_together_on_a_new_database_migrate_it_once() {
    let cluster = postgres::Cluster::start().expect("PostgreSQL");
    cluster
        .client("postgres")
        .unwrap()
        .batch_execute("CREATE DATABASE fresh")
        .unwrap();
    let url = cluster.url("fresh");
    let gate = std::sync::Barrier::new(6);
    std::thread::scope(|scope| {
        for _ in 0..6 {
            scope.spawn(|| {
                gate.wait();
                PgDb::open(&url).expect("every host opens the database")
            });
        }
    });
    let mut client = cluster.client("fresh").unwrap();
    let versions: Vec<i64> = client
        .query("SELECT version FROM schema_version ORDER BY version", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let expected: Vec<i64> = (1..=versions.len() as i64).collect();
    assert_eq!(versions, expected, "each migration applied once, in order");
    assert!(versions.len() >= 2);
    // The SQLite schema's partial unique rules are the same rules here.
    for (index, rule) in [
        ("invoice_payments_one_open", "WHERE ((status = ANY"),
        ("audit_log_one_anomaly", "WHERE (action = 'anomaly'"),
    ] {
        let def: String = client
            .query_one(
                "SELECT indexdef FROM pg_indexes WHERE indexname = $1",
                &[&index],
            )
            .unwrap()
            .get(0);
        assert!(
            def.starts_with("CREATE UNIQUE INDEX") && def.contains(rule),
            "{def}"
        );
    }
}
