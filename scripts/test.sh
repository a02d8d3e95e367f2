#!/usr/bin/env bash
# The whole test suite, as CI runs it, on a fresh machine with the Rust toolchain, Python 3 and
# Debian packages: installs what the machine lacks (scripts/setup.sh: the wasm32-wasip2 target of
# the pinned toolchain, the test services in a venv, Chromium, ChromeDriver and pdftotext from
# Debian, the fonts invoice PDFs embed; fuzz.sh adds the nightly toolchain and cargo-fuzz), then formats-checks,
# lints (host and the plugin for wasm32-wasip2), runs every test, and gives each fuzz target a short
# bounded run (scripts/fuzz.sh). The tests start localstripe, aiosmtpd and ChromeDriver themselves on
# free 127.0.0.1 ports and stop them by PID. After the tests, the secret sweep scans everything they
# collected (logs, responses, pages, emails, values passed into the component) for Stripe secret keys
# and webhook signing secrets; its directory is emptied before the tests run. Then the modules that
# talk to Stripe most (connect, payments) run once more with every log line at TRACE — the HTTP
# client's included — and the sweep checks that pass too: no secret at any log level. Then the host
# conformance suite (conformance/run.py) plays its scenarios against the Rust and the Python host,
# after the Python host's own tests of its imports. The end-to-end suite runs twice: on SQLite and on
# PostgreSQL (PAYDESK_TEST_DB=postgres, a throwaway cluster the tests start as the unprivileged
# `postgres` user); `cargo test` also runs host/tests/hosts_postgres.rs (several hosts on one
# PostgreSQL), which needs the same cluster, so the postgres setup step comes first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh toolchain venv browser fonts postgres
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo clippy -p paydesk-plugin -p paydesk-abusive-guest --target wasm32-wasip2 --profile plugin -- -D warnings
sweep_dir="${PAYDESK_SECRET_SWEEP_DIR:-${CARGO_TARGET_DIR:-target}/secret-sweep}"
rm -rf -- "$sweep_dir"
cargo test
# The sweep binary `cargo test` built. No `-p` here or below: `-p paydesk-tests` resolves
# features for that package alone and rebuilds crates the workspace's build already has (about
# 90 s); `--test suite` without it picks the suite from the same default members.
sweep="${CARGO_TARGET_DIR:-target}/debug/secret-sweep"
"$sweep"
# The suite binary's next run replaces its own artifacts, so the first pass is swept above.
PAYDESK_LOG=trace cargo test --test suite -- connect:: payments::
"$sweep"
# The end-to-end suite again on PostgreSQL (a throwaway cluster the tests start), swept like the
# passes above.
PAYDESK_TEST_DB=postgres cargo test --test suite
"$sweep"
"${PAYDESK_TEST_VENV:-.venv-test}/bin/python" -m unittest discover -s hosts/python/tests
python3 conformance/run.py
scripts/setup.sh model
scripts/model-check.sh
scripts/fuzz.sh 15
