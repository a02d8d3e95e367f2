//! The `paydesk` binary as a user runs it: `plugin` describes the component, `tenant` creates an
//! administrator, and bad input ends in one line on stderr with a non-zero exit code and nothing
//! written (the demo's story is in `demo.rs`). What it prints goes to the secret sweep.

// The service harness is shared with the end-to-end suite (one source, compiled into both).
#[path = "../../tests/src/services.rs"]
#[allow(dead_code)]
mod services;
#[path = "../../tests/src/sweep.rs"]
#[allow(dead_code)]
mod sweep;

use std::process::{Command, Output};

use paydesk_host::db::{SqliteDb, TenantStore};
use paydesk_host::tenant::TenantId;

/// Run `paydesk`; what it printed also goes to the secret sweep.
fn paydesk(dir: &std::path::Path, stripe: &str, args: &[&str]) -> Output {
    let out = run_paydesk(dir, stripe, args);
    let label = format!("paydesk {}", args.join(" "));
    sweep::record(sweep::Kind::Cli, &label, &text(&out.stdout));
    sweep::record(sweep::Kind::Logs, &label, &text(&out.stderr));
    out
}

/// A command whose purpose is to show a new API token once, on its last line: the token is
/// registered with the secret sweep, and its output is swept with that one line masked, so the
/// token showing up anywhere else (its log, other lines, any later command) is still a finding.
fn paydesk_issuing_a_token(dir: &std::path::Path, stripe: &str, args: &[&str]) -> (Output, String) {
    let out = run_paydesk(dir, stripe, args);
    let stdout = text(&out.stdout);
    let token = stdout.lines().last().unwrap_or("").trim().to_string();
    sweep::register_secret(&token);
    let label = format!("paydesk {}", args.join(" "));
    let (shown, last) = stdout.trim_end().rsplit_once('\n').unwrap_or(("", &stdout));
    assert_eq!(last.trim(), token);
    sweep::record(
        sweep::Kind::Cli,
        &label,
        &format!("{shown}\n<the new token, shown once>\n"),
    );
    sweep::record(sweep::Kind::Logs, &label, &text(&out.stderr));
    (out, token)
}

