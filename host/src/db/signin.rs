//! Sign-in's records in SQLite: the account a sign-in names (enabled ones only), the throttling
//! counters (read and written in one immediate transaction, so racing attempts — on one host or
//! several — are all counted), remembered browsers (device tokens, stored as their SHA-256), the
//! messages pages show after a redirect, and purging what has expired.

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::sqlite::SqliteDb;
use super::{DbError, DbResult, Purged, SignInAccount, SignInStore, now};
use crate::tenant::{Secret, TenantId};
use crate::throttle::{Counter, Rule};

fn digest(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn random_hex(bytes: usize) -> DbResult<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| DbError::Invalid(format!("no randomness: {e}")))?;
    Ok(hex::encode(buf))
}

/// Every key's counter after one more attempt at `at`, or the longest wait among them.
fn decide(
    conn: &rusqlite::Connection,
    keys: &[(String, Rule)],
    at: i64,
) -> DbResult<Result<Vec<Counter>, i64>> {
    let mut admitted = Vec::with_capacity(keys.len());
    let mut wait = 0;
    for (key, rule) in keys {
        let stored: Option<Counter> = conn
            .prepare_cached(
                "SELECT failures, first_failure_at, next_allowed_at, updated_at
                 FROM sign_in_counters WHERE key = ?1",
            )?
            .query_row(params![key], |r| {
                Ok(Counter {
                    failures: r.get(0)?,
                    first_failure_at: r.get(1)?,
                    next_allowed_at: r.get(2)?,
                    updated_at: r.get(3)?,
                })
            })
            .optional()?;
        match rule.admit(stored, at) {
            Ok(c) => admitted.push(c),
            Err(seconds) => wait = wait.max(seconds),
        }
    }
    Ok(if wait > 0 { Err(wait) } else { Ok(admitted) })
}

impl SignInStore for SqliteDb {
    fn sign_in_account(
        &self,
        tenant: &TenantId,
        agent: bool,
        email: &str,
    ) -> DbResult<Option<SignInAccount>> {
        let table = if agent { "agents" } else { "users" };
        Ok(self
            .conn()?
            .prepare_cached(&format!(
                "SELECT id, password_hash, email, name FROM {table}
                 WHERE tenant_id = ?1 AND email = ?2 COLLATE NOCASE AND disabled_at IS NULL"
            ))?
            .query_row(params![tenant.as_str(), email.trim()], |r| {
                Ok(SignInAccount {
                    id: r.get(0)?,
                    password_hash: r.get(1)?,
                    email: r.get(2)?,
                    name: r.get(3)?,
                })
            })
            .optional()?)
    }

    fn admit_sign_in(
        &self,
        keys: &[(String, Rule)],
        at: i64,
    ) -> DbResult<Result<Vec<Counter>, i64>> {
        // A key that must wait is refused on a plain read (a flood of refused attempts takes no
        // write lock); letting an attempt through is decided again inside the transaction.
        let wait = decide(&*self.conn()?, keys, at)?.err();
        if let Some(wait) = wait {
            return Ok(Err(wait));
        }
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let admitted = match decide(&tx, keys, at)? {
            Ok(admitted) => admitted,
            Err(wait) => return Ok(Err(wait)),
        };
        for ((key, _), c) in keys.iter().zip(&admitted) {
            tx.prepare_cached(
                "INSERT INTO sign_in_counters (key, failures, first_failure_at, next_allowed_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
                     first_failure_at = excluded.first_failure_at,
                     next_allowed_at = excluded.next_allowed_at, updated_at = excluded.updated_at",
            )?
            .execute(params![key, c.failures, c.first_failure_at, c.next_allowed_at, c.updated_at])?;
        }
        tx.commit()?;
        Ok(Ok(admitted))
    }

    fn clear_sign_in_counter(&self, key: &str) -> DbResult<()> {
        self.conn()?
            .prepare_cached("DELETE FROM sign_in_counters WHERE key = ?1")?
            .execute(params![key])?;
        Ok(())
    }

    fn remember_device(
        &self,
        tenant: &TenantId,
        account: &str,
        ttl_seconds: i64,
    ) -> DbResult<Secret> {
        let token = Secret::new(random_hex(32)?);
        let at = now();
        self.conn()?
            .prepare_cached(
                "INSERT INTO sign_in_devices (token_sha256, tenant_id, account, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![digest(token.expose()), tenant.as_str(), account, at, at + ttl_seconds])?;
        Ok(token)
    }

    fn remembered_account(&self, token: &str) -> DbResult<Option<String>> {
        Ok(self
            .conn()?
            .prepare_cached(
                "SELECT account FROM sign_in_devices WHERE token_sha256 = ?1 AND expires_at > ?2",
            )?
            .query_row(params![digest(token), now()], |r| r.get(0))
            .optional()?)
    }

    fn save_flash(&self, session_token: &str, text: &str) -> DbResult<String> {
        let id = random_hex(12)?;
        self.conn()?
            .prepare_cached(
                "INSERT INTO flash_messages (id, session_sha256, text, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![id, digest(session_token), text, now()])?;
        Ok(id)
    }

    fn flash(&self, session_token: &str, id: &str) -> DbResult<Option<String>> {
        Ok(self
            .conn()?
            .prepare_cached(
                "SELECT text FROM flash_messages WHERE id = ?1 AND session_sha256 = ?2",
            )?
            .query_row(params![id, digest(session_token)], |r| r.get(0))
            .optional()?)
    }

    fn purge_expired(&self, at: i64, keep_seconds: i64) -> DbResult<Purged> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let sessions = tx
            .prepare_cached("DELETE FROM sessions WHERE expires_at <= ?1")?
            .execute(params![at])?;
        let devices = tx
            .prepare_cached("DELETE FROM sign_in_devices WHERE expires_at <= ?1")?
            .execute(params![at])?;
        let counters = tx
            .prepare_cached("DELETE FROM sign_in_counters WHERE updated_at <= ?1")?
            .execute(params![at - keep_seconds])?;
        let flashes = tx
            .prepare_cached("DELETE FROM flash_messages WHERE created_at <= ?1")?
            .execute(params![at - keep_seconds])?;
        tx.commit()?;
        Ok(Purged {
            sessions,
            devices,
            counters,
            flashes,
        })
    }
}
