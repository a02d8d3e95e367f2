//! The per-call sandbox against a deliberately abusive guest (`tests/guests/abusive`): an endless
//! loop, runaway memory and a panic each end in a clear error within the call's budget, and the
//! same runtime keeps serving the same tenant and, concurrently, other tenants.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use paydesk_host::app::CallError;
use paydesk_host::contract::PaymentMethodType;
use paydesk_host::contract::exports::paydesk::stripe::payments::QuoteItem;
use paydesk_host::runtime::{Limits, SandboxError};
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
