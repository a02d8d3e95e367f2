//! The per-call sandbox against a deliberately abusive guest (`tests/guests/abusive`): an endless
//! loop, runaway memory and a panic each end in a clear error within the call's budget, and the
//! same runtime keeps serving the same tenant and, concurrently, other tenants; a tenant's own
//! limits (fuel, memory, deadline, instances) hold for it alone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use paydesk_host::app::CallError;
use paydesk_host::contract::PaymentMethodType;
use paydesk_host::contract::exports::paydesk::stripe::payments::QuoteItem;
use paydesk_host::runtime::{Limits, SandboxError, TenantLimits};
use paydesk_tests::host::TestHost;

fn limits(fuel: u64, deadline: Duration) -> Limits {
    Limits {
        memory_bytes: 32 << 20,
        fuel,
        deadline,
        ..Limits::default()
    }
}

fn quote(host: &TestHost, tenant: &str, currency: &str) -> Result<i64, CallError> {
    let tenant = paydesk_host::tenant::TenantId::parse(tenant).unwrap();
    host.app
        .quote(
            &tenant,
            &[QuoteItem {
                invoice_id: 1,
                invoice_number: "INV-1".into(),
                currency: currency.into(),
                amount_due: 500,
            }],
            PaymentMethodType::Card,
        )
        .map(|q| q.total.amount)
}

fn host_with_tenants(limits: Limits) -> TestHost {
    let host = TestHost::abusive(limits);
    host.tenant("alpha", "sk_test_alpha", |_| {});
    host.tenant("beta", "sk_test_beta", |_| {});
    host
}

#[test]
fn an_endless_loop_runs_out_of_fuel_and_the_next_call_works() {
    let host = host_with_tenants(limits(50_000_000, Duration::from_secs(60)));
    let err = quote(&host, "alpha", "loop").expect_err("the loop must be stopped");
    assert!(
        matches!(&err, CallError::Sandbox(SandboxError::OutOfFuel { tenant, .. }) if tenant == "alpha"),
        "{err:?}"
    );
    assert!(err.to_string().contains("ran out of fuel"), "{err}");
    assert_eq!(
        quote(&host, "alpha", "usd").expect("the next call works"),
        500
    );
}

#[test]
fn a_loop_with_fuel_to_spare_hits_the_wall_clock_deadline() {
    let deadline = Duration::from_millis(300);
    let host = host_with_tenants(limits(u64::MAX / 2, deadline));
    let err = quote(&host, "alpha", "loop").expect_err("the deadline must stop it");
    // With fuel for ages, only the wall-clock deadline can have stopped it (how close to the
    // deadline it stops is a timing figure, not something a test can assert on a busy machine).
    assert!(
        matches!(&err, CallError::Sandbox(SandboxError::Deadline { tenant, deadline: d })
            if tenant == "alpha" && *d == deadline),
        "{err:?}"
    );
    assert_eq!(
        quote(&host, "alpha", "usd").expect("the next call works"),
        500
    );
}

#[test]
fn runaway_memory_hits_the_cap_and_the_next_call_works() {
    let host = host_with_tenants(limits(u64::MAX / 2, Duration::from_secs(60)));
    let err = quote(&host, "alpha", "hog").expect_err("the cap must stop it");
    assert!(
        matches!(err, CallError::Sandbox(SandboxError::Memory { cap, .. }) if cap == 32 << 20),
        "{err:?}"
    );
    assert_eq!(
        quote(&host, "alpha", "usd").expect("the next call works"),
        500
    );
}

#[test]
fn a_panic_becomes_an_error_naming_it_and_the_next_call_works() {
    let host = host_with_tenants(limits(1_000_000_000, Duration::from_secs(60)));
    let err = quote(&host, "alpha", "panic").expect_err("a panic is an error");
    let message = err.to_string();
    assert!(
        matches!(err, CallError::Sandbox(SandboxError::Trap { .. })),
        "{err:?}"
    );
    assert!(message.contains("panicked on purpose"), "{message}");
    assert_eq!(
        quote(&host, "alpha", "usd").expect("the next call works"),
        500
    );
}

