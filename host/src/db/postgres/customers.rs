//! Customers in PostgreSQL: create, update, read, list, and the Stripe fields the plugin keeps on
//! them, and its own autopay cap. Every statement filters on the tenant id, so an id of another tenant is "not found".

use postgres::Row;

use super::{PgDb, conflict_on_unique};
use crate::contract::Customer;
use crate::db::{CustomerStore, DbError, DbResult, NewCustomer};
use crate::tenant::TenantId;

pub(super) const CUSTOMER_COLUMNS: &str = "id, name, accounts_email, accounts_cc_email, stripe_customer_id, \
     stripe_payment_method_id, stripe_payment_method_name, stripe_sync_error";

pub(super) fn customer_row(r: &Row) -> DbResult<Customer> {
    Ok(Customer {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        accounts_email: r.try_get(2)?,
        accounts_cc_email: r.try_get(3)?,
        stripe_customer_id: r.try_get(4)?,
        stripe_payment_method_id: r.try_get(5)?,
        stripe_payment_method_name: r.try_get(6)?,
        stripe_sync_error: r.try_get(7)?,
    })
}

impl CustomerStore for PgDb {
    fn create_customer(&self, tenant: &TenantId, new: &NewCustomer) -> DbResult<Customer> {
        let row = self.conn()?.query_opt(
            &format!(
                "INSERT INTO customers (tenant_id, name, accounts_email, accounts_cc_email) VALUES ($1, $2, $3, $4)
                 RETURNING {CUSTOMER_COLUMNS}"
            ),
            &[&tenant.as_str(), &new.name, &new.accounts_email, &new.accounts_cc_email],
        )?;
        customer_row(&row.ok_or_else(|| DbError::NotFound("customer".into()))?)
    }

    fn update_customer(&self, tenant: &TenantId, id: i64, new: &NewCustomer) -> DbResult<Customer> {
        let row = self.conn()?.query_opt(
            &format!(
                "UPDATE customers SET name = $3, accounts_email = $4, accounts_cc_email = $5
                 WHERE tenant_id = $1 AND id = $2 RETURNING {CUSTOMER_COLUMNS}"
            ),
            &[
                &tenant.as_str(),
                &id,
                &new.name,
                &new.accounts_email,
                &new.accounts_cc_email,
            ],
        )?;
        customer_row(&row.ok_or_else(|| DbError::NotFound(format!("customer {id}")))?)
    }

    fn customer(&self, tenant: &TenantId, id: i64) -> DbResult<Customer> {
        let row = self
            .conn()?
            .query_opt(
                &format!(
                    "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE tenant_id = $1 AND id = $2"
                ),
                &[&tenant.as_str(), &id],
            )?
            .ok_or_else(|| DbError::NotFound(format!("customer {id}")))?;
        customer_row(&row)
    }

    fn customers(
        &self,
        tenant: &TenantId,
        after: Option<i64>,
        limit: u32,
    ) -> DbResult<Vec<Customer>> {
        self.conn()?
            .query(
                &format!(
                    "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
                ),
                &[&tenant.as_str(), &after.unwrap_or(0), &i64::from(limit.min(1000))],
            )?
            .iter()
            .map(customer_row)
            .collect()
    }

    fn set_stripe_customer_id(
        &self,
        tenant: &TenantId,
        id: i64,
        stripe_id: Option<&str>,
    ) -> DbResult<()> {
        let changed = self
            .conn()?
            .execute(
                "UPDATE customers SET stripe_customer_id = $3 WHERE tenant_id = $1 AND id = $2",
                &[&tenant.as_str(), &id, &stripe_id],
            )
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
        let changed = self.conn()?.execute(
            "UPDATE customers SET stripe_payment_method_id = $3, stripe_payment_method_name = $4
             WHERE tenant_id = $1 AND id = $2",
            &[
                &tenant.as_str(),
                &id,
                &method.map(|m| m.0),
                &method.map(|m| m.1),
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
        let changed = self.conn()?.execute(
            "UPDATE customers SET stripe_sync_error = $3 WHERE tenant_id = $1 AND id = $2",
            &[&tenant.as_str(), &id, &error],
        )?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("customer {id}")));
        }
        Ok(())
    }

    fn autopay_cap(&self, tenant: &TenantId, id: i64) -> DbResult<Option<i64>> {
        let row = self
            .conn()?
            .query_opt(
                "SELECT autopay_max_amount FROM customers WHERE tenant_id = $1 AND id = $2",
                &[&tenant.as_str(), &id],
            )?
            .ok_or_else(|| DbError::NotFound(format!("customer {id}")))?;
        Ok(row.try_get(0)?)
    }

    fn set_autopay_cap(&self, tenant: &TenantId, id: i64, cap: Option<i64>) -> DbResult<()> {
        let changed = self.conn()?.execute(
            "UPDATE customers SET autopay_max_amount = $3 WHERE tenant_id = $1 AND id = $2",
            &[&tenant.as_str(), &id, &cap],
        )?;
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
        self.conn()?
            .query(
                "SELECT id, autopay_max_amount FROM customers
                 WHERE tenant_id = $1 AND id > $2 AND id <= $3 AND autopay_max_amount IS NOT NULL ORDER BY id",
                &[&tenant.as_str(), &after.unwrap_or(0), &through],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    fn customer_by_stripe_id(
        &self,
        tenant: &TenantId,
        stripe_id: &str,
    ) -> DbResult<Option<Customer>> {
        self.conn()?
            .query_opt(
                &format!(
                    "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE tenant_id = $1 AND stripe_customer_id = $2"
                ),
                &[&tenant.as_str(), &stripe_id],
            )?
            .as_ref()
            .map(customer_row)
            .transpose()
    }

    fn customers_by_automatic_method(
        &self,
        tenant: &TenantId,
        pm_id: &str,
        limit: u32,
    ) -> DbResult<Vec<Customer>> {
        self.conn()?
            .query(
                &format!(
                    "SELECT {CUSTOMER_COLUMNS} FROM customers
                     WHERE tenant_id = $1 AND stripe_payment_method_id = $2 ORDER BY id LIMIT $3"
                ),
                &[&tenant.as_str(), &pm_id, &i64::from(limit.min(1000))],
            )?
            .iter()
            .map(customer_row)
            .collect()
    }

    fn observe_automatic_payment_method(
        &self,
        tenant: &TenantId,
        id: i64,
        method: Option<(&str, &str)>,
        observed_at: i64,
        only_if: Option<&str>,
    ) -> DbResult<bool> {
        let mut conn = self.conn()?;
        let changed = conn.execute(
            "UPDATE customers SET stripe_payment_method_id = $3, stripe_payment_method_name = $4,
                 stripe_payment_method_observed_at = $5
             WHERE tenant_id = $1 AND id = $2
               AND (stripe_payment_method_observed_at IS NULL OR stripe_payment_method_observed_at <= $5)
               AND ($6::TEXT IS NULL OR stripe_payment_method_id = $6)",
            &[
                &tenant.as_str(),
                &id,
                &method.map(|m| m.0),
                &method.map(|m| m.1),
                &observed_at,
                &only_if,
            ],
        )?;
        if changed == 0 {
            // Not applied: say whether the customer exists at all.
            conn.query_opt(
                "SELECT 1 FROM customers WHERE tenant_id = $1 AND id = $2",
                &[&tenant.as_str(), &id],
            )?
            .ok_or_else(|| DbError::NotFound(format!("customer {id}")))?;
        }
        Ok(changed > 0)
    }
}
