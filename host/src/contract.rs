//! The contract as Rust types: the generated bindings of the `plugin` world (`wit/`), on the ground
//! floor so storage, capabilities and the runtime all use them without depending on each other.
//! Every `bindgen!` option for the plugin world in one place. Imports are trappable: a host function
//! returns `wasmtime::Result<T>`, whose `Err` traps the guest (host bug or guest abuse), while the WIT
//! `result` inside is a value the plugin handles.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    imports: { default: trappable },
    additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
});

/// The optional `reminders` export (additive in 0.2.0), bound apart from the `plugin` world so a
/// 0.2 component without it still loads; its shared types are the ones above.
pub mod reminders {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "reminders-export",
        with: { "paydesk:stripe/types": super::paydesk::stripe::types },
        additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
    });

    pub use exports::paydesk::stripe::reminders::{
        CardReminder, ExpiringCard, Guest as Reminders, GuestIndices as RemindersIndices,
    };
}

/// The optional `charges` export (additive in 0.2.0), bound apart like `reminders`.
pub mod charges {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "charges-export",
        with: {
            "paydesk:stripe/types": super::paydesk::stripe::types,
            "paydesk:stripe/helpdesk": super::paydesk::stripe::helpdesk,
        },
        additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
    });

    pub use exports::paydesk::stripe::charges::{
        ChargeQuote, ChargeRequest, ChargeStarted, ChargeWith, Guest as Charges,
        GuestIndices as ChargesIndices,
    };
}

/// The optional `refunds` export (additive in 0.2.0), bound apart like `reminders`.
pub mod refunds {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "refunds-export",
        with: {
            "paydesk:stripe/types": super::paydesk::stripe::types,
            "paydesk:stripe/helpdesk": super::paydesk::stripe::helpdesk,
        },
        additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
    });

    pub use exports::paydesk::stripe::refunds::{
        Guest as Refunds, GuestIndices as RefundsIndices, RefundQuote, RefundRequest,
    };
}

/// The optional `debits` export (additive in 0.2.0), bound apart like `charges`.
pub mod debits {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "debits-export",
        with: {
            "paydesk:stripe/types": super::paydesk::stripe::types,
            "paydesk:stripe/helpdesk": super::paydesk::stripe::helpdesk,
        },
        additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
    });

    pub use exports::paydesk::stripe::debits::{
        Guest as Debits, GuestIndices as DebitsIndices, MandateAcceptance, SetupConfirmed,
    };
}

