//! A deliberately misbehaving plugin for the sandbox tests and the host conformance suite. It
//! implements the whole `paydesk:stripe` world so a host loads it like the real plugin;
//! `payments.quote` misbehaves according to the first item's currency — `loop` spins forever, `hog`
//! grows memory without end, `panic` panics, `sleep` busy-waits on the clock (for the deadline);
//! `spin`, `grow` and `wait` do the same within a bound (the first item's `amount-due`: million
//! turns, MiB, milliseconds) and then answer — or probes the host's walls and reports what it got
//! in the line's fee description: `egress` asks `http` for other hosts and paths (and one Stripe
//! path), `stash` writes a storage key, `peek` reads the customer, invoice and storage key of the
//! id in `invoice-id` (another tenant's, in the suite). Otherwise it answers a plain, fee-free
//! quote so tests can show the next call works. Every other export refuses.

// Only the component has a body: natively, WIT export names are not valid shared-library symbols.
#[cfg(target_arch = "wasm32")]
mod guest {
    mod bindings {
        wit_bindgen::generate!({ path: "../../../wit", world: "plugin" });
    }

    use bindings::exports::paydesk::stripe::{admin, events, payments, templates};
    use bindings::paydesk::stripe::helpdesk::{self, InvoicePayment};
    use bindings::paydesk::stripe::types::{
        ErrorKind, HostError, Money, PaymentMethodType, PluginError, Settings,
    };
    use bindings::paydesk::stripe::{http, storage};

    struct Abusive;

    /// The storage key `stash` writes and `peek` looks for.
    const STASH: &str = "conformance/stash";

    /// A host error's case, as the contract names it.
    trait Case {
        fn case(&self) -> &'static str;
    }

    impl Case for HostError {
        fn case(&self) -> &'static str {
            match self {
                HostError::NotFound(_) => "not-found",
                HostError::Denied(_) => "denied",
                HostError::Conflict(_) => "conflict",
                HostError::Invalid(_) => "invalid",
                HostError::Unavailable(_) => "unavailable",
            }
        }
    }

    impl Case for http::SendError {
        fn case(&self) -> &'static str {
            match self {
                http::SendError::Denied(_) => "denied",
                http::SendError::NotSent(_) => "not-sent",
                http::SendError::OutcomeUnknown(_) => "outcome-unknown",
            }
        }
    }

    /// What a host answered: `found` of the value, or the error's case.
    fn outcome<T, E: Case>(r: &Result<T, E>, found: impl Fn(&T) -> String) -> String {
        match r {
            Ok(v) => found(v),
            Err(e) => e.case().to_string(),
        }
    }

    /// A fee-free quote of `items` in `currency`, with `note` as each line's fee description.
    fn plain_quote(
        items: &[payments::QuoteItem],
        method_type: PaymentMethodType,
        currency: &str,
        note: String,
    ) -> payments::Quotation {
        let money = |amount| Money {
            amount,
            currency: currency.to_string(),
        };
        payments::Quotation {
            lines: items
                .iter()
                .map(|i| payments::QuoteLine {
                    invoice_id: i.invoice_id,
                    invoice_number: i.invoice_number.clone(),
                    amount_due: money(i.amount_due),
                    fee: money(0),
                    fee_description: note.clone(),
                    total: money(i.amount_due),
                })
                .collect(),
            total: money(items.iter().map(|i| i.amount_due).sum()),
            method_type,
        }
    }

    /// Ask `http` for other hosts, other paths and a traversal, then for a Stripe path; each outcome.
    fn egress() -> String {
        let paths = [
            "https://evil.example/v1/customers",
            "//evil.example/v1/customers",
            "/v1/../admin",
            "/v2/customers",
            "/v1/customers?limit=1",
            "@evil.example/v1/customers",
            // The one allowed: it must reach the tenant's own Stripe base, with its own key.
            "/v1/customers",
        ];
        paths
            .iter()
            .map(|path| {
                let sent = http::send(&http::Request {
                    method: http::Method::Get,
                    path: path.to_string(),
                    query: Vec::new(),
                    form: Vec::new(),
                    idempotency_key: None,
                });
                format!(
                    "{path} {}",
                    outcome(&sent, |r| format!("answered {}", r.status))
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Read (and try to write) records and storage that are not this tenant's.
    fn peek(id: i64) -> String {
        [
            format!(
                "customer {}",
                outcome(&helpdesk::get_customer(id), |_| "found".into())
            ),
            format!(
                "invoice {}",
                outcome(&helpdesk::get_invoice(id), |_| "found".into())
            ),
            format!(
                "map {}",
                outcome(
                    &helpdesk::set_stripe_customer_id(id, Some("cus_forged")),
                    |_| "changed".to_string()
                )
            ),
            format!(
                "customers {}",
                outcome(&helpdesk::list_customers(None, 100), |c| c
                    .len()
                    .to_string())
            ),
            format!(
                "storage {}",
                outcome(&storage::get(STASH), |e| if e.is_some() {
                    "found".to_string()
                } else {
                    "none".to_string()
                })
            ),
        ]
        .join("; ")
    }

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
                // Bounded versions, answering a plain quote when done: `spin` runs `amount-due`
                // million loop turns, `grow` holds `amount-due` MiB, `wait` busy-waits
                // `amount-due` milliseconds.
                "spin" => {
                    let turns = items.first().map_or(0, |i| i.amount_due).max(0) as u64 * 1_000_000;
                    let mut n: u64 = 0;
                    while n < turns {
                        n = std::hint::black_box(n + 1);
                    }
                    Ok(plain_quote(
                        &items,
                        method_type,
                        "usd",
                        format!("spun {turns}"),
                    ))
                }
                "grow" => {
                    let mib = items.first().map_or(0, |i| i.amount_due).max(0) as usize;
                    let hoard: Vec<Vec<u8>> = (0..mib).map(|_| vec![1u8; 1 << 20]).collect();
                    std::hint::black_box(&hoard);
                    Ok(plain_quote(
                        &items,
                        method_type,
                        "usd",
                        format!("held {mib} MiB"),
                    ))
                }
                "wait" => {
                    let ms = items.first().map_or(0, |i| i.amount_due).max(0) as u64;
                    let start = std::time::Instant::now();
                    while start.elapsed() < std::time::Duration::from_millis(ms) {
                        std::hint::black_box(start);
                    }
                    Ok(plain_quote(
                        &items,
                        method_type,
                        "usd",
                        format!("waited {ms} ms"),
                    ))
                }
                probe @ ("egress" | "stash" | "peek") => {
                    let report = match probe {
                        "egress" => egress(),
                        "stash" => outcome(&storage::put_new(STASH, b"not yours"), |v| {
                            format!("version {v}")
                        }),
                        _ => peek(items.first().map_or(0, |i| i.invoice_id)),
                    };
                    Ok(plain_quote(&items, method_type, "usd", report))
                }
                _ => Ok(plain_quote(&items, method_type, &currency, String::new())),
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
