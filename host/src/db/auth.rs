//! API credentials in SQLite: bearer tokens belonging to an agent or a portal user of one tenant,
//! stored only as their SHA-256. A token is shown once, when it is made.

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

impl AuthStore for SqliteDb {
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
        self.conn()?.execute(
            "INSERT INTO api_tokens (token_sha256, tenant_id, agent_id, user_id, label, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
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
            .query_row(
                "SELECT tenant_id, agent_id, user_id FROM api_tokens WHERE token_sha256 = ?1",
                params![digest(token)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
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