fn run_paydesk(dir: &std::path::Path, stripe: &str, args: &[&str]) -> Output {
    // `demo` connects with this placeholder key when PAYDESK_STRIPE_SECRET_KEY is unset.
    sweep::register_secret("sk_test_paydesk_demo_key");
    Command::new(env!("CARGO_BIN_EXE_paydesk"))
        .args(args)
        .arg("--db")
        .arg(dir.join("paydesk.db"))
        // One compiled component for every command of these tests (keyed by its hash and the
        // engine), as one machine's cache would be; the test of the cache itself names its own.
        .env(
            "PAYDESK_CACHE_DIR",
            std::env::temp_dir().join("paydesk-cli-test-component-cache"),
        )
        .env("PAYDESK_STRIPE_API_BASE", stripe)
        .env_remove("PAYDESK_STRIPE_SECRET_KEY")
        .env_remove("PAYDESK_LOG")
        .output()
        .expect("run paydesk")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn plugin_prints_the_contract_version_size_and_exports() {
    let dir = tempfile::tempdir().unwrap();
    // A cache of its own: the first start compiles, the second loads what the first stored.
    let cache = dir.path().join("cache");
    let plugin = ["plugin", "--cache-dir", cache.to_str().unwrap()];
    let out = paydesk(dir.path(), "http://127.0.0.1:9", &plugin);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("loaded      Compiled"),
        "{}",
        text(&out.stdout)
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("package     paydesk:stripe"), "{stdout}");
    assert!(stdout.contains("version     0.2.0"), "{stdout}");
    assert!(stdout.contains("contract    0.2 line"), "{stdout}");
    let size: usize = stdout
        .lines()
        .find_map(|l| l.strip_prefix("size        "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("a size line");
    assert!(size > 10_000, "{size}");
    assert!(
        stdout.contains("paydesk:stripe/payments@0.2.0: quote"),
        "{stdout}"
    );
    // The second start loads the precompiled component from the cache.
    let again = paydesk(dir.path(), "http://127.0.0.1:9", &plugin);
    assert!(
        text(&again.stdout).contains("loaded      Cache"),
        "{}",
        text(&again.stdout)
    );
}

#[test]
fn plugin_reports_the_contract_line_of_each_file_and_refuses_one_it_does_not_serve() {
    let dir = tempfile::tempdir().unwrap();
    let current = dir.path().join("current.wasm");
    std::fs::write(&current, paydesk_host::runtime::EMBEDDED_PLUGIN).unwrap();
    let out = paydesk(
        dir.path(),
        "http://127.0.0.1:9",
        &["plugin", "--wasm", current.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("file        {}", current.display())),
        "{stdout}"
    );
    assert!(stdout.contains("contract    0.2 line"), "{stdout}");
    // A component of a line the host doesn't serve: refused, naming its version.
    let other = dir.path().join("other.wat");
    std::fs::write(
        &other,
        r#"(component (instance $a) (export "paydesk:stripe/admin@0.9.0" (instance $a)))"#,
    )
    .unwrap();
    let out = paydesk(
        dir.path(),
        "http://127.0.0.1:9",
        &["plugin", "--wasm", other.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("paydesk:stripe@0.9.0") && stderr.contains("serves 0.1 and 0.2"),
        "{stderr}"
    );
}

#[test]
fn bad_input_is_one_line_and_a_failure_exit_with_nothing_written() {
    let stripe = services::LocalStripe::shared();
    let cases: [(&str, Vec<&str>, &str); 3] = [
        (
            stripe.base_url.as_str(),
            vec!["demo", "--currency", "xyz"],
            "`xyz` is not a currency",
        ),
        ("http://127.0.0.1:9", vec!["demo"], "could not be reached"),
        (
            stripe.base_url.as_str(),
            vec!["autopay", "--tenant", "nope"],
            "tenant nope not found",
        ),
    ];
    for (base, args, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let out = paydesk(dir.path(), base, &args);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{args:?} must fail");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{args:?}: one line, got:\n{stderr}"
        );
        assert!(
            stderr.starts_with("paydesk: error: ") && stderr.contains(expected),
            "{args:?}: {stderr}"
        );
        let db = SqliteDb::open(&dir.path().join("paydesk.db")).unwrap();
        assert!(
            db.tenant(&TenantId::parse("demo").unwrap()).is_err(),
            "{args:?} wrote a tenant"
        );
    }
}

#[test]
fn tenant_creates_an_administrator_whose_token_opens_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "tenant",
        "--tenant",
        "acme",
        "--name",
        "Acme IT",
        "--mailbox",
        "invoices@acme.test",
        "--admin-name",
        "Ada",
        "--admin-email",
        "ada@acme.test",
    ];
    let out = paydesk(dir.path(), "http://127.0.0.1:9", &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let token = stdout.lines().last().unwrap().trim().to_string();
    assert!(token.starts_with("pdk_") && token.len() == 68, "{stdout}");
    let db = SqliteDb::open(&dir.path().join("paydesk.db")).unwrap();
    let (tenant, principal) = paydesk_host::db::AuthStore::authenticate(&db, &token)
        .unwrap()
        .expect("the token is valid");
    assert_eq!(tenant.as_str(), "acme");
    assert!(matches!(principal, paydesk_host::db::Principal::Agent(a) if a.is_admin));
    // A second tenant with the same id is refused in one line.
    let again = paydesk(dir.path(), "http://127.0.0.1:9", &args);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("tenant acme exists"),
        "{}",
        text(&again.stderr)
    );
}

