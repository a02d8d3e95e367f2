//! The tenant's email templates in PostgreSQL.

use super::{PgDb, to_u32};
use crate::contract::EmailTemplate;
use crate::db::{DbError, DbResult, TemplateStore};
use crate::tenant::TenantId;

impl TemplateStore for PgDb {
    fn email_template(&self, tenant: &TenantId, id: u32) -> DbResult<EmailTemplate> {
        let row = self
            .conn()?
            .query_opt(
                "SELECT id, name, subject, body FROM email_templates WHERE tenant_id = $1 AND id = $2",
                &[&tenant.as_str(), &i64::from(id)],
            )?
            .ok_or_else(|| DbError::NotFound(format!("email template {id}")))?;
        Ok(EmailTemplate {
            id: to_u32(row.try_get(0)?),
            name: row.try_get(1)?,
            subject: row.try_get(2)?,
            body: row.try_get(3)?,
        })
    }

    fn save_email_template(&self, tenant: &TenantId, t: &EmailTemplate) -> DbResult<()> {
        let changed = self.conn()?.execute(
            "UPDATE email_templates SET name = $3, subject = $4, body = $5 WHERE tenant_id = $1 AND id = $2",
            &[&tenant.as_str(), &i64::from(t.id), &t.name, &t.subject, &t.body],
        )?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("email template {}", t.id)));
        }
        Ok(())
    }
}
