//! The database's side of several hosts ([`HostsStore`]), the same checks on both engines: a lease
//! is one holder's until it runs out or is finished, a finished day is taken again only by hand;
//! a queued email is taken by one holder at a time and is free again once its send is recorded as
//! failed; Stripe request turns are spaced one interval apart, each account by its tenant's own
//! rate or the platform's. No check depends on how fast the machine is: the leases' "run out" is a
//! lease given in the past, the turns' interval is an hour, and the rates' turns queue behind an
//! hour's turn.

#[path = "../../tests/src/postgres.rs"]
#[allow(dead_code)]
mod postgres;
#[path = "../../tests/src/services.rs"]
#[allow(dead_code)]
mod services;
#[path = "../../tests/src/sweep.rs"]
#[allow(dead_code)]
mod sweep;

use std::num::NonZeroU32;

use paydesk_host::capabilities::pacing;
use paydesk_host::db::{Database, NewEmail, PgDb, SqliteDb};
use paydesk_host::runtime::{TenantLimits, limits};
use paydesk_host::tenant::{Secret, TenantId};

const HOUR_MICROS: i64 = 3_600_000_000;

fn email(n: usize) -> NewEmail {
    NewEmail {
        to: vec![format!("to{n}@example.test")],
        cc: Vec::new(),
        subject: format!("Message {n}"),
        html: "<p>hi</p>".into(),
        text: "hi".into(),
        dedup_key: Some(format!("message-{n}")),
        undeliverable: None,
    }
}

fn check(db: &dyn Database) {
    let t = TenantId::parse("acme").unwrap();
    db.create_tenant(&t, "Acme", "invoices@acme.test").unwrap();

    // Leases.
    let day = "autopay:2026-12-01";
    assert!(db.take_lease(&t, day, "a", 60, false).unwrap());
    assert!(
        !db.take_lease(&t, day, "b", 60, false).unwrap(),
        "a holds it"
    );
    assert!(
        !db.take_lease(&t, day, "b", 60, true).unwrap(),
        "even by hand"
    );
    assert!(
        db.take_lease(&t, day, "a", 60, false).unwrap(),
        "a takes its own again"
    );
    assert!(db.renew_lease(&t, day, "a", 60).unwrap());
    assert!(
        !db.renew_lease(&t, day, "b", 60).unwrap(),
        "not b's to renew"
    );
    db.finish_lease(&t, day, "a").unwrap();
    assert!(
        !db.take_lease(&t, day, "b", 60, false).unwrap(),
        "a finished day stays done"
    );
    assert!(
        db.take_lease(&t, day, "b", 60, true).unwrap(),
        "by hand it runs again"
    );
    // A holder that stopped renewing: its lease has run out (given in the past here).
    let other = "autopay:2026-12-02";
    assert!(db.take_lease(&t, other, "a", -1, false).unwrap());
    assert!(!db.renew_lease(&t, other, "b", 60).unwrap());
    assert!(
        db.take_lease(&t, other, "b", 60, false).unwrap(),
        "b takes it over"
    );
    assert!(!db.renew_lease(&t, other, "a", 60).unwrap(), "a lost it");

    // The outbox.
    for n in 0..3 {
        assert!(
            db.enqueue_email(&t, "invoices@acme.test", &email(n))
                .unwrap()
        );
    }
    let a = db.take_emails("a", 2, 300).unwrap();
    let b = db.take_emails("b", 10, 300).unwrap();
    assert_eq!(
        a.iter().map(|m| m.subject.as_str()).collect::<Vec<_>>(),
        ["Message 0", "Message 1"]
    );
    assert_eq!(
        b.iter().map(|m| m.subject.as_str()).collect::<Vec<_>>(),
        ["Message 2"]
    );
    assert!(
        db.take_emails("b", 10, 300).unwrap().is_empty(),
        "all taken"
    );
    db.mark_email(a[0].id, true, None).unwrap();
    db.mark_email(a[1].id, false, Some("the relay said no"))
        .unwrap();
    let again = db.take_emails("b", 10, 300).unwrap();
    assert_eq!(again.len(), 1, "the failed one is free again: {again:?}");
    assert_eq!(again[0].id, a[1].id);

    // Request turns, an hour apart: the k-th waits between k-1 and k hours.
    for k in 0..4i64 {
        let wait = db.take_request_turn("sk:test", HOUR_MICROS).unwrap();
        assert!(
            wait > (k - 1) * HOUR_MICROS && wait <= k * HOUR_MICROS,
            "turn {k} waits {wait} µs"
        );
    }
    assert_eq!(
        db.take_request_turn("sk:other", HOUR_MICROS).unwrap(),
        0,
        "accounts are apart"
    );
}

