//! The SQLite database: a file in WAL mode, a small pool of connections (each with a busy timeout,
//! so two processes on one file wait rather than fail), migrations at open, and the plugin's
//! key/value storage. Helpdesk records and tenants are in their own files.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::{DbError, DbResult, KvEntry, KvStore, migrations, now};
use crate::tenant::TenantId;

/// Connections kept open for reuse.
const POOL_SIZE: usize = 32;

/// The reference database.
pub struct SqliteDb {
    path: PathBuf,
    pool: Mutex<Vec<Connection>>,
}

/// A connection borrowed from the pool; returned on drop.
pub(super) struct Conn<'a> {
    db: &'a SqliteDb,
    conn: Option<Connection>,
}

impl std::ops::Deref for Conn<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("connection present until drop")
    }
}

impl std::ops::DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("connection present until drop")
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let mut pool = self.db.pool.lock().unwrap_or_else(|p| p.into_inner());
            if pool.len() < POOL_SIZE {
                pool.push(conn);
            }
        }
    }
}

impl SqliteDb {
    /// Open (creating if needed) the database at `path` and migrate it.
    pub fn open(path: &Path) -> DbResult<SqliteDb> {
        let db = SqliteDb {
            path: path.to_path_buf(),
            pool: Mutex::new(Vec::new()),
        };
        let mut conn = db.conn()?;
        migrations::migrate(&mut conn)?;
        drop(conn);
        Ok(db)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open_connection(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Copy the log back into the database every 8192 pages (32 MiB) rather than every 1000:
        // pages written over and over (indexes, a tenant's rows) are copied, and synced, once per
        // checkpoint.
        conn.pragma_update(None, "wal_autocheckpoint", 8192)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Every query is a prepared statement kept per connection (`prepare_cached`). With the
        // planner's stability guarantee on, a kept statement is not prepared again each time a
        // parameter changes (the bundled SQLite re-plans on new bindings otherwise, STAT4).
        conn.set_prepared_statement_cache_capacity(128);
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        Ok(conn)
    }

    pub(super) fn conn(&self) -> DbResult<Conn<'_>> {
        let pooled = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match pooled {
            Some(c) => c,
            None => self.open_connection()?,
        };
        Ok(Conn {
            db: self,
            conn: Some(conn),
        })
    }
}

/// A unique-constraint violation, as a conflict naming what was duplicated.
pub(super) fn conflict_on_unique(e: rusqlite::Error, what: &str) -> DbError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            DbError::Conflict(what.to_string())
        }
        other => other.into(),
    }
}

fn kv_entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<KvEntry> {
    Ok(KvEntry {
        key: row.get(0)?,
        value: row.get(1)?,
        version: row.get::<_, i64>(2)? as u64,
        updated_at: row.get(3)?,
    })
}

impl KvStore for SqliteDb {
    fn kv_get(&self, tenant: &TenantId, key: &str) -> DbResult<Option<KvEntry>> {
        Ok(self
            .conn()?
            .prepare_cached("SELECT key, value, version, updated_at FROM plugin_kv WHERE tenant_id = ?1 AND key = ?2")?.query_row(
                params![tenant.as_str(), key],
                kv_entry,
            )
            .optional()?)
    }

    fn kv_put_new(&self, tenant: &TenantId, key: &str, value: &[u8]) -> DbResult<u64> {
        self.conn()?
            .prepare_cached("INSERT INTO plugin_kv (tenant_id, key, value, version, updated_at) VALUES (?1, ?2, ?3, 1, ?4)")?.execute(
                params![tenant.as_str(), key, value, now()],
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
        let conn = self.conn()?;
        let changed = conn
            .prepare_cached(
                "UPDATE plugin_kv SET value = ?3, version = version + 1, updated_at = ?5
             WHERE tenant_id = ?1 AND key = ?2 AND version = ?4",
            )?
            .execute(params![tenant.as_str(), key, value, expected as i64, now()])?;
        if changed == 1 {
            return Ok(expected + 1);
        }
        let exists: bool = conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM plugin_kv WHERE tenant_id = ?1 AND key = ?2)",
            )?
            .query_row(params![tenant.as_str(), key], |r| r.get(0))?;
        if exists {
            Err(DbError::Conflict(format!(
                "key `{key}` is no longer at version {expected}"
            )))
        } else {
            Err(DbError::NotFound(format!("key `{key}`")))
        }
    }

    fn kv_delete(&self, tenant: &TenantId, key: &str, expected: Option<u64>) -> DbResult<bool> {
        let conn = self.conn()?;
        let changed = match expected {
            Some(v) => conn
                .prepare_cached(
                    "DELETE FROM plugin_kv WHERE tenant_id = ?1 AND key = ?2 AND version = ?3",
                )?
                .execute(params![tenant.as_str(), key, v as i64])?,
            None => conn
                .prepare_cached("DELETE FROM plugin_kv WHERE tenant_id = ?1 AND key = ?2")?
                .execute(params![tenant.as_str(), key])?,
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
        let conn = self.conn()?;
        // Prefix match by range, not LIKE: keys may contain % and _.
        let mut stmt = conn.prepare_cached(
            "SELECT key, value, version, updated_at FROM plugin_kv
             WHERE tenant_id = ?1 AND key >= ?2 AND substr(key, 1, length(?2)) = ?2 AND key > ?3
             ORDER BY key LIMIT ?4",
        )?;
        let rows = stmt
            .query_map(
                params![
                    tenant.as_str(),
                    prefix,
                    start_after.unwrap_or(""),
                    limit.min(1000)
                ],
                kv_entry,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}
