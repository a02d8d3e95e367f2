//! Tenants (settings, write-only secrets, autopay run status), their seeded email templates, and
//! the email outbox, in SQLite.

use rusqlite::{OptionalExtension, params};

use super::sqlite::{SqliteDb, conflict_on_unique};
use super::{
    DbError, DbResult, LimitsStore, NewEmail, OutboxMessage, OutboxStore, Tenant, TenantStore, now,
};
use crate::limits::{LimitKind, TenantLimits};
use crate::settings::TenantSettings;
use crate::tenant::{Secret, TenantId};
use paydesk_plugin::domain::{card_expiry, refunds};

/// The templates every tenant starts with (the guide's ids, the expiring card reminder's 286 and
/// the refund confirmation's 287; tenants made before them got them from the schema's versions 12
/// and 15).
pub(super) const SEEDED_TEMPLATES: &[(u32, &str, &str, &str)] = &[
    (
        264,
        "Stripe Payment Confirmation",
        "Payment received for invoice $INVOICENUMBER",
        "<p>Dear $CUSTOMERNAME,</p>\n<p>Thank you: we received $TOTAL for invoice $INVOICENUMBER \
         ($AMOUNT plus a processing fee of $FEE), paid with $PAYMENTMETHOD.</p>",
    ),
    (
        285,
        "Stripe Payment Failure",
        "Payment failed for invoice $INVOICENUMBER",
        "<p>Dear $CUSTOMERNAME,</p>\n<p>The payment of $TOTAL for invoice $INVOICENUMBER with \
         $PAYMENTMETHOD did not go through: $FAILUREREASON</p>\n<p>$PORTALLINK</p>",
    ),
    (
        card_expiry::TEMPLATE_ID,
        card_expiry::TEMPLATE_NAME,
        card_expiry::TEMPLATE_SUBJECT,
        card_expiry::TEMPLATE_BODY,
    ),
    (
        refunds::TEMPLATE_ID,
        refunds::TEMPLATE_NAME,
        refunds::TEMPLATE_SUBJECT,
        refunds::TEMPLATE_BODY,
    ),
];

fn with_settings((mut tenant, json): (Tenant, String)) -> DbResult<Tenant> {
    tenant.settings = serde_json::from_str(&json)
        .map_err(|e| DbError::Invalid(format!("stored settings of tenant {}: {e}", tenant.id)))?;
    Ok(tenant)
}

const TENANT_COLUMNS: &str = "id, name, settings, invoice_mailbox, stripe_secret_key IS NOT NULL, \
     webhook_secret IS NOT NULL, autopay_last_run, autopay_last_error, limit_memory_bytes, \
     limit_fuel, limit_deadline_ms, limit_instances, limit_stripe_requests_per_second, plugin_sha256";

/// The columns of a tenant's own limits, in the order of [`limits_from`] and [`limit_values`].
pub(super) const LIMIT_COLUMNS: [(&str, LimitKind); 5] = [
    ("limit_memory_bytes", LimitKind::Memory),
    ("limit_fuel", LimitKind::Fuel),
    ("limit_deadline_ms", LimitKind::Deadline),
    ("limit_instances", LimitKind::Instances),
    (
        "limit_stripe_requests_per_second",
        LimitKind::StripeRequestsPerSecond,
    ),
];

/// A tenant's limits from the five stored columns (NULL: unset).
pub(super) fn limits_from(v: [Option<i64>; 5]) -> TenantLimits {
    let u64_of = |x: Option<i64>| x.and_then(|x| u64::try_from(x).ok());
    let u32_of = |x: Option<i64>| x.and_then(|x| u32::try_from(x).ok());
    TenantLimits {
        memory_bytes: u64_of(v[0]),
        fuel: u64_of(v[1]),
        deadline_ms: u64_of(v[2]),
        instances: u32_of(v[3]),
        stripe_requests_per_second: u32_of(v[4]),
    }
}

/// The values of `set` to store, in [`LIMIT_COLUMNS`] order (`None`: keep the stored one).
pub(super) fn limit_values(set: &TenantLimits) -> DbResult<[Option<i64>; 5]> {
    let of = |x: Option<u64>, name: &str| {
        x.map(|x| {
            i64::try_from(x).map_err(|_| DbError::Invalid(format!("{name} limit {x} is too large")))
        })
        .transpose()
    };
    Ok([
        of(set.memory_bytes, "memory")?,
        of(set.fuel, "fuel")?,
        of(set.deadline_ms, "deadline")?,
        set.instances.map(i64::from),
        set.stripe_requests_per_second.map(i64::from),
    ])
}

