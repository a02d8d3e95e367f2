//! The lifecycle of agents, portal users and API tokens in SQLite: disabling a person (and enabling
//! them again), removing one, listing and revoking tokens. Disabling or removing ends the person's
//! sessions and revokes their tokens in the same transaction, so nothing they held works a moment
//! longer, on any host.

use rusqlite::{Transaction, TransactionBehavior, params};

use super::sqlite::SqliteDb;
use super::{DbError, DbResult, PeopleStore, Person, TokenInfo, now};
use crate::tenant::TenantId;

fn table_and_column(person: Person) -> (&'static str, &'static str, i64) {
    match person {
        Person::Agent(id) => ("agents", "agent_id", id),
        Person::User(id) => ("users", "user_id", id),
    }
}

/// End every session and revoke every token of `person`.
fn cut_off(tx: &Transaction<'_>, tenant: &TenantId, person: Person, at: i64) -> DbResult<()> {
    let (_, column, id) = table_and_column(person);
    tx.prepare_cached(&format!(
        "DELETE FROM sessions WHERE tenant_id = ?1 AND {column} = ?2"
    ))?
    .execute(params![tenant.as_str(), id])?;
    tx.prepare_cached(&format!(
        "UPDATE api_tokens SET revoked_at = ?3 WHERE tenant_id = ?1 AND {column} = ?2 AND revoked_at IS NULL"
    ))?
    .execute(params![tenant.as_str(), id, at])?;
    Ok(())
}

impl PeopleStore for SqliteDb {
    fn set_disabled(&self, tenant: &TenantId, person: Person, disabled: bool) -> DbResult<()> {
        let (table, _, id) = table_and_column(person);
        let at = now();
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = tx
            .prepare_cached(&format!(
                "UPDATE {table} SET disabled_at = ?3 WHERE tenant_id = ?1 AND id = ?2"
            ))?
            .execute(params![tenant.as_str(), id, disabled.then_some(at)])?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("{} {id}", person.kind())));
        }
        if disabled {
            cut_off(&tx, tenant, person, at)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn remove_person(&self, tenant: &TenantId, person: Person) -> DbResult<()> {
        let (table, column, id) = table_and_column(person);
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.prepare_cached(&format!(
            "DELETE FROM sessions WHERE tenant_id = ?1 AND {column} = ?2"
        ))?
        .execute(params![tenant.as_str(), id])?;
        tx.prepare_cached(&format!(
            "DELETE FROM api_tokens WHERE tenant_id = ?1 AND {column} = ?2"
        ))?
        .execute(params![tenant.as_str(), id])?;
        if let Person::User(_) = person {
            // Their invoices stay, addressed to nobody; payment records keep who started them.
            for t in ["invoices", "recurring_invoices"] {
                tx.prepare_cached(&format!(
                    "UPDATE {t} SET user_id = NULL WHERE tenant_id = ?1 AND user_id = ?2"
                ))?
                .execute(params![tenant.as_str(), id])?;
            }
        }
        let changed = tx
            .prepare_cached(&format!(
                "DELETE FROM {table} WHERE tenant_id = ?1 AND id = ?2"
            ))?
            .execute(params![tenant.as_str(), id])?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("{} {id}", person.kind())));
        }
        tx.commit()?;
        Ok(())
    }

    fn disabled_people(&self, tenant: &TenantId) -> DbResult<Vec<Person>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT 'agent', id FROM agents WHERE tenant_id = ?1 AND disabled_at IS NOT NULL
             UNION ALL SELECT 'user', id FROM users WHERE tenant_id = ?1 AND disabled_at IS NOT NULL",
        )?;
        let rows = stmt
            .query_map(params![tenant.as_str()], |r| {
                let (kind, id): (String, i64) = (r.get(0)?, r.get(1)?);
                Ok(if kind == "agent" {
                    Person::Agent(id)
                } else {
                    Person::User(id)
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn tokens(&self, tenant: &TenantId) -> DbResult<Vec<TokenInfo>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT t.id, t.label, t.agent_id, t.user_id, COALESCE(a.email, u.email, ''), t.created_at,
                    t.expires_at, t.revoked_at, t.last_used_at
             FROM api_tokens t LEFT JOIN agents a ON a.id = t.agent_id LEFT JOIN users u ON u.id = t.user_id
             WHERE t.tenant_id = ?1 ORDER BY t.id",
        )?;
        let rows = stmt
            .query_map(params![tenant.as_str()], |r| {
                let agent: Option<i64> = r.get(2)?;
                let user: Option<i64> = r.get(3)?;
                Ok(TokenInfo {
                    id: r.get(0)?,
                    label: r.get(1)?,
                    owner: match (agent, user) {
                        (Some(a), _) => Person::Agent(a),
                        (None, u) => Person::User(u.unwrap_or_default()),
                    },
                    owner_email: r.get(4)?,
                    created_at: r.get(5)?,
                    expires_at: r.get(6)?,
                    revoked_at: r.get(7)?,
                    last_used_at: r.get(8)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn revoke_token(&self, tenant: &TenantId, id: i64) -> DbResult<()> {
        let changed = self
            .conn()?
            .prepare_cached(
                "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?3) WHERE tenant_id = ?1 AND id = ?2",
            )?
            .execute(params![tenant.as_str(), id, now()])?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("token {id}")));
        }
        Ok(())
    }
}
