#!/usr/bin/env bash
# Creates (once) the Python venv the test harness runs localstripe and aiosmtpd from, and the
# Python host (hosts/python, its pinned wasmtime) from.
#
#   PAYDESK_TEST_VENV   where the venv lives (default: <repo root>/.venv-test; a relative path is
#                       taken relative to the repo root, as tests/src/services.rs does)
#   PAYDESK_PYTHON      interpreter used to create it (default: python3)
#
# Idempotent: does nothing when the venv already imports both packages and has schemathesis.
# Safe to run concurrently: everything happens under an flock on <venv>/.paydesk-test-env.lock.
# Needs PyPI (or a wheel mirror via PIP_FIND_LINKS/PIP_INDEX_URL) only on the first run.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${PAYDESK_TEST_VENV:-$repo_root/.venv-test}"
case "$venv" in
    /*) ;;
    *) venv="$repo_root/$venv" ;;
esac
python="${PAYDESK_PYTHON:-python3}"
localstripe_req="localstripe==1.15.10"

mkdir -p "$venv"
exec 9>"$venv/.paydesk-test-env.lock"
flock 9

# schemathesis, pinned: the suite's OpenAPI conformance test (tests/tests/suite/openapi.rs) runs its CLI.
schemathesis_req="schemathesis==4.32.5"
if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('schemathesis') != '${schemathesis_req#*==}')" >/dev/null 2>&1; then
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q "$schemathesis_req"
    echo "test-env: installed $schemathesis_req into $venv"
fi

if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import localstripe, aiosmtpd" >/dev/null 2>&1; then
    echo "test-env: $venv already has localstripe and aiosmtpd, nothing to do"
    "$repo_root/hosts/python/setup.sh" "$venv"
    exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
    created="created $venv and installed"
else
    created="installed into existing $venv"
fi
"$venv/bin/python" -m pip install -q "$localstripe_req" aiosmtpd
"$venv/bin/python" -c "import localstripe, aiosmtpd"
echo "test-env: $created $localstripe_req and aiosmtpd"
"$repo_root/hosts/python/setup.sh" "$venv"
