#!/usr/bin/env bash
# Installs the Python host's one dependency (wasmtime's Python package, pinned in
# requirements.txt) into a venv: `hosts/python/setup.sh VENV`. Idempotent: does nothing when the
# venv already has the pinned version. Called by scripts/test-env.sh for the test venv.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${1:?usage: hosts/python/setup.sh VENV}"
pin="$(grep -E '^wasmtime==' "$here/requirements.txt")"
if [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print("wasmtime==" + m.version("wasmtime"))' 2>/dev/null)" = "$pin" ]; then
    exit 0
fi
"$venv/bin/python" -m pip install -q -r "$here/requirements.txt"
"$venv/bin/python" -c 'import wasmtime.component'
echo "python host: installed $pin into $venv"
