//! Credentials in PostgreSQL: API bearer tokens and web sessions (each stored only as its
//! SHA-256, shown once when made) belonging to an agent or a portal user of one tenant, and
//! passwords (argon2id hashes). Sessions and their CSRF tokens are rows, so every host on the
//! database knows every session.

use super::PgDb;
use crate::db::auth::{digest, new_token, random_hex};
use crate::db::{AuthStore, DbError, DbResult, Principal, UserStore, now};
use crate::tenant::{Secret, TenantId};

/// The owner of a session or token; `None` when they are gone (removed meanwhile).
fn principal_of(
    db: &PgDb,
    tenant: &TenantId,
    agent: Option<i64>,
    user: Option<i64>,
) -> DbResult<Option<Principal>> {
    let found = match (agent, user) {
        (Some(a), _) => db.agent(tenant, a).map(Principal::Agent),
        (None, Some(u)) => db.user(tenant, u).map(Principal::User),
        (None, None) => return Ok(None),
    };
    match found {
        Ok(p) => Ok(Some(p)),
        Err(DbError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Rows whose owner is enabled: a join of `sessions` or `api_tokens` (as `c`) with both owners.
const OWNER_ENABLED: &str = "LEFT JOIN agents a ON a.id = c.agent_id AND a.tenant_id = c.tenant_id
     LEFT JOIN users u ON u.id = c.user_id AND u.tenant_id = c.tenant_id
     WHERE (a.id IS NOT NULL OR u.id IS NOT NULL) AND a.disabled_at IS NULL AND u.disabled_at IS NULL";

impl AuthStore for PgDb {
    fn set_password(
        &self,
        tenant: &TenantId,
        principal: &Principal,
        password: &str,
    ) -> DbResult<()> {
        use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
        if password.chars().count() < 10 {
            return Err(DbError::Invalid(
                "a password has at least 10 characters".into(),
            ));
        }
        let hash = argon2::Argon2::default()
            .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
            .map_err(|e| DbError::Invalid(format!("hashing the password: {e}")))?
            .to_string();
        let (table, id) = match principal {
            Principal::Agent(a) => ("agents", a.id),
            Principal::User(u) => ("users", u.id),
        };
        let changed = self.conn()?.execute(
            &format!("UPDATE {table} SET password_hash = $3 WHERE tenant_id = $1 AND id = $2"),
            &[&tenant.as_str(), &id, &hash],
        )?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("{table} {id}")));
        }
        Ok(())
    }

    fn create_session(
        &self,
        tenant: &TenantId,
        principal: &Principal,
        ttl_seconds: i64,
    ) -> DbResult<(Secret, String)> {
        let token = Secret::new(random_hex(32)?);
        let csrf = random_hex(16)?;
        let (agent, user) = match principal {
            Principal::Agent(a) => (Some(a.id), None),
            Principal::User(u) => (None, Some(u.id)),
        };
        let at = now();
        self.conn()?.execute(
            "INSERT INTO sessions (token_sha256, tenant_id, agent_id, user_id, csrf, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &digest(token.expose()),
                &tenant.as_str(),
                &agent,
                &user,
                &csrf,
                &at,
                &(at + ttl_seconds),
            ],
        )?;
        Ok((token, csrf))
    }

    fn session(&self, token: &str) -> DbResult<Option<(TenantId, Principal, String)>> {
        let row = self.conn()?.query_opt(
            &format!(
                "SELECT c.tenant_id, c.agent_id, c.user_id, c.csrf FROM sessions c {OWNER_ENABLED}
                 AND c.token_sha256 = $1 AND c.expires_at > $2"
            ),
            &[&digest(token), &now()],
        )?;
        let Some(row) = row else { return Ok(None) };
        let tenant: String = row.try_get(0)?;
        let (agent, user, csrf): (Option<i64>, Option<i64>, String) =
            (row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
        let tenant = TenantId::parse(&tenant).map_err(DbError::Invalid)?;
        Ok(principal_of(self, &tenant, agent, user)?.map(|p| (tenant, p, csrf)))
    }

    fn end_session(&self, token: &str) -> DbResult<()> {
        self.conn()?.execute(
            "DELETE FROM sessions WHERE token_sha256 = $1",
            &[&digest(token)],
        )?;
        Ok(())
    }

    fn create_token_until(
        &self,
        tenant: &TenantId,
        principal: &Principal,
        label: &str,
        expires_at: Option<i64>,
    ) -> DbResult<Secret> {
        let (agent, user) = match principal {
            Principal::Agent(a) => (Some(self.agent(tenant, a.id)?.id), None),
            Principal::User(u) => (None, Some(self.user(tenant, u.id)?.id)),
        };
        let token = new_token()?;
        self.conn()?.execute(
            "INSERT INTO api_tokens (token_sha256, tenant_id, agent_id, user_id, label, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &digest(token.expose()),
                &tenant.as_str(),
                &agent,
                &user,
                &label,
                &now(),
                &expires_at,
            ],
        )?;
        Ok(token)
    }

    fn authenticate(&self, token: &str) -> DbResult<Option<(TenantId, Principal)>> {
        let at = now();
        let mut conn = self.conn()?;
        let row = conn.query_opt(
            &format!(
                "SELECT c.id, c.tenant_id, c.agent_id, c.user_id, c.last_used_at FROM api_tokens c {OWNER_ENABLED}
                 AND c.token_sha256 = $1 AND c.revoked_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > $2)"
            ),
            &[&digest(token), &at],
        )?;
        let Some(row) = row else { return Ok(None) };
        let id: i64 = row.try_get(0)?;
        let tenant: String = row.try_get(1)?;
        let (agent, user, last_used): (Option<i64>, Option<i64>, Option<i64>) =
            (row.try_get(2)?, row.try_get(3)?, row.try_get(4)?);
        // When a token was last used, to the minute: not a write on every request.
        if last_used.is_none_or(|t| t < at - 60) {
            conn.execute(
                "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1",
                &[&id, &at],
            )?;
        }
        drop(conn);
        let tenant = TenantId::parse(&tenant).map_err(DbError::Invalid)?;
        Ok(principal_of(self, &tenant, agent, user)?.map(|p| (tenant, p)))
    }
}
