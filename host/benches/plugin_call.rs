//! What a plugin call costs: a fresh store + instance + `payments.quote` of one invoice through the
//! real component, next to the same quote computed natively by the plugin crate's domain code (the
//! baseline); and the same for 1,000 invoices, where the ratio is the WebAssembly overhead.
//!
//! Also start-up, from the precompiled component cache and by compiling the `.wasm`.
//!
//! `cargo bench -p paydesk-host --bench plugin_call` prints the medians (criterion's middle figure).

use std::hint::black_box;
use std::str::FromStr;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use paydesk_host::capabilities::{HttpConfig, Services};
use paydesk_host::contract::PaymentMethodType;
use paydesk_host::contract::exports::paydesk::stripe::payments::QuoteItem;
use paydesk_host::db::{Database, SqliteDb};
use paydesk_host::runtime::{Runtime, RuntimeConfig};
use paydesk_host::settings::TenantSettings;
use paydesk_host::tenant::{StripeAccess, TenantContext, TenantId};
use paydesk_plugin::domain::fees::{self, FeePolicy};
use paydesk_plugin::domain::vocabulary::PaymentMethodType as Native;
use rust_decimal::Decimal;

fn items(n: usize) -> Vec<QuoteItem> {
    (0..n)
        .map(|i| QuoteItem {
            invoice_id: i as i64 + 1,
            invoice_number: format!("INV-{i:05}"),
            currency: "usd".into(),
            amount_due: 10_000 + i as i64 * 37,
        })
        .collect()
}

/// The native baseline: what the component does, minus the sandbox — parse the fee setting, quote.
fn native_quote(settings: &TenantSettings, items: &[fees::QuoteItem]) -> fees::Quote {
    let policy = FeePolicy {
        default_percent: Decimal::from_str(&settings.stripe_processing_fee_percentage).unwrap(),
        default_cap: settings
            .stripe_fee_cap
            .map(paydesk_plugin::domain::money::MinorUnits),
        rules: Vec::new(),
    };
    fees::quote(items, Native::Card, &policy).unwrap()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db: Arc<dyn Database> = Arc::new(SqliteDb::open(&dir.path().join("bench.db")).unwrap());
    let services = Arc::new(Services::new(db, HttpConfig::default()));
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let settings = TenantSettings {
        enabled: true,
        stripe_processing_fee_percentage: "2.9".into(),
        ..TenantSettings::default()
    };
    let ctx = TenantContext {
        id: TenantId::parse("bench").unwrap(),
        settings: settings.clone(),
        stripe: StripeAccess {
            api_base: "http://127.0.0.1:9".into(),
            secret_key: None,
        },
        limits: Default::default(),
        plugin: None,
    };

    // Store, WASI context and instance, no export called.
    c.bench_function("fresh_instance_no_call", |b| {
        b.iter(|| {
            runtime
                .call(&services, ctx.clone(), |_p, _s| Ok(()))
                .unwrap()
        })
    });
    // The same with every interface's exports looked up at instantiation, as the generated
    // bindings did before an interface was loaded on first use.
    c.bench_function("fresh_instance_every_interface_loaded", |b| {
        b.iter(|| {
            runtime
                .call(&services, ctx.clone(), |p, s| p.load_every_interface(s))
                .unwrap()
        })
    });
    // The floor: a fresh instance and the cheapest export (no host call, a tiny answer).
    c.bench_function("fresh_instance_variables_only", |b| {
        b.iter(|| {
            runtime
                .call(&services, ctx.clone(), |p, s| {
                    p.paydesk_stripe_templates().call_variables(s)
                })
                .unwrap()
        })
    });

    for n in [1usize, 1000] {
        let wit_items = items(n);
        let native_items: Vec<fees::QuoteItem> = wit_items
            .iter()
            .map(|i| fees::QuoteItem {
                invoice_id: i.invoice_id,
                invoice_number: i.invoice_number.clone(),
                currency: i.currency.clone(),
                amount_due: i.amount_due,
            })
            .collect();
        let mut group = c.benchmark_group(format!("quote_{n}_invoices"));
        group.bench_function("component_fresh_instance", |b| {
            b.iter(|| {
                runtime
                    .call(&services, ctx.clone(), |p, s| {
                        p.paydesk_stripe_payments().call_quote(
                            s,
                            black_box(&wit_items),
                            &PaymentMethodType::Card,
                        )
                    })
                    .unwrap()
                    .unwrap()
            })
        });
        group.bench_function("native", |b| {
            b.iter(|| native_quote(black_box(&settings), black_box(&native_items)))
        });
        group.finish();
    }
}

/// Start-up: `Runtime::new` (engine, component, every import linked, `PluginPre`) from the
/// precompiled cache, and compiling the `.wasm` with no cache.
fn startup(c: &mut Criterion) {
    let cache = tempfile::tempdir().unwrap();
    let cached = || RuntimeConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        ..RuntimeConfig::default()
    };
    drop(Runtime::new(cached()).unwrap()); // fills the cache
    let mut group = c.benchmark_group("startup");
    group.sample_size(10);
    // Dropping a runtime (unmapping its instance pool) is not start-up: each is dropped outside
    // the timing, one at a time.
    group.bench_function("from_precompiled_cache", |b| {
        b.iter_batched(
            || (),
            |()| {
                let r = Runtime::new(cached()).unwrap();
                assert_eq!(r.loaded_from(), paydesk_host::runtime::LoadedFrom::Cache);
                r
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("compiling_the_wasm", |b| {
        b.iter_batched(
            || (),
            |()| Runtime::new(RuntimeConfig::default()).unwrap(),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench, startup);
criterion_main!(benches);
