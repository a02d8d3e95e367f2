//! paydesk's Stripe plugin: the glue between the WIT contract `paydesk:stripe@0.2.0` and the plugin's
//! modules. The bindings are generated in `bindings` (the ground floor of the component); each
//! export converts its arguments and calls `flows` (work that needs the host). Nothing else belongs
//! here.
//!
//! Built for `wasm32-wasip2` this crate is the component the host loads; built natively it is an
//! rlib whose `domain` and `stripe` modules are unit-tested and benchmarked without a sandbox.

// Built against the 0.1 contract (a test fixture), `payment-method-type` is a `Copy` enum where the
// current contract's is a variant: the flows clone it, as the current one needs.
#![cfg_attr(feature = "contract-v0_1", allow(clippy::clone_on_copy))]

#[macro_use]
pub mod domain;
pub mod json;
pub mod stripe;

// The glue exists only in the component: natively, WIT export names are not valid symbol names
// for a shared library, and the domain needs no host.
#[cfg(target_arch = "wasm32")]
mod bindings;
#[cfg(target_arch = "wasm32")]
mod flows;
#[cfg(target_arch = "wasm32")]
mod settings;

#[cfg(target_arch = "wasm32")]
mod glue {
    use super::{bindings, flows, settings};
    use bindings::exports::paydesk::stripe::{admin, events, payments, templates};
    use bindings::paydesk::stripe::types::{
        CustomerId, InvoiceId, PaymentMethodType, PluginError, Settings,
    };

    /// The component's exports.
    struct Plugin;

    impl admin::Guest for Plugin {
        fn validate_settings(candidate: Settings) -> Result<(), PluginError> {
            flows::admin::validate_settings(&settings::from_wit(candidate))
        }

        fn test_connection() -> Result<admin::AccountSummary, PluginError> {
            flows::admin::test_connection()
        }

        fn list_stripe_customers(
            starting_after: Option<String>,
            limit: u32,
        ) -> Result<admin::StripeCustomerPage, PluginError> {
            flows::admin::list_stripe_customers(starting_after.as_deref(), limit)
        }

        fn add_mapping(
            customer: CustomerId,
            stripe_customer_id: String,
        ) -> Result<(), PluginError> {
            flows::admin::add_mapping(customer, &stripe_customer_id)
        }

        fn generate_mappings() -> Result<admin::MappingReport, PluginError> {
            flows::admin::generate_mappings()
        }

        fn ensure_webhook_endpoint(url: String) -> Result<admin::WebhookEndpoint, PluginError> {
            flows::webhooks::ensure_endpoint(&url)
        }

        fn list_payment_methods(
            customer: CustomerId,
        ) -> Result<Vec<admin::PaymentMethodSummary>, PluginError> {
            flows::admin::list_payment_methods(customer)
        }
    }

    impl events::Guest for Plugin {
        fn invoice_created(
            invoice: InvoiceId,
        ) -> Result<events::InvoiceCreatedOutcome, PluginError> {
            flows::autopay::charge::invoice_created(invoice)
        }

        fn customer_saved(customer: CustomerId) -> Result<events::SyncOutcome, PluginError> {
            flows::customers::customer_saved(customer)
        }

        fn webhook_received(
            event: events::StripeEvent,
        ) -> Result<events::EventOutcome, PluginError> {
            flows::webhooks::received(event)
        }

        fn autopay_plan(date: String) -> Result<Vec<events::AutopayDecision>, PluginError> {
            flows::autopay::plan::plan(&date)
        }

        fn autopay_charge(
            invoice: InvoiceId,
            date: String,
        ) -> Result<events::AutopayResult, PluginError> {
            flows::autopay::charge::charge(invoice, &date)
        }

        fn reconcile(now: i64) -> Result<events::ReconcileReport, PluginError> {
            flows::reconcile::reconcile(now)
        }
    }

    impl payments::Guest for Plugin {
        fn quote(
            items: Vec<payments::QuoteItem>,
            method_type: PaymentMethodType,
        ) -> Result<payments::Quotation, PluginError> {
            flows::quote::quote(items, method_type)
        }

        fn quote_invoices(
            invoices: Vec<InvoiceId>,
            method_type: PaymentMethodType,
            initiator: payments::Initiator,
        ) -> Result<payments::Quotation, PluginError> {
            flows::payments::quote_invoices(&invoices, method_type, &initiator)
        }

        fn start_payment(
            request: payments::PaymentRequest,
        ) -> Result<payments::PaymentStarted, PluginError> {
            flows::payments::start_payment(request)
        }

        fn confirm_payment(
            intent_id: String,
            payment_method_id: String,
            initiator: payments::Initiator,
            return_url: Option<String>,
        ) -> Result<payments::PaymentStarted, PluginError> {
            flows::confirm::confirm_payment(
                &intent_id,
                &payment_method_id,
                &initiator,
                return_url.as_deref(),
            )
        }

