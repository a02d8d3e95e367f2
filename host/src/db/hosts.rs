//! How several processes on one SQLite file share the work (see [`HostsStore`]): leases, outbox
//! messages taken for sending and Stripe's request spacing, each one statement (SQLite runs one
//! writer at a time; the statement decides and writes at once).

use rusqlite::{OptionalExtension, params};

use super::sqlite::SqliteDb;
use super::tenants::{OUTBOX_COLUMNS, outbox_row};
use super::{Backlog, DbResult, HostsStore, OutboxMessage, now};
use crate::tenant::TenantId;

/// How long a finished lease is kept.
pub(super) const KEEP_FINISHED_SECONDS: i64 = 31 * 86_400;

/// Now in Unix microseconds.
fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

impl HostsStore for SqliteDb {
    fn take_lease(
        &self,
        tenant: &TenantId,
        work: &str,
        holder: &str,
        seconds: i64,
        even_if_finished: bool,
    ) -> DbResult<bool> {
        let at = now();
        let changed = self
            .conn()?
            .prepare_cached(
                "INSERT INTO work_leases (tenant_id, work, holder, expires_at) VALUES (?1, ?2, ?3, ?4 + ?5)
                 ON CONFLICT (tenant_id, work) DO UPDATE
                     SET holder = excluded.holder, expires_at = excluded.expires_at, finished_at = NULL
                 WHERE (work_leases.holder = excluded.holder OR work_leases.expires_at <= ?4)
                   AND (work_leases.finished_at IS NULL OR ?6)",
            )?
            .execute(params![tenant.as_str(), work, holder, at, seconds, even_if_finished])?;
        Ok(changed == 1)
    }

    fn renew_lease(
        &self,
        tenant: &TenantId,
        work: &str,
        holder: &str,
        seconds: i64,
    ) -> DbResult<bool> {
        let changed = self
            .conn()?
            .prepare_cached(
                "UPDATE work_leases SET expires_at = ?4 + ?5
                 WHERE tenant_id = ?1 AND work = ?2 AND holder = ?3 AND finished_at IS NULL",
            )?
            .execute(params![tenant.as_str(), work, holder, now(), seconds])?;
        Ok(changed == 1)
    }

    fn finish_lease(&self, tenant: &TenantId, work: &str, holder: &str) -> DbResult<()> {
        let at = now();
        self.conn()?
            .prepare_cached(
                "UPDATE work_leases SET finished_at = ?4, expires_at = ?4
                 WHERE tenant_id = ?1 AND work = ?2 AND holder = ?3",
            )?
            .execute(params![tenant.as_str(), work, holder, at])?;
        // Days long done are forgotten (a finished day is kept a month, for the scheduler).
        self.conn()?
            .prepare_cached("DELETE FROM work_leases WHERE tenant_id = ?1 AND finished_at < ?2")?
            .execute(params![tenant.as_str(), at - KEEP_FINISHED_SECONDS])?;
        Ok(())
    }

    fn take_emails(&self, holder: &str, limit: u32, seconds: i64) -> DbResult<Vec<OutboxMessage>> {
        let at = now();
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(&format!(
            "UPDATE email_outbox SET claimed_by = ?1, claimed_until = ?2 + ?3
             WHERE id IN (SELECT id FROM email_outbox
                          WHERE status = 'queued' AND (claimed_until IS NULL OR claimed_until <= ?2)
                          ORDER BY id LIMIT ?4)
             RETURNING {OUTBOX_COLUMNS}"
        ))?;
        let mut rows = stmt
            .query_map(params![holder, at, seconds, limit], outbox_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.sort_by_key(|m| m.id);
        Ok(rows)
    }

    fn take_request_turn(&self, account: &str, interval_micros: i64) -> DbResult<i64> {
        let at = now_micros();
        let slot: Option<i64> = self
            .conn()?
            .prepare_cached(
                "INSERT INTO stripe_pacing (account, next_at) VALUES (?1, ?2 + ?3)
                 ON CONFLICT (account) DO UPDATE SET next_at = MAX(stripe_pacing.next_at, ?2) + ?3
                 RETURNING next_at - ?3",
            )?
            .query_row(params![account, at, interval_micros], |r| r.get(0))
            .optional()?;
        Ok(slot.map_or(0, |s| (s - at).max(0)))
    }

    fn backlog(&self) -> DbResult<Backlog> {
        let (queued_emails, open_payments) = self
            .conn()?
            .prepare_cached(&format!("SELECT ({QUEUED_EMAILS}), ({OPEN_PAYMENTS})"))?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(Backlog {
            queued_emails,
            open_payments,
        })
    }
}

/// Counts for [`HostsStore::backlog`], each answered from an index.
const QUEUED_EMAILS: &str = "SELECT COUNT(*) FROM email_outbox WHERE status = 'queued'";
const OPEN_PAYMENTS: &str = "SELECT COUNT(*) FROM invoice_payments
     WHERE status IN ('requires_payment_method', 'requires_action', 'processing')
       AND opened_before_claims = 0";
