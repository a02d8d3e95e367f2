//! Validating a tenant's settings before they are saved: each bad field named with what to do. Keys are judged by the host's description of
//! them (kind, mode) — the secret key itself never reaches this code. Pure.

use std::str::FromStr;

use rust_decimal::Decimal;

use super::money::Currency;
use super::vocabulary::PaymentMethodType;

/// What the host says a key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Secret,
    Restricted,
    Publishable,
    Unrecognised,
}

/// Test or live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    Test,
    Live,
    Unknown,
}

/// The settings fields that have rules, as plain data.
#[derive(Debug, Clone, Default)]
pub struct SettingsInput {
    pub enabled: bool,
    pub public_key: Option<String>,
    /// Kind and mode of the secret key the tenant would have after the save.
    pub secret_key: Option<(KeyKind, KeyMode)>,
    pub currency: String,
    pub imported_types: Vec<PaymentMethodType>,
    pub manual_types: Vec<PaymentMethodType>,
    pub fee_percent: String,
    /// (type, percent, cap) per rule.
    pub fee_rules: Vec<(PaymentMethodType, String, Option<i64>)>,
    pub fee_cap: Option<i64>,
    pub notification_email: Option<String>,
    pub autopay_max_attempts: u32,
    pub autopay_retry_interval_days: u32,
    /// `autopay_max_amount`: the tenant-wide cap of one automatic charge, minor units.
    pub autopay_max_amount: Option<i64>,
    pub reconcile_after_minutes: u32,
    pub portal_base_url: Option<String>,
}

/// One bad field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

fn mode_of_public_key(key: &str) -> KeyMode {
    if key.starts_with("pk_test_") {
        KeyMode::Test
    } else if key.starts_with("pk_live_") {
        KeyMode::Live
    } else {
        KeyMode::Unknown
    }
}

fn percent_error(value: &str) -> Option<String> {
    match Decimal::from_str(value.trim()) {
        Ok(p) if p >= Decimal::ZERO && p <= Decimal::ONE_HUNDRED => None,
        Ok(_) => Some(format!("`{value}` is outside 0–100")),
        Err(_) => Some(format!("`{value}` is not a percentage (write it like 2.9)")),
    }
}

fn looks_like_email(s: &str) -> bool {
    let s = s.trim();
    s.split_once('@')
        .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !s.contains(char::is_whitespace))
}

