//! Customers in SQLite: create, update, read, list, and the Stripe fields the plugin keeps on them
//! (customer id, automatic method, sync error) and its own autopay cap. Every statement filters on the tenant id.

use rusqlite::{OptionalExtension, params};

use super::sqlite::{SqliteDb, conflict_on_unique};
use super::{DbError, DbResult, NewCustomer};
use crate::contract::Customer;
use crate::tenant::TenantId;

pub(super) const CUSTOMER_COLUMNS: &str = "id, name, accounts_email, accounts_cc_email, stripe_customer_id, \
     stripe_payment_method_id, stripe_payment_method_name, stripe_sync_error";

pub(super) fn customer_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Customer> {
    Ok(Customer {
        id: r.get(0)?,
        name: r.get(1)?,
        accounts_email: r.get(2)?,
        accounts_cc_email: r.get(3)?,
        stripe_customer_id: r.get(4)?,
        stripe_payment_method_id: r.get(5)?,
        stripe_payment_method_name: r.get(6)?,
        stripe_sync_error: r.get(7)?,
    })
}

impl super::CustomerStore for SqliteDb {
    fn create_customer(&self, tenant: &TenantId, new: &NewCustomer) -> DbResult<Customer> {
        let conn = self.conn()?;
        conn.prepare_cached("INSERT INTO customers (tenant_id, name, accounts_email, accounts_cc_email) VALUES (?1, ?2, ?3, ?4)")?.execute(
            params![tenant.as_str(), new.name, new.accounts_email, new.accounts_cc_email],
        )?;
        let id = conn.last_insert_rowid();
        drop(conn);
        self.customer(tenant, id)
    }

