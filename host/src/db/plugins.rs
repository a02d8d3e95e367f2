//! The plugin registry in SQLite: components by content hash, tenants' components, and rollouts
//! (each `plugin use`, with where every moved tenant came from). A move and its record are one
//! immediate (write-locked) transaction; so is a rollback.

use rusqlite::{OptionalExtension, params};

use super::sqlite::{SqliteDb, conflict_on_unique};
use super::{DbError, DbResult, NewPlugin, PluginRecord, PluginRollout, PluginStore, now};
use crate::tenant::TenantId;

const PLUGIN_COLUMNS: &str = "sha256, version, contract_version, size, added_at";

fn plugin_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<PluginRecord> {
    Ok(PluginRecord {
        sha256: row.get(0)?,
        version: row.get(1)?,
        contract_version: row.get(2)?,
        size: row.get::<_, i64>(3)?.max(0) as u64,
        added_at: row.get(4)?,
    })
}

/// The tenants a rollout moved, with where each came from, in tenant order.
fn rollout_tenants(
    conn: &rusqlite::Connection,
    id: i64,
) -> DbResult<Vec<(TenantId, Option<String>)>> {
    let mut statement = conn.prepare_cached(
        "SELECT tenant_id, previous_sha256 FROM plugin_rollout_tenants WHERE rollout_id = ?1 \
         ORDER BY tenant_id",
    )?;
    let rows = statement.query_map(params![id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
    })?;
    let mut moved = Vec::new();
    for row in rows {
        let (tenant, previous) = row?;
        moved.push((
            TenantId::parse(&tenant).map_err(DbError::Invalid)?,
            previous,
        ));
    }
    Ok(moved)
}

type RolloutHead = (i64, i64, Option<String>, String, Option<i64>);

fn rollout(conn: &rusqlite::Connection, head: RolloutHead) -> DbResult<PluginRollout> {
    let (id, at, plugin, selection, undone_at) = head;
    Ok(PluginRollout {
        id,
        at,
        plugin,
        selection,
        moved: rollout_tenants(conn, id)?,
        undone_at,
    })
}

impl PluginStore for SqliteDb {
    fn add_plugin(&self, new: &NewPlugin<'_>) -> DbResult<PluginRecord> {
        let size = i64::try_from(new.wasm.len())
            .map_err(|_| DbError::Invalid("the component is too large".into()))?;
        let conn = self.conn()?;
        conn.prepare_cached(&format!(
            "INSERT INTO plugins (sha256, version, contract_version, size, wasm, added_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING {PLUGIN_COLUMNS}"
        ))?
        .query_row(
            params![
                new.sha256,
                new.version,
                new.contract_version,
                size,
                new.wasm,
                now()
            ],
            plugin_row,
        )
        .map_err(|e| {
            conflict_on_unique(
                e,
                &format!(
                    "the registry has a component with sha256 {} or named {} already",
                    new.sha256, new.version
                ),
            )
        })
    }

