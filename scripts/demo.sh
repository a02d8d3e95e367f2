#!/usr/bin/env bash
# Runs `paydesk demo` end to end against localstripe: installs what the machine lacks
# (scripts/setup.sh: the wasm32-wasip2 target, localstripe's venv, the fonts invoice PDFs embed), starts localstripe on a free
# 127.0.0.1 port, runs the demo on a fresh database in .paydesk-demo/paydesk.db (kept, so its
# records can be looked at afterwards), and stops localstripe by its PID however the demo ends.
# Extra arguments go to `paydesk demo`, e.g.
#   scripts/demo.sh --currency jpy --amount 1234
#   scripts/demo.sh --serve [--listen 127.0.0.1:8080]   # then keep serving the pages until Ctrl-C
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh toolchain venv fonts
venv="${PAYDESK_TEST_VENV:-.venv-test}"
demo_dir=".paydesk-demo"
mkdir -p "$demo_dir"
# A fresh database each run; the precompiled component beside it is kept.
rm -f "$demo_dir"/paydesk.db "$demo_dir"/paydesk.db-wal "$demo_dir"/paydesk.db-shm
work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

# localstripe writes its state to a fixed /tmp/localstripe.pickle; point it into our own directory.
"$venv/bin/python" - "$port" "$work" tests/localstripe_fields.py >"$work/localstripe.log" 2>&1 <<'PY' &
import os, pickle, sys
import localstripe.resources as resources
def dump_to_disk(self):
    with open(os.path.join(sys.argv[2], "localstripe.pickle"), "wb") as f:
        pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
resources.Store.dump_to_disk = dump_to_disk
exec(open(sys.argv[3]).read())  # Stripe fields localstripe lacks
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
# The pages load localstripe's fake Stripe.js, so the payment forms work against it.
export PAYDESK_STRIPE_JS_URL="http://127.0.0.1:$port/js.stripe.com/v3/"
cargo run --quiet -p paydesk-host -- demo --db "$demo_dir/paydesk.db" "$@"
