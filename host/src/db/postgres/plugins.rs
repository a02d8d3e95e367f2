//! The plugin registry in PostgreSQL (the rules of the SQLite store). A move locks the rows of
//! the tenants it moves (`FOR UPDATE`, in tenant order so two moves can't deadlock), so each
//! moved tenant's "where it came from" is what it really was; a rollback locks the rollout it
//! undoes, so two rollbacks at once undo two rollouts, not one twice.

use postgres::Row;

use super::{Begin, PgConn, PgDb, conflict_on_unique};
use crate::db::{DbError, DbResult, NewPlugin, PluginRecord, PluginRollout, PluginStore, now};
use crate::tenant::TenantId;

const PLUGIN_COLUMNS: &str = "sha256, version, contract_version, size, added_at";

/// Rollbacks that lose the latest rollout to another rollback look again this many times.
const ROLLBACK_ATTEMPTS: usize = 8;

fn plugin_row(row: &Row) -> DbResult<PluginRecord> {
    Ok(PluginRecord {
        sha256: row.try_get(0)?,
        version: row.try_get(1)?,
        contract_version: row.try_get(2)?,
        size: row.try_get::<_, i64>(3)?.max(0) as u64,
        added_at: row.try_get(4)?,
    })
}

/// A rollout row (`id, at, plugin_sha256, selection, undone_at`) with the tenants it moved.
fn rollout(conn: &mut PgConn, row: &Row) -> DbResult<PluginRollout> {
    let id: i64 = row.try_get(0)?;
    let mut moved = Vec::new();
    for r in conn.query(
        "SELECT tenant_id, previous_sha256 FROM plugin_rollout_tenants WHERE rollout_id = $1 \
         ORDER BY tenant_id",
        &[&id],
    )? {
        let tenant: String = r.try_get(0)?;
        moved.push((
            TenantId::parse(&tenant).map_err(DbError::Invalid)?,
            r.try_get(1)?,
        ));
    }
    Ok(PluginRollout {
        id,
        at: row.try_get(1)?,
        plugin: row.try_get(2)?,
        selection: row.try_get(3)?,
        moved,
        undone_at: row.try_get(4)?,
    })
}

impl PluginStore for PgDb {
    fn add_plugin(&self, new: &NewPlugin<'_>) -> DbResult<PluginRecord> {
        let size = i64::try_from(new.wasm.len())
            .map_err(|_| DbError::Invalid("the component is too large".into()))?;
        let row = self
            .conn()?
            .query_opt(
                &format!(
                    "INSERT INTO plugins (sha256, version, contract_version, size, wasm, added_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING {PLUGIN_COLUMNS}"
                ),
                &[
                    &new.sha256,
                    &new.version,
                    &new.contract_version,
                    &size,
                    &new.wasm,
                    &now(),
                ],
            )
            .map_err(|e| {
                conflict_on_unique(
                    e,
                    &format!(
                        "the registry has a component with sha256 {} or named {} already",
                        new.sha256, new.version
                    ),
                )
            })?
            .ok_or_else(|| DbError::Invalid("the insert returned no row".into()))?;
        plugin_row(&row)
    }

    fn plugins(&self) -> DbResult<Vec<PluginRecord>> {
        self.conn()?
            .query(
                &format!("SELECT {PLUGIN_COLUMNS} FROM plugins ORDER BY added_at, version"),
                &[],
            )?
            .iter()
            .map(plugin_row)
            .collect()
    }

    fn plugin_wasm(&self, sha256: &str) -> DbResult<Vec<u8>> {
        let row = self
            .conn()?
            .query_opt("SELECT wasm FROM plugins WHERE sha256 = $1", &[&sha256])?
            .ok_or_else(|| DbError::NotFound(format!("plugin component {sha256}")))?;
        Ok(row.try_get(0)?)
    }

    fn plugins_in_use(&self) -> DbResult<Vec<String>> {
        self.conn()?
            .query(
                "SELECT DISTINCT plugin_sha256 FROM tenants WHERE plugin_sha256 IS NOT NULL",
                &[],
            )?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
    }