#[test]
fn another_tenant_is_served_while_one_tenant_loops() {
    let host = Arc::new(host_with_tenants(limits(
        u64::MAX / 2,
        Duration::from_secs(3),
    )));
    let looping_done = Arc::new(AtomicBool::new(false));
    let looper = {
        let (host, done) = (host.clone(), looping_done.clone());
        std::thread::spawn(move || {
            let outcome = quote(&host, "alpha", "loop");
            done.store(true, Ordering::SeqCst);
            outcome
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(quote(&host, "beta", "usd").expect("beta is served"), 500);
    assert!(
        !looping_done.load(Ordering::SeqCst),
        "beta's call must have been served while alpha's was still looping"
    );
    let alpha = looper.join().expect("looper thread");
    assert!(
        matches!(
            alpha,
            Err(CallError::Sandbox(SandboxError::Deadline { .. }))
        ),
        "{alpha:?}"
    );
    assert_eq!(
        quote(&host, "alpha", "usd").expect("alpha works again"),
        500
    );
}

// Per-tenant limits (issue 16, item 4): a tenant's own fuel, memory, deadline and instances hold
// for its calls alone, with an error naming the limit, while another tenant's same call, under
// the platform's limits, succeeds.

/// The platform limits of the per-tenant tests: roomy, so only a tenant's own limit can bite.
fn roomy() -> Limits {
    limits(2_000_000_000, Duration::from_secs(60))
}

fn own_limits(host: &TestHost, tenant: &str, set: TenantLimits) {
    let tenant = paydesk_host::tenant::TenantId::parse(tenant).unwrap();
    host.db()
        .update_tenant_limits(&tenant, &set, &[])
        .expect("set the tenant's limits");
}

/// A quote whose first item is `amount` in `currency` (the guest's bounded modes read the amount).
fn quote_of(host: &TestHost, tenant: &str, currency: &str, amount: i64) -> Result<i64, CallError> {
    let tenant = paydesk_host::tenant::TenantId::parse(tenant).unwrap();
    host.app
        .quote(
            &tenant,
            &[QuoteItem {
                invoice_id: 1,
                invoice_number: "INV-1".into(),
                currency: currency.into(),
                amount_due: amount,
            }],
            PaymentMethodType::Card,
        )
        .map(|q| q.total.amount)
}

#[test]
fn a_tenant_with_less_fuel_runs_out_while_another_tenants_same_call_works() {
    let host = host_with_tenants(roomy());
    own_limits(
        &host,
        "alpha",
        TenantLimits {
            fuel: Some(1_000_000),
            ..TenantLimits::default()
        },
    );
    // 20 million loop turns: far more than a million units of fuel, far less than two billion.
    let err = quote_of(&host, "alpha", "spin", 20).expect_err("alpha's fuel must run out");
    assert!(
        matches!(&err, CallError::Sandbox(SandboxError::OutOfFuel { tenant, fuel })
            if tenant == "alpha" && *fuel == 1_000_000),
        "{err:?}"
    );
    assert!(err.to_string().contains("budget of 1000000"), "{err}");
    assert_eq!(
        quote_of(&host, "beta", "spin", 20).expect("beta's call works"),
        20
    );
}

#[test]
fn a_tenant_with_less_memory_hits_its_cap_while_another_tenants_same_call_works() {
    let host = host_with_tenants(roomy());
    own_limits(
        &host,
        "alpha",
        TenantLimits {
            memory_bytes: Some(8 << 20),
            ..TenantLimits::default()
        },
    );
    let err = quote_of(&host, "alpha", "grow", 16).expect_err("alpha's cap must stop it");
    assert!(
        matches!(&err, CallError::Sandbox(SandboxError::Memory { tenant, cap })
            if tenant == "alpha" && *cap == 8 << 20),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("memory cap of 8388608 bytes"),
        "{err}"
    );
    // The platform's 32 MiB hold 16 MiB.
    assert_eq!(
        quote_of(&host, "beta", "grow", 16).expect("beta's call works"),
        16
    );
}

#[test]
fn a_tenant_with_a_shorter_deadline_is_stopped_while_another_tenants_same_call_works() {
    let host = host_with_tenants(roomy());
    own_limits(
        &host,
        "alpha",
        TenantLimits {
            deadline_ms: Some(50),
            ..TenantLimits::default()
        },
    );
    // Three seconds of the guest's clock: sixty times alpha's deadline, a twentieth of beta's.
    let err = quote_of(&host, "alpha", "wait", 3_000).expect_err("alpha's deadline must stop it");
    assert!(
        matches!(&err, CallError::Sandbox(SandboxError::Deadline { tenant, deadline })
            if tenant == "alpha" && *deadline == Duration::from_millis(50)),
        "{err:?}"
    );
    assert_eq!(
        quote_of(&host, "beta", "wait", 3_000).expect("beta's call works"),
        3_000
    );
}

/// A Stripe stand-in that accepts connections and answers none until dropped.
struct Silent {
    base: String,
    release: std::sync::mpsc::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Silent {
    fn start() -> Silent {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (release, released) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let (held, _) = listener.accept().expect("the held request");
            // Keep the connection, unanswered, until the test lets it go.
            let _ = released.recv();
            drop(held);
        });
        Silent {
            base,
            release,
            thread: Some(thread),
        }
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        let _ = self.release.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_tenant_at_its_instance_limit_is_refused_at_once_and_another_tenant_is_served() {
    let stripe = Silent::start();
    let host = Arc::new(TestHost::abusive_at(&stripe.base, roomy()));
    host.tenant("alpha", "sk_test_alpha", |_| {});
    host.tenant("beta", "sk_test_beta", |_| {});
    own_limits(
        &host,
        "alpha",
        TenantLimits {
            instances: Some(1),
            ..TenantLimits::default()
        },
    );
    let alpha = paydesk_host::tenant::TenantId::parse("alpha").unwrap();
    // Alpha's first call waits on Stripe (which answers nothing until released).
    let first = {
        let host = host.clone();
        std::thread::spawn(move || quote(&host, "alpha", "egress"))
    };
    while host.app.runtime.calls_running(&alpha) == 0 {
        assert!(!first.is_finished(), "{:?}", first.join());
        std::thread::sleep(Duration::from_millis(10));
    }
    let err = quote(&host, "alpha", "usd").expect_err("alpha is at its limit");
    assert!(
        matches!(&err, CallError::Sandbox(SandboxError::Instances { tenant, running: 1, limit: 1 })
            if tenant == "alpha"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("tenant alpha already has 1 plugin calls running on this host (its limit of 1 instances)"),
        "{err}"
    );
    assert_eq!(quote(&host, "beta", "usd").expect("beta is served"), 500);
    drop(stripe);
    first
        .join()
        .expect("alpha's first call")
        .expect("its request failed, its quote answers");
    assert_eq!(
        quote(&host, "alpha", "usd").expect("alpha's next call works"),
        500
    );
}
