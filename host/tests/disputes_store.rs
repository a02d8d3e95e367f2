//! Disputes in the database (`DisputeStore`), the same checks on both engines: an observation is
//! applied only when newer than the one held and the held one is open; a lost dispute makes its
//! amount owed again and reopens the paid invoice once, even when two hosts record it at once (the
//! rule is decided inside the transaction that writes, not by the caller); an amount in another
//! currency, above what was paid, or of a payment not the tenant's is refused.

#[path = "../../tests/src/postgres.rs"]
#[allow(dead_code)]
mod postgres;
#[path = "../../tests/src/services.rs"]
#[allow(dead_code)]
mod services;
#[path = "../../tests/src/sweep.rs"]
#[allow(dead_code)]
mod sweep;

use std::sync::Barrier;

use paydesk_host::contract::{
    DisputeObservation, DisputeStatus, Initiator, InvoiceStatus, Money, NewPayment, PaymentStatus,
    PaymentUpdate,
};
use paydesk_host::db::{Database, DbError, NewCustomer, NewInvoice, PgDb, SqliteDb};
use paydesk_host::tenant::TenantId;

/// A paid invoice of USD 100.00 (+ USD 2.90 fee); (invoice id, payment id).
fn paid_invoice(db: &dyn Database, t: &TenantId, customer: i64, number: &str) -> (i64, i64) {
    let invoice = db
        .create_invoice(
            t,
            &NewInvoice {
                number: number.into(),
                customer_id: customer,
                user_id: None,
                currency: "usd".into(),
                issue_date: "2026-12-01".into(),
                due_date: "2026-12-01".into(),
                recurring_invoice_id: None,
                lines: vec![("Support".into(), 10_000)],
            },
        )
        .unwrap();
    let usd = |amount| Money {
        amount,
        currency: "usd".into(),
    };
    let payment = db
        .create_payments(
            t,
            &[NewPayment {
                invoice_id: invoice.id,
                group_id: format!("g-{number}"),
                intent_id: Some(format!("pi_{number}")),
                status: PaymentStatus::RequiresPaymentMethod,
                method: None,
                method_type: None,
                amount: usd(10_000),
                fee: usd(290),
                initiator: Initiator::Autopay,
                attempt: 1,
            }],
        )
        .unwrap()
        .remove(0);
    db.update_payment(
        t,
        payment.id,
        payment.version,
        &PaymentUpdate {
            status: PaymentStatus::Succeeded,
            intent_id: None,
            method: None,
            method_type: None,
            failure_reason: None,
            failure_code: None,
            event_id: Some(format!("evt_{number}")),
            webhook_payload: None,
            observed_at: 1,
            settle_with_fee_line: Some("Processing fee".into()),
        },
    )
    .unwrap();
    assert_eq!(
        db.invoice(t, invoice.id).unwrap().status,
        InvoiceStatus::Paid
    );
    (invoice.id, payment.id)
}

fn seen(id: &str, payment: i64, status: DisputeStatus, amount: i64, at: i64) -> DisputeObservation {
    DisputeObservation {
        id: id.into(),
        payment_id: payment,
        charge_id: format!("ch_{id}"),
        intent_id: None,
        status,
        reason: "fraudulent".into(),
        amount: Money {
            amount,
            currency: "usd".into(),
        },
        evidence_due_by: Some(1_000),
        opened_at: 1,
        observed_at: at,
        event_id: Some(format!("evt_{id}_{at}")),
    }
}