#[test]
fn token_list_shows_ids_never_values_and_token_revoke_stops_a_token_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (created, token) = paydesk_issuing_a_token(
        dir.path(),
        "http://127.0.0.1:9",
        &[
            "tenant",
            "--tenant",
            "acme",
            "--name",
            "Acme IT",
            "--mailbox",
            "invoices@acme.test",
            "--admin-name",
            "Ada",
            "--admin-email",
            "ada@acme.test",
        ],
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    let db = SqliteDb::open(&dir.path().join("paydesk.db")).unwrap();
    let valid = |db: &SqliteDb| {
        paydesk_host::db::AuthStore::authenticate(db, &token)
            .unwrap()
            .is_some()
    };
    assert!(valid(&db));
    let listed = paydesk(
        dir.path(),
        "http://127.0.0.1:9",
        &["token", "list", "--tenant", "acme"],
    );
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let listing = text(&listed.stdout);
    assert!(
        listing.contains("1  agent ada@acme.test  created by `paydesk tenant`"),
        "{listing}"
    );
    assert!(!listing.contains("pdk_"), "{listing}");
    let revoked = paydesk(
        dir.path(),
        "http://127.0.0.1:9",
        &["token", "revoke", "--tenant", "acme", "--id", "1"],
    );
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    assert!(text(&revoked.stdout).contains("token 1 of tenant acme revoked"));
    assert!(!valid(&db), "the revoked token still authenticates");
    let missing = paydesk(
        dir.path(),
        "http://127.0.0.1:9",
        &["token", "revoke", "--tenant", "acme", "--id", "99"],
    );
    assert!(!missing.status.success());
    assert!(
        text(&missing.stderr).contains("token 99 not found"),
        "{}",
        text(&missing.stderr)
    );
}

#[test]
fn limits_set_and_show_as_a_user_runs_them_and_bad_platform_limits_end_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let (created, _) = paydesk_issuing_a_token(
        dir.path(),
        "http://127.0.0.1:9",
        &[
            "tenant",
            "--tenant",
            "acme",
            "--name",
            "Acme IT",
            "--mailbox",
            "invoices@acme.test",
            "--admin-name",
            "Ada",
            "--admin-email",
            "ada@acme.test",
        ],
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    let set = paydesk(
        dir.path(),
        "http://127.0.0.1:9",
        &[
            "limits",
            "set",
            "--tenant",
            "acme",
            "--instances",
            "4",
            "--memory-mib",
            "32",
        ],
    );
    assert!(set.status.success(), "{}", text(&set.stderr));
    let shown = paydesk(
        dir.path(),
        "http://127.0.0.1:9",
        &["limits", "show", "--tenant", "acme"],
    );
    let stdout = text(&shown.stdout);
    let row = |limit: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(limit))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| panic!("no {limit} in\n{stdout}"))
    };
    assert_eq!(row("instances"), "instances 4 tenant");
    assert_eq!(row("memory"), "memory 32 MiB tenant");
    assert_eq!(row("deadline"), "deadline 120 s platform default");

    // The platform's limits come from the environment, checked before the database is opened.
    let out = Command::new(env!("CARGO_BIN_EXE_paydesk"))
        .args(["limits", "show", "--db"])
        .arg(dir.path().join("paydesk.db"))
        .env("PAYDESK_PLUGIN_INSTANCES", "16")
        .env("PAYDESK_PLUGIN_INSTANCES_PER_TENANT", "16")
        .output()
        .expect("run paydesk");
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("paydesk: error: PAYDESK_PLUGIN_INSTANCES_PER_TENANT must be a number"),
        "{stderr}"
    );
    // A host with 8 instance slots: the tenant keeps its 4, the platform's default per tenant is 7.
    let out = Command::new(env!("CARGO_BIN_EXE_paydesk"))
        .args(["limits", "show", "--db"])
        .arg(dir.path().join("paydesk.db"))
        .env("PAYDESK_PLUGIN_INSTANCES", "8")
        .env("PAYDESK_STRIPE_MAX_REQUESTS_PER_SECOND", "25")
        .output()
        .expect("run paydesk");
    let all = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        all.contains("platform defaults (engine: 8 instance slots"),
        "{all}"
    );
    let acme = all
        .lines()
        .find(|l| l.starts_with("acme "))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| panic!("no acme row in\n{all}"));
    assert_eq!(acme, "acme 32 MiB * 2000000000 120 s 4 * 25/s");
}

/// The embedded component with a custom section appended: a valid component of another hash, as
/// a second build of the plugin would be.
fn another_build(tag: &str) -> Vec<u8> {
    let name = b"paydesk-test-build";
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name);
    payload.extend_from_slice(tag.as_bytes());
    assert!(payload.len() < 128, "one LEB128 byte of size");
    let mut wasm = paydesk_host::runtime::EMBEDDED_PLUGIN.to_vec();
    wasm.push(0);
    wasm.push(payload.len() as u8);
    wasm.extend(payload);
    wasm
}

