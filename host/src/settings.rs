//! A tenant's integration settings as the host stores and serves them (JSON field names are the
//! helpdesk API names of the integration guide), and their conversion to the WIT `settings` record the
//! plugin reads. Validation is the plugin's (`admin.validate-settings`); this module only carries data.

use serde::{Deserialize, Serialize};

use crate::contract as wit;
use crate::secret::Secret;

/// A fee rule for one payment method type (B7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeeRuleSetting {
    /// Stripe's name of the type (`card`, `sepa_debit`, …).
    pub method_type: String,
    /// Percentage, decimal string.
    pub percent: String,
    /// Largest fee, minor units.
    #[serde(default)]
    pub cap: Option<i64>,
}

/// Portal "Add payment method" access (`show_auto_payment_on_portal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PortalAccess {
    #[default]
    Hide,
    OnlyIfSet,
    Show,
}

/// Every setting of the integration. Secrets are not here: they
/// live in their own columns and are write-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct TenantSettings {
    pub enabled: bool,
    pub stripe_public_key: Option<String>,
    pub stripe_currency: String,
    pub sync_customers_to_stripe: bool,
    pub stripepaymentmethodoptions: Vec<String>,
    pub enableautostripepayment: bool,
    /// true: take automatic payment on the due date; false: on invoice creation.
    pub stripetakepaymentonduedate: bool,
    pub halointegrator_stripe: bool,
    pub stripemanualpaymentmethodoptions: Vec<String>,
    pub stripe_processing_fee_percentage: String,
    pub stripe_fee_rules: Vec<FeeRuleSetting>,
    pub stripe_fee_cap: Option<i64>,
    pub show_auto_payment_on_portal: PortalAccess,
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
    /// The most one automatic charge may be (amount due plus fee), minor units of
    /// `stripe_currency`; none: no cap. Each customer may have its own as well; both hold.
    pub autopay_max_amount: Option<i64>,
    pub reconcile_after_minutes: u32,
    pub portal_base_url: Option<String>,
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings {
            enabled: false,
            stripe_public_key: None,
            stripe_currency: "usd".into(),
            sync_customers_to_stripe: false,
            stripepaymentmethodoptions: vec!["card".into()],
            enableautostripepayment: false,
            stripetakepaymentonduedate: true,
            halointegrator_stripe: false,
            stripemanualpaymentmethodoptions: Vec::new(),
            stripe_processing_fee_percentage: "0".into(),
            stripe_fee_rules: Vec::new(),
            stripe_fee_cap: None,
            show_auto_payment_on_portal: PortalAccess::Hide,
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
        }
    }
}

/// The WIT value of a Stripe payment method type name: its case when the contract's line has one,
/// else `other` with the name (the plugin says whether it supports it).
pub fn method_type(name: &str) -> wit::PaymentMethodType {
    match paydesk_plugin::domain::vocabulary::PaymentMethodType::from_wire_name(name) {
        Some(t) => t.into(),
        None => wit::PaymentMethodType::Other(name.to_string()),
    }
}

/// What a key's prefix says, without the key.
pub fn key_info(key: &Secret) -> wit::KeyInfo {
    let k = key.expose();
    let kind = if k.starts_with("sk_") {
        wit::KeyKind::Secret
    } else if k.starts_with("rk_") {
        wit::KeyKind::Restricted
    } else if k.starts_with("pk_") {
        wit::KeyKind::Publishable
    } else {
        wit::KeyKind::Unrecognised
    };
    let mode = if k.get(2..8) == Some("_test_") {
        wit::KeyMode::Test
    } else if k.get(2..8) == Some("_live_") {
        wit::KeyMode::Live
    } else {
        wit::KeyMode::Unknown
    };
    wit::KeyInfo {
        kind,
        mode,
        masked: key.masked(),
    }
}

