//! The audit trail in PostgreSQL, and the payment anomalies kept in it (each once per invoice).

use super::{Begin, PgDb};
use crate::contract::AuditEntry;
use crate::db::{Anomaly, AuditStore, DbResult, now};
use crate::tenant::TenantId;

impl AuditStore for PgDb {
    fn audit(&self, tenant: &TenantId, entries: &[AuditEntry]) -> DbResult<()> {
        let at = now();
        self.tx(Begin::Write, |tx| {
            for e in entries {
                // An anomaly already kept is not kept again (`audit_log_one_anomaly`).
                tx.execute(
                    "INSERT INTO audit_log (tenant_id, at, invoice_id, action, reason, amount, currency)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                    &[
                        &tenant.as_str(),
                        &at,
                        &e.invoice_id,
                        &e.action,
                        &e.reason,
                        &e.amount.as_ref().map(|m| m.amount),
                        &e.amount.as_ref().map(|m| m.currency.clone()),
                    ],
                )?;
            }
            Ok(())
        })
    }

    fn anomalies(&self, tenant: &TenantId, invoice_id: i64) -> DbResult<Vec<Anomaly>> {
        self.conn()?
            .query(
                "SELECT at, reason FROM audit_log WHERE tenant_id = $1 AND invoice_id = $2 AND action = 'anomaly' ORDER BY id",
                &[&tenant.as_str(), &invoice_id],
            )?
            .iter()
            .map(|r| {
                let reason: String = r.try_get(1)?;
                Ok(Anomaly {
                    payment_id: paydesk_plugin::domain::settlement::payment_of_reason(&reason),
                    reason,
                    at: r.try_get(0)?,
                })
            })
            .collect()
    }
}
