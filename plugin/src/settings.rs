//! The tenant's settings as the plugin uses them: its own struct, read from the contract's named
//! values (`types.settings`, a list of `setting`s in 0.2) with the defaults the contract documents
//! for every name it doesn't get, ignoring names it doesn't know — so a host that passes a newer
//! setting, or leaves out an older one, changes nothing here. Under the 0.1 contract (feature
//! `contract-v0_1`) the same struct is read from 0.1's `settings` record.

use crate::bindings::paydesk::stripe::helpdesk;
use crate::bindings::paydesk::stripe::types::{self as wit, KeyInfo};
use crate::domain::vocabulary::PaymentMethodType;

/// When automatic payments are taken (`stripetakepaymentonduedate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakePaymentOn {
    /// As soon as a recurring invoice generates the invoice.
    InvoiceCreation,
    /// By the daily integrator run, once the due date has passed.
    DueDate,
}

/// Who may manage their automatic payment method in the portal (`show_auto_payment_on_portal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortalPaymentMethodAccess {
    /// Users can't add or change it.
    Hide,
    /// Only customers that already have an automatic payment method can change it.
    OnlyIfSet,
    /// Users can add one and change it.
    Show,
}

/// A processing-fee rule for one payment method type (B7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeRule {
    pub method_type: PaymentMethodType,
    /// Percentage, decimal string.
    pub percent: String,
    /// Largest fee in minor units of the invoice currency.
    pub cap: Option<i64>,
}

/// Every setting the plugin reads; the meaning of each is documented on the contract's `settings`.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub enabled: bool,
    pub stripe_public_key: Option<String>,
    pub secret_key: Option<KeyInfo>,
    pub stripe_currency: String,
    pub sync_customers_to_stripe: bool,
    pub stripepaymentmethodoptions: Vec<PaymentMethodType>,
    pub enableautostripepayment: bool,
    pub stripetakepaymentonduedate: TakePaymentOn,
    pub halointegrator_stripe: bool,
    pub stripemanualpaymentmethodoptions: Vec<PaymentMethodType>,
    pub stripe_processing_fee_percentage: String,
    pub stripe_fee_rules: Vec<FeeRule>,
    pub stripe_fee_cap: Option<i64>,
    pub show_auto_payment_on_portal: PortalPaymentMethodAccess,
    pub stripe_customer_portal_enabled: bool,
    pub stripe_send_recipient_email: bool,
    pub use_stripe_receipt_emails: bool,
    /// A full refund gives back the processing fee the customer paid too (Stripe keeps its own).
    pub stripe_refund_processing_fee: bool,
    pub stripenotificationemail: Option<String>,
    pub enablehalostripewebhooks: bool,
    pub stripe_webhook_endpoint_id: Option<String>,
    pub time_zone: String,
    pub autopay_max_attempts: u32,
    pub autopay_retry_interval_days: u32,
    /// The most one automatic charge may be, minor units of `stripe_currency`; none: no cap.
    pub autopay_max_amount: Option<i64>,
    pub reconcile_after_minutes: u32,
    pub portal_base_url: Option<String>,
    pub autopay_claim_lease_seconds: u32,
    /// Payment method types named in a type setting that this plugin doesn't know (Stripe's names);
    /// left out of the lists above, and refused by `validate-settings`.
    pub unsupported_types: Vec<String>,
}

impl Default for Settings {
    /// The defaults the contract documents for each name.
    fn default() -> Self {
        Settings {
            enabled: false,
            stripe_public_key: None,
            secret_key: None,
            stripe_currency: "usd".into(),
            sync_customers_to_stripe: false,
            stripepaymentmethodoptions: vec![PaymentMethodType::Card],
            enableautostripepayment: false,
            stripetakepaymentonduedate: TakePaymentOn::DueDate,
            halointegrator_stripe: false,
            stripemanualpaymentmethodoptions: Vec::new(),
            stripe_processing_fee_percentage: "0".into(),
            stripe_fee_rules: Vec::new(),
            stripe_fee_cap: None,
            show_auto_payment_on_portal: PortalPaymentMethodAccess::Hide,
            stripe_customer_portal_enabled: false,
            stripe_send_recipient_email: false,
            use_stripe_receipt_emails: false,
            stripe_refund_processing_fee: true,
            stripenotificationemail: None,
            enablehalostripewebhooks: false,
            stripe_webhook_endpoint_id: None,
            time_zone: "UTC".into(),
            autopay_max_attempts: 3,
            autopay_retry_interval_days: 1,
            autopay_max_amount: None,
            reconcile_after_minutes: 60,
            portal_base_url: None,
            autopay_claim_lease_seconds: 120,
            unsupported_types: Vec::new(),
        }
    }
}

