//! The `helpdesk` import: the tenant's records as the plugin sees them. Reads and writes go to the
//! database scoped to the calling tenant; the settings come from the call's tenant context, with the
//! secret key reduced to its `key-info`.

use std::sync::Arc;

use super::{Observer, host_error};
use crate::contract::paydesk::stripe::helpdesk::{CustomerLookup, Host};
use crate::contract::{
    Agent, AuditEntry, Customer, Dispute, DisputeObservation, EmailTemplate, HostError, Invoice,
    InvoiceFilter, InvoicePayment, Money, NewPayment, NewRefund, PaymentFilter, PaymentUpdate,
    Refund, RefundObservation, Settings, User,
};
use crate::db::DbResult;
use crate::tenant::TenantContext;
use crate::tenant::TenantId;

/// The helpdesk capability of one call: the tenant's context (settings, key presence) and records.
pub struct HelpdeskCtx {
    pub(super) tenant: TenantContext,
    pub(super) db: Arc<dyn crate::db::Database>,
    /// How long an autopay claim must hold, from the HTTP limits ([`super::http::StripeHttp`]).
    pub(super) claim_lease_seconds: u32,
    pub(super) observer: Observer,
}

/// Most rows one list call returns.
const MAX_PAGE: u32 = 1000;
/// Most customers `find-customers` returns (the contract's bound).
const MAX_FOUND: u32 = 100;

impl HelpdeskCtx {
    /// Run `op` on the calling tenant's records; the answer is what import `name` returns.
    fn records<T: std::fmt::Debug>(
        &self,
        name: &str,
        op: impl FnOnce(&dyn crate::db::Database, &TenantId) -> DbResult<T>,
    ) -> wasmtime::Result<Result<T, HostError>> {
        let tenant = &self.tenant.id;
        let answer = op(self.db.as_ref(), tenant).map_err(|e| host_error(tenant.as_str(), e));
        Ok(self.observer.observed(name, answer))
    }
}

impl Host for HelpdeskCtx {
    fn get_settings(&mut self) -> wasmtime::Result<Settings> {
        let settings = crate::settings::with_setting(
            self.tenant
                .settings
                .to_wit(self.tenant.stripe.secret_key.as_ref()),
            "autopay_claim_lease_seconds",
            crate::contract::SettingValue::Number(i64::from(self.claim_lease_seconds)),
        );
        Ok(self.observer.observed("helpdesk.get-settings", settings))
    }

    fn tenant_ref(&mut self) -> wasmtime::Result<String> {
        Ok(self
            .observer
            .observed("helpdesk.tenant-ref", self.tenant.id.to_string()))
    }

    fn get_customer(&mut self, id: i64) -> wasmtime::Result<Result<Customer, HostError>> {
        self.records("helpdesk.get-customer", |db, t| db.customer(t, id))
    }

    fn list_customers(
        &mut self,
        after_id: Option<i64>,
        limit: u32,
    ) -> wasmtime::Result<Result<Vec<Customer>, HostError>> {
        self.records("helpdesk.list-customers", |db, t| {
            db.customers(t, after_id, limit.min(MAX_PAGE))
        })
    }

    fn set_stripe_customer_id(
        &mut self,
        id: i64,
        stripe_customer_id: Option<String>,
    ) -> wasmtime::Result<Result<(), HostError>> {
        self.records("helpdesk.set-stripe-customer-id", |db, t| {
            db.set_stripe_customer_id(t, id, stripe_customer_id.as_deref())
        })
    }

    fn set_automatic_payment_method(
        &mut self,
        id: i64,
        method: Option<(String, String)>,
    ) -> wasmtime::Result<Result<(), HostError>> {
        self.records("helpdesk.set-automatic-payment-method", |db, t| {
            db.set_automatic_payment_method(
                t,
                id,
                method
                    .as_ref()
                    .map(|(id, name)| (id.as_str(), name.as_str())),
            )
        })
    }

    fn set_stripe_sync_error(
        &mut self,
        id: i64,
        error: Option<String>,
    ) -> wasmtime::Result<Result<(), HostError>> {
        self.records("helpdesk.set-stripe-sync-error", |db, t| {
            db.set_stripe_sync_error(t, id, error.as_deref())
        })
    }

    fn get_user(&mut self, id: i64) -> wasmtime::Result<Result<User, HostError>> {
        self.records("helpdesk.get-user", |db, t| db.user(t, id))
    }

    fn get_agent(&mut self, id: i64) -> wasmtime::Result<Result<Agent, HostError>> {
        self.records("helpdesk.get-agent", |db, t| db.agent(t, id))
    }

    fn get_invoice(&mut self, id: i64) -> wasmtime::Result<Result<Invoice, HostError>> {
        self.records("helpdesk.get-invoice", |db, t| db.invoice(t, id))
    }

    fn list_invoices(
        &mut self,
        mut filter: InvoiceFilter,
    ) -> wasmtime::Result<Result<Vec<Invoice>, HostError>> {
        filter.limit = filter.limit.min(MAX_PAGE);
        self.records("helpdesk.list-invoices", |db, t| db.invoices(t, &filter))
    }

