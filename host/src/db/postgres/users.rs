//! Portal users and agents in PostgreSQL: create, read, list, permissions and invoice access.
//! Every statement filters on the tenant id.

use postgres::Row;

use super::{PgDb, conflict_on_unique};
use crate::contract::{Agent, InvoiceAccessLevel, User};
use crate::db::names::{access_level, access_level_name};
use crate::db::{CustomerStore, DbError, DbResult, NewAgent, NewUser, UserStore};
use crate::tenant::TenantId;

pub(super) fn user_row(r: &Row) -> DbResult<User> {
    Ok(User {
        id: r.try_get(0)?,
        customer_id: r.try_get(1)?,
        name: r.try_get(2)?,
        email: r.try_get(3)?,
        invoice_access_level: access_level(&r.try_get::<_, String>(4)?),
    })
}

pub(super) fn agent_row(r: &Row) -> DbResult<Agent> {
    Ok(Agent {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        email: r.try_get(2)?,
        can_receive_manual_stripe_payments: r.try_get(3)?,
        is_admin: r.try_get(4)?,
    })
}

impl UserStore for PgDb {
    fn create_user(&self, tenant: &TenantId, new: &NewUser) -> DbResult<User> {
        self.customer(tenant, new.customer_id)?;
        let row = self
            .conn()?
            .query_opt(
                "INSERT INTO users (tenant_id, customer_id, name, email, invoice_access_level) VALUES ($1, $2, $3, $4, $5)
                 RETURNING id, customer_id, name, email, invoice_access_level",
                &[
                    &tenant.as_str(),
                    &new.customer_id,
                    &new.name,
                    &new.email,
                    &access_level_name(new.invoice_access_level),
                ],
            )
            .map_err(|e| conflict_on_unique(e, &format!("a user with email {} exists", new.email)))?;
        user_row(&row.ok_or_else(|| DbError::NotFound("user".into()))?)
    }

    fn user(&self, tenant: &TenantId, id: i64) -> DbResult<User> {
        let row = self
            .conn()?
            .query_opt(
                "SELECT id, customer_id, name, email, invoice_access_level FROM users WHERE tenant_id = $1 AND id = $2",
                &[&tenant.as_str(), &id],
            )?
            .ok_or_else(|| DbError::NotFound(format!("user {id}")))?;
        user_row(&row)
    }

    fn create_agent(&self, tenant: &TenantId, new: &NewAgent) -> DbResult<Agent> {
        let row = self
            .conn()?
            .query_opt(
                "INSERT INTO agents (tenant_id, name, email, can_receive_manual_stripe_payments, is_admin) VALUES ($1, $2, $3, $4, $5)
                 RETURNING id, name, email, can_receive_manual_stripe_payments, is_admin",
                &[
                    &tenant.as_str(),
                    &new.name,
                    &new.email,
                    &new.can_receive_manual_stripe_payments,
                    &new.is_admin,
                ],
            )
            .map_err(|e| conflict_on_unique(e, &format!("an agent with email {} exists", new.email)))?;
        agent_row(&row.ok_or_else(|| DbError::NotFound("agent".into()))?)
    }

    fn agent(&self, tenant: &TenantId, id: i64) -> DbResult<Agent> {
        let row = self
            .conn()?
            .query_opt(
                "SELECT id, name, email, can_receive_manual_stripe_payments, is_admin FROM agents WHERE tenant_id = $1 AND id = $2",
                &[&tenant.as_str(), &id],
            )?
            .ok_or_else(|| DbError::NotFound(format!("agent {id}")))?;
        agent_row(&row)
    }

    fn agents(&self, tenant: &TenantId) -> DbResult<Vec<Agent>> {
        self.conn()?
            .query(
                "SELECT id, name, email, can_receive_manual_stripe_payments, is_admin FROM agents WHERE tenant_id = $1 ORDER BY id",
                &[&tenant.as_str()],
            )?
            .iter()
            .map(agent_row)
            .collect()
    }

    fn users(&self, tenant: &TenantId) -> DbResult<Vec<User>> {
        self.conn()?
            .query(
                "SELECT id, customer_id, name, email, invoice_access_level FROM users WHERE tenant_id = $1 ORDER BY id",
                &[&tenant.as_str()],
            )?
            .iter()
            .map(user_row)
            .collect()
    }

    fn set_agent_permissions(
        &self,
        tenant: &TenantId,
        id: i64,
        can_receive: bool,
        is_admin: bool,
    ) -> DbResult<()> {
        let changed = self.conn()?.execute(
            "UPDATE agents SET can_receive_manual_stripe_payments = $3, is_admin = $4 WHERE tenant_id = $1 AND id = $2",
            &[&tenant.as_str(), &id, &can_receive, &is_admin],
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
        let changed = self.conn()?.execute(
            "UPDATE users SET invoice_access_level = $3 WHERE tenant_id = $1 AND id = $2",
            &[&tenant.as_str(), &id, &access_level_name(level)],
        )?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("user {id}")));
        }
        Ok(())
    }
}
