//! Portal users and agents in SQLite: create, read, list, permissions and invoice access. Every
//! statement filters on the tenant id.

use rusqlite::{OptionalExtension, params};

use super::CustomerStore as _;
use super::names::*;
use super::sqlite::{SqliteDb, conflict_on_unique};
use super::{DbError, DbResult, NewAgent, NewUser};
use crate::contract::{Agent, InvoiceAccessLevel, User};
use crate::tenant::TenantId;

impl super::UserStore for SqliteDb {
    fn create_user(&self, tenant: &TenantId, new: &NewUser) -> DbResult<User> {
        self.customer(tenant, new.customer_id)?;
        let conn = self.conn()?;
        conn.prepare_cached("INSERT INTO users (tenant_id, customer_id, name, email, invoice_access_level) VALUES (?1, ?2, ?3, ?4, ?5)")?.execute(
            params![
                tenant.as_str(),
                new.customer_id,
                new.name,
                new.email,
                access_level_name(new.invoice_access_level)
            ],
        )
        .map_err(|e| conflict_on_unique(e, &format!("a user with email {} exists", new.email)))?;
        let id = conn.last_insert_rowid();
        drop(conn);
        self.user(tenant, id)
    }

    fn user(&self, tenant: &TenantId, id: i64) -> DbResult<User> {
        self.conn()?
            .prepare_cached("SELECT id, customer_id, name, email, invoice_access_level FROM users WHERE tenant_id = ?1 AND id = ?2")?.query_row(
                params![tenant.as_str(), id],
                |r| {
                    Ok(User {
                        id: r.get(0)?,
                        customer_id: r.get(1)?,
                        name: r.get(2)?,
                        email: r.get(3)?,
                        invoice_access_level: access_level(&r.get::<_, String>(4)?),
                    })
                },
            )
            .optional()?
            .ok_or_else(|| DbError::NotFound(format!("user {id}")))
    }

    fn create_agent(&self, tenant: &TenantId, new: &NewAgent) -> DbResult<Agent> {
        let conn = self.conn()?;
        conn.prepare_cached("INSERT INTO agents (tenant_id, name, email, can_receive_manual_stripe_payments, is_admin) VALUES (?1, ?2, ?3, ?4, ?5)")?.execute(
            params![tenant.as_str(), new.name, new.email, new.can_receive_manual_stripe_payments, new.is_admin],
        )
        .map_err(|e| conflict_on_unique(e, &format!("an agent with email {} exists", new.email)))?;
        let id = conn.last_insert_rowid();
        drop(conn);
        self.agent(tenant, id)
    }

    fn agent(&self, tenant: &TenantId, id: i64) -> DbResult<Agent> {
        self.conn()?
            .prepare_cached("SELECT id, name, email, can_receive_manual_stripe_payments, is_admin FROM agents WHERE tenant_id = ?1 AND id = ?2")?.query_row(
                params![tenant.as_str(), id],
                |r| {
                    Ok(Agent {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        email: r.get(2)?,
                        can_receive_manual_stripe_payments: r.get(3)?,
                        is_admin: r.get(4)?,
                    })
                },
            )
            .optional()?
            .ok_or_else(|| DbError::NotFound(format!("agent {id}")))
    }

    fn agents(&self, tenant: &TenantId) -> DbResult<Vec<Agent>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, name, email, can_receive_manual_stripe_payments, is_admin FROM agents WHERE tenant_id = ?1 ORDER BY id",
        )?;
        let rows = stmt
            .query_map(params![tenant.as_str()], |r| {
                Ok(Agent {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    email: r.get(2)?,
                    can_receive_manual_stripe_payments: r.get(3)?,
                    is_admin: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn users(&self, tenant: &TenantId) -> DbResult<Vec<User>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, customer_id, name, email, invoice_access_level FROM users WHERE tenant_id = ?1 ORDER BY id",
        )?;
        let rows = stmt
            .query_map(params![tenant.as_str()], |r| {
                Ok(User {
                    id: r.get(0)?,
                    customer_id: r.get(1)?,
                    name: r.get(2)?,
                    email: r.get(3)?,
                    invoice_access_level: access_level(&r.get::<_, String>(4)?),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn set_agent_permissions(
        &self,
        tenant: &TenantId,
        id: i64,
        can_receive: bool,
        is_admin: bool,
    ) -> DbResult<()> {
        let changed = self.conn()?.prepare_cached("UPDATE agents SET can_receive_manual_stripe_payments = ?3, is_admin = ?4 WHERE tenant_id = ?1 AND id = ?2")?.execute(
            params![tenant.as_str(), id, can_receive, is_admin],
        )?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("agent {id}")));
        }
        Ok(())
    }

    fn set_invoice_access(
        &self,
        tenant: &TenantId,
        id: i64,
        level: InvoiceAccessLevel,
    ) -> DbResult<()> {
        let changed = self
            .conn()?
            .prepare_cached(
                "UPDATE users SET invoice_access_level = ?3 WHERE tenant_id = ?1 AND id = ?2",
            )?
            .execute(params![tenant.as_str(), id, access_level_name(level)])?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("user {id}")));
        }
        Ok(())
    }
}