/// Every problem with `s`; empty when the settings may be saved.
pub fn validate(s: &SettingsInput) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut bad = |field: &'static str, message: String| errors.push(FieldError { field, message });

    let public_mode = s.public_key.as_deref().map(mode_of_public_key);
    if let Some(key) = s.public_key.as_deref() {
        if key.starts_with("sk_") || key.starts_with("rk_") {
            bad(
                "stripe_public_key",
                "this is a secret key: never put it in the publishable key field; use the pk_… key from Stripe's Developers › API keys".into(),
            );
        } else if public_mode == Some(KeyMode::Unknown) {
            bad(
                "stripe_public_key",
                "a publishable key starts with pk_test_ or pk_live_".into(),
            );
        }
    } else if s.enabled {
        bad(
            "stripe_public_key",
            "the publishable key (pk_…) is needed to take payments".into(),
        );
    }
    match s.secret_key {
        None if s.enabled => bad(
            "stripe_secret_key",
            "the secret key (sk_… or rk_…) is needed to connect to Stripe".into(),
        ),
        None => {}
        Some((KeyKind::Publishable, _)) => bad(
            "stripe_secret_key",
            "this is a publishable key (pk_…); the secret key field needs the sk_… or rk_… key"
                .into(),
        ),
        Some((KeyKind::Unrecognised, _)) | Some((_, KeyMode::Unknown)) => bad(
            "stripe_secret_key",
            "a secret key starts with sk_test_, sk_live_, rk_test_ or rk_live_".into(),
        ),
        Some((_, mode)) => {
            if let Some(pm) = public_mode.filter(|m| *m != KeyMode::Unknown)
                && pm != mode
            {
                bad(
                    "stripe_secret_key",
                    format!(
                        "the secret key is a {} key but the publishable key is a {} key; use both from the same mode",
                        if mode == KeyMode::Live {
                            "live"
                        } else {
                            "test"
                        },
                        if pm == KeyMode::Live { "live" } else { "test" }
                    ),
                );
            }
        }
    }
    if let Err(e) = Currency::parse(&s.currency) {
        bad("stripe_currency", e.to_string());
    }
    if s.imported_types.is_empty() {
        bad(
            "stripepaymentmethodoptions",
            "import at least one payment method type (e.g. card)".into(),
        );
    }
    if let Some(t) = s
        .manual_types
        .iter()
        .find(|t| !s.imported_types.contains(t))
    {
        bad(
            "stripemanualpaymentmethodoptions",
            format!(
                "{t} is not among the imported payment method types; import it first or leave it out"
            ),
        );
    }
    if let Some(e) = percent_error(&s.fee_percent) {
        bad("stripe_processing_fee_percentage", e);
    }
    for (i, (t, percent, cap)) in s.fee_rules.iter().enumerate() {
        if let Some(e) = percent_error(percent) {
            bad("stripe_fee_rules", format!("rule {} ({t}): {e}", i + 1));
        }
        if cap.is_some_and(|c| c < 0) {
            bad(
                "stripe_fee_rules",
                format!("rule {} ({t}): a cap cannot be negative", i + 1),
            );
        }
        if s.fee_rules[..i].iter().any(|(other, _, _)| other == t) {
            bad(
                "stripe_fee_rules",
                format!("rule {} ({t}): there is already a rule for {t}", i + 1),
            );
        }
    }
    if s.fee_cap.is_some_and(|c| c < 0) {
        bad("stripe_fee_cap", "a cap cannot be negative".into());
    }
    if let Some(email) = s
        .notification_email
        .as_deref()
        .filter(|e| !looks_like_email(e))
    {
        bad(
            "stripenotificationemail",
            format!("`{email}` is not an email address"),
        );
    }
    if !(1..=10).contains(&s.autopay_max_attempts) {
        bad("autopay_max_attempts", "between 1 and 10 attempts".into());
    }
    if !(1..=30).contains(&s.autopay_retry_interval_days) {
        bad(
            "autopay_retry_interval_days",
            "between 1 and 30 days".into(),
        );
    }
    if let Some(e) = s.autopay_max_amount.and_then(super::caps::cap_error) {
        bad("autopay_max_amount", e);
    }
    if !(5..=10_080).contains(&s.reconcile_after_minutes) {
        bad(
            "reconcile_after_minutes",
            "between 5 minutes and 7 days (10080)".into(),
        );
    }
    if let Some(url) = s
        .portal_base_url
        .as_deref()
        .filter(|u| !(u.starts_with("https://") || u.starts_with("http://")))
    {
        bad("portal_base_url", format!("`{url}` is not an http(s) URL"));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> SettingsInput {
        SettingsInput {
            enabled: true,
            public_key: Some("pk_test_abc".into()),
            secret_key: Some((KeyKind::Secret, KeyMode::Test)),
            currency: "usd".into(),
            imported_types: vec![PaymentMethodType::Card],
            fee_percent: "2.9".into(),
            autopay_max_attempts: 3,
            autopay_retry_interval_days: 1,
            reconcile_after_minutes: 60,
            ..SettingsInput::default()
        }
    }

    fn fields(s: &SettingsInput) -> Vec<&'static str> {
        validate(s).into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn good_settings_pass() {
        assert!(validate(&good()).is_empty(), "{:?}", validate(&good()));
    }

    #[test]
    fn keys_in_the_wrong_field_or_mode_are_named() {
        let mut s = good();
        s.secret_key = Some((KeyKind::Publishable, KeyMode::Test));
        assert_eq!(fields(&s), vec!["stripe_secret_key"]);
        let mut s = good();
        s.secret_key = Some((KeyKind::Secret, KeyMode::Live));
        let errors = validate(&s);
        assert_eq!(errors[0].field, "stripe_secret_key");
        assert!(errors[0].message.contains("same mode"));
        let mut s = good();
        s.public_key = Some("sk_test_oops".into());
        assert_eq!(fields(&s), vec!["stripe_public_key"]);
    }

    #[test]
    fn every_bad_field_is_reported() {
        let mut s = good();
        s.currency = "usdollars".into();
        s.fee_percent = "101".into();
        s.imported_types.clear();
        s.manual_types = vec![PaymentMethodType::SepaDebit];
        let f = fields(&s);
        for field in [
            "stripe_currency",
            "stripe_processing_fee_percentage",
            "stripepaymentmethodoptions",
            "stripemanualpaymentmethodoptions",
        ] {
            assert!(f.contains(&field), "{field} missing from {f:?}");
        }
    }

    #[test]
    fn an_autopay_cap_is_a_positive_amount_up_to_stripes_largest_charge() {
        let mut s = good();
        s.autopay_max_amount = Some(50_000);
        assert!(validate(&s).is_empty());
        s.autopay_max_amount = Some(99_999_999);
        assert!(validate(&s).is_empty());
        for bad in [0, -1, 100_000_000] {
            s.autopay_max_amount = Some(bad);
            assert_eq!(fields(&s), vec!["autopay_max_amount"], "{bad}");
        }
    }
}
