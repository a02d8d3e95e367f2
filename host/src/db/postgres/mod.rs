//! The PostgreSQL database (`--db postgres://user:pass@host:port/dbname`): the sync `postgres`
//! client in an `r2d2` pool, migrations at open under an advisory lock, and the plugin's key/value
//! storage. The other record kinds are in their own files, one per store trait, mirroring the
//! SQLite ones.
//!
//! Each pooled connection keeps its prepared statements (a statement is parsed once per
//! connection, not once per call). A connection whose socket failed is marked broken and dropped
//! by the pool when it is returned, and a connection is checked (an empty query) before it is
//! handed out, so after PostgreSQL restarts the next call gets a new connection; the call that
//! met the dead one fails with a backend error, as any database failure does.
//!
//! Check-then-act is one statement (`INSERT … ON CONFLICT`, `UPDATE … WHERE version = …`) or one
//! transaction holding the rows it decides on (`SELECT … FOR UPDATE`), in READ COMMITTED. A
//! transaction that PostgreSQL aborts as a deadlock or a serialization failure is run again from
//! the start, a few times.

mod audit;
mod auth;
mod customers;
mod disputes;
mod hosts;
mod invoices;
mod migrations;
mod payments;
mod people;
mod plugins;
mod recurring;
mod refunds;
mod signin;
mod templates;
mod tenants;
mod users;

use std::collections::HashMap;
use std::time::Duration;

use postgres::types::ToSql;
use postgres::{NoTls, Row, Statement};

use super::{BackendError, DbError, DbResult, KvEntry, KvStore, now};
use crate::tenant::TenantId;

/// Connections the pool keeps at most.
const POOL_SIZE: u32 = 32;
/// How long a call waits for a free connection (or a new one) before it fails.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(30);
/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 256;
/// Runs of a transaction that PostgreSQL aborted as a deadlock or serialization failure.
const TRANSACTION_ATTEMPTS: usize = 5;

/// The database behind `postgres://` URLs.
pub struct PgDb {
    pool: r2d2::Pool<Manager>,
    /// The URL without its password, for messages.
    shown: String,
}

/// `url` with the password (if any) replaced by `***`: what messages and logs may show.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "postgres://…".into();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_string(),
    };
    // A password may also be given as a query parameter.
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// Whether `db` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// An engine error as a [`DbError::Backend`]: its message (and the server's detail, when there
/// is one) and SQLSTATE. The client's errors name no password: they never include the URL.
fn backend(e: &postgres::Error) -> BackendError {
    let (message, code) = match e.as_db_error() {
        Some(db) => {
            let mut m = format!("{}: {}", db.severity(), db.message());
            if let Some(detail) = db.detail() {
                m.push_str(&format!(" ({detail})"));
            }
            (m, Some(db.code().code().to_string()))
        }
        None => (e.to_string(), None),
    };
    BackendError {
        engine: "postgresql",
        message,
        code,
    }
}

impl From<postgres::Error> for DbError {
    fn from(e: postgres::Error) -> DbError {
        DbError::Backend(backend(&e))
    }
}

/// An integrity-constraint violation (SQLSTATE class 23: unique, check, foreign key, not null) as
/// a conflict naming what was duplicated — what SQLite's `conflict_on_unique` does with its
/// constraint violations; anything else stays a backend error.
pub(super) fn conflict_on_unique(e: postgres::Error, what: &str) -> DbError {
    match e.as_db_error() {
        Some(db) if db.code().code().starts_with("23") => DbError::Conflict(what.to_string()),
        _ => e.into(),
    }
}

/// Whether running the transaction again may succeed: a deadlock or a serialization failure.
fn retryable(e: &DbError) -> bool {
    matches!(e, DbError::Backend(BackendError { code: Some(c), .. }) if c == "40001" || c == "40P01")
}

/// A client that may be dropped anywhere: the sync client closes its connection by blocking on
/// its own runtime, which tokio forbids on a thread that drives async tasks (the last handle on
/// the app may go away inside the web server), so there the client is closed on a thread of its
/// own.
struct Client(Option<postgres::Client>);

impl std::ops::Deref for Client {
    type Target = postgres::Client;
    fn deref(&self) -> &postgres::Client {
        self.0.as_ref().expect("client present until drop")
    }
}

impl std::ops::DerefMut for Client {
    fn deref_mut(&mut self) -> &mut postgres::Client {
        self.0.as_mut().expect("client present until drop")
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(client) = self.0.take()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            let _ = std::thread::Builder::new()
                .name("paydesk-pg-close".into())
                .spawn(move || drop(client));
        }
    }
}

/// A pooled connection with its prepared statements.
pub(super) struct PgConn {
    client: Client,
    statements: HashMap<String, Statement>,
    /// Set when a call failed on the connection itself (socket, protocol), not on a statement.
    broken: bool,
}

/// Parameters of a statement.
pub(super) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