    fn move_tenants(
        &self,
        plugin: Option<&str>,
        tenants: &[TenantId],
        selection: &str,
    ) -> DbResult<Option<PluginRollout>> {
        let mut ordered: Vec<&TenantId> = tenants.iter().collect();
        ordered.sort();
        ordered.dedup();
        self.tx(Begin::Write, |tx| {
            if let Some(sha) = plugin
                && tx
                    .query_opt("SELECT 1 FROM plugins WHERE sha256 = $1", &[&sha])?
                    .is_none()
            {
                return Err(DbError::NotFound(format!("plugin component {sha}")));
            }
            let mut moving = Vec::new();
            for tenant in &ordered {
                let row = tx
                    .query_opt(
                        "SELECT plugin_sha256 FROM tenants WHERE id = $1 FOR UPDATE",
                        &[&tenant.as_str()],
                    )?
                    .ok_or_else(|| DbError::NotFound(format!("tenant {tenant}")))?;
                let current: Option<String> = row.try_get(0)?;
                if current.as_deref() != plugin {
                    moving.push((*tenant, current));
                }
            }
            if moving.is_empty() {
                return Ok(None);
            }
            let head = tx
                .query_opt(
                    "INSERT INTO plugin_rollouts (at, plugin_sha256, selection) VALUES ($1, $2, $3) \
                     RETURNING id, at, plugin_sha256, selection, undone_at",
                    &[&now(), &plugin, &selection],
                )?
                .ok_or_else(|| DbError::Invalid("the insert returned no row".into()))?;
            let id: i64 = head.try_get(0)?;
            for (tenant, previous) in &moving {
                tx.execute(
                    "UPDATE tenants SET plugin_sha256 = $2 WHERE id = $1",
                    &[&tenant.as_str(), &plugin],
                )?;
                tx.execute(
                    "INSERT INTO plugin_rollout_tenants (rollout_id, tenant_id, previous_sha256) \
                     VALUES ($1, $2, $3)",
                    &[&id, &tenant.as_str(), previous],
                )?;
            }
            rollout(tx, &head).map(Some)
        })
    }

    fn roll_back_plugins(&self) -> DbResult<Option<PluginRollout>> {
        self.tx(Begin::Write, |tx| {
            for _ in 0..ROLLBACK_ATTEMPTS {
                // READ COMMITTED: a rollout another rollback undid while this one waited for its
                // lock no longer matches and comes back as no row; the next statement sees the
                // next latest.
                let head = tx.query_opt(
                    "SELECT id FROM plugin_rollouts WHERE undone_at IS NULL \
                     ORDER BY id DESC LIMIT 1 FOR UPDATE",
                    &[],
                )?;
                let Some(head) = head else {
                    let left = tx.query_opt(
                        "SELECT 1 FROM plugin_rollouts WHERE undone_at IS NULL LIMIT 1",
                        &[],
                    )?;
                    if left.is_none() {
                        return Ok(None);
                    }
                    continue;
                };
                let id: i64 = head.try_get(0)?;
                let row = tx
                    .query_opt(
                        "UPDATE plugin_rollouts SET undone_at = $2 WHERE id = $1 \
                         RETURNING id, at, plugin_sha256, selection, undone_at",
                        &[&id, &now()],
                    )?
                    .ok_or_else(|| DbError::Invalid("the rollout went away".into()))?;
                let mut undone = rollout(tx, &row)?;
                let mut back = Vec::new();
                for (tenant, previous) in std::mem::take(&mut undone.moved) {
                    let changed = tx.execute(
                        "UPDATE tenants SET plugin_sha256 = $2 \
                         WHERE id = $1 AND plugin_sha256 IS NOT DISTINCT FROM $3",
                        &[&tenant.as_str(), &previous, &undone.plugin],
                    )?;
                    if changed == 1 {
                        back.push((tenant, previous));
                    }
                }
                undone.moved = back;
                return Ok(Some(undone));
            }
            Err(DbError::Conflict(
                "other rollbacks kept taking the latest rollout; try again".into(),
            ))
        })
    }

    fn plugin_rollouts(&self, limit: u32) -> DbResult<Vec<PluginRollout>> {
        let mut conn = self.conn()?;
        let rows = conn.query(
            "SELECT id, at, plugin_sha256, selection, undone_at FROM plugin_rollouts \
             ORDER BY id DESC LIMIT $1",
            &[&i64::from(limit)],
        )?;
        rows.iter().map(|r| rollout(&mut conn, r)).collect()
    }
}