/// `UPDATE tenants SET …` for [`LimitsStore::update_tenant_limits`]: each column cleared when its
/// clear flag is true, else set to the given value when there is one; parameters `$1` the tenant,
/// then a (clear, value) pair per column. `p` writes a parameter (`?n` or `$n`).
pub(super) fn update_limits_sql(p: impl Fn(usize) -> String, cast: &str) -> String {
    let sets: Vec<String> = LIMIT_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, (column, _))| {
            let (clear, value) = (p(2 + 2 * i), p(3 + 2 * i));
            format!(
                "{column} = CASE WHEN {clear} THEN NULL ELSE COALESCE({value}{cast}, {column}) END"
            )
        })
        .collect();
    let columns: Vec<&str> = LIMIT_COLUMNS.iter().map(|(c, _)| *c).collect();
    format!(
        "UPDATE tenants SET {} WHERE id = {} RETURNING {}",
        sets.join(", "),
        p(1),
        columns.join(", ")
    )
}

impl TenantStore for SqliteDb {
    fn create_tenant(&self, id: &TenantId, name: &str, invoice_mailbox: &str) -> DbResult<Tenant> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let settings = serde_json::to_string(&TenantSettings::default())
            .map_err(|e| DbError::Invalid(e.to_string()))?;
        tx.prepare_cached("INSERT INTO tenants (id, name, settings, invoice_mailbox, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")?.execute(
            params![id.as_str(), name, settings, invoice_mailbox, now()],
        )
        .map_err(|e| conflict_on_unique(e, &format!("tenant {id} exists")))?;
        for (tid, tname, subject, body) in SEEDED_TEMPLATES {
            tx.prepare_cached("INSERT INTO email_templates (tenant_id, id, name, subject, body) VALUES (?1, ?2, ?3, ?4, ?5)")?.execute(
                params![id.as_str(), tid, tname, subject, body],
            )?;
        }
        tx.commit()?;
        drop(conn);
        self.tenant(id)
    }

    fn tenant(&self, id: &TenantId) -> DbResult<Tenant> {
        let conn = self.conn()?;
        let row = conn
            .prepare_cached(&format!(
                "SELECT {TENANT_COLUMNS} FROM tenants WHERE id = ?1"
            ))?
            .query_row(params![id.as_str()], tenant_row)
            .optional()?
            .ok_or_else(|| DbError::NotFound(format!("tenant {id}")))?;
        with_settings(row)
    }

    fn tenant_with_key(&self, id: &TenantId) -> DbResult<(Tenant, Option<Secret>)> {
        let conn = self.conn()?;
        let (row, key) = conn
            .prepare_cached(&format!(
                "SELECT {TENANT_COLUMNS}, stripe_secret_key FROM tenants WHERE id = ?1"
            ))?
            .query_row(params![id.as_str()], |r| {
                Ok((tenant_row(r)?, r.get::<_, Option<String>>(14)?))
            })
            .optional()?
            .ok_or_else(|| DbError::NotFound(format!("tenant {id}")))?;
        Ok((with_settings(row)?, key.map(Secret::new)))
    }

    fn tenants(&self) -> DbResult<Vec<Tenant>> {
        let conn = self.conn()?;
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY id"))?;
        let rows = stmt
            .query_map([], tenant_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(with_settings).collect()
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
        let conn = self.conn()?;
        let changed = match secret_key {
            Some(key) => conn
                .prepare_cached(
                    "UPDATE tenants SET settings = ?2, stripe_secret_key = ?3 WHERE id = ?1",
                )?
                .execute(params![id.as_str(), json, key.expose()])?,
            None => conn
                .prepare_cached("UPDATE tenants SET settings = ?2 WHERE id = ?1")?
                .execute(params![id.as_str(), json])?,
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
        self.conn()?
            .prepare_cached("UPDATE tenants SET webhook_secret = ?2 WHERE id = ?1")?
            .execute(params![id.as_str(), secret.expose()])?;
        Ok(())
    }

    fn webhook_secret(&self, id: &TenantId) -> DbResult<Option<Secret>> {
        secret_column(self, id, "webhook_secret")
    }

    fn record_autopay_run(&self, id: &TenantId, at: i64, error: Option<&str>) -> DbResult<()> {
        self.conn()?
            .prepare_cached(
                "UPDATE tenants SET autopay_last_run = ?2, autopay_last_error = ?3 WHERE id = ?1",
            )?
            .execute(params![id.as_str(), at, error])?;
        Ok(())
    }
}

/// A row of `TENANT_COLUMNS`, with the settings JSON still to parse.
fn tenant_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Tenant, String)> {
    let id: String = row.get(0)?;
    Ok((
        Tenant {
            id: TenantId::parse(&id).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
            })?,
            name: row.get(1)?,
            settings: TenantSettings::default(),
            invoice_mailbox: row.get(3)?,
            has_secret_key: row.get(4)?,
            has_webhook_secret: row.get(5)?,
            autopay_last_run: row.get(6)?,
            autopay_last_error: row.get(7)?,
            limits: limits_from([
                row.get(8)?,
                row.get(9)?,
                row.get(10)?,
                row.get(11)?,
                row.get(12)?,
            ]),
            plugin: row.get(13)?,
        },
        row.get(2)?,
    ))
}