impl PgConn {
    fn note(&mut self, e: postgres::Error) -> postgres::Error {
        if e.as_db_error().is_none() || self.client.is_closed() {
            self.broken = true;
        }
        e
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql).map_err(|e| self.note(e))?;
        if self.statements.len() >= STATEMENT_CACHE {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    /// Every row of a (cached) statement.
    pub(super) fn query(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Vec<Row>, postgres::Error> {
        let s = self.statement(sql)?;
        self.client.query(&s, params).map_err(|e| self.note(e))
    }

    /// The row of a statement, if any (the first when several).
    pub(super) fn query_opt(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Option<Row>, postgres::Error> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Rows changed by a statement.
    pub(super) fn execute(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<u64, postgres::Error> {
        let s = self.statement(sql)?;
        self.client.execute(&s, params).map_err(|e| self.note(e))
    }

    fn batch(&mut self, sql: &str) -> Result<(), postgres::Error> {
        self.client.batch_execute(sql).map_err(|e| self.note(e))
    }
}

/// A transaction on a pooled connection: rolled back on drop unless committed.
pub(super) struct Tx<'a> {
    conn: &'a mut PgConn,
    open: bool,
}

impl std::ops::Deref for Tx<'_> {
    type Target = PgConn;
    fn deref(&self) -> &PgConn {
        self.conn
    }
}

impl std::ops::DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut PgConn {
        self.conn
    }
}

impl Tx<'_> {
    pub(super) fn commit(mut self) -> DbResult<()> {
        self.open = false;
        self.conn.batch("COMMIT")?;
        Ok(())
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open && !self.conn.broken {
            let _ = self.conn.batch("ROLLBACK");
        }
    }
}

/// How a transaction begins.
#[derive(Clone, Copy)]
pub(super) enum Begin {
    /// READ COMMITTED, for writes: each statement sees what committed before it; rows a decision
    /// rests on are locked with `FOR UPDATE`.
    Write,
    /// One snapshot for every statement, read only.
    Snapshot,
}

/// The connection manager: connects with the parsed URL, checks a connection with an empty query
/// before handing it out, and drops one whose socket failed.
pub(super) struct Manager {
    config: postgres::Config,
}

impl r2d2::ManageConnection for Manager {
    type Connection = PgConn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<PgConn, postgres::Error> {
        Ok(PgConn {
            client: Client(Some(self.config.connect(NoTls)?)),
            statements: HashMap::new(),
            broken: false,
        })
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), postgres::Error> {
        conn.client
            .simple_query("")
            .map(|_| ())
            .map_err(|e| conn.note(e))
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.broken || conn.client.is_closed()
    }
}

/// r2d2's own errors (connecting failed, no connection free in time) as backend errors; the pool
/// logs nothing itself.
#[derive(Debug)]
struct QuietErrors;

impl r2d2::HandleError<postgres::Error> for QuietErrors {
    fn handle_error(&self, error: postgres::Error) {
        tracing::debug!(error = %backend(&error), "a PostgreSQL connection failed");
    }
}

impl PgDb {
    /// Connect to the database at `url` (`postgres://user:pass@host:port/dbname`) and migrate it.
    /// The error names the URL without its password.
    pub fn open(url: &str) -> DbResult<PgDb> {
        let shown = redact_url(url);
        let config: postgres::Config = url.parse().map_err(|_| {
            DbError::Invalid(format!(
                "`{shown}` is not a PostgreSQL URL (postgres://user:password@host:port/dbname)"
            ))
        })?;
        let mut config = config;
        if config.get_application_name().is_none() {
            config.application_name("paydesk");
        }
        config.connect_timeout(Duration::from_secs(10));
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(0))
            .connection_timeout(CHECKOUT_TIMEOUT)
            .test_on_check_out(true)
            .error_handler(Box::new(QuietErrors))
            .build_unchecked(Manager { config });
        let db = PgDb { pool, shown };
        let mut conn = db.conn()?;
        migrations::migrate(&mut conn)?;
        Ok(db)
    }

    /// The URL without its password.
    pub fn url(&self) -> &str {
        &self.shown
    }

    pub(super) fn conn(&self) -> DbResult<r2d2::PooledConnection<Manager>> {
        self.pool.get().map_err(|e| {
            DbError::Backend(BackendError {
                engine: "postgresql",
                message: format!("no connection to {}: {e}", self.shown),
                code: None,
            })
        })
    }

    /// Run `f` in a transaction and commit; a deadlock or serialization failure runs it again.
    pub(super) fn tx<T>(
        &self,
        begin: Begin,
        mut f: impl FnMut(&mut Tx<'_>) -> DbResult<T>,
    ) -> DbResult<T> {
        let mut attempt = 1;
        loop {
            let mut conn = self.conn()?;
            let outcome = (|| {
                conn.batch(match begin {
                    Begin::Write => "BEGIN",
                    Begin::Snapshot => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                })?;
                let mut tx = Tx {
                    conn: &mut conn,
                    open: true,
                };
                let value = f(&mut tx)?;
                tx.commit()?;
                Ok(value)
            })();
            match outcome {
                Err(e) if retryable(&e) && attempt < TRANSACTION_ATTEMPTS => attempt += 1,
                other => return other,
            }
        }
    }
}

