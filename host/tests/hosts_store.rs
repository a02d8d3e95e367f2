//! The database's side of several hosts ([`HostsStore`]), the same checks on both engines: a lease
//! is one holder's until it runs out or is finished, a finished day is taken again only by hand;
//! a queued email is taken by one holder at a time and is free again once its send is recorded as
//! failed; Stripe request turns are spaced one interval apart. No check depends on how fast the
//! machine is: the leases' "run out" is a lease given in the past, and the turns' interval is an
//! hour.

#[path = "../../tests/src/postgres.rs"]
#[allow(dead_code)]
mod postgres;
#[path = "../../tests/src/services.rs"]
#[allow(dead_code)]
mod services;
#[path = "../../tests/src/sweep.rs"]
#[allow(dead_code)]
mod sweep;

use paydesk_host::db::{Database, NewEmail, PgDb, SqliteDb};
use paydesk_host::tenant::TenantId;

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

#[test]
fn sqlite_shares_work_between_processes() {
    let dir = tempfile::tempdir().unwrap();
    check(&SqliteDb::open(&dir.path().join("hosts.db")).unwrap());
}

#[test]
fn postgres_shares_work_between_hosts() {
    let cluster = postgres::Cluster::start().expect("PostgreSQL");
    check(&PgDb::open(&cluster.new_database().unwrap()).unwrap());
}
