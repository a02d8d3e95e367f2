//! A deliberately misbehaving plugin for the sandbox tests. It implements the whole
//! `paydesk:stripe` world so the host loads it like the real plugin; `payments.quote` misbehaves
//! according to the first item's currency — `loop` spins forever, `hog` grows memory without end,
//! `panic` panics, `sleep` busy-waits on the clock (for the deadline) — and otherwise answers a
//! plain, fee-free quote so tests can show the next call works. Every other export refuses.

// Only the component has a body: natively, WIT export names are not valid shared-library symbols.
#[cfg(target_arch = "wasm32")]
mod guest {
    mod bindings {
        wit_bindgen::generate!({ path: "../../../wit", world: "plugin" });
    }

    use bindings::exports::paydesk::stripe::{admin, events, payments, templates};
    use bindings::paydesk::stripe::helpdesk::InvoicePayment;
    use bindings::paydesk::stripe::types::{
        ErrorKind, Money, PaymentMethodType, PluginError, Settings,
    };

    struct Abusive;

    fn refuse<T>() -> Result<T, PluginError> {
        Err(PluginError {
            kind: ErrorKind::Unsupported,
            message: "the abusive test guest only quotes".into(),
            field_errors: Vec::new(),
            stripe: None,
        })
    }

    impl payments::Guest for Abusive {
        fn quote(
            items: Vec<payments::QuoteItem>,
            method_type: PaymentMethodType,
        ) -> Result<payments::Quotation, PluginError> {
            let currency = items
                .first()
                .map(|i| i.currency.clone())
                .unwrap_or_default();
            match currency.as_str() {
                "loop" => {
                    let mut n: u64 = 0;
                    loop {
                        n = std::hint::black_box(n.wrapping_add(1));
                    }
                }
                "hog" => {
                    let mut hoard: Vec<Vec<u8>> = Vec::new();
                    loop {
                        hoard.push(vec![1u8; 1 << 20]);
                        std::hint::black_box(&hoard);
                    }
                }
                "panic" => panic!("the abusive guest panicked on purpose"),
                "sleep" => {
                    let start = std::time::Instant::now();
                    while start.elapsed() < std::time::Duration::from_secs(3600) {
                        std::hint::black_box(start);
                    }
                    refuse()
                }
                _ => {
                    let total: i64 = items.iter().map(|i| i.amount_due).sum();
                    Ok(payments::Quotation {
                        lines: items
                            .iter()
                            .map(|i| payments::QuoteLine {
                                invoice_id: i.invoice_id,
                                invoice_number: i.invoice_number.clone(),
                                amount_due: Money {
                                    amount: i.amount_due,
                                    currency: currency.clone(),
                                },
                                fee: Money {
                                    amount: 0,
                                    currency: currency.clone(),
                                },
                                fee_description: String::new(),
                                total: Money {
                                    amount: i.amount_due,
                                    currency: currency.clone(),
                                },
                            })
                            .collect(),
                        total: Money {
                            amount: total,
                            currency,
                        },
                        method_type,
                    })
                }
            }
        }

        fn quote_invoices(
            _: Vec<i64>,
            _: PaymentMethodType,
            _: payments::Initiator,
        ) -> Result<payments::Quotation, PluginError> {
            refuse()
        }

        fn start_payment(
            _: payments::PaymentRequest,
        ) -> Result<payments::PaymentStarted, PluginError> {
            refuse()
        }
        fn confirm_payment(
            _: String,
            _: String,
            _: payments::Initiator,
            _: Option<String>,
        ) -> Result<payments::PaymentStarted, PluginError> {
            refuse()
        }

        fn authentication_secret(_: String, _: payments::Initiator) -> Result<String, PluginError> {
            refuse()
        }

        fn refresh_payment(_: String) -> Result<Vec<InvoicePayment>, PluginError> {
            refuse()
        }
        fn set_automatic_payment_method(
            _: i64,
            _: Option<String>,
        ) -> Result<Option<String>, PluginError> {
            refuse()
        }
        fn start_setup(
            _: i64,
            _: payments::Initiator,
        ) -> Result<payments::SetupStarted, PluginError> {
            refuse()
        }
        fn complete_setup(_: i64, _: String) -> Result<String, PluginError> {
            refuse()
        }
        fn customer_portal_session(_: i64, _: String) -> Result<String, PluginError> {
            refuse()
        }
    }

    impl admin::Guest for Abusive {
        fn validate_settings(_: Settings) -> Result<(), PluginError> {
            refuse()
        }
        fn test_connection() -> Result<admin::AccountSummary, PluginError> {
            refuse()
        }
        fn list_stripe_customers(
            _: Option<String>,
            _: u32,
        ) -> Result<admin::StripeCustomerPage, PluginError> {
            refuse()
        }
        fn add_mapping(_: i64, _: String) -> Result<(), PluginError> {
            refuse()
        }
        fn generate_mappings() -> Result<admin::MappingReport, PluginError> {
            refuse()
        }
        fn ensure_webhook_endpoint(_: String) -> Result<admin::WebhookEndpoint, PluginError> {
            refuse()
        }
        fn list_payment_methods(_: i64) -> Result<Vec<admin::PaymentMethodSummary>, PluginError> {
            refuse()
        }
    }

    impl events::Guest for Abusive {
        fn invoice_created(_: i64) -> Result<events::InvoiceCreatedOutcome, PluginError> {
            refuse()
        }
        fn customer_saved(_: i64) -> Result<events::SyncOutcome, PluginError> {
            refuse()
        }
        fn webhook_received(_: events::StripeEvent) -> Result<events::EventOutcome, PluginError> {
            refuse()
        }
        fn autopay_plan(_: String) -> Result<Vec<events::AutopayDecision>, PluginError> {
            refuse()
        }
        fn autopay_charge(_: i64, _: String) -> Result<events::AutopayResult, PluginError> {
            refuse()
        }
        fn reconcile(_: i64) -> Result<events::ReconcileReport, PluginError> {
            refuse()
        }
    }

    impl templates::Guest for Abusive {
        fn variables() -> Vec<String> {
            Vec::new()
        }
        fn render_variable(_: String, _: i64) -> Result<Option<String>, PluginError> {
            refuse()
        }
    }

    bindings::export!(Abusive with_types_in bindings);
}