#[test]
fn the_plugin_registry_adds_lists_moves_tenants_and_rolls_back_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(&dir.path().join("paydesk.db")).unwrap();
    for id in ["acme", "globex"] {
        let id = TenantId::parse(id).unwrap();
        db.create_tenant(&id, "Tenant", "invoices@example.com")
            .unwrap();
    }
    let file = dir.path().join("v2.wasm");
    std::fs::write(&file, another_build("2")).unwrap();
    let file = file.to_str().unwrap();
    let run = |args: &[&str]| {
        let out = paydesk(dir.path(), "http://127.0.0.1:9", args);
        (out.status.success(), text(&out.stdout), text(&out.stderr))
    };

    let (ok, stdout, stderr) = run(&["plugin", "add", file, "--version", "2.0.0-test"]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with("added version 2.0.0-test (paydesk:stripe@0.2.0, "),
        "{stdout}"
    );
    // The same bytes again, or a file that is no component: refused, nothing stored.
    let (ok, _, stderr) = run(&["plugin", "add", file, "--version", "again"]);
    assert!(!ok && stderr.contains("already"), "{stderr}");
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"junk").unwrap();
    let (ok, _, stderr) = run(&["plugin", "add", junk.to_str().unwrap()]);
    assert!(!ok && stderr.contains("refused"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");

    let (ok, stdout, _) = run(&["plugin", "list"]);
    assert!(ok);
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no line for {name}: {stdout}"))
            .to_string()
    };
    assert!(line("embedded").ends_with("2: acme, globex"), "{stdout}");
    assert!(
        line("2.0.0-test").contains(" 0.2.0 ") && line("2.0.0-test").ends_with(" 0"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 3, "{stdout}");

    let (ok, stdout, stderr) = run(&["plugin", "use", "2.0.0-test", "--tenant", "acme"]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with("move 1: 1 tenant(s) to 2.0.0-test (--tenant acme)"),
        "{stdout}"
    );
    assert!(stdout.contains("acme: embedded -> 2.0.0-test"), "{stdout}");
    let acme = db.tenant(&TenantId::parse("acme").unwrap()).unwrap();
    let listed: serde_json::Value =
        serde_json::from_str(&run(&["plugin", "list", "--json"]).1).unwrap();
    assert_eq!(listed[1]["version"], "2.0.0-test");
    assert_eq!(listed[1]["tenants"], serde_json::json!(["acme"]));
    assert_eq!(acme.plugin.as_deref(), listed[1]["sha256"].as_str());

    // With the limits.
    let (ok, stdout, _) = run(&["plugin", "list", "--limits"]);
    assert!(ok && stdout.contains("platform defaults"), "{stdout}");

    // No selection, two selections, an unknown version: refused.
    for args in [
        vec!["plugin", "use", "2.0.0-test"],
        vec!["plugin", "use", "2.0.0-test", "--all", "--tenant", "acme"],
        vec!["plugin", "use", "9.9.9", "--all"],
        vec!["plugin", "use", "2.0.0-test", "--percent", "0"],
    ] {
        let (ok, _, stderr) = run(&args);
        assert!(!ok, "{args:?}");
        assert!(!stderr.is_empty());
    }
    assert_eq!(
        db.tenant(&TenantId::parse("globex").unwrap())
            .unwrap()
            .plugin,
        None
    );

    let (ok, stdout, _) = run(&["plugin", "use", "--rollback"]);
    assert!(ok);
    assert!(
        stdout.starts_with("rolled back move 1 (--tenant acme to 2.0.0-test): 1 tenant(s) back"),
        "{stdout}"
    );
    assert_eq!(
        db.tenant(&TenantId::parse("acme").unwrap()).unwrap().plugin,
        None
    );
    let (ok, stdout, _) = run(&["plugin", "use", "--rollback"]);
    assert!(ok && stdout.starts_with("nothing to roll back"), "{stdout}");
}