fn check(db: &dyn Database) {
    let t = TenantId::parse("acme").unwrap();
    let other = TenantId::parse("globex").unwrap();
    db.create_tenant(&t, "Acme", "invoices@acme.test").unwrap();
    db.create_tenant(&other, "Globex", "invoices@globex.test")
        .unwrap();
    let customer = db
        .create_customer(
            &t,
            &NewCustomer {
                name: "Initech".into(),
                accounts_email: None,
                accounts_cc_email: None,
            },
        )
        .unwrap()
        .id;
    let (invoice, payment) = paid_invoice(db, &t, customer, "INV-1");

    // Refused: another currency, more than was paid, another tenant's payment.
    let mut eur = seen("dp_1", payment, DisputeStatus::NeedsResponse, 100, 10);
    eur.amount.currency = "eur".into();
    assert!(matches!(
        db.record_dispute(&t, &eur),
        Err(DbError::Invalid(_))
    ));
    let too_much = seen("dp_1", payment, DisputeStatus::NeedsResponse, 10_291, 10);
    assert!(matches!(
        db.record_dispute(&t, &too_much),
        Err(DbError::Invalid(_))
    ));
    let opened = seen("dp_1", payment, DisputeStatus::NeedsResponse, 10_290, 10);
    assert!(matches!(
        db.record_dispute(&other, &opened),
        Err(DbError::NotFound(_))
    ));
    assert!(db.disputes(&t, invoice).unwrap().is_empty());

    // Opened; again, and older: not applied.
    let (applied, held) = db.record_dispute(&t, &opened).unwrap();
    assert!(applied);
    assert_eq!(
        (held.status, held.invoice_id, held.amount.amount),
        (DisputeStatus::NeedsResponse, invoice, 10_290)
    );
    assert!(!db.record_dispute(&t, &opened).unwrap().0);
    let older = seen("dp_1", payment, DisputeStatus::UnderReview, 10_290, 9);
    let (applied, held) = db.record_dispute(&t, &older).unwrap();
    assert!(!applied);
    assert_eq!(held.status, DisputeStatus::NeedsResponse);
    let invoice_now = db.invoice(&t, invoice).unwrap();
    assert_eq!(
        (invoice_now.status, invoice_now.amount_due),
        (InvoiceStatus::Paid, 0)
    );

    // Lost: owed again, the invoice awaiting payment; a later "won" changes nothing.
    let lost = seen("dp_1", payment, DisputeStatus::Lost, 10_290, 20);
    assert!(db.record_dispute(&t, &lost).unwrap().0);
    let won = seen("dp_1", payment, DisputeStatus::Won, 10_290, 30);
    assert_eq!(
        db.record_dispute(&t, &won).unwrap().1.status,
        DisputeStatus::Lost
    );
    let invoice_now = db.invoice(&t, invoice).unwrap();
    assert_eq!(
        (invoice_now.status, invoice_now.amount_due),
        (InvoiceStatus::AwaitingPayment, 10_290)
    );
    assert_eq!(db.disputes(&t, invoice).unwrap().len(), 1);
    assert!(db.disputes(&other, invoice).unwrap().is_empty());

    // A status Stripe adds later is kept by its name.
    let (_, second) = paid_invoice(db, &t, customer, "INV-2");
    let novel = seen(
        "dp_2",
        second,
        DisputeStatus::Other("prevented".into()),
        5,
        1,
    );
    assert_eq!(
        db.record_dispute(&t, &novel).unwrap().1.status,
        DisputeStatus::Other("prevented".into())
    );

    // Two hosts recording the same lost dispute at once: applied once, owed once.
    for round in 0..5 {
        let (invoice, payment) = paid_invoice(db, &t, customer, &format!("RACE-{round}"));
        let lost = seen(
            &format!("dp_r{round}"),
            payment,
            DisputeStatus::Lost,
            10_290,
            5,
        );
        let gate = Barrier::new(2);
        let applied: Vec<bool> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        gate.wait();
                        db.record_dispute(&t, &lost).unwrap().0
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(applied.iter().filter(|a| **a).count(), 1, "{applied:?}");
        let invoice_now = db.invoice(&t, invoice).unwrap();
        assert_eq!(
            (invoice_now.status, invoice_now.amount_due),
            (InvoiceStatus::AwaitingPayment, 10_290)
        );
    }
}

#[test]
fn sqlite_records_disputes_by_the_state_machine_and_owes_a_lost_one_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(&dir.path().join("disputes.db")).unwrap();
    check(&db);
}

#[test]
fn postgres_records_disputes_by_the_state_machine_and_owes_a_lost_one_once() {
    let cluster = postgres::Cluster::start().expect("PostgreSQL");
    let url = cluster.new_database().unwrap();
    let db = PgDb::open(&url).unwrap();
    check(&db);
}