/// Stripe request turns of two tenants' accounts, each at its effective rate: `alpha` has its own
/// 1 request/s, `beta` the platform's 2/s. Each account's turns are spaced by its own interval
/// (5 % wider than `1 s / rate`), judged by the moments the database grants (`next_at`, which
/// `next_at` reads): both accounts are first put an hour ahead, so every turn after is queued and
/// lands exactly one interval after the one before, however slow the machine.
fn check_rates(db: &dyn Database, next_at: &dyn Fn(&str) -> i64) {
    let platform = NonZeroU32::new(2);
    let (alpha, beta) = (
        TenantId::parse("alpha").unwrap(),
        TenantId::parse("beta").unwrap(),
    );
    db.create_tenant(&alpha, "Alpha", "invoices@alpha.test")
        .unwrap();
    db.create_tenant(&beta, "Beta", "invoices@beta.test")
        .unwrap();
    db.update_tenant_limits(
        &alpha,
        &TenantLimits {
            stripe_requests_per_second: Some(1),
            ..TenantLimits::default()
        },
        &[],
    )
    .unwrap();
    let accounts = [
        (&alpha, Secret::new("sk_test_pacing_alpha"), 1_050_000),
        (&beta, Secret::new("sk_test_pacing_beta"), 525_000),
    ];
    for (_, key, _) in &accounts {
        db.take_request_turn(&pacing::account(key), HOUR_MICROS)
            .unwrap();
    }
    let start: Vec<i64> = accounts
        .iter()
        .map(|(_, key, _)| next_at(&pacing::account(key)))
        .collect();
    for k in 1..=3 {
        for ((tenant, key, interval), start) in accounts.iter().zip(&start) {
            let own = db.tenant(tenant).unwrap().limits;
            let rate = limits::stripe_requests_per_second(platform, &own)
                .unwrap()
                .value;
            let wait = pacing::take_shared_turn(db, rate, key).unwrap();
            assert!(
                wait > std::time::Duration::from_secs(3000),
                "{tenant}'s turn {k} is queued behind the hour: {wait:?}"
            );
            assert_eq!(
                next_at(&pacing::account(key)) - start,
                k * interval,
                "{tenant}'s turn {k} at {rate}/s"
            );
        }
    }
}

#[test]
fn sqlite_shares_work_between_processes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hosts.db");
    let db = SqliteDb::open(&path).unwrap();
    check(&db);
    let raw = rusqlite::Connection::open(&path).unwrap();
    check_rates(&db, &|account| {
        raw.query_row(
            "SELECT next_at FROM stripe_pacing WHERE account = ?1",
            [account],
            |r| r.get(0),
        )
        .unwrap()
    });
}

#[test]
fn postgres_shares_work_between_hosts() {
    let cluster = postgres::Cluster::start().expect("PostgreSQL");
    let url = cluster.new_database().unwrap();
    let db = PgDb::open(&url).unwrap();
    check(&db);
    let raw =
        std::cell::RefCell::new(::postgres::Client::connect(&url, ::postgres::NoTls).unwrap());
    check_rates(&db, &|account| {
        raw.borrow_mut()
            .query_one(
                "SELECT next_at FROM stripe_pacing WHERE account = $1",
                &[&account],
            )
            .unwrap()
            .get(0)
    });
}