    fn plugins(&self) -> DbResult<Vec<PluginRecord>> {
        let conn = self.conn()?;
        let mut statement = conn.prepare_cached(&format!(
            "SELECT {PLUGIN_COLUMNS} FROM plugins ORDER BY added_at, version"
        ))?;
        let rows = statement.query_map([], plugin_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn plugin_wasm(&self, sha256: &str) -> DbResult<Vec<u8>> {
        self.conn()?
            .prepare_cached("SELECT wasm FROM plugins WHERE sha256 = ?1")?
            .query_row(params![sha256], |r| r.get(0))
            .optional()?
            .ok_or_else(|| DbError::NotFound(format!("plugin component {sha256}")))
    }

    fn plugins_in_use(&self) -> DbResult<Vec<String>> {
        let conn = self.conn()?;
        let mut statement = conn.prepare_cached(
            "SELECT DISTINCT plugin_sha256 FROM tenants WHERE plugin_sha256 IS NOT NULL",
        )?;
        let rows = statement.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn move_tenants(
        &self,
        plugin: Option<&str>,
        tenants: &[TenantId],
        selection: &str,
    ) -> DbResult<Option<PluginRollout>> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if let Some(sha) = plugin {
            let known: Option<i64> = tx
                .prepare_cached("SELECT 1 FROM plugins WHERE sha256 = ?1")?
                .query_row(params![sha], |r| r.get(0))
                .optional()?;
            if known.is_none() {
                return Err(DbError::NotFound(format!("plugin component {sha}")));
            }
        }
        let mut ordered: Vec<&TenantId> = tenants.iter().collect();
        ordered.sort();
        ordered.dedup();
        let mut moving = Vec::new();
        for tenant in ordered {
            let current: Option<Option<String>> = tx
                .prepare_cached("SELECT plugin_sha256 FROM tenants WHERE id = ?1")?
                .query_row(params![tenant.as_str()], |r| r.get(0))
                .optional()?;
            match current {
                None => return Err(DbError::NotFound(format!("tenant {tenant}"))),
                Some(current) if current.as_deref() != plugin => {
                    moving.push((tenant.clone(), current))
                }
                Some(_) => {}
            }
        }
        if moving.is_empty() {
            return Ok(None);
        }
        let at = now();
        let id: i64 = tx
            .prepare_cached(
                "INSERT INTO plugin_rollouts (at, plugin_sha256, selection) VALUES (?1, ?2, ?3) \
                 RETURNING id",
            )?
            .query_row(params![at, plugin, selection], |r| r.get(0))?;
        for (tenant, previous) in &moving {
            tx.prepare_cached("UPDATE tenants SET plugin_sha256 = ?2 WHERE id = ?1")?
                .execute(params![tenant.as_str(), plugin])?;
            tx.prepare_cached(
                "INSERT INTO plugin_rollout_tenants (rollout_id, tenant_id, previous_sha256) \
                 VALUES (?1, ?2, ?3)",
            )?
            .execute(params![id, tenant.as_str(), previous])?;
        }
        let rollout = rollout(
            &tx,
            (id, at, plugin.map(str::to_string), selection.into(), None),
        )?;
        tx.commit()?;
        Ok(Some(rollout))
    }

    fn roll_back_plugins(&self) -> DbResult<Option<PluginRollout>> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let head: Option<(i64, i64, Option<String>, String)> = tx
            .prepare_cached(
                "SELECT id, at, plugin_sha256, selection FROM plugin_rollouts \
                 WHERE undone_at IS NULL ORDER BY id DESC LIMIT 1",
            )?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .optional()?;
        let Some((id, at, plugin, selection)) = head else {
            return Ok(None);
        };
        let undone = now();
        tx.prepare_cached("UPDATE plugin_rollouts SET undone_at = ?2 WHERE id = ?1")?
            .execute(params![id, undone])?;
        let mut rollout = rollout(&tx, (id, at, plugin, selection, Some(undone)))?;
        let mut back = Vec::new();
        for (tenant, previous) in rollout.moved {
            let changed = tx
                .prepare_cached(
                    "UPDATE tenants SET plugin_sha256 = ?2 WHERE id = ?1 AND plugin_sha256 IS ?3",
                )?
                .execute(params![tenant.as_str(), previous, rollout.plugin])?;
            if changed == 1 {
                back.push((tenant, previous));
            }
        }
        rollout.moved = back;
        tx.commit()?;
        Ok(Some(rollout))
    }

    fn plugin_rollouts(&self, limit: u32) -> DbResult<Vec<PluginRollout>> {
        let conn = self.conn()?;
        let heads: Vec<RolloutHead> = conn
            .prepare_cached(
                "SELECT id, at, plugin_sha256, selection, undone_at FROM plugin_rollouts \
                 ORDER BY id DESC LIMIT ?1",
            )?
            .query_map(params![limit], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        heads.into_iter().map(|h| rollout(&conn, h)).collect()
    }
}