/// The calling tenant's settings, from the host.
pub fn get() -> Settings {
    from_wit(helpdesk::get_settings())
}

/// The known types of `types`; the others' names go to `unsupported`.
fn types(
    types: Vec<wit::PaymentMethodType>,
    unsupported: &mut Vec<String>,
) -> Vec<PaymentMethodType> {
    let mut known = Vec::new();
    for t in types {
        match crate::bindings::known_type(t.clone()) {
            Ok(k) => known.push(k),
            Err(_) => unsupported.push(type_name(&t)),
        }
    }
    known
}

#[cfg(not(feature = "contract-v0_1"))]
fn type_name(t: &wit::PaymentMethodType) -> String {
    match t {
        wit::PaymentMethodType::Other(name) => name.clone(),
        other => format!("{other:?}"),
    }
}

#[cfg(feature = "contract-v0_1")]
fn type_name(t: &wit::PaymentMethodType) -> String {
    format!("{t:?}")
}

fn fee_rules(rules: Vec<wit::FeeRule>, unsupported: &mut Vec<String>) -> Vec<FeeRule> {
    rules
        .into_iter()
        .filter_map(
            |r| match crate::bindings::known_type(r.method_type.clone()) {
                Ok(method_type) => Some(FeeRule {
                    method_type,
                    percent: r.percent,
                    cap: r.cap,
                }),
                Err(_) => {
                    unsupported.push(type_name(&r.method_type));
                    None
                }
            },
        )
        .collect()
}

/// The plugin's settings from the contract's named values: each known name of the documented type
/// sets its field; an unknown name, or a value of another type, leaves the default.
#[cfg(not(feature = "contract-v0_1"))]
pub fn from_wit(values: wit::Settings) -> Settings {
    use wit::SettingValue as V;
    let mut s = Settings::default();
    let mut unsupported = Vec::new();
    let count = |n: i64| u32::try_from(n).ok();
    for wit::Setting { name, value } in values {
        match (name.as_str(), value) {
            ("enabled", V::Flag(b)) => s.enabled = b,
            ("stripe_public_key", V::Text(t)) => s.stripe_public_key = Some(t),
            ("stripe_secret_key", V::Key(k)) => s.secret_key = Some(k),
            ("stripe_currency", V::Text(t)) => s.stripe_currency = t,
            ("sync_customers_to_stripe", V::Flag(b)) => s.sync_customers_to_stripe = b,
            ("stripepaymentmethodoptions", V::MethodTypes(t)) => {
                s.stripepaymentmethodoptions = types(t, &mut unsupported)
            }
            ("enableautostripepayment", V::Flag(b)) => s.enableautostripepayment = b,
            ("stripetakepaymentonduedate", V::Text(t)) => match t.as_str() {
                "due-date" => s.stripetakepaymentonduedate = TakePaymentOn::DueDate,
                "invoice-creation" => s.stripetakepaymentonduedate = TakePaymentOn::InvoiceCreation,
                _ => {}
            },
            ("halointegrator_stripe", V::Flag(b)) => s.halointegrator_stripe = b,
            ("stripemanualpaymentmethodoptions", V::MethodTypes(t)) => {
                s.stripemanualpaymentmethodoptions = types(t, &mut unsupported)
            }
            ("stripe_processing_fee_percentage", V::Percent(p)) => {
                s.stripe_processing_fee_percentage = p
            }
            ("stripe_fee_rules", V::FeeRules(r)) => {
                s.stripe_fee_rules = fee_rules(r, &mut unsupported)
            }
            ("stripe_fee_cap", V::Number(n)) => s.stripe_fee_cap = Some(n),
            ("show_auto_payment_on_portal", V::Text(t)) => match t.as_str() {
                "hide" => s.show_auto_payment_on_portal = PortalPaymentMethodAccess::Hide,
                "only_if_set" => {
                    s.show_auto_payment_on_portal = PortalPaymentMethodAccess::OnlyIfSet
                }
                "show" => s.show_auto_payment_on_portal = PortalPaymentMethodAccess::Show,
                _ => {}
            },
            ("stripe_customer_portal_enabled", V::Flag(b)) => s.stripe_customer_portal_enabled = b,
            ("stripe_send_recipient_email", V::Flag(b)) => s.stripe_send_recipient_email = b,
            ("use_stripe_receipt_emails", V::Flag(b)) => s.use_stripe_receipt_emails = b,
            ("stripe_refund_processing_fee", V::Flag(b)) => s.stripe_refund_processing_fee = b,
            ("stripenotificationemail", V::Text(t)) => s.stripenotificationemail = Some(t),
            ("enablehalostripewebhooks", V::Flag(b)) => s.enablehalostripewebhooks = b,
            ("stripe_webhook_endpoint_id", V::Text(t)) => s.stripe_webhook_endpoint_id = Some(t),
            ("time_zone", V::Text(t)) => s.time_zone = t,
            ("autopay_max_attempts", V::Number(n)) => {
                s.autopay_max_attempts = count(n).unwrap_or(s.autopay_max_attempts)
            }
            ("autopay_retry_interval_days", V::Number(n)) => {
                s.autopay_retry_interval_days = count(n).unwrap_or(s.autopay_retry_interval_days)
            }
            ("autopay_max_amount", V::Number(n)) => s.autopay_max_amount = Some(n),
            ("reconcile_after_minutes", V::Number(n)) => {
                s.reconcile_after_minutes = count(n).unwrap_or(s.reconcile_after_minutes)
            }
            ("portal_base_url", V::Text(t)) => s.portal_base_url = Some(t),
            ("autopay_claim_lease_seconds", V::Number(n)) => {
                s.autopay_claim_lease_seconds = count(n).unwrap_or(s.autopay_claim_lease_seconds)
            }
            // A name this plugin doesn't know, or a value of another type: the default stands.
            _ => {}
        }
    }
    s.unsupported_types = unsupported;
    s
}

