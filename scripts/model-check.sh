#!/usr/bin/env bash
# Model-checks the payment protocol (plugin/src/flows/payment_protocol.pml) with spin: 3 hosts,
# 2 invoices, a crash after any step (2 in a run), lost Stripe answers and late requests. Each
# variant is compiled in a temporary directory and searched exhaustively (pan, safety mode with
# compressed states); one line per property. Exits non-zero when a property fails where it must
# hold, or when the variant without the database's unique rule does NOT find a double charge
# (then the model could no longer catch that bug). Needs spin and gcc (scripts/setup.sh model).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
model="$PWD/plugin/src/flows/payment_protocol.pml"
work="$(mktemp -d)"
trap 'rm -rf -- "$work"' EXIT
cd "$work"
status=0

# verify NAME DEFINES...: prints "ok|fail <figures>" for the search of the model with DEFINES.
verify() {
    local name="$1"
    shift
    mkdir -p "$name" && cp "$model" "$name/model.pml"
    (
        cd "$name"
        spin -a "$@" model.pml >spin.log 2>&1 || { cat spin.log >&2; exit 1; }
        gcc "${opt:--O2}" -DSAFETY -DCOLLAPSE -DMEMLIM=3072 -o pan pan.c >gcc.log 2>&1 || { cat gcc.log >&2; exit 1; }
        ./pan -m300000 >pan.log 2>&1 || true
        if ! grep -q "errors: " pan.log; then cat pan.log >&2; exit 1; fi
    )
}

# figures NAME: states stored, depth reached and time of the search.
figures() {
    local log="$1/pan.log"
    printf '%s states, depth %s, %ss' \
        "$(awk '/states, stored/ {print $1}' "$log")" \
        "$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' "$log")" \
        "$(sed -n 's/^pan: elapsed time \([0-9.e+-]*\) seconds/\1/p' "$log")"
}

# violated NAME: the failed assertion's text, if any.
violated() { sed -n 's/^pan:1: assertion violated \(.*\) (at depth.*/\1/p' "$1/pan.log" | head -n 1; }

# report LABEL NAME DEFINES PROPERTY...: one line per property of a search whose properties must hold.
report() {
    local label="$1" name="$2" defines="$3" failed
    shift 3
    failed="$(violated "$name")"
    if grep -q "errors: 0" "$name/pan.log"; then
        for p in "$@"; do
            echo "model-check: $label: $p: proven ($(figures "$name"))"
        done
    else
        case "$failed" in
            *charges*'<=1'*) p="no invoice charged twice" ;;
            *'!=1'*) p="no record or claim left open forever" ;;
            *paid*) p="every charge recorded (invoice paid)" ;;
            *) p="the model's own checks" ;;
        esac
        echo "model-check: $label: $p: FAILED ($failed; counterexample in the trail of spin -t $defines $model)"
        status=1
    fi
}

# Each property is its own search (one search of all three needs more memory than the budget);
# the two long ones run side by side, one per core.
verify safety -DPROP_SAFETY &
safety=$!
verify live -DPROP_LIVE -DPROP_SETTLED &
live=$!
wait "$safety"
wait "$live"
report "as implemented" safety "-DPROP_SAFETY" "no invoice charged twice"
report "as implemented" live "-DPROP_LIVE -DPROP_SETTLED" \
    "no record or claim left open forever" "every charge recorded (invoice paid)"
# The model must still catch the bugs it was made to catch. Those searches end at their first
# counterexample in well under a second, so their verifier is compiled unoptimised (gcc -O2 of
# pan.c takes longer than the search), and both are made side by side.
# expect_double_charge NAME LABEL: the variant's search must have found a double charge.
expect_double_charge() {
    local name="$1" label="$2"
    if [ -n "$(violated "$name")" ]; then
        echo "model-check: $label: a double charge is found, as it must be ($(figures "$name"))"
    else
        echo "model-check: $label: FAILED to find the double charge; the model no longer catches it"
        status=1
    fi
}
opt=-O0 verify no-unique -DPROP_SAFETY -DNO_UNIQUE &
no_unique=$!
opt=-O0 verify old-resume -DPROP_SAFETY -DOLD_AUTOPAY_RESUME &
old_resume=$!
wait "$no_unique"
wait "$old_resume"
expect_double_charge no-unique "without the unique rule"
expect_double_charge old-resume "with autopay's old resume (sent a ruled-out attempt again)"
exit "$status"
