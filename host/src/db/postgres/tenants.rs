//! Tenants (settings, write-only secrets, autopay run status), their seeded email templates, and
//! the email outbox, in PostgreSQL.

use postgres::Row;

use super::{Begin, PgDb, conflict_on_unique, to_u32};
use crate::db::tenants::{
    LIMIT_COLUMNS, SEEDED_TEMPLATES, limit_values, limits_from, update_limits_sql,
};
use crate::db::{
    DbError, DbResult, LimitsStore, NewEmail, OutboxMessage, OutboxStore, Tenant, TenantStore, now,
};
use crate::limits::{LimitKind, TenantLimits};
use crate::settings::TenantSettings;
use crate::tenant::{Secret, TenantId};

const TENANT_COLUMNS: &str = "id, name, settings, invoice_mailbox, stripe_secret_key IS NOT NULL, \
     webhook_secret IS NOT NULL, autopay_last_run, autopay_last_error, limit_memory_bytes, \
     limit_fuel, limit_deadline_ms, limit_instances, limit_stripe_requests_per_second, plugin_sha256";

/// A row of `TENANT_COLUMNS`, its settings parsed.
fn tenant_row(row: &Row) -> DbResult<Tenant> {
    let id: String = row.try_get(0)?;
    let id = TenantId::parse(&id).map_err(DbError::Invalid)?;
    let json: String = row.try_get(2)?;
    let settings = serde_json::from_str(&json)
        .map_err(|e| DbError::Invalid(format!("stored settings of tenant {id}: {e}")))?;
    Ok(Tenant {
        id,
        name: row.try_get(1)?,
        settings,
        invoice_mailbox: row.try_get(3)?,
        has_secret_key: row.try_get(4)?,
        has_webhook_secret: row.try_get(5)?,
        autopay_last_run: row.try_get(6)?,
        autopay_last_error: row.try_get(7)?,
        limits: limits_from([
            row.try_get(8)?,
            row.try_get(9)?,
            row.try_get(10)?,
            row.try_get(11)?,
            row.try_get(12)?,
        ]),
        plugin: row.try_get(13)?,
    })
}

impl LimitsStore for PgDb {
    fn update_tenant_limits(
        &self,
        id: &TenantId,
        set: &TenantLimits,
        clear: &[LimitKind],
    ) -> DbResult<TenantLimits> {
        let values = limit_values(set)?;
        let flags: Vec<bool> = LIMIT_COLUMNS
            .iter()
            .map(|(_, kind)| clear.contains(kind))
            .collect();
        let tenant = id.as_str();
        let mut args: Vec<&(dyn postgres::types::ToSql + Sync)> = vec![&tenant];
        for (flag, value) in flags.iter().zip(values.iter()) {
            args.push(flag);
            args.push(value);
        }
        let row = self
            .conn()?
            .query_opt(&update_limits_sql(|n| format!("${n}"), "::bigint"), &args)?
            .ok_or_else(|| DbError::NotFound(format!("tenant {id}")))?;
        Ok(limits_from([
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
            row.try_get(4)?,
        ]))
    }
}

fn secret_column(db: &PgDb, id: &TenantId, column: &str) -> DbResult<Option<Secret>> {
    let row = db
        .conn()?
        .query_opt(
            &format!("SELECT {column} FROM tenants WHERE id = $1"),
            &[&id.as_str()],
        )?
        .ok_or_else(|| DbError::NotFound(format!("tenant {id}")))?;
    Ok(row.try_get::<_, Option<String>>(0)?.map(Secret::new))
}

