//! The audit trail in SQLite, and the payment anomalies kept in it (each once per invoice).

use rusqlite::params;

use super::sqlite::SqliteDb;
use super::{Anomaly, DbResult, now};
use crate::contract::AuditEntry;
use crate::tenant::TenantId;

impl super::AuditStore for SqliteDb {
    fn audit(&self, tenant: &TenantId, entries: &[AuditEntry]) -> DbResult<()> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let at = now();
        for e in entries {
            // An anomaly already kept is not kept again (`audit_log_one_anomaly`).
            tx.prepare_cached("INSERT INTO audit_log (tenant_id, at, invoice_id, action, reason, amount, currency) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING")?.execute(
                params![
                    tenant.as_str(),
                    at,
                    e.invoice_id,
                    e.action,
                    e.reason,
                    e.amount.as_ref().map(|m| m.amount),
                    e.amount.as_ref().map(|m| m.currency.clone())
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn anomalies(&self, tenant: &TenantId, invoice_id: i64) -> DbResult<Vec<Anomaly>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT at, reason FROM audit_log WHERE tenant_id = ?1 AND invoice_id = ?2 AND action = 'anomaly' ORDER BY id",
        )?;
        let rows = stmt
            .query_map(params![tenant.as_str(), invoice_id], |r| {
                let reason: String = r.get(1)?;
                Ok(Anomaly {
                    payment_id: paydesk_plugin::domain::settlement::payment_of_reason(&reason),
                    reason,
                    at: r.get(0)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}
