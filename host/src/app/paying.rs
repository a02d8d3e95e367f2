//! Payments through the plugin: quotes for a payer, starting a payment (agent or portal), reading
//! an intent back after Stripe.js, verified webhook events, "Save and Create/Update Webhooks in
//! Stripe", and reconciliation of stuck payments.

use super::{App, CallError};
use crate::contract::charges::{ChargeQuote, ChargeRequest, ChargeStarted, ChargeWith};
use crate::contract::exports::paydesk::stripe::{admin, events, payments};
use crate::contract::refunds::{RefundQuote, RefundRequest};
use crate::contract::{
    ErrorKind, Initiator, InvoicePayment, PaymentMethodType, PluginError, Refund,
};
use crate::tenant::TenantId;

impl App {
    /// Price invoices as `initiator` would pay them (with the same checks as paying).
    pub fn quote_invoices(
        &self,
        tenant: &TenantId,
        invoices: &[i64],
        method: PaymentMethodType,
        initiator: Initiator,
    ) -> Result<payments::Quotation, CallError> {
        let ctx = self.context(tenant, None)?;
        self.call_in(
            ctx,
            "payments.quote-invoices",
            &(invoices, &method, initiator),
            |p, s| {
                p.paydesk_stripe_payments()
                    .call_quote_invoices(s, invoices, &method, initiator)
            },
        )
    }

    /// Start paying invoices as one PaymentIntent.
    pub fn start_payment(
        &self,
        tenant: &TenantId,
        request: &payments::PaymentRequest,
    ) -> Result<payments::PaymentStarted, CallError> {
        let ctx = self.context(tenant, None)?;
        self.call_in(ctx, "payments.start-payment", &request, |p, s| {
            p.paydesk_stripe_payments().call_start_payment(s, request)
        })
    }

    /// Price one charge of an invoice (all or `amount` of what is due) as `initiator` would make it.
    pub fn quote_charge(
        &self,
        tenant: &TenantId,
        invoice: i64,
        amount: Option<i64>,
        with: &ChargeWith,
        initiator: Initiator,
    ) -> Result<ChargeQuote, CallError> {
        let ctx = self.context(tenant, None)?;
        self.call_in(
            ctx,
            "charges.quote-charge",
            &(invoice, amount, with, initiator),
            |p, s| match p.paydesk_stripe_charges(s)? {
                Some(c) => c.call_quote_charge(s, invoice, amount, with, initiator),
                None => Ok(Err(no_charges())),
            },
        )
    }

    /// Charge one invoice for all or part of its amount due, only for the total agreed.
    pub fn start_charge(
        &self,
        tenant: &TenantId,
        request: &ChargeRequest,
    ) -> Result<ChargeStarted, CallError> {
        let ctx = self.context(tenant, None)?;
        self.call_in(ctx, "charges.start-charge", &request, |p, s| {
            match p.paydesk_stripe_charges(s)? {
                Some(c) => c.call_start_charge(s, request),
                None => Ok(Err(no_charges())),
            }
        })
    }

    /// What can still be refunded of payment `payment` of `invoice`, for `agent`.
    pub fn quote_refund(
        &self,
        tenant: &TenantId,
        invoice: i64,
        payment: i64,
        agent: i64,
    ) -> Result<RefundQuote, CallError> {
        let ctx = self.context(tenant, None)?;
        self.call_in(
            ctx,
            "refunds.quote-refund",
            &(invoice, payment, agent),
            |p, s| match p.paydesk_stripe_refunds(s)? {
                Some(r) => r.call_quote_refund(s, invoice, payment, agent),
                None => Ok(Err(no_refunds())),
            },
        )
    }

    /// Refund a payment in full or in part: claimed, then asked of Stripe, never twice.
    pub fn refund_payment(
        &self,
        tenant: &TenantId,
        request: &RefundRequest,
    ) -> Result<Refund, CallError> {
        let ctx = self.context(tenant, None)?;
        self.call_in(ctx, "refunds.refund-payment", &request, |p, s| {
            match p.paydesk_stripe_refunds(s)? {
                Some(r) => r.call_refund_payment(s, *request),
                None => Ok(Err(no_refunds())),
            }
        })
    }

    /// Ask Stripe again for a claimed refund whose answer was lost (read back first).
    pub fn resume_refund(
        &self,
        tenant: &TenantId,
        invoice: i64,
        refund: i64,
        agent: i64,
    ) -> Result<Refund, CallError> {
        let ctx = self.context(tenant, None)?;
        self.call_in(
            ctx,
            "refunds.resume-refund",
            &(invoice, refund, agent),
            |p, s| match p.paydesk_stripe_refunds(s)? {
                Some(r) => r.call_resume_refund(s, invoice, refund, agent),
                None => Ok(Err(no_refunds())),
            },
        )
    }

    /// Re-read an intent and update its records.
    pub fn refresh_payment(
        &self,
        tenant: &TenantId,
        intent: &str,
    ) -> Result<Vec<InvoicePayment>, CallError> {
        let ctx = self.context(tenant, None)?;
        self.call_in(ctx, "payments.refresh-payment", &intent, |p, s| {
            p.paydesk_stripe_payments().call_refresh_payment(s, intent)
        })
    }

    /// Hand a verified Stripe event to the plugin.
    pub fn webhook_received(
        &self,
        tenant: &TenantId,
        body: String,
    ) -> Result<events::EventOutcome, CallError> {
        let ctx = self.context(tenant, None)?;
        let event = events::StripeEvent {
            body,
            received_at: crate::db::now(),
        };
        self.call_in(ctx, "events.webhook-received", &event, |p, s| {
            p.paydesk_stripe_events().call_webhook_received(s, &event)
        })
    }

    /// "Save and Create/Update Webhooks in Stripe": make (or update) the endpoint at `url`, keep its
    /// signing secret (captured by the host's `http` capability) and record it in the settings.
    pub fn ensure_webhooks(
        &self,
        tenant: &TenantId,
        url: &str,
    ) -> Result<admin::WebhookEndpoint, CallError> {
        let ctx = self.context(tenant, None)?;
        let endpoint = self.call_in(ctx, "admin.ensure-webhook-endpoint", &url, |p, s| {
            p.paydesk_stripe_admin()
                .call_ensure_webhook_endpoint(s, url)
        })?;
        let mut settings = self.db().tenant(tenant)?.settings;
        settings.enablehalostripewebhooks = true;
        settings.stripe_webhook_endpoint_id = Some(endpoint.id.clone());
        self.db().save_settings(tenant, &settings)?;
        Ok(endpoint)
    }

    /// Re-read payments stuck in flight from Stripe.
    pub fn reconcile(
        &self,
        tenant: &TenantId,
        now: i64,
    ) -> Result<events::ReconcileReport, CallError> {
        let ctx = self.context(tenant, None)?;
        self.call_in(ctx, "events.reconcile", &now, |p, s| {
            p.paydesk_stripe_events().call_reconcile(s, now)
        })
    }
}

/// The answer for a component without the optional `refunds` export.
fn no_refunds() -> PluginError {
    PluginError {
        kind: ErrorKind::Unsupported,
        message: "the plugin version this tenant runs makes no refunds; refund the payment in Stripe's dashboard (its events then show it here)".into(),
        field_errors: Vec::new(),
        stripe: None,
    }
}

/// The answer for a component without the optional `charges` export.
fn no_charges() -> PluginError {
    PluginError {
        kind: ErrorKind::Unsupported,
        message: "the plugin version this tenant runs takes no part payments and no charges held to an agreed total; pay the whole amount due through payments".into(),
        field_errors: Vec::new(),
        stripe: None,
    }
}
