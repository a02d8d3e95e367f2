//! Credentials in SQLite: API bearer tokens and web sessions (each stored only as its SHA-256,
//! shown once when made) belonging to an agent or a portal user of one tenant, and passwords
//! (argon2id hashes).

use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::sqlite::SqliteDb;
use super::{AuthStore, DbError, DbResult, HelpdeskStore, Principal, now};
use crate::tenant::{Secret, TenantId};

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random token: `pdk_` and 64 hex digits (256 bits).
fn new_token() -> DbResult<Secret> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| DbError::Invalid(format!("no randomness for a token: {e}")))?;
    Ok(Secret::new(format!("pdk_{}", hex::encode(bytes))))
}

fn principal_of(
    db: &SqliteDb,
    tenant: &TenantId,
    agent: Option<i64>,
    user: Option<i64>,
) -> DbResult<Option<Principal>> {
    Ok(match (agent, user) {
        (Some(a), _) => Some(Principal::Agent(db.agent(tenant, a)?)),
        (None, Some(u)) => Some(Principal::User(db.user(tenant, u)?)),
        (None, None) => None,
    })
}

fn random_hex(bytes: usize) -> DbResult<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| DbError::Invalid(format!("no randomness: {e}")))?;
    Ok(hex::encode(buf))
}

impl AuthStore for SqliteDb {
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
        let changed = self
            .conn()?
            .prepare_cached(&format!(
                "UPDATE {table} SET password_hash = ?3 WHERE tenant_id = ?1 AND id = ?2"
            ))?
            .execute(params![tenant.as_str(), id, hash])?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("{table} {id}")));
        }
        Ok(())
    }

    fn sign_in(
        &self,
        tenant: &TenantId,
        agent: bool,
        email: &str,
        password: &str,
    ) -> DbResult<Option<Principal>> {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        let table = if agent { "agents" } else { "users" };
        let row: Option<(i64, Option<String>)> = self
            .conn()?
            .prepare_cached(&format!("SELECT id, password_hash FROM {table} WHERE tenant_id = ?1 AND email = ?2 COLLATE NOCASE"))?.query_row(
                params![tenant.as_str(), email.trim()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((id, Some(hash))) = row else {
            return Ok(None);
        };
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return Ok(None);
        };
        if argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_err()
        {
            return Ok(None);
        }
        principal_of(self, tenant, agent.then_some(id), (!agent).then_some(id))
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
        self.conn()?.prepare_cached("INSERT INTO sessions (token_sha256, tenant_id, agent_id, user_id, csrf, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?.execute(
            params![digest(token.expose()), tenant.as_str(), agent, user, csrf, now(), now() + ttl_seconds],
        )?;
        Ok((token, csrf))
    }

    fn session(&self, token: &str) -> DbResult<Option<(TenantId, Principal, String)>> {
        let row: Option<(String, Option<i64>, Option<i64>, String)> = self
            .conn()?
            .prepare_cached("SELECT tenant_id, agent_id, user_id, csrf FROM sessions WHERE token_sha256 = ?1 AND expires_at > ?2")?.query_row(
                params![digest(token), now()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((tenant, agent, user, csrf)) = row else {
            return Ok(None);
        };
        let tenant = TenantId::parse(&tenant).map_err(DbError::Invalid)?;
        Ok(principal_of(self, &tenant, agent, user)?.map(|p| (tenant, p, csrf)))
    }

    fn end_session(&self, token: &str) -> DbResult<()> {
        self.conn()?
            .prepare_cached("DELETE FROM sessions WHERE token_sha256 = ?1")?
            .execute(params![digest(token)])?;
        Ok(())
    }

    fn create_token(
        &self,
        tenant: &TenantId,
        principal: &Principal,
        label: &str,
    ) -> DbResult<Secret> {
        let (agent, user) = match principal {
            Principal::Agent(a) => (Some(self.agent(tenant, a.id)?.id), None),
            Principal::User(u) => (None, Some(self.user(tenant, u.id)?.id)),
        };
        let token = new_token()?;
        self.conn()?.prepare_cached("INSERT INTO api_tokens (token_sha256, tenant_id, agent_id, user_id, label, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?.execute(
            params![
                digest(token.expose()),
                tenant.as_str(),
                agent,
                user,
                label,
                now()
            ],
        )?;
        Ok(token)
    }

    fn authenticate(&self, token: &str) -> DbResult<Option<(TenantId, Principal)>> {
        let row: Option<(String, Option<i64>, Option<i64>)> = self
            .conn()?
            .prepare_cached(
                "SELECT tenant_id, agent_id, user_id FROM api_tokens WHERE token_sha256 = ?1",
            )?
            .query_row(params![digest(token)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let Some((tenant, agent, user)) = row else {
            return Ok(None);
        };
        let tenant = TenantId::parse(&tenant).map_err(DbError::Invalid)?;
        let principal = match (agent, user) {
            (Some(a), _) => Principal::Agent(self.agent(&tenant, a)?),
            (None, Some(u)) => Principal::User(self.user(&tenant, u)?),
            (None, None) => return Ok(None),
        };
        Ok(Some((tenant, principal)))
    }
}
