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
        gcc -O2 -DSAFETY -DCOLLAPSE -DMEMLIM=3072 -o pan pan.c >gcc.log 2>&1 || { cat gcc.log >&2; exit 1; }
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

# report VARIANT NAME: one line per property for a variant whose properties must hold.
report() {
    local label="$1" name="$2" failed
    failed="$(violated "$name")"
    if grep -q "errors: 0" "$name/pan.log"; then
        for p in "no invoice charged twice" "no record or claim left open forever" "every charge recorded (invoice paid)"; do
            echo "model-check: $label: $p: proven ($(figures "$name"))"
        done
    else
        case "$failed" in
            *charges*'<=1'*) p="no invoice charged twice" ;;
            *'!=1'*) p="no record or claim left open forever" ;;
            *paid*) p="every charge recorded (invoice paid)" ;;
            *) p="the model's own checks" ;;
        esac
        echo "model-check: $label: $p: FAILED ($failed; counterexample in the trail of spin -t $3 $model)"
        status=1
    fi
}

all="-DPROP_SAFETY -DPROP_LIVE -DPROP_SETTLED"
# shellcheck disable=SC2086
verify shipped $all
report "as implemented" shipped "$all"
# shellcheck disable=SC2086
verify fixed $all -DFIX_AUTOPAY_RESUME
report "with autopay's resume fixed" fixed "$all -DFIX_AUTOPAY_RESUME"
verify no-unique -DPROP_SAFETY -DFIX_AUTOPAY_RESUME -DNO_UNIQUE
if [ -n "$(violated no-unique)" ]; then
    echo "model-check: without the unique rule: a double charge is found, as it must be ($(figures no-unique))"
else
    echo "model-check: without the unique rule: FAILED to find the double charge; the model no longer catches the old bug"
    status=1
fi
exit "$status"