    fn update_customer(&self, tenant: &TenantId, id: i64, new: &NewCustomer) -> DbResult<Customer> {
        let changed = self
            .conn()?
            .prepare_cached(
                "UPDATE customers SET name = ?3, accounts_email = ?4, accounts_cc_email = ?5
             WHERE tenant_id = ?1 AND id = ?2",
            )?
            .execute(params![
                tenant.as_str(),
                id,
                new.name,
                new.accounts_email,
                new.accounts_cc_email
            ])?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("customer {id}")));
        }
        self.customer(tenant, id)
    }

    fn customer(&self, tenant: &TenantId, id: i64) -> DbResult<Customer> {
        self.conn()?
            .prepare_cached(&format!(
                "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE tenant_id = ?1 AND id = ?2"
            ))?
            .query_row(params![tenant.as_str(), id], customer_row)
            .optional()?
            .ok_or_else(|| DbError::NotFound(format!("customer {id}")))
    }

    fn customers(
        &self,
        tenant: &TenantId,
        after: Option<i64>,
        limit: u32,
    ) -> DbResult<Vec<Customer>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE tenant_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
        ))?;
        let rows = stmt
            .query_map(
                params![tenant.as_str(), after.unwrap_or(0), limit.min(1000)],
                customer_row,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn set_stripe_customer_id(
        &self,
        tenant: &TenantId,
        id: i64,
        stripe_id: Option<&str>,
    ) -> DbResult<()> {
        let changed = self
            .conn()?
            .prepare_cached(
                "UPDATE customers SET stripe_customer_id = ?3 WHERE tenant_id = ?1 AND id = ?2",
            )?
            .execute(params![tenant.as_str(), id, stripe_id])
            .map_err(|e| {
                conflict_on_unique(
                    e,
                    &format!(
                        "Stripe customer {} is already mapped to another customer",
                        stripe_id.unwrap_or_default()
                    ),
                )
            })?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("customer {id}")));
        }
        Ok(())
    }

    fn set_automatic_payment_method(
        &self,
        tenant: &TenantId,
        id: i64,
        method: Option<(&str, &str)>,
    ) -> DbResult<()> {
        let changed = self.conn()?.prepare_cached("UPDATE customers SET stripe_payment_method_id = ?3, stripe_payment_method_name = ?4
             WHERE tenant_id = ?1 AND id = ?2")?.execute(
            params![
                tenant.as_str(),
                id,
                method.map(|m| m.0),
                method.map(|m| m.1)
            ],
        )?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("customer {id}")));
        }
        Ok(())
    }

    fn set_stripe_sync_error(
        &self,
        tenant: &TenantId,
        id: i64,
        error: Option<&str>,
    ) -> DbResult<()> {
        let changed = self
            .conn()?
            .prepare_cached(
                "UPDATE customers SET stripe_sync_error = ?3 WHERE tenant_id = ?1 AND id = ?2",
            )?
            .execute(params![tenant.as_str(), id, error])?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("customer {id}")));
        }
        Ok(())
    }

    fn autopay_cap(&self, tenant: &TenantId, id: i64) -> DbResult<Option<i64>> {
        self.conn()?
            .prepare_cached(
                "SELECT autopay_max_amount FROM customers WHERE tenant_id = ?1 AND id = ?2",
            )?
            .query_row(params![tenant.as_str(), id], |r| r.get(0))
            .optional()?
            .ok_or_else(|| DbError::NotFound(format!("customer {id}")))
    }

    fn set_autopay_cap(&self, tenant: &TenantId, id: i64, cap: Option<i64>) -> DbResult<()> {
        let changed = self
            .conn()?
            .prepare_cached(
                "UPDATE customers SET autopay_max_amount = ?3 WHERE tenant_id = ?1 AND id = ?2",
            )?
            .execute(params![tenant.as_str(), id, cap])?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("customer {id}")));
        }
        Ok(())
    }

    fn autopay_caps(
        &self,
        tenant: &TenantId,
        after: Option<i64>,
        through: i64,
    ) -> DbResult<Vec<(i64, i64)>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, autopay_max_amount FROM customers
             WHERE tenant_id = ?1 AND id > ?2 AND id <= ?3 AND autopay_max_amount IS NOT NULL ORDER BY id",
        )?;
        let rows = stmt
            .query_map(params![tenant.as_str(), after.unwrap_or(0), through], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn customer_by_stripe_id(
        &self,
        tenant: &TenantId,
        stripe_id: &str,
    ) -> DbResult<Option<Customer>> {
        Ok(self
            .conn()?
            .prepare_cached(&format!(
                "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE tenant_id = ?1 AND stripe_customer_id = ?2"
            ))?
            .query_row(params![tenant.as_str(), stripe_id], customer_row)
            .optional()?)
    }

    fn customers_by_automatic_method(
        &self,
        tenant: &TenantId,
        pm_id: &str,
        limit: u32,
    ) -> DbResult<Vec<Customer>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {CUSTOMER_COLUMNS} FROM customers
             WHERE tenant_id = ?1 AND stripe_payment_method_id = ?2 ORDER BY id LIMIT ?3"
        ))?;
        let rows = stmt
            .query_map(
                params![tenant.as_str(), pm_id, limit.min(1000)],
                customer_row,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn observe_automatic_payment_method(
        &self,
        tenant: &TenantId,
        id: i64,
        method: Option<(&str, &str)>,
        observed_at: i64,
        only_if: Option<&str>,
    ) -> DbResult<bool> {
        let conn = self.conn()?;
        let changed = conn
            .prepare_cached(
                "UPDATE customers SET stripe_payment_method_id = ?3, stripe_payment_method_name = ?4,
                     stripe_payment_method_observed_at = ?5
                 WHERE tenant_id = ?1 AND id = ?2
                   AND (stripe_payment_method_observed_at IS NULL OR stripe_payment_method_observed_at <= ?5)
                   AND (?6 IS NULL OR stripe_payment_method_id = ?6)",
            )?
            .execute(params![
                tenant.as_str(),
                id,
                method.map(|m| m.0),
                method.map(|m| m.1),
                observed_at,
                only_if
            ])?;
        if changed == 0 {
            // Not applied: say whether the customer exists at all.
            conn.prepare_cached("SELECT 1 FROM customers WHERE tenant_id = ?1 AND id = ?2")?
                .query_row(params![tenant.as_str(), id], |_| Ok(()))
                .optional()?
                .ok_or_else(|| DbError::NotFound(format!("customer {id}")))?;
        }
        Ok(changed > 0)
    }
}
