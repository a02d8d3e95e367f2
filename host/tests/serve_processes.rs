//! `paydesk serve` killed with SIGKILL under load, then started again: agents pay
//! invoices with the customer's saved card through the JSON API, several at once; at a random
//! point (seeded; the seed is printed and `PAYDESK_KILL_SEED` replays the choice) the server is
//! killed. After a restart the client retries every payment that got no answer, as a real client
//! would, and reconciliation runs. Then localstripe and paydesk's database must agree: no invoice
//! has more than one succeeded PaymentIntent, every intent localstripe holds is known to paydesk
//! with the same status and amounts, every invoice paydesk shows paid has exactly one, and every
//! invoice is paid except those whose payment the kill cut off between being recorded and reaching
//! Stripe. Those the design holds (it cannot know the request never arrived) until reconciliation
//! rules the attempt out once none of its requests can still arrive (the claim lease, 145 s with
//! the default timeouts; simulated here by reconciling with a clock an hour ahead): they must have
//! no intent in Stripe, and no payment record may be left in flight.
//!
//! And two `paydesk serve` processes on one database, each asked to pay the same invoice at the
//! same instant, round after round: the database's one-open-attempt rule lets exactly one charge
//! through, the other answers 409, and localstripe agrees.
//!
//! What the servers print and answer goes to the secret sweep.

// The service harness, the recording proxy and the sweep are shared with the end-to-end suite.
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

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use paydesk_host::app::{App, AppConfig};
use paydesk_host::capabilities::HttpConfig;
use paydesk_host::contract::{InvoiceStatus, PaymentFilter, PaymentStatus};
use paydesk_host::db::stores::*;
use paydesk_host::db::{
    AuthStore, NewAgent, NewInvoice, Principal, SqliteDb, TenantStore, payment_status_name,
};
use paydesk_host::runtime::{Limits, RuntimeConfig};
use paydesk_host::settings::TenantSettings;
use paydesk_host::tenant::{Secret, TenantId};
use serde_json::{Value, json};

const KEY: &str = "sk_test_serve_processes";
const TENANT: &str = "acme";
/// Invoices paid under load.
const INVOICES: usize = 48;
/// Rounds of the two-servers race, one invoice each.
const RACE_ROUNDS: usize = 60;
/// Clients paying at once.
const CLIENTS: usize = 4;

// ---------------------------------------------------------------------------------------------
// Seeded choice of the kill point
// ---------------------------------------------------------------------------------------------

/// xorshift64*: enough to spread kill points, and replayable from the printed seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

