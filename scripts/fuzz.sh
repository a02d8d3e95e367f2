#!/usr/bin/env bash
# Run every cargo-fuzz target in fuzz/ for SECONDS each (default 20) and fail on any crash:
#   scripts/fuzz.sh [SECONDS]
# Needs the nightly toolchain (rust-toolchain.toml pins stable for everything else, so every cargo
# call here says +nightly) and cargo-fuzz: `scripts/setup.sh fuzz` installs them when missing, and
# when it can't (no nightly to be had), fuzzing is skipped with one line saying why. A crash
# leaves its input in fuzz/artifacts/<target>/ and the command to reproduce it in the output.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${1:-20}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: scripts/fuzz.sh [SECONDS]   (a whole number of seconds per target; got '$seconds')" >&2
    exit 2
fi
targets=(webhook_signature stripe_event stripe_form settings_validator)

# The nightly toolchain and cargo-fuzz, installed when missing; when they can't be had here,
# setup.sh says why in one line ("setup: fuzz: skipped, …") and fuzzing is skipped, not failed.
status=0
scripts/setup.sh fuzz || status=$?
if [ "$status" -eq 3 ]; then
    exit 0
elif [ "$status" -ne 0 ]; then
    exit "$status"
fi

cd fuzz
for target in "${targets[@]}"; do
    start=$SECONDS
    cargo +nightly fuzz build "$target"
    built=$((SECONDS - start))
    start=$SECONDS
    cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -rss_limit_mb=2048
    echo "fuzz.sh: $target: built in $built s, fuzzed for $((SECONDS - start)) s, no crash"
done