impl LimitsStore for SqliteDb {
    fn update_tenant_limits(
        &self,
        id: &TenantId,
        set: &TenantLimits,
        clear: &[LimitKind],
    ) -> DbResult<TenantLimits> {
        let values = limit_values(set)?;
        let mut args: Vec<Box<dyn rusqlite::ToSql>> = vec![Box::new(id.as_str().to_string())];
        for ((_, kind), value) in LIMIT_COLUMNS.iter().zip(values) {
            args.push(Box::new(clear.contains(kind)));
            args.push(Box::new(value));
        }
        let conn = self.conn()?;
        let stored = conn
            .prepare_cached(&update_limits_sql(|n| format!("?{n}"), ""))?
            .query_row(rusqlite::params_from_iter(args.iter()), |r| {
                Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?])
            })
            .optional()?
            .ok_or_else(|| DbError::NotFound(format!("tenant {id}")))?;
        Ok(limits_from(stored))
    }
}

fn secret_column(db: &SqliteDb, id: &TenantId, column: &str) -> DbResult<Option<Secret>> {
    let value: Option<Option<String>> = db
        .conn()?
        .prepare_cached(&format!("SELECT {column} FROM tenants WHERE id = ?1"))?
        .query_row(params![id.as_str()], |r| r.get(0))
        .optional()?;
    match value {
        None => Err(DbError::NotFound(format!("tenant {id}"))),
        Some(v) => Ok(v.map(Secret::new)),
    }
}

pub(super) fn outbox_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxMessage> {
    let list = |i: usize| -> rusqlite::Result<Vec<String>> {
        let s: String = row.get(i)?;
        Ok(serde_json::from_str(&s).unwrap_or_default())
    };
    Ok(OutboxMessage {
        id: row.get(0)?,
        tenant_id: row.get(1)?,
        from: row.get(2)?,
        to: list(3)?,
        cc: list(4)?,
        subject: row.get(5)?,
        html: row.get(6)?,
        text: row.get(7)?,
        status: row.get(8)?,
        attempts: row.get(9)?,
        last_error: row.get(10)?,
        dedup_key: row.get(11)?,
    })
}

pub(super) const OUTBOX_COLUMNS: &str = "id, tenant_id, from_addr, to_addrs, cc_addrs, subject, html, text, status, attempts, last_error, dedup_key";

impl OutboxStore for SqliteDb {
    fn enqueue_email(&self, tenant: &TenantId, from: &str, email: &NewEmail) -> DbResult<bool> {
        let json = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
        let inserted = self.conn()?.prepare_cached("INSERT INTO email_outbox (tenant_id, dedup_key, from_addr, to_addrs, cc_addrs, subject, html, text, status, last_error, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, CASE WHEN ?9 IS NULL THEN 'queued' ELSE 'failed' END, ?9, ?10)
             ON CONFLICT (tenant_id, dedup_key) DO NOTHING")?.execute(
            params![
                tenant.as_str(),
                email.dedup_key,
                from,
                json(&email.to),
                json(&email.cc),
                email.subject,
                email.html,
                email.text,
                email.undeliverable,
                now()
            ],
        )?;
        Ok(inserted == 1)
    }

    fn queued_emails(&self, limit: u32) -> DbResult<Vec<OutboxMessage>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM email_outbox WHERE status = 'queued' ORDER BY id LIMIT ?1"
        ))?;
        let rows = stmt
            .query_map(params![limit], outbox_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn mark_email(&self, id: i64, sent: bool, error: Option<&str>) -> DbResult<()> {
        self.conn()?.prepare_cached("UPDATE email_outbox SET attempts = attempts + 1, last_error = ?3,
                 claimed_by = NULL, claimed_until = NULL,
                 status = CASE WHEN ?2 THEN 'sent' WHEN attempts + 1 >= 5 THEN 'failed' ELSE 'queued' END,
                 sent_at = CASE WHEN ?2 THEN ?4 ELSE NULL END
             WHERE id = ?1")?.execute(
            params![id, sent, error, now()],
        )?;
        Ok(())
    }

    fn emails(&self, tenant: &TenantId, limit: u32) -> DbResult<Vec<OutboxMessage>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM email_outbox WHERE tenant_id = ?1 ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = stmt
            .query_map(params![tenant.as_str(), limit], outbox_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn emails_with_key_prefix(
        &self,
        tenant: &TenantId,
        prefix: &str,
    ) -> DbResult<Vec<OutboxMessage>> {
        // A range on the unique (tenant_id, dedup_key) index, not LIKE: no wildcards to escape.
        let mut end = prefix.to_string();
        end.push(char::MAX);
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM email_outbox
             WHERE tenant_id = ?1 AND dedup_key >= ?2 AND dedup_key < ?3 ORDER BY id LIMIT 100"
        ))?;
        let rows = stmt
            .query_map(params![tenant.as_str(), prefix, end], outbox_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}
