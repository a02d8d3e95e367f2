//! Payments through the plugin: quotes for a payer, starting a payment (agent or portal), reading
//! an intent back after Stripe.js, verified webhook events, "Save and Create/Update Webhooks in
//! Stripe", and reconciliation of stuck payments.

use super::{App, CallError};
use crate::contract::exports::paydesk::stripe::{admin, events, payments};
use crate::contract::{Initiator, InvoicePayment, PaymentMethodType};
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
