//! Sign-in's records in PostgreSQL: the account a sign-in names (enabled ones only), the
//! throttling counters, remembered browsers (device tokens, stored as their SHA-256), the
//! messages pages show after a redirect, and purging what has expired.
//!
//! Admitting an attempt reads and writes every key's counter in one transaction that holds the
//! counters' rows (`FOR UPDATE`, keys in order so two attempts never wait on each other in a
//! cycle); a key seen for the first time gets its row inserted first (a counter of nothing, which
//! the rule reads as no counter), so there is always a row to hold and racing attempts on any
//! hosts are all counted.

use super::{Begin, PgConn, PgDb, to_u32};
use crate::db::auth::{digest, random_hex};
use crate::db::{DbResult, Purged, SignInAccount, SignInStore, now};
use crate::tenant::{Secret, TenantId};
use crate::throttle::{Counter, Rule};

/// Every key's counter after one more attempt at `at`, or the longest wait among them; with
/// `lock`, each counter's row is held until the transaction ends.
fn decide(
    conn: &mut PgConn,
    keys: &[(String, Rule)],
    at: i64,
    lock: bool,
) -> DbResult<Result<Vec<Counter>, i64>> {
    let mut admitted = Vec::with_capacity(keys.len());
    let mut wait = 0;
    let sql = if lock {
        "SELECT failures, first_failure_at, next_allowed_at, updated_at
         FROM sign_in_counters WHERE key = $1 FOR UPDATE"
    } else {
        "SELECT failures, first_failure_at, next_allowed_at, updated_at
         FROM sign_in_counters WHERE key = $1"
    };
    for (key, rule) in keys {
        let stored = conn
            .query_opt(sql, &[key])?
            .map(|r| -> DbResult<Counter> {
                Ok(Counter {
                    failures: to_u32(r.try_get(0)?),
                    first_failure_at: r.try_get(1)?,
                    next_allowed_at: r.try_get(2)?,
                    updated_at: r.try_get(3)?,
                })
            })
            .transpose()?;
        match rule.admit(stored, at) {
            Ok(c) => admitted.push(c),
            Err(seconds) => wait = wait.max(seconds),
        }
    }
    Ok(if wait > 0 { Err(wait) } else { Ok(admitted) })
}

impl SignInStore for PgDb {
    fn sign_in_account(
        &self,
        tenant: &TenantId,
        agent: bool,
        email: &str,
    ) -> DbResult<Option<SignInAccount>> {
        let table = if agent { "agents" } else { "users" };
        let row = self.conn()?.query_opt(
            &format!(
                "SELECT id, password_hash, email, name FROM {table}
                 WHERE tenant_id = $1 AND lower(email) = lower($2) AND disabled_at IS NULL
                 ORDER BY id LIMIT 1"
            ),
            &[&tenant.as_str(), &email.trim()],
        )?;
        row.map(|r| {
            Ok(SignInAccount {
                id: r.try_get(0)?,
                password_hash: r.try_get(1)?,
                email: r.try_get(2)?,
                name: r.try_get(3)?,
            })
        })
        .transpose()
    }

    fn admit_sign_in(
        &self,
        keys: &[(String, Rule)],
        at: i64,
    ) -> DbResult<Result<Vec<Counter>, i64>> {
        // A key that must wait is refused on a plain read (a flood of refused attempts locks
        // nothing); letting an attempt through is decided again holding the counters.
        if let Err(wait) = decide(&mut *self.conn()?, keys, at, false)? {
            return Ok(Err(wait));
        }
        let mut order: Vec<&(String, Rule)> = keys.iter().collect();
        order.sort_by(|a, b| a.0.cmp(&b.0));
        self.tx(Begin::Write, |tx| {
            for (key, _) in &order {
                tx.execute(
                    "INSERT INTO sign_in_counters (key, failures, first_failure_at, next_allowed_at, updated_at)
                     VALUES ($1, 0, 0, 0, 0) ON CONFLICT (key) DO NOTHING",
                    &[key],
                )?;
                tx.execute("SELECT 1 FROM sign_in_counters WHERE key = $1 FOR UPDATE", &[key])?;
            }
            let admitted = match decide(tx, keys, at, true)? {
                Ok(admitted) => admitted,
                Err(wait) => return Ok(Err(wait)),
            };
            for ((key, _), c) in keys.iter().zip(&admitted) {
                tx.execute(
                    "UPDATE sign_in_counters SET failures = $2, first_failure_at = $3,
                         next_allowed_at = $4, updated_at = $5
                     WHERE key = $1",
                    &[
                        key,
                        &i64::from(c.failures),
                        &c.first_failure_at,
                        &c.next_allowed_at,
                        &c.updated_at,
                    ],
                )?;
            }
            Ok(Ok(admitted))
        })
    }

    fn clear_sign_in_counter(&self, key: &str) -> DbResult<()> {
        self.conn()?
            .execute("DELETE FROM sign_in_counters WHERE key = $1", &[&key])?;
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
        self.conn()?.execute(
            "INSERT INTO sign_in_devices (token_sha256, tenant_id, account, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &digest(token.expose()),
                &tenant.as_str(),
                &account,
                &at,
                &(at + ttl_seconds),
            ],
        )?;
        Ok(token)
    }

    fn remembered_account(&self, token: &str) -> DbResult<Option<String>> {
        self.conn()?
            .query_opt(
                "SELECT account FROM sign_in_devices WHERE token_sha256 = $1 AND expires_at > $2",
                &[&digest(token), &now()],
            )?
            .map(|r| Ok(r.try_get(0)?))
            .transpose()
    }

    fn save_flash(&self, session_token: &str, text: &str) -> DbResult<String> {
        let id = random_hex(12)?;
        self.conn()?.execute(
            "INSERT INTO flash_messages (id, session_sha256, text, created_at) VALUES ($1, $2, $3, $4)",
            &[&id, &digest(session_token), &text, &now()],
        )?;
        Ok(id)
    }

    fn flash(&self, session_token: &str, id: &str) -> DbResult<Option<String>> {
        self.conn()?
            .query_opt(
                "SELECT text FROM flash_messages WHERE id = $1 AND session_sha256 = $2",
                &[&id, &digest(session_token)],
            )?
            .map(|r| Ok(r.try_get(0)?))
            .transpose()
    }

    fn purge_expired(&self, at: i64, keep_seconds: i64) -> DbResult<Purged> {
        let before = at - keep_seconds;
        self.tx(Begin::Write, |tx| {
            let sessions = tx.execute("DELETE FROM sessions WHERE expires_at <= $1", &[&at])?;
            let devices =
                tx.execute("DELETE FROM sign_in_devices WHERE expires_at <= $1", &[&at])?;
            let counters = tx.execute(
                "DELETE FROM sign_in_counters WHERE updated_at <= $1",
                &[&before],
            )?;
            let flashes = tx.execute(
                "DELETE FROM flash_messages WHERE created_at <= $1",
                &[&before],
            )?;
            Ok(Purged {
                sessions: sessions as usize,
                devices: devices as usize,
                counters: counters as usize,
                flashes: flashes as usize,
            })
        })
    }
}
