//! The lifecycle of agents, portal users and API tokens in PostgreSQL: disabling a person (and
//! enabling them again), removing one, listing and revoking tokens. Disabling or removing ends the
//! person's sessions and revokes their tokens in the same transaction, so nothing they held works
//! a moment longer, on any host.

use super::{Begin, PgConn, PgDb};
use crate::db::{DbError, DbResult, PeopleStore, Person, TokenInfo, now};
use crate::tenant::TenantId;

fn table_and_column(person: Person) -> (&'static str, &'static str, i64) {
    match person {
        Person::Agent(id) => ("agents", "agent_id", id),
        Person::User(id) => ("users", "user_id", id),
    }
}

/// End every session and revoke every token of `person`.
fn cut_off(conn: &mut PgConn, tenant: &TenantId, person: Person, at: i64) -> DbResult<()> {
    let (_, column, id) = table_and_column(person);
    conn.execute(
        &format!("DELETE FROM sessions WHERE tenant_id = $1 AND {column} = $2"),
        &[&tenant.as_str(), &id],
    )?;
    conn.execute(
        &format!(
            "UPDATE api_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND {column} = $2 AND revoked_at IS NULL"
        ),
        &[&tenant.as_str(), &id, &at],
    )?;
    Ok(())
}

impl PeopleStore for PgDb {
    fn set_disabled(&self, tenant: &TenantId, person: Person, disabled: bool) -> DbResult<()> {
        let (table, _, id) = table_and_column(person);
        let at = now();
        self.tx(Begin::Write, |tx| {
            let changed = tx.execute(
                &format!("UPDATE {table} SET disabled_at = $3 WHERE tenant_id = $1 AND id = $2"),
                &[&tenant.as_str(), &id, &disabled.then_some(at)],
            )?;
            if changed == 0 {
                return Err(DbError::NotFound(format!("{} {id}", person.kind())));
            }
            if disabled {
                cut_off(tx, tenant, person, at)?;
            }
            Ok(())
        })
    }

    fn remove_person(&self, tenant: &TenantId, person: Person) -> DbResult<()> {
        let (table, column, id) = table_and_column(person);
        self.tx(Begin::Write, |tx| {
            tx.execute(
                &format!("DELETE FROM sessions WHERE tenant_id = $1 AND {column} = $2"),
                &[&tenant.as_str(), &id],
            )?;
            tx.execute(
                &format!("DELETE FROM api_tokens WHERE tenant_id = $1 AND {column} = $2"),
                &[&tenant.as_str(), &id],
            )?;
            if let Person::User(_) = person {
                // Their invoices stay, addressed to nobody; payment records keep who started them.
                for t in ["invoices", "recurring_invoices"] {
                    tx.execute(
                        &format!(
                            "UPDATE {t} SET user_id = NULL WHERE tenant_id = $1 AND user_id = $2"
                        ),
                        &[&tenant.as_str(), &id],
                    )?;
                }
            }
            let changed = tx.execute(
                &format!("DELETE FROM {table} WHERE tenant_id = $1 AND id = $2"),
                &[&tenant.as_str(), &id],
            )?;
            if changed == 0 {
                return Err(DbError::NotFound(format!("{} {id}", person.kind())));
            }
            Ok(())
        })
    }

    fn disabled_people(&self, tenant: &TenantId) -> DbResult<Vec<Person>> {
        self.conn()?
            .query(
                "SELECT 'agent', id FROM agents WHERE tenant_id = $1 AND disabled_at IS NOT NULL
                 UNION ALL SELECT 'user', id FROM users WHERE tenant_id = $1 AND disabled_at IS NOT NULL",
                &[&tenant.as_str()],
            )?
            .iter()
            .map(|r| {
                let (kind, id): (String, i64) = (r.try_get(0)?, r.try_get(1)?);
                Ok(if kind == "agent" {
                    Person::Agent(id)
                } else {
                    Person::User(id)
                })
            })
            .collect()
    }

    fn tokens(&self, tenant: &TenantId) -> DbResult<Vec<TokenInfo>> {
        self.conn()?
            .query(
                "SELECT t.id, t.label, t.agent_id, t.user_id, COALESCE(a.email, u.email, ''), t.created_at,
                        t.expires_at, t.revoked_at, t.last_used_at
                 FROM api_tokens t LEFT JOIN agents a ON a.id = t.agent_id LEFT JOIN users u ON u.id = t.user_id
                 WHERE t.tenant_id = $1 ORDER BY t.id",
                &[&tenant.as_str()],
            )?
            .iter()
            .map(|r| {
                let agent: Option<i64> = r.try_get(2)?;
                let user: Option<i64> = r.try_get(3)?;
                Ok(TokenInfo {
                    id: r.try_get(0)?,
                    label: r.try_get(1)?,
                    owner: match (agent, user) {
                        (Some(a), _) => Person::Agent(a),
                        (None, u) => Person::User(u.unwrap_or_default()),
                    },
                    owner_email: r.try_get(4)?,
                    created_at: r.try_get(5)?,
                    expires_at: r.try_get(6)?,
                    revoked_at: r.try_get(7)?,
                    last_used_at: r.try_get(8)?,
                })
            })
            .collect()
    }

    fn revoke_token(&self, tenant: &TenantId, id: i64) -> DbResult<()> {
        let changed = self.conn()?.execute(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $3) WHERE tenant_id = $1 AND id = $2",
            &[&tenant.as_str(), &id, &now()],
        )?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("token {id}")));
        }
        Ok(())
    }
}