fn seed() -> u64 {
    std::env::var("PAYDESK_KILL_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
}

// ---------------------------------------------------------------------------------------------
// localstripe and paydesk's database
// ---------------------------------------------------------------------------------------------

/// The seeded world: a tenant, a customer with a saved card in localstripe, `INVOICES` invoices,
/// an agent who may take payments and an administrator, with their API tokens.
struct World {
    tenant: TenantId,
    invoices: BTreeMap<i64, i64>,
    agent_token: String,
    admin_token: String,
}

fn seed_world(db_path: &Path, stripe_base: &str, count: usize) -> World {
    let db = SqliteDb::open(db_path).unwrap();
    sweep::register_secret(KEY);
    let tenant = TenantId::parse(TENANT).unwrap();
    db.create_tenant(&tenant, "Acme", "invoices@acme.test")
        .unwrap();
    let settings = TenantSettings {
        enabled: true,
        stripe_public_key: Some("pk_test_x".into()),
        stripe_processing_fee_percentage: "2.9".into(),
        // Below the setup page's 5-minute minimum: "Reconcile now" considers every payment in
        // flight at once instead of after five minutes, which keeps the test short.
        reconcile_after_minutes: 0,
        ..TenantSettings::default()
    };
    db.save_settings_and_key(&tenant, &settings, Some(&Secret::new(KEY)))
        .unwrap();
    let customer = common::customer_with_card(&db, &tenant, stripe_base, KEY);
    let mut invoices = BTreeMap::new();
    for i in 0..count {
        let amount = 1_000 + i as i64 * 37;
        let invoice = db
            .create_invoice(
                &tenant,
                &NewInvoice {
                    number: format!("INV-{i:03}"),
                    customer_id: customer.id,
                    user_id: None,
                    currency: "usd".into(),
                    issue_date: "2026-11-01".into(),
                    due_date: "2026-11-30".into(),
                    recurring_invoice_id: None,
                    lines: vec![("Support".into(), amount)],
                },
            )
            .unwrap();
        invoices.insert(invoice.id, amount);
    }
    let token = |is_admin: bool, email: &str| {
        let agent = db
            .create_agent(
                &tenant,
                &NewAgent {
                    name: email.into(),
                    email: email.into(),
                    can_receive_manual_stripe_payments: true,
                    is_admin,
                },
            )
            .unwrap();
        db.create_token(&tenant, &Principal::Agent(agent), "load")
            .unwrap()
            .expose()
            .to_string()
    };
    let (agent_token, admin_token) = (
        token(false, "agent@acme.test"),
        token(true, "admin@acme.test"),
    );
    World {
        tenant,
        invoices,
        agent_token,
        admin_token,
    }
}

// ---------------------------------------------------------------------------------------------
// `paydesk serve` and its API
// ---------------------------------------------------------------------------------------------

/// A `paydesk serve` process; killed (SIGKILL) if still running when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    /// Start on a free loopback port and wait until `/healthz` answers (the first start compiles
    /// the component into the cache). Everything it logs is appended to `log`.
    fn start(db: &Path, stripe_base: &str, log: &Path) -> Server {
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let log_file = File::options().create(true).append(true).open(log).unwrap();
            let child = Command::new(env!("CARGO_BIN_EXE_paydesk"))
                .arg("serve")
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .arg("--db")
                .arg(db)
                .env("PAYDESK_STRIPE_API_BASE", stripe_base)
                .env("PAYDESK_CACHE_DIR", db.parent().unwrap().join("cache"))
                .env("PAYDESK_STRIPE_TIMEOUT_SECONDS", "5")
                .env("PAYDESK_STRIPE_CONNECT_TIMEOUT_SECONDS", "1")
                .env("PAYDESK_LOG", "info")
                .env_remove("PAYDESK_SMTP_URL")
                .env_remove("PAYDESK_PUBLIC_URL")
                .stdin(Stdio::null())
                .stdout(log_file.try_clone().unwrap())
                .stderr(log_file)
                .spawn()
                .expect("spawn paydesk serve");
            let mut server = Server {
                child,
                base: format!("http://127.0.0.1:{port}"),
            };
            // A bound against hanging: a loaded machine may take long to compile the component.
            let deadline = Instant::now() + Duration::from_secs(600);
            while Instant::now() < deadline {
                if server.child.try_wait().unwrap().is_some() {
                    break; // the port was taken meanwhile: try another
                }
                if let Ok((200, _)) = call(&server.base, None, "GET", "/healthz", None) {
                    return server;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            server.kill();
        }
        panic!(
            "paydesk serve did not come up:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One API call: the status and JSON body, or why no answer came. The answer also goes to the
/// secret sweep.
fn call(
    base: &str,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value), String> {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent();
    let mut request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"));
    if let Some(t) = token {
        request = request.header("Authorization", format!("Bearer {t}"));
    }
    let result = match body {
        Some(b) => agent.run(
            request
                .header("Content-Type", "application/json")
                .body(b.to_string())
                .unwrap(),
        ),
        None => agent.run(request.body(()).unwrap()),
    };
    let mut response = result.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    sweep::record(
        sweep::Kind::Responses,
        &format!("{method} {path} -> {status}"),
        &text,
    );
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// What the client learnt from paying one invoice.
#[derive(Debug, Clone)]
enum Outcome {
    /// 201: paid by this intent.
    Paid(String),
    /// 409: already paid (by an earlier attempt whose answer was lost).
    AlreadyPaid,
    /// Refused for now (409: a payment is in progress or being confirmed).
    Held(String),
    /// No answer (the server died or was down), or one the client can only retry on.
    NoAnswer(String),
}

fn pay(base: &str, token: &str, invoice: i64) -> Outcome {
    let path = format!("/api/v1/tenants/{TENANT}/payments");
    let body = json!({"invoice_ids": [invoice], "pay_with": "saved_method"});
    match call(base, Some(token), "POST", &path, Some(body)) {
        Ok((201, b)) => {
            assert_eq!(b["status"], "succeeded", "invoice {invoice}: {b}");
            Outcome::Paid(b["intent_id"].as_str().unwrap().to_string())
        }
        Ok((409, b)) => {
            let message = b["error"]["message"].as_str().unwrap_or("").to_string();
            if message.contains("already paid") {
                Outcome::AlreadyPaid
            } else {
                Outcome::Held(message)
            }
        }
        Ok((status, b)) if status >= 500 => Outcome::NoAnswer(format!("{status}: {b}")),
        Ok((status, b)) => panic!("paying invoice {invoice}: unexpected {status}: {b}"),
        Err(e) => Outcome::NoAnswer(e),
    }
}

fn settled(o: &Outcome) -> bool {
    matches!(o, Outcome::Paid(_) | Outcome::AlreadyPaid)
}

/// Pay again every invoice not yet settled in `outcomes`, one after another.
fn retry(base: &str, token: &str, outcomes: &mut BTreeMap<i64, Outcome>) {
    for (invoice, outcome) in outcomes.iter_mut() {
        if !settled(outcome) {
            *outcome = pay(base, token, *invoice);
        }
    }
}

/// How many of each outcome, and why those not settled are not.
fn tally(outcomes: &BTreeMap<i64, Outcome>) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for o in outcomes.values() {
        let (name, reason) = match o {
            Outcome::Paid(_) => ("paid", None),
            Outcome::AlreadyPaid => ("already paid", None),
            Outcome::Held(why) => ("held", Some(why)),
            Outcome::NoAnswer(why) => ("no answer", Some(why)),
        };
        *counts.entry(name).or_default() += 1;
        if let Some(why) = reason {
            let why: String = why.chars().take(100).collect();
            *reasons.entry(why).or_default() += 1;
        }
    }
    format!("{counts:?} {reasons:?}")
}

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

#[test]
fn serve_killed_under_load_and_restarted_charges_each_invoice_at_most_once_and_agrees_with_stripe()
{
    let started = Instant::now();
    let seed = seed();
    let mut rng = Rng::new(seed);
    // The kill comes once this many intents were created, plus up to 30 ms.
    let kill_after = 2 + rng.below(INVOICES as u64 / 2) as usize;
    let jitter = Duration::from_millis(rng.below(30));
    println!(
        "kill seed {seed} (PAYDESK_KILL_SEED={seed} replays it): SIGKILL after {kill_after} intents + {} ms",
        jitter.as_millis()
    );

    let ls = services::LocalStripe::start().expect("localstripe");
    // localstripe does not filter intents by `customer`; real Stripe does. The plugin lists a
    // customer's intents to find one whose answer was lost; the recorder drops the filter.
    let rec = recorder::StripeRecorder::start_stripping(&ls.base_url, &[], &["customer"])
        .expect("recorder");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("paydesk.db");
    let log = dir.path().join("serve.log");
    let world = seed_world(&db, &ls.base_url, INVOICES);

    // Load: CLIENTS agents paying their share of the invoices at once.
    let mut server = Server::start(&db, &rec.base_url, &log);
    let outcomes: Arc<Mutex<BTreeMap<i64, Outcome>>> = Arc::new(Mutex::new(BTreeMap::new()));
    let ids: Vec<i64> = world.invoices.keys().copied().collect();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let mine: Vec<i64> = ids.iter().copied().skip(c).step_by(CLIENTS).collect();
            let (base, token, outcomes) = (
                server.base.clone(),
                world.agent_token.clone(),
                outcomes.clone(),
            );
            std::thread::spawn(move || {
                for invoice in mine {
                    let outcome = pay(&base, &token, invoice);
                    outcomes.lock().unwrap().insert(invoice, outcome);
                }
            })
        })
        .collect();
    let created = || {
        rec.requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path_and_query == "/v1/payment_intents")
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    while created() < kill_after {
        assert!(Instant::now() < deadline, "the load did not get going");
        assert!(server.running(), "paydesk serve exited on its own");
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(jitter);
    assert!(server.running(), "paydesk serve exited on its own");
    // SIGKILL: no cleanup, possibly in the middle of a payment.
    server.kill();
    for client in clients {
        client.join().expect("client thread");
    }
    let mut outcomes = Arc::try_unwrap(outcomes).unwrap().into_inner().unwrap();
    let answered_before: BTreeMap<i64, String> = outcomes
        .iter()
        .filter_map(|(i, o)| match o {
            Outcome::Paid(pi) => Some((*i, pi.clone())),
            _ => None,
        })
        .collect();
    println!(
        "before the kill: {} answered paid; after it: {}",
        answered_before.len(),
        tally(&outcomes)
    );
    assert_eq!(outcomes.len(), INVOICES);

    // Restart; the client retries what got no answer, reconciliation runs, the client tries again.
    let server = Server::start(&db, &rec.base_url, &log);
    retry(&server.base, &world.agent_token, &mut outcomes);
    println!("after the restart and a retry: {}", tally(&outcomes));
    // Reconciliation takes records last updated before now (whole seconds): let one pass.
    std::thread::sleep(Duration::from_millis(1100));
    let reconcile = format!("/api/v1/tenants/{TENANT}/payments/reconcile");
    let (status, report) = call(
        &server.base,
        Some(&world.admin_token),
        "POST",
        &reconcile,
        None,
    )
    .expect("reconcile answers");
    assert_eq!(status, 200, "{report}");
    retry(&server.base, &world.agent_token, &mut outcomes);
    println!(
        "reconciled {report}; after another retry: {}",
        tally(&outcomes)
    );
    for (invoice, o) in &outcomes {
        assert!(
            matches!(
                o,
                Outcome::Paid(_) | Outcome::AlreadyPaid | Outcome::Held(_)
            ),
            "invoice {invoice}: the restarted server gave no answer: {o:?}"
        );
    }
    drop(server);

    // Once no request of theirs can still arrive (the claim lease), reconciliation rules out the
    // attempts Stripe never received. Run in-process with the clock an hour ahead, on the same
    // database.
    let mut app = App::new(
        Arc::new(SqliteDb::open(&db).unwrap()),
        AppConfig {
            stripe_api_base: rec.base_url.clone(),
            public_url: None,
            runtime: RuntimeConfig {
                wasm: None,
                cache_dir: Some(dir.path().join("cache")),
                limits: Limits::default(),
            },
            http: HttpConfig::default(),
            autopay_workers: paydesk_host::app::DEFAULT_AUTOPAY_WORKERS,
        },
    )
    .expect("the app");
    Arc::get_mut(&mut app.services)
        .expect("not shared yet")
        .set_guest_input_observer(Arc::new(|name: &str, value: &dyn std::fmt::Debug| {
            sweep::record(sweep::Kind::GuestInputs, name, &format!("{value:?}"));
        }));
    app.reconcile(&world.tenant, paydesk_host::db::now() + 3600)
        .expect("an hour-later reconciliation");
    drop(app);
    // The client tries once more: the ruled-out attempts no longer hold their invoices.
    let server = Server::start(&db, &rec.base_url, &log);
    retry(&server.base, &world.agent_token, &mut outcomes);
    drop(server);
    println!("an hour later, after one more retry: {}", tally(&outcomes));
    sweep::record(
        sweep::Kind::Logs,
        "paydesk serve",
        &std::fs::read_to_string(&log).unwrap_or_default(),
    );

    check_against_stripe(&db, &ls.base_url, &world, &outcomes, &answered_before);
    println!("done in {:.1} s", started.elapsed().as_secs_f64());
}

/// localstripe and paydesk agree, invoice by invoice.
fn check_against_stripe(
    db_path: &Path,
    stripe_base: &str,
    world: &World,
    outcomes: &BTreeMap<i64, Outcome>,
    answered_before: &BTreeMap<i64, String>,
) {
    let db = SqliteDb::open(db_path).unwrap();
    let mut intents: HashMap<i64, Vec<Value>> = HashMap::new();
    for pi in common::all_intents(stripe_base, KEY) {
        let invoice: i64 = pi["metadata"]["paydesk_invoice_ids"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("an intent of no single invoice: {pi}"));
        intents.entry(invoice).or_default().push(pi);
    }
    assert!(
        intents.keys().all(|i| world.invoices.contains_key(i)),
        "intents for unknown invoices: {:?}",
        intents.keys().collect::<Vec<_>>()
    );
    let mut unpaid = Vec::new();
    for (&invoice, &amount) in &world.invoices {
        let pis = intents.get(&invoice).map(Vec::as_slice).unwrap_or(&[]);
        let records = db
            .payments(&world.tenant, &PaymentFilter::Invoice(invoice))
            .unwrap();
        let succeeded: Vec<&Value> = pis
            .iter()
            .filter(|pi| pi["status"] == "succeeded")
            .collect();
        assert!(
            succeeded.len() <= 1,
            "invoice {invoice} charged {} times: {succeeded:?}",
            succeeded.len()
        );
        // Every intent in Stripe is known to paydesk, in the same state, with the same amounts.
        for pi in pis {
            let id = pi["id"].as_str().unwrap();
            let record = records
                .iter()
                .find(|r| r.intent_id.as_deref() == Some(id))
                .unwrap_or_else(|| {
                    panic!("invoice {invoice}: intent {id} is in Stripe but paydesk has no record of it: {records:?}")
                });
            assert_eq!(
                payment_status_name(record.status),
                pi["status"].as_str().unwrap(),
                "invoice {invoice}: record {record:?} vs intent {pi}"
            );
            assert_eq!(
                record.amount.amount, amount,
                "invoice {invoice}: {record:?}"
            );
            assert_eq!(
                record.amount.amount + record.fee.amount,
                pi["amount"].as_i64().unwrap(),
                "invoice {invoice}: {record:?} vs {pi}"
            );
            assert_eq!(record.amount.currency, pi["currency"].as_str().unwrap());
        }
        // Nothing left in flight; a record without an intent was ruled out (canceled).
        for r in &records {
            assert!(
                matches!(
                    r.status,
                    PaymentStatus::Succeeded | PaymentStatus::Canceled | PaymentStatus::Failed
                ),
                "invoice {invoice}: a record still in flight: {r:?}"
            );
            if r.intent_id.is_none() {
                assert_eq!(
                    r.status,
                    PaymentStatus::Canceled,
                    "invoice {invoice}: {r:?}"
                );
            }
        }
        let paid_records: Vec<_> = records
            .iter()
            .filter(|r| r.status == PaymentStatus::Succeeded)
            .collect();
        let status = db.invoice(&world.tenant, invoice).unwrap().status;
        match succeeded.first() {
            Some(pi) => {
                assert_eq!(paid_records.len(), 1, "invoice {invoice}: {records:?}");
                assert_eq!(status, InvoiceStatus::Paid, "invoice {invoice}");
                let id = pi["id"].as_str().unwrap();
                for answer in [
                    answered_before.get(&invoice),
                    match &outcomes[&invoice] {
                        Outcome::Paid(pi) => Some(pi),
                        _ => None,
                    },
                ]
                .into_iter()
                .flatten()
                {
                    assert_eq!(
                        answer, id,
                        "invoice {invoice}: the client was told another intent"
                    );
                }
            }
            None => {
                assert!(paid_records.is_empty(), "invoice {invoice}: {records:?}");
                assert_ne!(status, InvoiceStatus::Paid, "invoice {invoice}");
                assert!(
                    matches!(outcomes[&invoice], Outcome::Held(_)),
                    "invoice {invoice}: unpaid, yet the client was told {:?}",
                    outcomes[&invoice]
                );
                unpaid.push(invoice);
            }
        }
    }
    // Only payments in flight when the server died can be held.
    assert!(
        unpaid.len() <= CLIENTS,
        "{} invoices left unpaid (at most {CLIENTS} payments were in flight): {unpaid:?}",
        unpaid.len()
    );
    println!(
        "{} invoices paid exactly once; {} held after a cut-off payment (no intent in Stripe): {unpaid:?}",
        world.invoices.len() - unpaid.len(),
        unpaid.len()
    );
}

#[test]
fn two_serve_processes_on_one_database_charge_an_invoice_paid_on_both_at_once_exactly_once() {
    let ls = services::LocalStripe::start().expect("localstripe");
    let rec = recorder::StripeRecorder::start_stripping(&ls.base_url, &[], &["customer"])
        .expect("recorder");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("paydesk.db");
    let world = seed_world(&db, &ls.base_url, RACE_ROUNDS);
    let servers = [
        Server::start(&db, &rec.base_url, &dir.path().join("serve-a.log")),
        Server::start(&db, &rec.base_url, &dir.path().join("serve-b.log")),
    ];
    let mut outcomes = BTreeMap::new();
    let mut losers = Vec::new();
    for &invoice in world.invoices.keys() {
        let gate = std::sync::Barrier::new(servers.len());
        let answers: Vec<Outcome> = std::thread::scope(|scope| {
            let racers: Vec<_> = servers
                .iter()
                .map(|server| {
                    let (gate, token) = (&gate, &world.agent_token);
                    scope.spawn(move || {
                        gate.wait();
                        pay(&server.base, token, invoice)
                    })
                })
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let paid: Vec<&Outcome> = answers
            .iter()
            .filter(|o| matches!(o, Outcome::Paid(_)))
            .collect();
        assert_eq!(paid.len(), 1, "invoice {invoice}: {answers:?}");
        for o in &answers {
            match o {
                Outcome::Paid(_) => {}
                // The loser is told plainly: the other payment is in progress, or done.
                Outcome::AlreadyPaid => losers.push("already paid".to_string()),
                Outcome::Held(why) if why.contains("payment in progress") => {
                    losers.push(why.clone())
                }
                other => panic!("invoice {invoice}: the loser was told {other:?}"),
            }
        }
        outcomes.insert(invoice, paid[0].clone());
    }
    for (name, server) in ["serve-a.log", "serve-b.log"].iter().zip(&servers) {
        assert!(
            call(&server.base, None, "GET", "/healthz", None).is_ok(),
            "{name}: the server died"
        );
    }
    drop(servers);
    for name in ["serve-a.log", "serve-b.log"] {
        sweep::record(
            sweep::Kind::Logs,
            "paydesk serve",
            &std::fs::read_to_string(dir.path().join(name)).unwrap_or_default(),
        );
    }
    let held = losers.iter().filter(|l| l.contains("in progress")).count();
    println!(
        "{RACE_ROUNDS} rounds: each invoice paid once; the losers: {held} told a payment was in progress, {} told it was already paid",
        losers.len() - held
    );
    let answered: BTreeMap<i64, String> = outcomes
        .iter()
        .filter_map(|(i, o)| match o {
            Outcome::Paid(pi) => Some((*i, pi.clone())),
            _ => None,
        })
        .collect();
    check_against_stripe(&db, &ls.base_url, &world, &outcomes, &answered);
}
