//! The tenant's email templates in SQLite.

use rusqlite::{OptionalExtension, params};

use super::sqlite::SqliteDb;
use super::{DbError, DbResult};
use crate::contract::EmailTemplate;
use crate::tenant::TenantId;

impl super::TemplateStore for SqliteDb {
    fn email_template(&self, tenant: &TenantId, id: u32) -> DbResult<EmailTemplate> {
        self.conn()?
            .prepare_cached("SELECT id, name, subject, body FROM email_templates WHERE tenant_id = ?1 AND id = ?2")?.query_row(
                params![tenant.as_str(), id],
                |r| {
                    Ok(EmailTemplate {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        subject: r.get(2)?,
                        body: r.get(3)?,
                    })
                },
            )
            .optional()?
            .ok_or_else(|| DbError::NotFound(format!("email template {id}")))
    }

    fn save_email_template(&self, tenant: &TenantId, t: &EmailTemplate) -> DbResult<()> {
        let changed = self.conn()?.prepare_cached("UPDATE email_templates SET name = ?3, subject = ?4, body = ?5 WHERE tenant_id = ?1 AND id = ?2")?.execute(
            params![tenant.as_str(), t.id, t.name, t.subject, t.body],
        )?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("email template {}", t.id)));
        }
        Ok(())
    }
}
