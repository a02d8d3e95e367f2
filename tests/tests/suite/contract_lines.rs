//! Both contract lines in one host process: the plugin built against the frozen 0.1 contract
//! (`wit/since_v0.1/`, the crate's feature `contract-v0_1`, built by tests/build.rs) and the one built
//! against the current contract, each in its own runtime, answering the same calls the same way —
//! arithmetic, settings checks, a call to Stripe (localstripe) — and a line the host doesn't serve
//! refused with a clear error.

use paydesk_host::app::CallError;
use paydesk_host::contract::exports::paydesk::stripe::payments::QuoteItem;
use paydesk_host::contract::{ErrorKind, PaymentMethodType, SettingValue};
use paydesk_host::runtime::{ContractLine, Limits, Runtime, RuntimeConfig};
use paydesk_host::settings::with_setting;
use paydesk_tests::host::TestHost;
use paydesk_tests::services::LocalStripe;

/// The plugin built against the 0.1 contract.
static PLUGIN_V0_1: &[u8] = include_bytes!(env!("PAYDESK_PLUGIN_V0_1_WASM"));

fn runtime_config(wasm: Option<&[u8]>) -> RuntimeConfig {
    RuntimeConfig {
        wasm: wasm.map(<[u8]>::to_vec),
        cache_dir: Some(std::env::temp_dir().join("paydesk-test-component-cache")),
        limits: Limits {
            concurrent_instances: 8,
            ..Limits::default()
        },
    }
}

/// A host of the current plugin and one of the 0.1 plugin, Stripe at `stripe`, each with the
/// tenant `id` set up the same way.
fn both_hosts(stripe: &str, id: &str) -> [(TestHost, paydesk_host::tenant::TenantId); 2] {
    [None, Some(PLUGIN_V0_1)].map(|wasm| {
        let host = TestHost::with_runtime(stripe, runtime_config(wasm));
        let tenant = host.tenant(id, "sk_test_lines", |s| {
            s.stripe_processing_fee_percentage = "2.9".into();
            s.stripe_currency = "usd".into();
            s.stripepaymentmethodoptions = vec!["card".into(), "sepa_debit".into()];
        });
        (host, tenant)
    })
}

#[test]
fn each_component_is_run_on_the_contract_line_it_speaks() {
    let current = Runtime::new(runtime_config(None)).expect("the current plugin loads");
    let old = Runtime::new(runtime_config(Some(PLUGIN_V0_1))).expect("the 0.1 plugin loads");
    assert_eq!(current.contract_line(), ContractLine::V0_2);
    assert_eq!(current.describe().version, "0.2.0");
    assert_eq!(old.contract_line(), ContractLine::V0_1);
    assert_eq!(old.describe().version, "0.1.0");
    // The 0.1 build imports 0.1's interfaces only.
    let imports = old.describe().imports;
    assert!(
        imports.iter().any(|i| i == "paydesk:stripe/http@0.1.0"),
        "{imports:?}"
    );
    assert!(
        !imports.iter().any(|i| i.ends_with("@0.2.0")),
        "{imports:?}"
    );
}

#[test]
fn a_contract_line_the_host_does_not_serve_is_refused_by_name() {
    let component = br#"(component
        (instance $admin)
        (export "paydesk:stripe/admin@0.9.0" (instance $admin))
    )"#;
    let refused = Runtime::new(runtime_config(Some(component)))
        .err()
        .expect("a 0.9 plugin is refused");
    let message = format!("{refused:#}");
    assert!(
        message.contains("paydesk:stripe@0.9.0") && message.contains("serves 0.1 and 0.2"),
        "{message}"
    );
}

#[test]
fn both_lines_quote_the_same_fees() {
    let items = [
        QuoteItem {
            invoice_id: 1,
            invoice_number: "INV-1".into(),
            currency: "usd".into(),
            amount_due: 1050,
        },
        QuoteItem {
            invoice_id: 2,
            invoice_number: "INV-2".into(),
            currency: "usd".into(),
            amount_due: 1500,
        },
    ];
    let [current, old] = both_hosts("http://127.0.0.1:9", "lines-quote").map(|(host, tenant)| {
        host.app
            .quote(&tenant, &items, PaymentMethodType::SepaDebit)
            .expect("quote")
    });
    assert_eq!(current, old);
    assert_eq!(current.total.amount, 2624);
}

#[test]
fn a_payment_method_type_the_line_cannot_name_is_refused_not_trapped() {
    let item = QuoteItem {
        invoice_id: 1,
        invoice_number: "INV-1".into(),
        currency: "usd".into(),
        amount_due: 1000,
    };
    for (host, tenant) in both_hosts("http://127.0.0.1:9", "lines-other") {
        let line = host.app.runtime.contract_line();
        match host.app.quote(
            &tenant,
            std::slice::from_ref(&item),
            PaymentMethodType::Other("klarna".into()),
        ) {
            Err(CallError::Plugin(e)) => {
                let expected = match line {
                    // 0.1 has no `other`: the host answers for it.
                    ContractLine::V0_1 => ErrorKind::Unsupported,
                    ContractLine::V0_2 => ErrorKind::InvalidInput,
                };
                assert_eq!(e.kind, expected, "{line}: {}", e.message);
                assert!(e.message.contains("klarna"), "{line}: {}", e.message);
            }
            other => panic!("{line}: {other:?}"),
        }
    }
}

#[test]
fn both_lines_check_the_same_settings_the_same_way() {
    for (host, tenant) in both_hosts("http://127.0.0.1:9", "lines-settings") {
        let line = host.app.runtime.contract_line();
        let validate = |candidate: paydesk_host::contract::Settings| {
            let ctx = host.app.context(&tenant, None).expect("context");
            host.app
                .call_in(ctx, "admin.validate-settings", &candidate, |p, s| {
                    p.paydesk_stripe_admin()
                        .call_validate_settings(s, &candidate)
                })
        };
        let saved = host.db().tenant(&tenant).unwrap().settings;
        let key = paydesk_host::tenant::Secret::new("sk_test_lines");
        validate(saved.to_wit(Some(&key)))
            .unwrap_or_else(|e| panic!("{line}: the saved settings pass: {e}"));
        // A bad currency and a publishable key of no known shape, named field by field.
        let bad = with_setting(
            with_setting(
                saved.to_wit(Some(&key)),
                "stripe_currency",
                SettingValue::Text("dollars".into()),
            ),
            "stripe_public_key",
            SettingValue::Text("pub_key_typo".into()),
        );
        match validate(bad) {
            Err(CallError::Plugin(e)) => {
                let mut fields: Vec<_> = e.field_errors.iter().map(|f| f.field.as_str()).collect();
                fields.sort_unstable();
                assert_eq!(fields, ["stripe_currency", "stripe_public_key"], "{line}");
            }
            other => panic!("{line}: {other:?}"),
        }
        // A name no line knows changes nothing.
        let unknown = with_setting(
            saved.to_wit(Some(&key)),
            "stripe_refund_fees",
            SettingValue::Flag(true),
        );
        validate(unknown).unwrap_or_else(|e| panic!("{line}: an unknown name is ignored: {e}"));
    }
}

#[test]
fn both_lines_reach_stripe_with_the_tenants_key() {
    let stripe = LocalStripe::start().expect("start localstripe");
    let [current, old] = both_hosts(&stripe.base_url, "lines-stripe").map(|(host, tenant)| {
        host.app
            .test_connection(&tenant, None)
            .expect("test connection")
    });
    assert_eq!(current, old);
    assert!(!current.livemode);
}