/// The plugin's settings from 0.1's record, field by field.
#[cfg(feature = "contract-v0_1")]
pub fn from_wit(w: wit::Settings) -> Settings {
    let mut unsupported = Vec::new();
    Settings {
        enabled: w.enabled,
        stripe_public_key: w.stripe_public_key,
        secret_key: w.secret_key,
        stripe_currency: w.stripe_currency,
        sync_customers_to_stripe: w.sync_customers_to_stripe,
        stripepaymentmethodoptions: types(w.stripepaymentmethodoptions, &mut unsupported),
        enableautostripepayment: w.enableautostripepayment,
        stripetakepaymentonduedate: match w.stripetakepaymentonduedate {
            wit::TakePaymentOn::DueDate => TakePaymentOn::DueDate,
            wit::TakePaymentOn::InvoiceCreation => TakePaymentOn::InvoiceCreation,
        },
        halointegrator_stripe: w.halointegrator_stripe,
        stripemanualpaymentmethodoptions: types(
            w.stripemanualpaymentmethodoptions,
            &mut unsupported,
        ),
        stripe_processing_fee_percentage: w.stripe_processing_fee_percentage,
        stripe_fee_rules: fee_rules(w.stripe_fee_rules, &mut unsupported),
        stripe_fee_cap: w.stripe_fee_cap,
        show_auto_payment_on_portal: match w.show_auto_payment_on_portal {
            wit::PortalPaymentMethodAccess::Hide => PortalPaymentMethodAccess::Hide,
            wit::PortalPaymentMethodAccess::OnlyIfSet => PortalPaymentMethodAccess::OnlyIfSet,
            wit::PortalPaymentMethodAccess::Show => PortalPaymentMethodAccess::Show,
        },
        stripe_customer_portal_enabled: w.stripe_customer_portal_enabled,
        stripe_send_recipient_email: w.stripe_send_recipient_email,
        use_stripe_receipt_emails: w.use_stripe_receipt_emails,
        stripe_refund_processing_fee: true,
        stripenotificationemail: w.stripenotificationemail,
        enablehalostripewebhooks: w.enablehalostripewebhooks,
        stripe_webhook_endpoint_id: w.stripe_webhook_endpoint_id,
        time_zone: w.time_zone,
        autopay_max_attempts: w.autopay_max_attempts,
        autopay_retry_interval_days: w.autopay_retry_interval_days,
        autopay_max_amount: None,
        reconcile_after_minutes: w.reconcile_after_minutes,
        portal_base_url: w.portal_base_url,
        autopay_claim_lease_seconds: w.autopay_claim_lease_seconds,
        unsupported_types: unsupported,
    }
}