impl TenantSettings {
    /// The named values the plugin reads (`types.settings`); the secret key appears only as its
    /// `key-info`, and optional settings that are not set are left out. The host's own
    /// `autopay_claim_lease_seconds` is added by the caller that knows it.
    pub fn to_wit(&self, secret_key: Option<&Secret>) -> wit::Settings {
        use wit::SettingValue as V;
        let types =
            |names: &[String]| V::MethodTypes(names.iter().map(|n| method_type(n)).collect());
        let text = |t: &str| V::Text(t.to_string());
        let number = |n: u32| V::Number(i64::from(n));
        let mut values = vec![
            ("enabled", V::Flag(self.enabled)),
            ("stripe_currency", text(&self.stripe_currency)),
            (
                "sync_customers_to_stripe",
                V::Flag(self.sync_customers_to_stripe),
            ),
            (
                "stripepaymentmethodoptions",
                types(&self.stripepaymentmethodoptions),
            ),
            (
                "enableautostripepayment",
                V::Flag(self.enableautostripepayment),
            ),
            (
                "stripetakepaymentonduedate",
                text(if self.stripetakepaymentonduedate {
                    "due-date"
                } else {
                    "invoice-creation"
                }),
            ),
            ("halointegrator_stripe", V::Flag(self.halointegrator_stripe)),
            (
                "stripemanualpaymentmethodoptions",
                types(&self.stripemanualpaymentmethodoptions),
            ),
            (
                "stripe_processing_fee_percentage",
                V::Percent(self.stripe_processing_fee_percentage.clone()),
            ),
            (
                "stripe_fee_rules",
                V::FeeRules(
                    self.stripe_fee_rules
                        .iter()
                        .map(|r| wit::FeeRule {
                            method_type: method_type(&r.method_type),
                            percent: r.percent.clone(),
                            cap: r.cap,
                        })
                        .collect(),
                ),
            ),
            (
                "show_auto_payment_on_portal",
                text(match self.show_auto_payment_on_portal {
                    PortalAccess::Hide => "hide",
                    PortalAccess::OnlyIfSet => "only_if_set",
                    PortalAccess::Show => "show",
                }),
            ),
            (
                "stripe_customer_portal_enabled",
                V::Flag(self.stripe_customer_portal_enabled),
            ),
            (
                "stripe_send_recipient_email",
                V::Flag(self.stripe_send_recipient_email),
            ),
            (
                "use_stripe_receipt_emails",
                V::Flag(self.use_stripe_receipt_emails),
            ),
            (
                "stripe_refund_processing_fee",
                V::Flag(self.stripe_refund_processing_fee),
            ),
            (
                "enablehalostripewebhooks",
                V::Flag(self.enablehalostripewebhooks),
            ),
            ("time_zone", text(&self.time_zone)),
            ("autopay_max_attempts", number(self.autopay_max_attempts)),
            (
                "autopay_retry_interval_days",
                number(self.autopay_retry_interval_days),
            ),
            (
                "reconcile_after_minutes",
                number(self.reconcile_after_minutes),
            ),
        ];
        let optional = [
            (
                "stripe_public_key",
                self.stripe_public_key.as_deref().map(text),
            ),
            ("stripe_secret_key", secret_key.map(|k| V::Key(key_info(k)))),
            ("stripe_fee_cap", self.stripe_fee_cap.map(V::Number)),
            ("autopay_max_amount", self.autopay_max_amount.map(V::Number)),
            (
                "stripenotificationemail",
                self.stripenotificationemail.as_deref().map(text),
            ),
            (
                "stripe_webhook_endpoint_id",
                self.stripe_webhook_endpoint_id.as_deref().map(text),
            ),
            ("portal_base_url", self.portal_base_url.as_deref().map(text)),
        ];
        values.extend(optional.into_iter().filter_map(|(n, v)| Some((n, v?))));
        values
            .into_iter()
            .map(|(name, value)| wit::Setting {
                name: name.to_string(),
                value,
            })
            .collect()
    }
}

/// `settings` with `name` set to `value` (replacing any value it had).
pub fn with_setting(
    mut settings: wit::Settings,
    name: &str,
    value: wit::SettingValue,
) -> wit::Settings {
    settings.retain(|s| s.name != name);
    settings.push(wit::Setting {
        name: name.to_string(),
        value,
    });
    settings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_info_describes_without_revealing() {
        let info = key_info(&Secret::new("sk_live_0123456789abcd"));
        assert_eq!(info.kind, wit::KeyKind::Secret);
        assert_eq!(info.mode, wit::KeyMode::Live);
        assert_eq!(info.masked, "sk_live_…abcd");
        assert_eq!(
            key_info(&Secret::new("pk_test_x")).kind,
            wit::KeyKind::Publishable
        );
    }

    #[test]
    fn settings_json_uses_the_helpdesk_field_names() {
        let json = serde_json::to_value(TenantSettings::default()).unwrap();
        for field in [
            "stripe_public_key",
            "stripe_currency",
            "sync_customers_to_stripe",
            "stripepaymentmethodoptions",
            "enableautostripepayment",
            "stripetakepaymentonduedate",
            "halointegrator_stripe",
            "stripemanualpaymentmethodoptions",
            "show_auto_payment_on_portal",
            "stripe_send_recipient_email",
            "use_stripe_receipt_emails",
            "stripe_refund_processing_fee",
            "stripenotificationemail",
            "enablehalostripewebhooks",
        ] {
            assert!(json.get(field).is_some(), "missing {field}");
        }
    }
}
