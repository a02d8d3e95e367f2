//! Schema migrations, applied in order at start; `PRAGMA user_version` records how far a database
//! has come. A migration is never edited once released: add the next one.

use rusqlite::{Connection, TransactionBehavior};

/// Each entry moves the schema from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("schema_2_auth.sql"),
    include_str!("schema_3_observed.sql"),
    include_str!("schema_4_sessions.sql"),
    include_str!("schema_6_hardening.sql"),
    include_str!("schema_7_one_open_payment.sql"),
    include_str!("schema_8_one_anomaly.sql"),
    include_str!("schema_9_hosts.sql"),
    include_str!("schema_10_limits.sql"),
    include_str!("schema_11_plugins.sql"),
    include_str!("schema_12_autopay_caps.sql"),
    include_str!("schema_13_disputes.sql"),
    include_str!("schema_14_observed_method.sql"),
    include_str!("schema_15_refunds.sql"),
];

/// Bring `conn`'s database up to the latest schema. The version is read inside an immediate
/// (write-locked) transaction, so two processes starting at once migrate once.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
    }
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_file_is_a_migration() {
        let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src/db"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "sql")
            })
            .count();
        assert_eq!(
            files,
            MIGRATIONS.len(),
            "a schema_*.sql file is not listed in MIGRATIONS"
        );
    }

    /// Open a database at schema version `version` (the first `version` migrations).
    fn at_version(version: usize) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..version] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", version as i64)
            .unwrap();
        conn
    }

    fn open_payment(conn: &Connection, invoice: i64, group: &str) -> rusqlite::Result<usize> {
        conn.execute(
            "INSERT INTO invoice_payments (tenant_id, invoice_id, group_id, status, amount, fee, currency,
                 initiator_kind, attempt, created_at, updated_at)
             VALUES ('t', ?1, ?2, 'processing', 100, 3, 'usd', 'autopay', 1, 0, 0)",
            rusqlite::params![invoice, group],
        )
    }

    #[test]
    fn older_open_duplicates_keep_their_records_and_the_newest_holds_the_claim() {
        let position = MIGRATIONS
            .iter()
            .position(|m| m.contains("invoice_payments_one_open"))
            .unwrap();
        let mut conn = at_version(position);
        conn.execute_batch(
            "INSERT INTO tenants (id, name, settings, invoice_mailbox, created_at) VALUES ('t', 'T', '{}', 'a@t.test', 0);
             INSERT INTO customers (tenant_id, name) VALUES ('t', 'C');
             INSERT INTO invoices (tenant_id, number, customer_id, currency, issue_date, due_date, status, created_at)
                 VALUES ('t', 'INV-1', 1, 'usd', '2026-11-01', '2026-11-30', 'awaiting_payment', 0);",
        )
        .unwrap();
        // Written before the rule: two open attempts on one invoice.
        open_payment(&conn, 1, "old").unwrap();
        open_payment(&conn, 1, "new").unwrap();
        migrate(&mut conn).unwrap();
        let marked: Vec<(String, i64)> = conn
            .prepare("SELECT group_id, opened_before_claims FROM invoice_payments ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(marked, vec![("old".into(), 1), ("new".into(), 0)]);
        // From now on a third open attempt is refused by the database itself.
        let refused = open_payment(&conn, 1, "third").unwrap_err();
        assert!(
            matches!(&refused, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation),
            "{refused}"
        );
        conn.execute(
            "UPDATE invoice_payments SET status = 'succeeded' WHERE group_id = 'new'",
            [],
        )
        .unwrap();
        open_payment(&conn, 1, "after").unwrap();
    }

    #[test]
    fn a_tenant_made_before_the_expiring_card_template_gets_it_as_new_tenants_do() {
        let position = MIGRATIONS
            .iter()
            .position(|m| m.contains("Stripe Card Expiring"))
            .unwrap();
        let mut conn = at_version(position);
        conn.execute_batch(
            "INSERT INTO tenants (id, name, settings, invoice_mailbox, created_at) VALUES ('t', 'T', '{}', 'a@t.test', 0);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let got: (String, String, String) = conn
            .query_row(
                "SELECT name, subject, body FROM email_templates WHERE tenant_id = 't' AND id = 286",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        let seeded = super::super::tenants::SEEDED_TEMPLATES
            .iter()
            .find(|t| t.0 == 286)
            .unwrap();
        assert_eq!(got, (seeded.1.into(), seeded.2.into(), seeded.3.into()));
    }
    #[test]
    fn a_tenant_made_before_the_refund_template_gets_it_as_new_tenants_do() {
        let position = MIGRATIONS
            .iter()
            .position(|m| m.contains("Stripe Refund Confirmation"))
            .unwrap();
        let mut conn = at_version(position);
        conn.execute_batch(
            "INSERT INTO tenants (id, name, settings, invoice_mailbox, created_at) VALUES ('t', 'T', '{}', 'a@t.test', 0);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let got: (String, String, String) = conn
            .query_row(
                "SELECT name, subject, body FROM email_templates WHERE tenant_id = 't' AND id = 287",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        let seeded = super::super::tenants::SEEDED_TEMPLATES
            .iter()
            .find(|t| t.0 == 287)
            .unwrap();
        assert_eq!(got, (seeded.1.into(), seeded.2.into(), seeded.3.into()));
    }

    #[test]
    fn migrating_twice_changes_nothing() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
    }
}
