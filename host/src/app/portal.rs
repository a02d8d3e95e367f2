//! The payer's side through the plugin: confirming a payment with a method added in Stripe.js,
//! "Add payment method" (SetupIntent) and the Stripe customer-portal link.

use super::{App, CallError};
use crate::contract::Initiator;
use crate::contract::debits::{MandateAcceptance, SetupConfirmed};
use crate::contract::exports::paydesk::stripe::payments;
use crate::contract::paydesk::stripe::types::{ErrorKind, PluginError};
use crate::tenant::TenantId;

impl App {
    /// Confirm a started payment with a method the payer just added.
    pub fn confirm_payment(
        &self,
        tenant: &TenantId,
        intent: &str,
        payment_method: &str,
        initiator: Initiator,
        return_url: Option<&str>,
    ) -> Result<payments::PaymentStarted, CallError> {
        let ctx = self.context(tenant, None)?;
        self.call_in(
            ctx,
            "payments.confirm-payment",
            &(intent, payment_method, initiator, return_url),
            |p, s| {
                p.paydesk_stripe_payments().call_confirm_payment(
                    s,
                    intent,
                    payment_method,
                    initiator,
                    return_url,
                )
            },
        )
    }

    /// The client secret Stripe.js needs to authenticate a payment waiting for the payer.
    pub fn authentication_secret(
        &self,
        tenant: &TenantId,
        intent: &str,
        initiator: Initiator,
    ) -> Result<String, CallError> {
        let ctx = self.context(tenant, None)?;
        self.call_in(
            ctx,
            "payments.authentication-secret",
            &(intent, initiator),
            |p, s| {
                p.paydesk_stripe_payments()
                    .call_authentication_secret(s, intent, initiator)
            },
        )
    }

    /// Start a SetupIntent for the customer (portal "Add payment method", or a new card to pay with).
    pub fn start_setup(
        &self,
        tenant: &TenantId,
        customer: i64,
        initiator: Initiator,
    ) -> Result<payments::SetupStarted, CallError> {
        let ctx = self.context(tenant, None)?;
        self.call_in(
            ctx,
            "payments.start-setup",
            &(customer, initiator),
            |p, s| {
                p.paydesk_stripe_payments()
                    .call_start_setup(s, customer, initiator)
            },
        )
    }

    /// Confirm a SetupIntent with the payer's method and, for a bank debit, the mandate they
    /// accepted in the request the host took `acceptance` from (the optional `debits` export).
    pub fn confirm_setup(
        &self,
        tenant: &TenantId,
        customer: i64,
        setup_intent: &str,
        payment_method: &str,
        acceptance: &MandateAcceptance,
        initiator: Initiator,
    ) -> Result<SetupConfirmed, CallError> {
        let ctx = self.context(tenant, None)?;
        self.call_in(
            ctx,
            "debits.confirm-setup",
            &(
                customer,
                setup_intent,
                payment_method,
                acceptance,
                initiator,
            ),
            |p, s| match p.paydesk_stripe_debits(s)? {
                Some(d) => d.call_confirm_setup(
                    s,
                    customer,
                    setup_intent,
                    payment_method,
                    acceptance,
                    initiator,
                ),
                None => Ok(Err(no_debits())),
            },
        )
    }

    /// The SetupIntent succeeded: its method becomes the automatic one; its display name.
    pub fn complete_setup(
        &self,
        tenant: &TenantId,
        customer: i64,
        setup_intent: &str,
    ) -> Result<String, CallError> {
        let ctx = self.context(tenant, None)?;
        self.call_in(
            ctx,
            "payments.complete-setup",
            &(customer, setup_intent),
            |p, s| {
                p.paydesk_stripe_payments()
                    .call_complete_setup(s, customer, setup_intent)
            },
        )
    }

    /// A Stripe customer-portal session URL.
    pub fn customer_portal_session(
        &self,
        tenant: &TenantId,
        customer: i64,
        return_url: &str,
    ) -> Result<String, CallError> {
        let ctx = self.context(tenant, None)?;
        self.call_in(
            ctx,
            "payments.customer-portal-session",
            &(customer, return_url),
            |p, s| {
                p.paydesk_stripe_payments()
                    .call_customer_portal_session(s, customer, return_url)
            },
        )
    }
}

/// The answer for a component without the optional `debits` export.
fn no_debits() -> PluginError {
    PluginError {
        kind: ErrorKind::Unsupported,
        message: "the plugin version this tenant runs saves no bank debits with a mandate; add the method in Stripe.js and complete the setup".into(),
        field_errors: Vec::new(),
        stripe: None,
    }
}
