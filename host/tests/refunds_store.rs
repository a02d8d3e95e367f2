//! Refunds in the database (`RefundStore`), the same checks on both engines: a refund is claimed
//! only of a succeeded payment of the tenant and within what it paid less its refunds that did not
//! fail (a failed one frees its amount); what Stripe says of a refund is applied on Stripe's
//! clock (a stale pending never undoes a success; a succeeded refund can still fail, and then the
//! invoice is paid again); a refund made in Stripe's dashboard is recorded from its observation
//! with its fee part; a succeeded refund makes its amount less its fee part owed again and reopens
//! the paid invoice. Two hosts claiming refunds of one payment at once never give back more than
//! it paid, and two recording the same dashboard refund make one record.

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
    Initiator, InvoiceStatus, Money, NewPayment, NewRefund, PaymentStatus, PaymentUpdate, Refund,
    RefundObservation, RefundStatus,
};
use paydesk_host::db::{Database, DbError, NewAgent, NewCustomer, NewInvoice, PgDb, SqliteDb};
use paydesk_host::tenant::TenantId;

fn usd(amount: i64) -> Money {
    Money {
        amount,
        currency: "usd".into(),
    }
}

/// An invoice of USD 100.00 with a payment of it (+ USD 2.90 fee); paid when `succeed`.
/// (invoice id, payment id).
fn invoice_with_payment(
    db: &dyn Database,
    t: &TenantId,
    customer: i64,
    number: &str,
    succeed: bool,
) -> (i64, i64) {
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
    if succeed {
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
        assert_eq!(due(db, t, invoice.id), (InvoiceStatus::Paid, 0));
    }
    (invoice.id, payment.id)
}

fn due(db: &dyn Database, t: &TenantId, invoice: i64) -> (InvoiceStatus, i64) {
    let invoice = db.invoice(t, invoice).unwrap();
    (invoice.status, invoice.amount_due)
}

fn claim(payment: i64, amount: i64, fee_part: i64, agent: i64) -> NewRefund {
    NewRefund {
        payment_id: payment,
        amount: usd(amount),
        fee_part: usd(fee_part),
        agent_id: agent,
    }
}

fn seen(
    record: Option<i64>,
    refund_id: &str,
    payment: i64,
    status: RefundStatus,
    amount: i64,
    at: i64,
) -> RefundObservation {
    RefundObservation {
        refund_id: Some(refund_id.into()),
        record_id: record,
        payment_id: payment,
        intent_id: None,
        status,
        amount: usd(amount),
        failure_reason: None,
        observed_at: at,
    }
}

/// What a payment's refunds that did not fail or get canceled give back, from the records.
fn given_back(refunds: &[Refund], payment: i64) -> i64 {
    refunds
        .iter()
        .filter(|r| r.payment_id == payment)
        .filter(|r| !matches!(r.status, RefundStatus::Failed | RefundStatus::Canceled))
        .map(|r| r.amount.amount)
        .sum()
}

