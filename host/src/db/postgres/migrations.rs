//! PostgreSQL schema migrations, applied in order at open. `schema_version` records how far a
//! database has come. Several hosts starting at once on one database migrate once: the whole
//! migration runs in one transaction that first takes a transaction-scoped advisory lock, so the
//! others wait for it and then find the schema current. A migration is never edited once
//! released: add the next one.

use super::{PgConn, Tx};
use crate::db::DbResult;

/// Each entry moves the schema from version `index` to `index + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("schema_1.sql"),
    include_str!("schema_2_hosts.sql"),
    include_str!("schema_3_limits.sql"),
    include_str!("schema_4_plugins.sql"),
    include_str!("schema_5_autopay_caps.sql"),
    include_str!("schema_6_disputes.sql"),
    include_str!("schema_7_observed_method.sql"),
    include_str!("schema_8_refunds.sql"),
];

/// The advisory lock key migrations hold (any constant of ours; "paydesk" in ASCII).
const MIGRATION_LOCK: i64 = 0x0070_6179_6465_736b;

/// Bring the database up to the latest schema.
pub(super) fn migrate(conn: &mut PgConn) -> DbResult<()> {
    conn.batch("BEGIN")?;
    let mut tx = Tx { conn, open: true };
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version     BIGINT NOT NULL,
             applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )?;
    let current: i64 =
        tx.query_one_value("SELECT COALESCE(MAX(version), 0) FROM schema_version")?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
        tx.batch(sql)?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&(index as i64 + 1)],
        )?;
    }
    tx.commit()
}

impl PgConn {
    /// The first column of the first row of a query without parameters.
    fn query_one_value(&mut self, sql: &str) -> DbResult<i64> {
        let row = self.client.query_one(sql, &[]).map_err(|e| self.note(e))?;
        Ok(row.try_get(0)?)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_schema_file_is_a_migration() {
        let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src/db/postgres"))
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
            super::MIGRATIONS.len(),
            "a schema_*.sql file is not listed in MIGRATIONS"
        );
    }
}
