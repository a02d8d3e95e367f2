#!/usr/bin/env bash
# The whole test suite, as CI runs it, on a fresh machine with the Rust toolchain, Python 3 and
# Debian packages: installs the test services into a venv (scripts/test-env.sh) and Chromium,
# ChromeDriver and pdftotext from Debian (scripts/browser-env.sh), then formats-checks,
# lints (host and the plugin for wasm32-wasip2), runs every test, and gives each fuzz target a short
# bounded run (scripts/fuzz.sh). The tests start localstripe, aiosmtpd and ChromeDriver themselves on
# free 127.0.0.1 ports and stop them by PID. After the tests, the secret sweep scans everything they
# collected (logs, responses, pages, emails, values passed into the component) for Stripe secret keys
# and webhook signing secrets; its directory is emptied before the tests run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/test-env.sh
scripts/browser-env.sh
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo clippy -p paydesk-plugin -p paydesk-abusive-guest --target wasm32-wasip2 --profile plugin -- -D warnings
sweep_dir="${PAYDESK_SECRET_SWEEP_DIR:-${CARGO_TARGET_DIR:-target}/secret-sweep}"
rm -rf -- "$sweep_dir"
cargo test
cargo run -q -p paydesk-tests --bin secret-sweep
scripts/fuzz.sh 15
