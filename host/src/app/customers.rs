//! Customers and their Stripe side: saving a customer (then syncing it to Stripe when enabled —
//! a Stripe failure leaves the save standing and shows on the customer), mappings, payment methods,
//! and whether its automatic card expires soon.

use super::{App, CallError};
use crate::contract::Customer;
use crate::contract::exports::paydesk::stripe::admin;
use crate::contract::reminders::ExpiringCard;
use crate::db::NewCustomer;
use crate::tenant::TenantId;

/// A saved customer and what syncing it did.
#[derive(Debug)]
pub struct SavedCustomer {
    pub customer: Customer,
    /// The sync's failure, if it failed (also on `customer.stripe_sync_error`).
    pub sync_error: Option<CallError>,
}

impl App {
    /// Create a customer, then sync it to Stripe when the tenant enabled it.
    pub fn create_customer(
        &self,
        tenant: &TenantId,
        new: &NewCustomer,
    ) -> Result<SavedCustomer, CallError> {
        let created = self.db().create_customer(tenant, new)?;
        self.after_save(tenant, created.id)
    }

    /// Update a customer, then sync it to Stripe when the tenant enabled it.
    pub fn update_customer(
        &self,
        tenant: &TenantId,
        id: i64,
        new: &NewCustomer,
    ) -> Result<SavedCustomer, CallError> {
        self.db().update_customer(tenant, id, new)?;
        self.after_save(tenant, id)
    }

    fn after_save(&self, tenant: &TenantId, id: i64) -> Result<SavedCustomer, CallError> {
        let sync_error = self.customer_saved(tenant, id).err();
        if let Some(e) = &sync_error {
            tracing::warn!(tenant = tenant.as_str(), customer = id, error = %e, "customer sync to Stripe failed");
        }
        Ok(SavedCustomer {
            customer: self.db().customer(tenant, id)?,
            sync_error,
        })
    }

    /// One page of the tenant's Stripe customers.
    pub fn list_stripe_customers(
        &self,
        tenant: &TenantId,
        starting_after: Option<&str>,
        limit: u32,
    ) -> Result<admin::StripeCustomerPage, CallError> {
        let ctx = self.context(tenant, None)?;
        self.call_in(
            ctx,
            "admin.list-stripe-customers",
            &(starting_after, limit),
            |p, s| {
                p.paydesk_stripe_admin()
                    .call_list_stripe_customers(s, starting_after, limit)
            },
        )
    }

    /// Map a customer to a Stripe customer that exists.
    pub fn add_mapping(
        &self,
        tenant: &TenantId,
        customer: i64,
        stripe_customer_id: &str,
    ) -> Result<(), CallError> {
        let ctx = self.context(tenant, None)?;
        self.call_in(
            ctx,
            "admin.add-mapping",
            &(customer, stripe_customer_id),
            |p, s| {
                p.paydesk_stripe_admin()
                    .call_add_mapping(s, customer, stripe_customer_id)
            },
        )
    }

    /// Remove a customer's mapping, and the automatic payment method that belonged to it.
    pub fn remove_mapping(&self, tenant: &TenantId, customer: i64) -> Result<(), CallError> {
        self.db()
            .set_automatic_payment_method(tenant, customer, None)?;
        self.db().set_stripe_customer_id(tenant, customer, None)?;
        Ok(())
    }

    /// "Generate mappings".
    pub fn generate_mappings(&self, tenant: &TenantId) -> Result<admin::MappingReport, CallError> {
        let ctx = self.context(tenant, None)?;
        self.call_in(ctx, "admin.generate-mappings", &(), |p, s| {
            p.paydesk_stripe_admin().call_generate_mappings(s)
        })
    }

    /// The customer's payment methods in Stripe, of the imported types.
    pub fn list_payment_methods(
        &self,
        tenant: &TenantId,
        customer: i64,
    ) -> Result<Vec<admin::PaymentMethodSummary>, CallError> {
        let ctx = self.context(tenant, None)?;
        self.call_in(ctx, "admin.list-payment-methods", &customer, |p, s| {
            p.paydesk_stripe_admin()
                .call_list_payment_methods(s, customer)
        })
    }

    /// Set (some) or clear (none) the customer's automatic payment method; its display name.
    pub fn set_automatic_payment_method(
        &self,
        tenant: &TenantId,
        customer: i64,
        payment_method: Option<&str>,
    ) -> Result<Option<String>, CallError> {
        let ctx = self.context(tenant, None)?;
        self.call_in(
            ctx,
            "payments.set-automatic-payment-method",
            &(customer, payment_method),
            |p, s| {
                p.paydesk_stripe_payments()
                    .call_set_automatic_payment_method(s, customer, payment_method)
            },
        )
    }

    /// The customer's automatic card when it expires in the tenant's this month or next, and
    /// whether its reminder for this month is in the outbox; none when it doesn't (or the
    /// component has no `reminders` export).
    pub fn expiring_automatic_card(
        &self,
        tenant: &TenantId,
        customer: i64,
    ) -> Result<Option<(ExpiringCard, bool)>, CallError> {
        let date = self.local_date(tenant)?;
        let ctx = self.context(tenant, None)?;
        let card = self.call_in(
            ctx,
            "reminders.automatic-card-expiring",
            &(customer, &date),
            |p, s| match p.paydesk_stripe_reminders(s)? {
                Some(r) => r.call_automatic_card_expiring(s, customer, &date),
                None => Ok(Ok(None)),
            },
        )?;
        let Some(card) = card else { return Ok(None) };
        let reminded = !self
            .db()
            .emails_with_key_prefix(tenant, &card.reminder_key)?
            .is_empty();
        Ok(Some((card, reminded)))
    }
}
