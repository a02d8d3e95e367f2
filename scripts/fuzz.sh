#!/usr/bin/env bash
# Run every cargo-fuzz target in fuzz/ for SECONDS each (default 20) and fail on any crash:
#   scripts/fuzz.sh [SECONDS]
# Needs the nightly toolchain (rust-toolchain.toml pins stable for everything else, so every cargo
# call here says +nightly); installs cargo-fuzz from crates.io only when it is missing. A crash
# leaves its input in fuzz/artifacts/<target>/ and the command to reproduce it in the output.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${1:-20}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: scripts/fuzz.sh [SECONDS]   (a whole number of seconds per target; got '$seconds')" >&2
    exit 2
fi
targets=(webhook_signature stripe_event stripe_form settings_validator)

# Captured first: `grep -q` may stop reading early, which pipefail would count as a failure.
toolchains="$(rustup toolchain list)"
if ! grep -q '^nightly' <<<"$toolchains"; then
    echo "fuzz.sh: the nightly toolchain is missing; install it with: rustup toolchain install nightly" >&2
    exit 1
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    start=$SECONDS
    cargo +nightly install cargo-fuzz --locked
    echo "fuzz.sh: installed cargo-fuzz in $((SECONDS - start)) s"
fi
cargo +nightly fuzz --version

cd fuzz
for target in "${targets[@]}"; do
    start=$SECONDS
    cargo +nightly fuzz build "$target"
    built=$((SECONDS - start))
    start=$SECONDS
    cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -rss_limit_mb=2048
    echo "fuzz.sh: $target: built in $built s, fuzzed for $((SECONDS - start)) s, no crash"
done