/// An `i64` column read as a `u32` (counts, attempts, ids the WIT types keep as u32).
pub(super) fn to_u32(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(if v < 0 { 0 } else { u32::MAX })
}

fn kv_entry(row: &Row) -> DbResult<KvEntry> {
    Ok(KvEntry {
        key: row.try_get(0)?,
        value: row.try_get(1)?,
        version: row.try_get::<_, i64>(2)? as u64,
        updated_at: row.try_get(3)?,
    })
}

impl KvStore for PgDb {
    fn kv_get(&self, tenant: &TenantId, key: &str) -> DbResult<Option<KvEntry>> {
        self.conn()?
            .query_opt(
                "SELECT key, value, version, updated_at FROM plugin_kv WHERE tenant_id = $1 AND key = $2",
                &[&tenant.as_str(), &key],
            )?
            .as_ref()
            .map(kv_entry)
            .transpose()
    }

    fn kv_put_new(&self, tenant: &TenantId, key: &str, value: &[u8]) -> DbResult<u64> {
        self.conn()?
            .execute(
                "INSERT INTO plugin_kv (tenant_id, key, value, version, updated_at) VALUES ($1, $2, $3, 1, $4)",
                &[&tenant.as_str(), &key, &value, &now()],
            )
            .map_err(|e| conflict_on_unique(e, &format!("key `{key}` exists")))?;
        Ok(1)
    }

    fn kv_compare_and_swap(
        &self,
        tenant: &TenantId,
        key: &str,
        expected: u64,
        value: &[u8],
    ) -> DbResult<u64> {
        let mut conn = self.conn()?;
        let changed = conn.execute(
            "UPDATE plugin_kv SET value = $3, version = version + 1, updated_at = $5
             WHERE tenant_id = $1 AND key = $2 AND version = $4",
            &[&tenant.as_str(), &key, &value, &(expected as i64), &now()],
        )?;
        if changed == 1 {
            return Ok(expected + 1);
        }
        let exists = conn
            .query_opt(
                "SELECT 1 FROM plugin_kv WHERE tenant_id = $1 AND key = $2",
                &[&tenant.as_str(), &key],
            )?
            .is_some();
        if exists {
            Err(DbError::Conflict(format!(
                "key `{key}` is no longer at version {expected}"
            )))
        } else {
            Err(DbError::NotFound(format!("key `{key}`")))
        }
    }

    fn kv_delete(&self, tenant: &TenantId, key: &str, expected: Option<u64>) -> DbResult<bool> {
        let mut conn = self.conn()?;
        let changed = match expected {
            Some(v) => conn.execute(
                "DELETE FROM plugin_kv WHERE tenant_id = $1 AND key = $2 AND version = $3",
                &[&tenant.as_str(), &key, &(v as i64)],
            )?,
            None => conn.execute(
                "DELETE FROM plugin_kv WHERE tenant_id = $1 AND key = $2",
                &[&tenant.as_str(), &key],
            )?,
        };
        Ok(changed == 1)
    }

    fn kv_list(
        &self,
        tenant: &TenantId,
        prefix: &str,
        start_after: Option<&str>,
        limit: u32,
    ) -> DbResult<Vec<KvEntry>> {
        // Prefix match by range and `starts_with`, not LIKE: keys may contain % and _. Keys sort
        // by bytes (collation "C").
        self.conn()?
            .query(
                "SELECT key, value, version, updated_at FROM plugin_kv
                 WHERE tenant_id = $1 AND key >= $2 AND starts_with(key, $2) AND key > $3
                 ORDER BY key LIMIT $4",
                &[
                    &tenant.as_str(),
                    &prefix,
                    &start_after.unwrap_or(""),
                    &i64::from(limit.min(1000)),
                ],
            )?
            .iter()
            .map(kv_entry)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_their_password() {
        assert_eq!(
            redact_url("postgres://paydesk:s3cret@db.internal:5432/paydesk"),
            "postgres://paydesk:***@db.internal:5432/paydesk"
        );
        assert_eq!(
            redact_url("postgresql://u@h/d?sslmode=disable&password=s3cret"),
            "postgresql://u@h/d?sslmode=disable&password=***"
        );
        assert_eq!(redact_url("postgres://h:5432/d"), "postgres://h:5432/d");
        assert_eq!(redact_url("postgres://u:p@h"), "postgres://u:***@h");
        assert!(!redact_url("nonsense s3cret").contains("s3cret"));
    }

    #[test]
    fn a_bad_url_is_refused_without_its_password() {
        let err = PgDb::open("postgres://u:s3cret@h:notaport/d")
            .err()
            .expect("refused")
            .to_string();
        assert!(!err.contains("s3cret"), "{err}");
    }
}
