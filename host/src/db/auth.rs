//! Credentials in SQLite: API bearer tokens and web sessions (each stored only as its SHA-256,
//! shown once when made) belonging to an agent or a portal user of one tenant, and passwords
//! (argon2id hashes). A token or session whose owner is disabled or removed, or a token revoked or
//! expired, authenticates no one. Checking a password at sign-in is `crate::signin`'s.

use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::sqlite::SqliteDb;
use super::{AuthStore, DbError, DbResult, Principal, UserStore, now};
use crate::tenant::{Secret, TenantId};

pub(super) fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random token: `pdk_` and 64 hex digits (256 bits).
pub(super) fn new_token() -> DbResult<Secret> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| DbError::Invalid(format!("no randomness for a token: {e}")))?;
    Ok(Secret::new(format!("pdk_{}", hex::encode(bytes))))
}

/// The owner of a session or token; `None` when they are gone (removed meanwhile).
fn principal_of(
    db: &SqliteDb,
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

/// A live token's id, tenant, agent, user and when it was last used.
type TokenRow = (i64, String, Option<i64>, Option<i64>, Option<i64>);

/// Rows whose owner is enabled: a join of `sessions` or `api_tokens` (as `c`) with both owners.
const OWNER_ENABLED: &str = "LEFT JOIN agents a ON a.id = c.agent_id AND a.tenant_id = c.tenant_id
     LEFT JOIN users u ON u.id = c.user_id AND u.tenant_id = c.tenant_id
     WHERE (a.id IS NOT NULL OR u.id IS NOT NULL) AND a.disabled_at IS NULL AND u.disabled_at IS NULL";

pub(super) fn random_hex(bytes: usize) -> DbResult<String> {
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
            .prepare_cached(&format!(
                "SELECT c.tenant_id, c.agent_id, c.user_id, c.csrf FROM sessions c {OWNER_ENABLED}
                 AND c.token_sha256 = ?1 AND c.expires_at > ?2"
            ))?
            .query_row(params![digest(token), now()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
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
        self.conn()?.prepare_cached("INSERT INTO api_tokens (token_sha256, tenant_id, agent_id, user_id, label, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?.execute(
            params![
                digest(token.expose()),
                tenant.as_str(),
                agent,
                user,
                label,
                now(),
                expires_at
            ],
        )?;
        Ok(token)
    }

    fn authenticate(&self, token: &str) -> DbResult<Option<(TenantId, Principal)>> {
        let at = now();
        let row: Option<TokenRow> = self
            .conn()?
            .prepare_cached(&format!(
                "SELECT c.id, c.tenant_id, c.agent_id, c.user_id, c.last_used_at FROM api_tokens c {OWNER_ENABLED}
                 AND c.token_sha256 = ?1 AND c.revoked_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > ?2)"
            ))?
            .query_row(params![digest(token), at], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .optional()?;
        let Some((id, tenant, agent, user, last_used)) = row else {
            return Ok(None);
        };
        // When a token was last used, to the minute: not a write on every request.
        if last_used.is_none_or(|t| t < at - 60) {
            self.conn()?
                .prepare_cached("UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1")?
                .execute(params![id, at])?;
        }
        let tenant = TenantId::parse(&tenant).map_err(DbError::Invalid)?;
        Ok(principal_of(self, &tenant, agent, user)?.map(|p| (tenant, p)))
    }
}