/// The frozen 0.1 line (`wit/since_v0.1/`), which the host still serves. Its types are converted to
/// and from the current ones by structure ([`v0_1::convert`]): Rust names are the same in both lines,
/// so only what changed between them (`settings`) is converted by hand.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.1",
        world: "plugin",
        imports: { default: trappable },
        additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
    });

    /// A value of one line as the same-named value of the other, through its serde form (records by
    /// field names, cases by name). Fails only for a value the target line cannot carry, e.g. a
    /// current `payment-method-type` `other(…)` going to 0.1, whose type has no such case.
    pub fn convert<A: serde::Serialize + ?Sized, B: serde::de::DeserializeOwned>(
        value: &A,
    ) -> wasmtime::Result<B> {
        let json = serde_json::to_value(value)?;
        serde_json::from_value(json).map_err(|e| {
            wasmtime::Error::msg(format!("a value the contract's 0.1 line cannot carry: {e}"))
        })
    }

    /// The current named settings as 0.1's record: each documented name read into its field, the
    /// documented default for a name that isn't there (so 0.1's plugin sees what 0.2's would).
    /// Payment method types 0.1 has no case for are left out.
    pub fn settings(current: &[super::Setting]) -> paydesk::stripe::types::Settings {
        use super::SettingValue as V;
        use paydesk::stripe::types as old;
        let types = |t: &[super::PaymentMethodType]| -> Vec<old::PaymentMethodType> {
            t.iter().filter_map(|t| convert(t).ok()).collect()
        };
        let count = |n: i64, default: u32| u32::try_from(n).unwrap_or(default);
        let mut s = old::Settings {
            enabled: false,
            stripe_public_key: None,
            secret_key: None,
            stripe_currency: "usd".into(),
            sync_customers_to_stripe: false,
            stripepaymentmethodoptions: vec![old::PaymentMethodType::Card],
            enableautostripepayment: false,
            stripetakepaymentonduedate: old::TakePaymentOn::DueDate,
            halointegrator_stripe: false,
            stripemanualpaymentmethodoptions: Vec::new(),
            stripe_processing_fee_percentage: "0".into(),
            stripe_fee_rules: Vec::new(),
            stripe_fee_cap: None,
            show_auto_payment_on_portal: old::PortalPaymentMethodAccess::Hide,
            stripe_customer_portal_enabled: false,
            stripe_send_recipient_email: false,
            use_stripe_receipt_emails: false,
            stripenotificationemail: None,
            enablehalostripewebhooks: false,
            stripe_webhook_endpoint_id: None,
            time_zone: "UTC".into(),
            autopay_max_attempts: 3,
            autopay_retry_interval_days: 1,
            reconcile_after_minutes: 60,
            portal_base_url: None,
            autopay_claim_lease_seconds: 120,
        };
        for setting in current {
            match (setting.name.as_str(), &setting.value) {
                ("enabled", V::Flag(b)) => s.enabled = *b,
                ("stripe_public_key", V::Text(t)) => s.stripe_public_key = Some(t.clone()),
                ("stripe_secret_key", V::Key(k)) => s.secret_key = convert(k).ok(),
                ("stripe_currency", V::Text(t)) => s.stripe_currency = t.clone(),
                ("sync_customers_to_stripe", V::Flag(b)) => s.sync_customers_to_stripe = *b,
                ("stripepaymentmethodoptions", V::MethodTypes(t)) => {
                    s.stripepaymentmethodoptions = types(t)
                }
                ("enableautostripepayment", V::Flag(b)) => s.enableautostripepayment = *b,
                ("stripetakepaymentonduedate", V::Text(t)) => match t.as_str() {
                    "due-date" => s.stripetakepaymentonduedate = old::TakePaymentOn::DueDate,
                    "invoice-creation" => {
                        s.stripetakepaymentonduedate = old::TakePaymentOn::InvoiceCreation
                    }
                    _ => {}
                },
                ("halointegrator_stripe", V::Flag(b)) => s.halointegrator_stripe = *b,
                ("stripemanualpaymentmethodoptions", V::MethodTypes(t)) => {
                    s.stripemanualpaymentmethodoptions = types(t)
                }
                ("stripe_processing_fee_percentage", V::Percent(p)) => {
                    s.stripe_processing_fee_percentage = p.clone()
                }
                ("stripe_fee_rules", V::FeeRules(r)) => {
                    s.stripe_fee_rules = r.iter().filter_map(|r| convert(r).ok()).collect()
                }
                ("stripe_fee_cap", V::Number(n)) => s.stripe_fee_cap = Some(*n),
                ("show_auto_payment_on_portal", V::Text(t)) => match t.as_str() {
                    "hide" => s.show_auto_payment_on_portal = old::PortalPaymentMethodAccess::Hide,
                    "only_if_set" => {
                        s.show_auto_payment_on_portal = old::PortalPaymentMethodAccess::OnlyIfSet
                    }
                    "show" => s.show_auto_payment_on_portal = old::PortalPaymentMethodAccess::Show,
                    _ => {}
                },
                ("stripe_customer_portal_enabled", V::Flag(b)) => {
                    s.stripe_customer_portal_enabled = *b
                }
                ("stripe_send_recipient_email", V::Flag(b)) => s.stripe_send_recipient_email = *b,
                ("use_stripe_receipt_emails", V::Flag(b)) => s.use_stripe_receipt_emails = *b,
                ("stripenotificationemail", V::Text(t)) => {
                    s.stripenotificationemail = Some(t.clone())
                }
                ("enablehalostripewebhooks", V::Flag(b)) => s.enablehalostripewebhooks = *b,
                ("stripe_webhook_endpoint_id", V::Text(t)) => {
                    s.stripe_webhook_endpoint_id = Some(t.clone())
                }
                ("time_zone", V::Text(t)) => s.time_zone = t.clone(),
                ("autopay_max_attempts", V::Number(n)) => {
                    s.autopay_max_attempts = count(*n, s.autopay_max_attempts)
                }
                ("autopay_retry_interval_days", V::Number(n)) => {
                    s.autopay_retry_interval_days = count(*n, s.autopay_retry_interval_days)
                }
                ("reconcile_after_minutes", V::Number(n)) => {
                    s.reconcile_after_minutes = count(*n, s.reconcile_after_minutes)
                }
                ("portal_base_url", V::Text(t)) => s.portal_base_url = Some(t.clone()),
                ("autopay_claim_lease_seconds", V::Number(n)) => {
                    s.autopay_claim_lease_seconds = count(*n, s.autopay_claim_lease_seconds)
                }
                _ => {}
            }
        }
        s
    }
}

pub use paydesk::stripe::helpdesk::{
    Agent, AuditEntry, Customer, Dispute, DisputeObservation, DisputeStatus, EmailTemplate,
    Initiator, Invoice, InvoiceAccessLevel, InvoiceFilter, InvoiceLine, InvoicePayment,
    InvoiceStatus, NewPayment, NewRefund, PaymentFilter, PaymentStatus, PaymentUpdate, Refund,
    RefundObservation, RefundStatus, User,
};
pub use paydesk::stripe::types::{
    ErrorKind, FeeRule, HostError, KeyInfo, KeyKind, KeyMode, Money, PaymentMethodType,
    PluginError, Setting, SettingValue, Settings,
};

// The contract's enums that the domain's vocabulary defines once (wire names, labels): `From` both
// ways, matched by variant name (a mismatch does not compile).
paydesk_plugin::wit_vocabulary! {
    PaymentStatus => PaymentStatus,
    InvoiceStatus => InvoiceStatus,
    InvoiceAccessLevel => InvoiceAccessLevel,
    RefundStatus => RefundStatus,
}

// The open vocabulary (`other(string)` for a type the contract's line doesn't list): `From` the
// domain's enum, `TryFrom` back (handing back what has no row).
paydesk_plugin::wit_open_vocabulary! {
    PaymentMethodType => PaymentMethodType,
    DisputeStatus => DisputeStatus,
}
