//! Fuzzes tenant settings validation (`domain::settings::validate`) with arbitrary settings: keys,
//! currency, percentages, fee rules and caps, email, URL, payment method type lists and numbers,
//! drawn from values a tenant would type as well as any string. It must never panic, and every
//! error must name a settings field the input has (by its helpdesk API name) and say something.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use paydesk_plugin::domain::settings::{KeyKind, KeyMode, SettingsInput, validate};
use paydesk_plugin::domain::vocabulary::PaymentMethodType;

/// The API name of each field of `SettingsInput` that has rules.
const FIELDS: &[&str] = &[
    "stripe_public_key",
    "stripe_secret_key",
    "stripe_currency",
    "stripepaymentmethodoptions",
    "stripemanualpaymentmethodoptions",
    "stripe_processing_fee_percentage",
    "stripe_fee_rules",
    "stripe_fee_cap",
    "stripenotificationemail",
    "autopay_max_attempts",
    "autopay_retry_interval_days",
    "autopay_max_amount",
    "reconcile_after_minutes",
    "portal_base_url",
];

/// A value a tenant would type, or any string.
#[derive(Debug, Arbitrary)]
enum Text {
    Typical(u8),
    Any(String),
}

impl Text {
    fn or_one_of(self, typical: &[&str]) -> String {
        match self {
            Text::Typical(i) => typical[usize::from(i) % typical.len()].to_string(),
            Text::Any(s) => s,
        }
    }
}

const PUBLIC_KEYS: &[&str] = &[
    "pk_test_abc",
    "pk_live_abc",
    "sk_test_oops",
    "rk_live_x",
    "",
    "pk_",
];
const CURRENCIES: &[&str] = &["usd", "EUR", " jpy ", "kwd", "usdollars", "", "xyz"];
const PERCENTS: &[&str] = &[
    "2.9",
    "0",
    "100",
    "100.0001",
    "-0",
    "-1",
    "1e2",
    "2,9",
    " 3.5 ",
    "",
    "79228162514264337593543950336",
    "0.0000000000000000000000000001",
    "0.00000000000000000000000000001",
];
const EMAILS: &[&str] = &["billing@acme.test", "a@b", "@acme.test", "a b@c.d", ""];
const URLS: &[&str] = &[
    "https://portal.acme.test",
    "http://x",
    "ftp://x",
    "portal.acme.test",
    "",
];

#[derive(Debug, Arbitrary)]
struct Input {
    enabled: bool,
    public_key: Option<Text>,
    secret_key: Option<(u8, u8)>,
    currency: Text,
    imported_types: Vec<u8>,
    manual_types: Vec<u8>,
    fee_percent: Text,
    fee_rules: Vec<(u8, Text, Option<i64>)>,
    fee_cap: Option<i64>,
    notification_email: Option<Text>,
    autopay_max_attempts: u32,
    autopay_retry_interval_days: u32,
    autopay_max_amount: Option<i64>,
    reconcile_after_minutes: u32,
    portal_base_url: Option<Text>,
}

fn method_type(i: u8) -> PaymentMethodType {
    PaymentMethodType::ALL[usize::from(i) % PaymentMethodType::ALL.len()]
}

fn settings(input: Input) -> SettingsInput {
    const KINDS: [KeyKind; 4] = [
        KeyKind::Secret,
        KeyKind::Restricted,
        KeyKind::Publishable,
        KeyKind::Unrecognised,
    ];
    const MODES: [KeyMode; 3] = [KeyMode::Test, KeyMode::Live, KeyMode::Unknown];
    SettingsInput {
        enabled: input.enabled,
        public_key: input.public_key.map(|t| t.or_one_of(PUBLIC_KEYS)),
        secret_key: input
            .secret_key
            .map(|(k, m)| (KINDS[usize::from(k) % 4], MODES[usize::from(m) % 3])),
        currency: input.currency.or_one_of(CURRENCIES),
        imported_types: input.imported_types.into_iter().map(method_type).collect(),
        manual_types: input.manual_types.into_iter().map(method_type).collect(),
        fee_percent: input.fee_percent.or_one_of(PERCENTS),
        fee_rules: input
            .fee_rules
            .into_iter()
            .map(|(t, p, cap)| (method_type(t), p.or_one_of(PERCENTS), cap))
            .collect(),
        fee_cap: input.fee_cap,
        notification_email: input.notification_email.map(|t| t.or_one_of(EMAILS)),
        autopay_max_attempts: input.autopay_max_attempts,
        autopay_retry_interval_days: input.autopay_retry_interval_days,
        autopay_max_amount: input.autopay_max_amount,
        reconcile_after_minutes: input.reconcile_after_minutes,
        portal_base_url: input.portal_base_url.map(|t| t.or_one_of(URLS)),
    }
}

fuzz_target!(|input: Input| {
    let settings = settings(input);
    for error in validate(&settings) {
        assert!(
            FIELDS.contains(&error.field),
            "`{}` is not a settings field",
            error.field
        );
        assert!(
            !error.message.trim().is_empty(),
            "{} has no message",
            error.field
        );
    }
});
