//! How several hosts on one PostgreSQL database share the work (see [`HostsStore`]): leases,
//! outbox messages taken for sending (`FOR UPDATE SKIP LOCKED`: two hosts taking messages at once
//! take different ones, neither waits) and Stripe's request spacing, each one statement. Times
//! are the database's clock, so the hosts' clocks needn't agree.

use super::PgDb;
use super::tenants::{OUTBOX_COLUMNS, outbox_row};
use crate::db::{Backlog, DbResult, HostsStore, OutboxMessage};
use crate::tenant::TenantId;

/// The database's clock in Unix seconds, in SQL.
const NOW: &str = "EXTRACT(EPOCH FROM statement_timestamp())::bigint";
/// The database's clock in Unix microseconds, in SQL.
const NOW_MICROS: &str = "(EXTRACT(EPOCH FROM statement_timestamp()) * 1000000)::bigint";

impl HostsStore for PgDb {
    fn take_lease(
        &self,
        tenant: &TenantId,
        work: &str,
        holder: &str,
        seconds: i64,
        even_if_finished: bool,
    ) -> DbResult<bool> {
        let changed = self.conn()?.execute(
            &format!(
                "INSERT INTO work_leases (tenant_id, work, holder, expires_at) VALUES ($1, $2, $3, {NOW} + $4)
                 ON CONFLICT (tenant_id, work) DO UPDATE
                     SET holder = excluded.holder, expires_at = excluded.expires_at, finished_at = NULL
                 WHERE (work_leases.holder = excluded.holder OR work_leases.expires_at <= {NOW})
                   AND (work_leases.finished_at IS NULL OR $5)"
            ),
            &[&tenant.as_str(), &work, &holder, &seconds, &even_if_finished],
        )?;
        Ok(changed == 1)
    }

    fn renew_lease(
        &self,
        tenant: &TenantId,
        work: &str,
        holder: &str,
        seconds: i64,
    ) -> DbResult<bool> {
        let changed = self.conn()?.execute(
            &format!(
                "UPDATE work_leases SET expires_at = {NOW} + $4
                 WHERE tenant_id = $1 AND work = $2 AND holder = $3 AND finished_at IS NULL"
            ),
            &[&tenant.as_str(), &work, &holder, &seconds],
        )?;
        Ok(changed == 1)
    }

    fn finish_lease(&self, tenant: &TenantId, work: &str, holder: &str) -> DbResult<()> {
        self.conn()?.execute(
            &format!(
                "UPDATE work_leases SET finished_at = {NOW}, expires_at = {NOW}
                 WHERE tenant_id = $1 AND work = $2 AND holder = $3"
            ),
            &[&tenant.as_str(), &work, &holder],
        )?;
        // Days long done are forgotten (a finished day is kept a month, for the scheduler).
        self.conn()?.execute(
            &format!("DELETE FROM work_leases WHERE tenant_id = $1 AND finished_at < {NOW} - $2"),
            &[&tenant.as_str(), &crate::db::hosts::KEEP_FINISHED_SECONDS],
        )?;
        Ok(())
    }

    fn take_emails(&self, holder: &str, limit: u32, seconds: i64) -> DbResult<Vec<OutboxMessage>> {
        let mut rows = self
            .conn()?
            .query(
                &format!(
                    "UPDATE email_outbox SET claimed_by = $1, claimed_until = {NOW} + $2
                     WHERE id IN (SELECT id FROM email_outbox
                                  WHERE status = 'queued' AND (claimed_until IS NULL OR claimed_until <= {NOW})
                                  ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
                     RETURNING {OUTBOX_COLUMNS}"
                ),
                &[&holder, &seconds, &i64::from(limit)],
            )?
            .iter()
            .map(outbox_row)
            .collect::<DbResult<Vec<_>>>()?;
        rows.sort_by_key(|m| m.id);
        Ok(rows)
    }

    fn take_request_turn(&self, account: &str, interval_micros: i64) -> DbResult<i64> {
        let row = self.conn()?.query_opt(
            &format!(
                "INSERT INTO stripe_pacing (account, next_at) VALUES ($1, {NOW_MICROS} + $2)
                 ON CONFLICT (account) DO UPDATE SET next_at = GREATEST(stripe_pacing.next_at, {NOW_MICROS}) + $2
                 RETURNING next_at - $2 - {NOW_MICROS}"
            ),
            &[&account, &interval_micros],
        )?;
        Ok(match row {
            Some(r) => r.try_get::<_, i64>(0)?.max(0),
            None => 0,
        })
    }

    fn backlog(&self) -> DbResult<Backlog> {
        let row = self.conn()?.query_opt(
            "SELECT (SELECT COUNT(*) FROM email_outbox WHERE status = 'queued'),
                    (SELECT COUNT(*) FROM invoice_payments
                      WHERE status IN ('requires_payment_method', 'requires_action', 'processing')
                        AND NOT opened_before_claims)",
            &[],
        )?;
        // Always one row: two counts.
        let Some(row) = row else {
            return Ok(Backlog::default());
        };
        Ok(Backlog {
            queued_emails: row.try_get(0)?,
            open_payments: row.try_get(1)?,
        })
    }
}