        fn authentication_secret(
            intent_id: String,
            initiator: payments::Initiator,
        ) -> Result<String, PluginError> {
            flows::confirm::authentication_secret(&intent_id, &initiator)
        }

        fn refresh_payment(
            intent_id: String,
        ) -> Result<Vec<payments::InvoicePayment>, PluginError> {
            flows::confirm::refresh_payment(&intent_id)
        }

        fn set_automatic_payment_method(
            customer: CustomerId,
            payment_method_id: Option<String>,
        ) -> Result<Option<String>, PluginError> {
            flows::payment_methods::set_automatic_payment_method(
                customer,
                payment_method_id.as_deref(),
            )
        }

        fn start_setup(
            customer: CustomerId,
            initiator: payments::Initiator,
        ) -> Result<payments::SetupStarted, PluginError> {
            flows::setup::start_setup(customer, &initiator)
        }

        fn complete_setup(
            customer: CustomerId,
            setup_intent_id: String,
        ) -> Result<String, PluginError> {
            flows::setup::complete_setup(customer, &setup_intent_id)
        }

        fn customer_portal_session(
            customer: CustomerId,
            return_url: String,
        ) -> Result<String, PluginError> {
            flows::setup::customer_portal_session(customer, &return_url)
        }
    }

    impl templates::Guest for Plugin {
        fn variables() -> Vec<String> {
            flows::templates::variables()
        }

        fn render_variable(
            name: String,
            customer: CustomerId,
        ) -> Result<Option<String>, PluginError> {
            flows::templates::render_variable(&name, customer)
        }
    }

    #[cfg(not(feature = "contract-v0_1"))]
    impl bindings::exports::paydesk::stripe::reminders::Guest for Plugin {
        fn remind_expiring_cards(
            date: String,
        ) -> Result<Vec<bindings::exports::paydesk::stripe::reminders::CardReminder>, PluginError>
        {
            flows::reminders::remind_expiring_cards(&date)
        }

        fn automatic_card_expiring(
            customer: CustomerId,
            date: String,
        ) -> Result<Option<bindings::exports::paydesk::stripe::reminders::ExpiringCard>, PluginError>
        {
            flows::reminders::expiring_card(customer, &date)
        }
    }

    #[cfg(not(feature = "contract-v0_1"))]
    impl bindings::exports::paydesk::stripe::charges::Guest for Plugin {
        fn quote_charge(
            invoice: InvoiceId,
            amount: Option<i64>,
            paid_with: bindings::exports::paydesk::stripe::charges::ChargeWith,
            initiator: payments::Initiator,
        ) -> Result<bindings::exports::paydesk::stripe::charges::ChargeQuote, PluginError> {
            flows::charges::quote_charge(invoice, amount, paid_with, initiator)
        }

        fn start_charge(
            request: bindings::exports::paydesk::stripe::charges::ChargeRequest,
        ) -> Result<bindings::exports::paydesk::stripe::charges::ChargeStarted, PluginError>
        {
            flows::charges::start_charge(request)
        }
    }

    #[cfg(not(feature = "contract-v0_1"))]
    impl bindings::exports::paydesk::stripe::refunds::Guest for Plugin {
        fn quote_refund(
            invoice: InvoiceId,
            payment: i64,
            agent: i64,
        ) -> Result<bindings::exports::paydesk::stripe::refunds::RefundQuote, PluginError> {
            flows::refunds::quote_refund(invoice, payment, agent)
        }

        fn refund_payment(
            request: bindings::exports::paydesk::stripe::refunds::RefundRequest,
        ) -> Result<bindings::paydesk::stripe::helpdesk::Refund, PluginError> {
            flows::refunds::refund_payment(request)
        }

        fn resume_refund(
            invoice: InvoiceId,
            refund: i64,
            agent: i64,
        ) -> Result<bindings::paydesk::stripe::helpdesk::Refund, PluginError> {
            flows::refunds::resume_refund(invoice, refund, agent)
        }
    }

    #[cfg(not(feature = "contract-v0_1"))]
    impl bindings::exports::paydesk::stripe::debits::Guest for Plugin {
        fn confirm_setup(
            customer: CustomerId,
            setup_intent_id: String,
            payment_method_id: String,
            acceptance: bindings::exports::paydesk::stripe::debits::MandateAcceptance,
            initiator: payments::Initiator,
        ) -> Result<bindings::exports::paydesk::stripe::debits::SetupConfirmed, PluginError>
        {
            flows::debits::confirm_setup(
                customer,
                &setup_intent_id,
                &payment_method_id,
                &acceptance,
                &initiator,
            )
        }
    }

    #[cfg(not(feature = "contract-v0_1"))]
    bindings::export!(Plugin with_types_in bindings);
    #[cfg(feature = "contract-v0_1")]
    bindings::generated::export!(Plugin with_types_in bindings::generated);
}
