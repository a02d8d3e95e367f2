//! Per-tenant limits from the outside (issue 16, item 4, and issue 15's per-tenant Stripe rate):
//! `paydesk limits set` stores a tenant's own limits, `paydesk limits show` shows every effective
//! limit with where it comes from, and the next plugin call on any host on the database holds to
//! them — the tenant's alone; a value the engine cannot honour is refused naming its bound, and
//! `paydesk limits clear` gives the tenant the platform defaults back. Runs on SQLite and
//! PostgreSQL (`PAYDESK_TEST_DB`).

use paydesk_host::app::CallError;
use paydesk_host::contract::PaymentMethodType;
use paydesk_host::contract::exports::paydesk::stripe::payments::QuoteItem;
use paydesk_host::limits_cli::{self, LimitsCommand};
use paydesk_host::runtime::SandboxError;
use paydesk_host::tenant::TenantId;
use paydesk_tests::host::TestHost;
use paydesk_tests::sweep::{self, Kind};

/// `paydesk limits ARGS` against the host's database and platform limits: what it printed, or
/// its error as the command line prints it.
fn limits(host: &TestHost, args: &[&str]) -> Result<String, String> {
    let label = format!("paydesk limits {}", args.join(" "));
    let command = LimitsCommand::from_args(args.iter().copied()).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let outcome = limits_cli::run(
        host.db(),
        host.app.runtime.limits(),
        None,
        &command,
        &mut out,
    );
    let printed = String::from_utf8(out).expect("text");
    sweep::record(Kind::Cli, &label, &printed);
    outcome.map(|()| printed).map_err(|e| format!("{e:#}"))
}

/// The row of `limit` in a one-tenant table, its cells joined by one space.
fn row(table: &str, limit: &str) -> String {
    table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(limit))
        .unwrap_or_else(|| panic!("no {limit} row in\n{table}"))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn quote(host: &TestHost, tenant: &str) -> Result<i64, CallError> {
    host.app
        .quote(
            &TenantId::parse(tenant).unwrap(),
            &[QuoteItem {
                invoice_id: 1,
                invoice_number: "INV-1".into(),
                currency: "usd".into(),
                amount_due: 500,
            }],
            PaymentMethodType::Card,
        )
        .map(|q| q.total.amount)
}

#[test]
fn limits_set_with_the_cli_are_shown_and_hold_on_every_host_for_that_tenant_alone() {
    let host = TestHost::new("http://127.0.0.1:9");
    host.tenant("alpha", "sk_test_limits_alpha", |_| {});
    host.tenant("beta", "sk_test_limits_beta", |_| {});
    let peer = host.peer();
    assert!(quote(&peer, "alpha").is_ok(), "alpha works before");

    let saved = limits(
        &host,
        &[
            "set",
            "--tenant",
            "alpha",
            "--fuel",
            "1000",
            "--deadline-seconds",
            "30",
            "--stripe-requests-per-second",
            "5",
        ],
    )
    .expect("set");
    assert!(saved.contains("limits of tenant alpha saved"), "{saved}");

    let shown = limits(&host, &["show", "--tenant", "alpha"]).expect("show");
    assert_eq!(row(&shown, "fuel"), "fuel 1000 tenant", "{shown}");
    assert_eq!(row(&shown, "deadline"), "deadline 30 s tenant", "{shown}");
    assert_eq!(
        row(&shown, "stripe-requests-per-second"),
        "stripe-requests-per-second 5/s tenant",
        "{shown}"
    );
    assert_eq!(row(&shown, "memory"), "memory 64 MiB platform default");
    assert_eq!(row(&shown, "instances"), "instances 7 platform default");
    let all = limits(&host, &["show"]).expect("show all");
    assert!(
        row(&all, "alpha").starts_with("alpha 64 MiB 1000 * 30 s * 7 5/s *"),
        "{all}"
    );
    assert!(!row(&all, "beta").contains('*'), "{all}");

    // The other host, with no restart: alpha's next call has a thousand units of fuel.
    let err = quote(&peer, "alpha").expect_err("alpha's fuel runs out");
    assert!(
        matches!(&err, CallError::Sandbox(SandboxError::OutOfFuel { tenant, fuel: 1000 }) if tenant == "alpha"),
        "{err:?}"
    );
    assert!(
        quote(&peer, "beta").is_ok(),
        "beta keeps the platform's fuel"
    );

    // What the engine cannot honour is refused, naming the bound; nothing changes.
    let refused = limits(&host, &["set", "--tenant", "alpha", "--instances", "8"]).unwrap_err();
    assert!(
        refused.contains("instances limit 8 must be from 1 to 7 — below the pool's 8 slots"),
        "{refused}"
    );
    let refused = limits(&host, &["set", "--tenant", "alpha", "--memory-mib", "4096"]).unwrap_err();
    assert!(
        refused.contains("above the engine's pooling slot of 256 MiB"),
        "{refused}"
    );
    let refused = limits(&host, &["set", "--tenant", "alpha", "--clear", "speed"]).unwrap_err();
    assert!(refused.contains("`speed` is not a limit"), "{refused}");
    assert_eq!(
        limits(&host, &["show", "--tenant", "alpha"]).unwrap(),
        shown,
        "nothing changed"
    );

    // Clearing one limit gives that one back; the others stay.
    let cleared =
        limits(&host, &["set", "--tenant", "alpha", "--clear", "fuel"]).expect("clear fuel");
    assert_eq!(row(&cleared, "fuel"), "fuel 2000000000 platform default");
    assert_eq!(row(&cleared, "deadline"), "deadline 30 s tenant");
    assert!(
        quote(&peer, "alpha").is_ok(),
        "alpha has the platform's fuel again"
    );

    let cleared = limits(&host, &["clear", "--tenant", "alpha"]).expect("clear");
    for limit in [
        "memory",
        "fuel",
        "deadline",
        "instances",
        "stripe-requests-per-second",
    ] {
        assert!(
            row(&cleared, limit).ends_with("platform default"),
            "{cleared}"
        );
    }
    let unknown = limits(&host, &["show", "--tenant", "nobody"]).unwrap_err();
    assert!(unknown.contains("tenant nobody not found"), "{unknown}");
}
