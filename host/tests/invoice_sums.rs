//! The host's own sums of money never wrap (issue 12, item 4): an invoice whose lines cannot be
//! added up is refused by the database layer itself, whoever calls it, and writes nothing; and an
//! invoice whose stored lines or payments (written past that rule) add up beyond i64 reads as a
//! clear error, never as a wrapped amount due, a panic or a database failure.

use paydesk_host::contract::InvoiceFilter;
use paydesk_host::db::stores::*;
use paydesk_host::db::{DbError, NewCustomer, NewInvoice, SqliteDb, TenantStore};
use paydesk_host::tenant::TenantId;

fn setup() -> (tempfile::TempDir, SqliteDb, TenantId, i64) {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(&dir.path().join("sums.db")).unwrap();
    let tenant = TenantId::parse("sums").unwrap();
    db.create_tenant(&tenant, "Sums", "invoices@sums.test")
        .unwrap();
    let customer = db
        .create_customer(
            &tenant,
            &NewCustomer {
                name: "Acme".into(),
                accounts_email: None,
                accounts_cc_email: None,
            },
        )
        .unwrap();
    (dir, db, tenant, customer.id)
}

fn invoice(number: &str, customer: i64, amounts: &[i64]) -> NewInvoice {
    NewInvoice {
        number: number.into(),
        customer_id: customer,
        user_id: None,
        currency: "usd".into(),
        issue_date: "2026-11-01".into(),
        due_date: "2026-11-30".into(),
        recurring_invoice_id: None,
        lines: amounts.iter().map(|a| ("line".to_string(), *a)).collect(),
    }
}

fn all_invoices(db: &SqliteDb, tenant: &TenantId) -> usize {
    db.invoices(
        tenant,
        &InvoiceFilter {
            customer_id: None,
            status: None,
            due_on_or_before: None,
            recurring_only: false,
            after_id: None,
            limit: 1000,
        },
    )
    .unwrap()
    .len()
}

#[test]
fn lines_that_cannot_be_added_up_are_refused_by_the_database_layer_and_write_nothing() {
    let (_dir, db, tenant, customer) = setup();
    for amounts in [
        vec![i64::MAX, i64::MAX, 1002],
        vec![i64::MIN],
        // Each line within the bound, their running sum not.
        vec![1_000_000_000_000; 101],
    ] {
        match db.create_invoice(&tenant, &invoice("WRAP", customer, &amounts)) {
            Err(DbError::Invalid(message)) => {
                assert!(message.contains("invoice lines"), "{message}")
            }
            other => panic!("{amounts:?}: {other:?}"),
        }
    }
    assert_eq!(all_invoices(&db, &tenant), 0);
    // The most of each, within both bounds, is kept exactly.
    let big = db
        .create_invoice(
            &tenant,
            &invoice("BIG", customer, &[1_000_000_000_000; 100]),
        )
        .unwrap();
    assert_eq!(big.amount_due, 100_000_000_000_000);
}

#[test]
fn stored_amounts_beyond_i64_read_as_a_clear_error_not_a_wrapped_amount() {
    let (dir, db, tenant, customer) = setup();
    let lines = db
        .create_invoice(&tenant, &invoice("LINES", customer, &[1_000]))
        .unwrap();
    let paid = db
        .create_invoice(&tenant, &invoice("PAID", customer, &[1_000]))
        .unwrap();
    // Rows written around the rule, as an older version or another writer might have left them.
    let raw = rusqlite::Connection::open(dir.path().join("sums.db")).unwrap();
    raw.execute(
        "INSERT INTO invoice_lines (tenant_id, invoice_id, description, amount) VALUES ('sums', ?1, 'x', ?2), ('sums', ?1, 'y', ?2)",
        rusqlite::params![lines.id, i64::MAX],
    )
    .unwrap();
    raw.execute(
        "INSERT INTO invoice_payments (tenant_id, invoice_id, group_id, status, amount, fee, currency,
             initiator_kind, attempt, created_at, updated_at)
         VALUES ('sums', ?1, 'g1', 'succeeded', ?2, ?2, 'usd', 'autopay', 0, 0, 0)",
        rusqlite::params![paid.id, i64::MAX],
    )
    .unwrap();
    for (id, number) in [(lines.id, "LINES"), (paid.id, "PAID")] {
        match db.invoice(&tenant, id) {
            Err(DbError::Invalid(message)) => assert!(
                message.contains(&format!("invoice {number}"))
                    && message.contains("cannot be paid"),
                "{message}"
            ),
            other => panic!("{number}: {other:?}"),
        }
    }
}