impl TenantStore for PgDb {
    fn create_tenant(&self, id: &TenantId, name: &str, invoice_mailbox: &str) -> DbResult<Tenant> {
        let settings = serde_json::to_string(&TenantSettings::default())
            .map_err(|e| DbError::Invalid(e.to_string()))?;
        self.tx(Begin::Write, |tx| {
            tx.execute(
                "INSERT INTO tenants (id, name, settings, invoice_mailbox, created_at) VALUES ($1, $2, $3, $4, $5)",
                &[&id.as_str(), &name, &settings, &invoice_mailbox, &now()],
            )
            .map_err(|e| conflict_on_unique(e, &format!("tenant {id} exists")))?;
            for (tid, tname, subject, body) in SEEDED_TEMPLATES {
                tx.execute(
                    "INSERT INTO email_templates (tenant_id, id, name, subject, body) VALUES ($1, $2, $3, $4, $5)",
                    &[&id.as_str(), &i64::from(*tid), tname, subject, body],
                )?;
            }
            Ok(())
        })?;
        self.tenant(id)
    }

    fn tenant(&self, id: &TenantId) -> DbResult<Tenant> {
        let row = self
            .conn()?
            .query_opt(
                &format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1"),
                &[&id.as_str()],
            )?
            .ok_or_else(|| DbError::NotFound(format!("tenant {id}")))?;
        tenant_row(&row)
    }

    fn tenant_with_key(&self, id: &TenantId) -> DbResult<(Tenant, Option<Secret>)> {
        let row = self
            .conn()?
            .query_opt(
                &format!("SELECT {TENANT_COLUMNS}, stripe_secret_key FROM tenants WHERE id = $1"),
                &[&id.as_str()],
            )?
            .ok_or_else(|| DbError::NotFound(format!("tenant {id}")))?;
        let key: Option<String> = row.try_get(14)?;
        Ok((tenant_row(&row)?, key.map(Secret::new)))
    }

    fn tenants(&self) -> DbResult<Vec<Tenant>> {
        self.conn()?
            .query(
                &format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY id"),
                &[],
            )?
            .iter()
            .map(tenant_row)
            .collect()
    }

    fn save_settings(&self, id: &TenantId, settings: &TenantSettings) -> DbResult<()> {
        self.save_settings_and_key(id, settings, None)
    }

    fn save_settings_and_key(
        &self,
        id: &TenantId,
        settings: &TenantSettings,
        secret_key: Option<&Secret>,
    ) -> DbResult<()> {
        let json = serde_json::to_string(settings).map_err(|e| DbError::Invalid(e.to_string()))?;
        let mut conn = self.conn()?;
        let changed = match secret_key {
            Some(key) => conn.execute(
                "UPDATE tenants SET settings = $2, stripe_secret_key = $3 WHERE id = $1",
                &[&id.as_str(), &json, &key.expose()],
            )?,
            None => conn.execute(
                "UPDATE tenants SET settings = $2 WHERE id = $1",
                &[&id.as_str(), &json],
            )?,
        };
        if changed == 0 {
            return Err(DbError::NotFound(format!("tenant {id}")));
        }
        Ok(())
    }

    fn secret_key(&self, id: &TenantId) -> DbResult<Option<Secret>> {
        secret_column(self, id, "stripe_secret_key")
    }

    fn set_webhook_secret(&self, id: &TenantId, secret: &Secret) -> DbResult<()> {
        self.conn()?.execute(
            "UPDATE tenants SET webhook_secret = $2 WHERE id = $1",
            &[&id.as_str(), &secret.expose()],
        )?;
        Ok(())
    }

    fn webhook_secret(&self, id: &TenantId) -> DbResult<Option<Secret>> {
        secret_column(self, id, "webhook_secret")
    }

    fn record_autopay_run(&self, id: &TenantId, at: i64, error: Option<&str>) -> DbResult<()> {
        self.conn()?.execute(
            "UPDATE tenants SET autopay_last_run = $2, autopay_last_error = $3 WHERE id = $1",
            &[&id.as_str(), &at, &error],
        )?;
        Ok(())
    }
}