    fn create_payments(
        &mut self,
        payments: Vec<NewPayment>,
    ) -> wasmtime::Result<Result<Vec<InvoicePayment>, HostError>> {
        self.records("helpdesk.create-payments", |db, t| {
            db.create_payments(t, &payments)
        })
    }

    fn update_payment(
        &mut self,
        id: i64,
        expected_version: u64,
        update: PaymentUpdate,
    ) -> wasmtime::Result<Result<InvoicePayment, HostError>> {
        self.records("helpdesk.update-payment", |db, t| {
            db.update_payment(t, id, expected_version, &update)
        })
    }

    fn list_payments(
        &mut self,
        filter: PaymentFilter,
    ) -> wasmtime::Result<Result<Vec<InvoicePayment>, HostError>> {
        self.records("helpdesk.list-payments", |db, t| db.payments(t, &filter))
    }

    fn get_email_template(
        &mut self,
        id: u32,
    ) -> wasmtime::Result<Result<EmailTemplate, HostError>> {
        self.records("helpdesk.get-email-template", |db, t| {
            db.email_template(t, id)
        })
    }

    fn audit(&mut self, entries: Vec<AuditEntry>) -> wasmtime::Result<Result<(), HostError>> {
        self.records("helpdesk.audit", |db, t| db.audit(t, &entries))
    }

    fn get_autopay_cap(
        &mut self,
        customer: i64,
    ) -> wasmtime::Result<Result<Option<Money>, HostError>> {
        // Kept in minor units of the tenant's currency, so it is in that currency.
        let currency = self.tenant.settings.stripe_currency.clone();
        self.records("helpdesk.get-autopay-cap", |db, t| {
            Ok(db.autopay_cap(t, customer)?.map(|amount| Money {
                amount,
                currency: currency.clone(),
            }))
        })
    }

    fn create_part_payment(
        &mut self,
        payment: NewPayment,
        amount_due: i64,
    ) -> wasmtime::Result<Result<InvoicePayment, HostError>> {
        self.records("helpdesk.create-part-payment", |db, t| {
            db.create_part_payment(t, &payment, amount_due)
        })
    }

    fn record_dispute(
        &mut self,
        observation: DisputeObservation,
    ) -> wasmtime::Result<Result<(bool, Dispute), HostError>> {
        self.records("helpdesk.record-dispute", |db, t| {
            db.record_dispute(t, &observation)
        })
    }

    fn list_disputes(&mut self, invoice: i64) -> wasmtime::Result<Result<Vec<Dispute>, HostError>> {
        self.records("helpdesk.list-disputes", |db, t| {
            // Not found for an invoice not the tenant's, as every other read of one.
            db.invoice(t, invoice)?;
            db.disputes(t, invoice)
        })
    }

    fn claim_refund(&mut self, refund: NewRefund) -> wasmtime::Result<Result<Refund, HostError>> {
        self.records("helpdesk.claim-refund", |db, t| db.claim_refund(t, &refund))
    }

    fn record_refund(
        &mut self,
        observation: RefundObservation,
    ) -> wasmtime::Result<Result<(bool, Refund), HostError>> {
        self.records("helpdesk.record-refund", |db, t| {
            db.record_refund(t, &observation)
        })
    }

    fn list_refunds(&mut self, invoice: i64) -> wasmtime::Result<Result<Vec<Refund>, HostError>> {
        self.records("helpdesk.list-refunds", |db, t| {
            // Not found for an invoice not the tenant's, as every other read of one.
            db.invoice(t, invoice)?;
            db.refunds(t, invoice)
        })
    }

    fn can_refund(&mut self, agent: i64) -> wasmtime::Result<Result<bool, HostError>> {
        self.records("helpdesk.can-refund", |db, t| db.can_refund(t, agent))
    }

    fn find_customers(
        &mut self,
        lookup: CustomerLookup,
    ) -> wasmtime::Result<Result<Vec<Customer>, HostError>> {
        self.records("helpdesk.find-customers", |db, t| match &lookup {
            CustomerLookup::StripeCustomer(id) => {
                Ok(db.customer_by_stripe_id(t, id)?.into_iter().collect())
            }
            CustomerLookup::AutomaticPaymentMethod(pm) => {
                db.customers_by_automatic_method(t, pm, MAX_FOUND)
            }
        })
    }

    fn observe_automatic_payment_method(
        &mut self,
        id: i64,
        method: Option<(String, String)>,
        observed_at: i64,
        only_if: Option<String>,
    ) -> wasmtime::Result<Result<bool, HostError>> {
        self.records("helpdesk.observe-automatic-payment-method", |db, t| {
            db.observe_automatic_payment_method(
                t,
                id,
                method
                    .as_ref()
                    .map(|(id, name)| (id.as_str(), name.as_str())),
                observed_at,
                only_if.as_deref(),
            )
        })
    }
}
