#!/usr/bin/env bash
# Runs `paydesk demo` end to end against localstripe: installs localstripe into a venv
# (scripts/test-env.sh), starts it on a free 127.0.0.1 port, runs the demo on a fresh database,
# and stops localstripe by its PID however the demo ends. Extra arguments go to `paydesk demo`
# (e.g. `scripts/demo.sh --currency jpy --amount 1234`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/test-env.sh >/dev/null
venv="${PAYDESK_TEST_VENV:-.venv-test}"
work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

# localstripe writes its state to a fixed /tmp/localstripe.pickle; point it into our own directory.
"$venv/bin/python" - "$port" "$work" >"$work/localstripe.log" 2>&1 <<'PY' &
import os, pickle, sys
import localstripe.resources as resources
def dump_to_disk(self):
    with open(os.path.join(sys.argv[2], "localstripe.pickle"), "wb") as f:
        pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
resources.Store.dump_to_disk = dump_to_disk
from aiohttp import web
from localstripe.server import app
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
PY
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$work"' EXIT

for _ in $(seq 1 150); do
    if curl -sf -o /dev/null -u sk_test_x: "http://127.0.0.1:$port/v1/customers"; then break; fi
    kill -0 "$pid" 2>/dev/null || { cat "$work/localstripe.log" >&2; exit 1; }
    sleep 0.2
done

export PAYDESK_STRIPE_API_BASE="http://127.0.0.1:$port"
cargo run --quiet -p paydesk-host -- demo --db "$work/paydesk.db" "$@"