pub(super) fn outbox_row(row: &Row) -> DbResult<OutboxMessage> {
    let list = |i: usize| -> DbResult<Vec<String>> {
        let s: String = row.try_get(i)?;
        Ok(serde_json::from_str(&s).unwrap_or_default())
    };
    Ok(OutboxMessage {
        id: row.try_get(0)?,
        tenant_id: row.try_get(1)?,
        from: row.try_get(2)?,
        to: list(3)?,
        cc: list(4)?,
        subject: row.try_get(5)?,
        html: row.try_get(6)?,
        text: row.try_get(7)?,
        status: row.try_get(8)?,
        attempts: to_u32(row.try_get(9)?),
        last_error: row.try_get(10)?,
        dedup_key: row.try_get(11)?,
    })
}

pub(super) const OUTBOX_COLUMNS: &str = "id, tenant_id, from_addr, to_addrs, cc_addrs, subject, html, text, status, attempts, last_error, dedup_key";

impl OutboxStore for PgDb {
    fn enqueue_email(&self, tenant: &TenantId, from: &str, email: &NewEmail) -> DbResult<bool> {
        let json = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
        let inserted = self.conn()?.execute(
            "INSERT INTO email_outbox (tenant_id, dedup_key, from_addr, to_addrs, cc_addrs, subject, html, text, status, last_error, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $9::text IS NULL THEN 'queued' ELSE 'failed' END, $9::text, $10)
             ON CONFLICT (tenant_id, dedup_key) DO NOTHING",
            &[
                &tenant.as_str(),
                &email.dedup_key,
                &from,
                &json(&email.to),
                &json(&email.cc),
                &email.subject,
                &email.html,
                &email.text,
                &email.undeliverable,
                &now(),
            ],
        )?;
        Ok(inserted == 1)
    }

    fn queued_emails(&self, limit: u32) -> DbResult<Vec<OutboxMessage>> {
        self.conn()?
            .query(
                &format!(
                    "SELECT {OUTBOX_COLUMNS} FROM email_outbox WHERE status = 'queued' ORDER BY id LIMIT $1"
                ),
                &[&i64::from(limit)],
            )?
            .iter()
            .map(outbox_row)
            .collect()
    }

    fn mark_email(&self, id: i64, sent: bool, error: Option<&str>) -> DbResult<()> {
        self.conn()?.execute(
            "UPDATE email_outbox SET attempts = attempts + 1, last_error = $3,
                 claimed_by = NULL, claimed_until = NULL,
                 status = CASE WHEN $2::boolean THEN 'sent' WHEN attempts + 1 >= 5 THEN 'failed' ELSE 'queued' END,
                 sent_at = CASE WHEN $2::boolean THEN $4::bigint ELSE NULL END
             WHERE id = $1",
            &[&id, &sent, &error, &now()],
        )?;
        Ok(())
    }

    fn emails(&self, tenant: &TenantId, limit: u32) -> DbResult<Vec<OutboxMessage>> {
        self.conn()?
            .query(
                &format!(
                    "SELECT {OUTBOX_COLUMNS} FROM email_outbox WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2"
                ),
                &[&tenant.as_str(), &i64::from(limit)],
            )?
            .iter()
            .map(outbox_row)
            .collect()
    }

    fn emails_with_key_prefix(
        &self,
        tenant: &TenantId,
        prefix: &str,
    ) -> DbResult<Vec<OutboxMessage>> {
        // A range on the unique (tenant_id, dedup_key) index (collation "C"), then the prefix
        // itself: no LIKE, no wildcards to escape.
        self.conn()?
            .query(
                &format!(
                    "SELECT {OUTBOX_COLUMNS} FROM email_outbox
                     WHERE tenant_id = $1 AND dedup_key >= $2 AND starts_with(dedup_key, $2)
                     ORDER BY id LIMIT 100"
                ),
                &[&tenant.as_str(), &prefix],
            )?
            .iter()
            .map(outbox_row)
            .collect()
    }
}