fn conflict(result: Result<Refund, DbError>) -> String {
    match result {
        Err(DbError::Conflict(message)) => message,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// `db` and `other_host` are two handles on one database (two hosts).
fn check(db: &dyn Database, other_host: &dyn Database) {
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
    let new_agent = |tenant: &TenantId, email: &str| {
        db.create_agent(
            tenant,
            &NewAgent {
                name: "Ada".into(),
                email: email.into(),
                can_receive_manual_stripe_payments: true,
                is_admin: false,
            },
        )
        .unwrap()
        .id
    };
    let agent = new_agent(&t, "ada@acme.test");
    let outsider = new_agent(&other, "bob@globex.test");

    // The permission: off by default, given and taken, only for the tenant's agents.
    assert!(!db.can_refund(&t, agent).unwrap());
    db.set_can_refund(&t, agent, true).unwrap();
    assert!(other_host.can_refund(&t, agent).unwrap());
    assert!(matches!(
        db.can_refund(&t, outsider),
        Err(DbError::NotFound(_))
    ));
    assert!(matches!(
        db.set_can_refund(&t, outsider, true),
        Err(DbError::NotFound(_))
    ));
    assert!(!db.can_refund(&other, outsider).unwrap());

    // Only a succeeded payment can be refunded.
    let (_, unpaid) = invoice_with_payment(db, &t, customer, "OPEN-1", false);
    conflict(db.claim_refund(&t, &claim(unpaid, 100, 0, agent)));

    let (invoice, payment) = invoice_with_payment(db, &t, customer, "INV-1", true);
    // Refused: another tenant's payment or agent, malformed amounts, more than was paid.
    assert!(matches!(
        db.claim_refund(&other, &claim(payment, 100, 0, outsider)),
        Err(DbError::NotFound(_))
    ));
    assert!(matches!(
        db.claim_refund(&t, &claim(payment, 100, 0, outsider)),
        Err(DbError::NotFound(_))
    ));
    let mut eur = claim(payment, 100, 0, agent);
    eur.amount.currency = "eur".into();
    eur.fee_part.currency = "eur".into();
    for malformed in [
        claim(payment, 0, 0, agent),
        claim(payment, -5, 0, agent),
        claim(payment, 100, 101, agent),
        claim(payment, 1_000, 291, agent),
        claim(payment, 100, -1, agent),
        eur,
    ] {
        assert!(
            matches!(db.claim_refund(&t, &malformed), Err(DbError::Invalid(_))),
            "{malformed:?}"
        );
    }
    let refused = conflict(db.claim_refund(&t, &claim(payment, 10_291, 290, agent)));
    assert!(refused.contains("USD 102.90"), "{refused}");
    assert!(db.refunds(&t, invoice).unwrap().is_empty());

    // A partial refund: claimed pending, Stripe has said nothing; the invoice still paid.
    let r1 = db
        .claim_refund(&t, &claim(payment, 3_000, 0, agent))
        .unwrap();
    assert_eq!(
        (
            r1.status,
            r1.observed_at,
            r1.refund_id.clone(),
            r1.agent_id,
            r1.invoice_id,
            r1.amount.currency.as_str(),
            r1.intent_id.as_deref()
        ),
        (
            RefundStatus::Pending,
            None,
            None,
            Some(agent),
            invoice,
            "usd",
            Some("pi_INV-1")
        )
    );
    assert_eq!(due(db, &t, invoice), (InvoiceStatus::Paid, 0));

    // It succeeds: owed again, the invoice awaiting payment; a stale or later pending changes
    // nothing.
    let (applied, held) = db
        .record_refund(
            &t,
            &seen(
                Some(r1.id),
                "re_1",
                payment,
                RefundStatus::Succeeded,
                3_000,
                100,
            ),
        )
        .unwrap();
    assert!(applied);
    assert_eq!(
        (held.status, held.refund_id.as_deref(), held.observed_at),
        (RefundStatus::Succeeded, Some("re_1"), Some(100))
    );
    assert_eq!(
        due(db, &t, invoice),
        (InvoiceStatus::AwaitingPayment, 3_000)
    );
    for at in [90, 150] {
        let (applied, held) = other_host
            .record_refund(
                &t,
                &seen(None, "re_1", payment, RefundStatus::Pending, 3_000, at),
            )
            .unwrap();
        assert!(!applied);
        assert_eq!(held.status, RefundStatus::Succeeded);
    }
    // Not this record's: another payment, another Stripe refund, another amount.
    let (_, second) = invoice_with_payment(db, &t, customer, "INV-2", true);
    for wrong in [
        seen(
            Some(r1.id),
            "re_1",
            second,
            RefundStatus::Succeeded,
            3_000,
            101,
        ),
        seen(
            Some(r1.id),
            "re_other",
            payment,
            RefundStatus::Succeeded,
            3_000,
            101,
        ),
        seen(
            Some(r1.id),
            "re_1",
            payment,
            RefundStatus::Succeeded,
            2_000,
            101,
        ),
    ] {
        assert!(
            matches!(db.record_refund(&t, &wrong), Err(DbError::Invalid(_))),
            "{wrong:?}"
        );
    }
    assert!(matches!(
        db.record_refund(
            &other,
            &seen(None, "re_1", payment, RefundStatus::Succeeded, 3_000, 101)
        ),
        Err(DbError::NotFound(_))
    ));

    // Partial refunds add up: 30.00 + 70.00 leaves 2.90, the fee.
    let r2 = db
        .claim_refund(&t, &claim(payment, 7_000, 0, agent))
        .unwrap();
    let refused = conflict(other_host.claim_refund(&t, &claim(payment, 291, 0, agent)));
    assert!(refused.contains("only USD 2.90"), "{refused}");
    // The second fails: nothing given back, its amount refundable again; failed is final.
    let mut failed = seen(
        Some(r2.id),
        "re_2",
        payment,
        RefundStatus::Failed,
        7_000,
        110,
    );
    failed.failure_reason = Some("expired_or_canceled_card".into());
    let (applied, held) = db.record_refund(&t, &failed).unwrap();
    assert!(applied);
    assert_eq!(
        (held.status, held.failure_reason.as_deref()),
        (RefundStatus::Failed, Some("expired_or_canceled_card"))
    );
    assert!(
        !db.record_refund(
            &t,
            &seen(
                Some(r2.id),
                "re_2",
                payment,
                RefundStatus::Succeeded,
                7_000,
                120
            )
        )
        .unwrap()
        .0
    );
    assert_eq!(
        due(db, &t, invoice),
        (InvoiceStatus::AwaitingPayment, 3_000)
    );
    // The fee is given back once at most, and only as the fee.
    let refused = conflict(db.claim_refund(&t, &claim(payment, 7_290, 0, agent)));
    assert!(
        refused.contains(
            "only USD 70.00 of this payment can still be refunded besides its processing fee"
        ),
        "{refused}"
    );
    let fee_once = db
        .claim_refund(&t, &claim(payment, 290, 290, agent))
        .unwrap();
    let refused = conflict(db.claim_refund(&t, &claim(payment, 1, 1, agent)));
    assert!(
        refused.contains("only USD 0.00 of this payment's processing fee"),
        "{refused}"
    );
    db.record_refund(
        &t,
        &seen(
            Some(fee_once.id),
            "re_fee",
            payment,
            RefundStatus::Canceled,
            290,
            111,
        ),
    )
    .unwrap();
    // All that is left, with the fee: then nothing more.
    let r3 = db
        .claim_refund(&t, &claim(payment, 7_290, 290, agent))
        .unwrap();
    let refused = conflict(db.claim_refund(&t, &claim(payment, 1, 0, agent)));
    assert!(refused.contains("nothing more"), "{refused}");
    db.record_refund(
        &t,
        &seen(
            Some(r3.id),
            "re_3",
            payment,
            RefundStatus::Succeeded,
            7_290,
            130,
        ),
    )
    .unwrap();
    // Owed again: 30.00 + 72.90 less the 2.90 fee part.
    assert_eq!(
        due(db, &t, invoice),
        (InvoiceStatus::AwaitingPayment, 10_000)
    );
    let listed: Vec<i64> = db
        .refunds(&t, invoice)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, vec![r1.id, r2.id, fee_once.id, r3.id]);
    assert!(db.refunds(&other, invoice).unwrap().is_empty());
    assert!(matches!(
        db.refund(&other, r1.id),
        Err(DbError::NotFound(_))
    ));
    assert_eq!(db.refund(&t, r3.id).unwrap().fee_part.amount, 290);

    // A succeeded refund the bank returned: failed after all, and the invoice paid again.
    let full = db
        .claim_refund(&t, &claim(second, 10_000, 0, agent))
        .unwrap();
    db.record_refund(
        &t,
        &seen(
            Some(full.id),
            "re_4",
            second,
            RefundStatus::Succeeded,
            10_000,
            10,
        ),
    )
    .unwrap();
    let second_invoice = full.invoice_id;
    assert_eq!(
        due(db, &t, second_invoice),
        (InvoiceStatus::AwaitingPayment, 10_000)
    );
    let (applied, held) = other_host
        .record_refund(
            &t,
            &seen(None, "re_4", second, RefundStatus::Failed, 10_000, 20),
        )
        .unwrap();
    assert!(applied);
    assert_eq!(held.id, full.id);
    assert_eq!(due(db, &t, second_invoice), (InvoiceStatus::Paid, 0));

    // Refunds made in Stripe's dashboard: recorded from what Stripe says, by no agent; the part
    // beyond the payment's amount not yet refunded is the fee's.
    let (third_invoice, third) = invoice_with_payment(db, &t, customer, "INV-3", true);
    let (applied, d1) = db
        .record_refund(
            &t,
            &seen(None, "re_d1", third, RefundStatus::Succeeded, 6_000, 10),
        )
        .unwrap();
    assert!(applied);
    assert_eq!(
        (d1.agent_id, d1.fee_part.amount, d1.refund_id.as_deref()),
        (None, 0, Some("re_d1"))
    );
    assert_eq!(
        due(db, &t, third_invoice),
        (InvoiceStatus::AwaitingPayment, 6_000)
    );
    assert!(
        !db.record_refund(
            &t,
            &seen(None, "re_d1", third, RefundStatus::Succeeded, 6_000, 10)
        )
        .unwrap()
        .0
    );
    let (_, d2) = db
        .record_refund(
            &t,
            &seen(None, "re_d2", third, RefundStatus::Pending, 4_290, 11),
        )
        .unwrap();
    assert_eq!(
        (d2.status, d2.fee_part.amount),
        (RefundStatus::Pending, 290)
    );
    // Beyond what was paid: refused, nothing written.
    assert!(matches!(
        db.record_refund(
            &t,
            &seen(None, "re_d3", third, RefundStatus::Succeeded, 1, 12)
        ),
        Err(DbError::Conflict(_))
    ));
    conflict(db.claim_refund(&t, &claim(third, 1, 0, agent)));
    db.record_refund(
        &t,
        &seen(None, "re_d2", third, RefundStatus::Succeeded, 4_290, 13),
    )
    .unwrap();
    assert_eq!(
        due(db, &t, third_invoice),
        (InvoiceStatus::AwaitingPayment, 10_000)
    );
    assert_eq!(db.refunds(&t, third_invoice).unwrap().len(), 2);

    // Two hosts claiming refunds of one payment at once: never more than it paid.
    let hosts = [db, other_host, db, other_host];
    for round in 0..3 {
        let (invoice, payment) =
            invoice_with_payment(db, &t, customer, &format!("RACE-{round}"), true);
        let gate = Barrier::new(hosts.len());
        let outcomes: Vec<Result<Refund, DbError>> = std::thread::scope(|s| {
            let handles: Vec<_> = hosts
                .iter()
                .map(|host| {
                    let (gate, t) = (&gate, &t);
                    s.spawn(move || {
                        gate.wait();
                        host.claim_refund(t, &claim(payment, 3_000, 0, agent))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let made = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(made, 3, "{outcomes:?}");
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, Ok(_) | Err(DbError::Conflict(_)))),
            "{outcomes:?}"
        );
        let refunds = db.refunds(&t, invoice).unwrap();
        assert_eq!(given_back(&refunds, payment), 9_000);
    }

    // Two hosts recording the same dashboard refund at once: one record, owed once.
    for round in 0..3 {
        let (invoice, payment) =
            invoice_with_payment(db, &t, customer, &format!("DASH-{round}"), true);
        let observed = seen(
            None,
            &format!("re_dash{round}"),
            payment,
            RefundStatus::Succeeded,
            2_500,
            7,
        );
        let gate = Barrier::new(2);
        let applied: Vec<bool> = std::thread::scope(|s| {
            let handles: Vec<_> = [db, other_host]
                .into_iter()
                .map(|host| {
                    let (gate, t, observed) = (&gate, &t, &observed);
                    s.spawn(move || {
                        gate.wait();
                        host.record_refund(t, observed).unwrap().0
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(applied.iter().filter(|a| **a).count(), 1, "{applied:?}");
        assert_eq!(db.refunds(&t, invoice).unwrap().len(), 1);
        assert_eq!(
            due(db, &t, invoice),
            (InvoiceStatus::AwaitingPayment, 2_500)
        );
    }
}

#[test]
fn sqlite_refunds_stay_within_what_was_paid_and_follow_stripes_clock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("refunds.db");
    let db = SqliteDb::open(&path).unwrap();
    let other_host = SqliteDb::open(&path).unwrap();
    check(&db, &other_host);
}

#[test]
fn postgres_refunds_stay_within_what_was_paid_and_follow_stripes_clock() {
    let cluster = postgres::Cluster::start().expect("PostgreSQL");
    let url = cluster.new_database().unwrap();
    let db = PgDb::open(&url).unwrap();
    let other_host = PgDb::open(&url).unwrap();
    check(&db, &other_host);
}
