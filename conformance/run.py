#!/usr/bin/env python3
"""The host conformance suite's runner (standard library only). It starts localstripe on a free
127.0.0.1 port with its pickle redirected into a temp dir, a recording proxy in front of it (so a
scenario can check what reached "Stripe": paths, idempotency keys, which key), and one driver per
host (`PROTOCOL.md`), then plays every scenario of `scenarios/*.json` through each driver and prints
`HOST: N passed, M failed`. Exit status 1 when any scenario failed.

    python3 conformance/run.py                       # every host, every scenario
    python3 conformance/run.py --host python -k pay  # one host, scenarios whose name contains "pay"
    python3 conformance/run.py --bench               # fresh-call and quote figures of both hosts

Scenario steps (JSON): `{"op": …}` goes to the driver (`expect` / `error`: what the answer must
contain; `save`: `{"var": "path.0.to"}`); `{"stripe": "POST /v1/…", "form": {…}}` asks localstripe
directly; `{"event": {…}}` builds a signed `payment_intent.*` event from Stripe's fixtures;
`{"mark": "name"}` and `{"recorded": {…}}` check the requests the proxy saw since a mark. `"$var"`
is a saved value; `"${var}"` inside a string interpolates it. Matchers in expectations:
`{"$contains": s}`, `{"$len": n}`, `{"$present": true}`.
"""

import argparse
import hashlib
import hmac
import http.client
import http.server
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
FIXTURES = REPO.parent / "shared" / "stripe-openapi" / "fixtures3.json"
SETUP_KEY = "sk_test_conformance_setup"

# localstripe 1.15.10 pickles its state to a fixed /tmp/localstripe.pickle: point it into our
# own directory (a direct start never reads it back), then TESTING.md's start on 127.0.0.1.
LOCALSTRIPE_PY = """
import os, pickle, sys
import localstripe.resources as resources
def dump_to_disk(self):
    with open(os.path.join(sys.argv[2], "localstripe.pickle"), "wb") as f:
        pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
resources.Store.dump_to_disk = dump_to_disk
exec(open(sys.argv[3]).read())  # tests/localstripe_fields.py: Stripe fields localstripe lacks
from aiohttp import web
from localstripe.server import app
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalStripe:
    """localstripe on a free loopback port; stopped by its PID."""

    def __init__(self, python: str):
        self.dir = tempfile.mkdtemp(prefix="paydesk-conformance-localstripe-")
        self.port = free_port()
        self.log = open(Path(self.dir) / "localstripe.log", "wb")
        self.process = subprocess.Popen([python, "-c", LOCALSTRIPE_PY, str(self.port), self.dir,
                                         str(REPO / "tests" / "localstripe_fields.py")],
                                        stdout=self.log, stderr=subprocess.STDOUT,
                                        env={**os.environ, "TMPDIR": self.dir})
        self.base = f"http://127.0.0.1:{self.port}"
        for _ in range(300):
            if self.process.poll() is not None:
                raise RuntimeError(f"localstripe exited: {(Path(self.dir) / 'localstripe.log').read_text()}")
            try:
                if request(self.base, "GET", "/v1/customers")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("localstripe did not answer in 30 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def request(base: str, method: str, path: str, form=None, key: str = SETUP_KEY):
    """One request to localstripe (not through the proxy): (status, JSON answer)."""
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    body = urllib.parse.urlencode(form or {}, doseq=True) if method == "POST" else None
    conn.request(method, path, body=body, headers={"Authorization": f"Bearer {key}",
                                                   "Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, json.loads(data) if data.strip().startswith((b"{", b"[")) else data.decode()


class Recorder:
    """A proxy in front of localstripe that keeps every request: method, path, the Authorization
    and Idempotency-Key headers. Forwarding is plain HTTP on loopback."""

    def __init__(self, upstream: str):
        self.requests: list[dict] = []
        up = urllib.parse.urlsplit(upstream)
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorder.requests.append({
                    "method": self.command, "path": self.path.split("?")[0], "query": self.path,
                    "authorization": self.headers.get("Authorization"),
                    "idempotency_key": self.headers.get("Idempotency-Key"),
                    "stripe_version": self.headers.get("Stripe-Version"),
                })
                conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for k, v in answer.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_DELETE = _forward

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Driver:
    """A host's driver process, spoken to in JSON lines."""

    def __init__(self, name: str, command: list[str]):
        self.name, self.next_id = name, 0
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, bufsize=1, cwd=REPO)

    def ask(self, op: str, **args):
        self.next_id += 1
        self.process.stdin.write(json.dumps({"seq": self.next_id, "op": op, **args}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.name} driver exited (status {self.process.wait()})")
        answer = json.loads(line)
        assert answer.get("seq") == self.next_id, f"answer out of order: {line}"
        return answer

    def stop(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- scenario values and matching -------------------------------------------------------------

def substitute(value, env: dict):
    if isinstance(value, str):
        whole = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", value)
        if whole:
            return env[whole.group(1)]
        return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: str(env[m.group(1)]), value)
    if isinstance(value, list):
        return [substitute(v, env) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, env) for k, v in value.items()}
    return value


def mismatch(expected, actual, where="answer"):
    """Why `actual` does not contain `expected`, or None."""
    if isinstance(expected, dict) and len(expected) == 1 and next(iter(expected)).startswith("$"):
        (matcher, arg), = expected.items()
        if matcher == "$contains":
            return None if isinstance(actual, str) and arg in actual else f"{where}: {actual!r} lacks {arg!r}"
        if matcher == "$len":
            return None if isinstance(actual, list) and len(actual) == arg else \
                f"{where}: expected {arg} items, got {actual!r}"
        if matcher == "$present":
            return None if (actual is not None) == arg else f"{where}: presence {arg} but got {actual!r}"
        return f"unknown matcher {matcher}"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where}: expected an object, got {actual!r}"
        for k, v in expected.items():
            if k not in actual:
                return f"{where}.{k}: missing in {actual!r}"
            why = mismatch(v, actual[k], f"{where}.{k}")
            if why:
                return why
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return f"{where}: expected {len(expected)} items, got {actual!r}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            why = mismatch(e, a, f"{where}[{i}]")
            if why:
                return why
        return None
    return None if expected == actual else f"{where}: expected {expected!r}, got {actual!r}"


def dig(value, path: str):
    for part in path.split(".") if path else []:
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def signed_event(spec: dict, secret: str) -> tuple[str, str]:
    """A `payment_intent.*` event from Stripe's fixtures and its `Stripe-Signature` header."""
    fixtures = json.loads(FIXTURES.read_text())["resources"]
    pi = dict(fixtures["payment_intent"], id=spec["intent"], status=spec["status"], amount=spec["amount"],
              currency=spec["currency"], client_secret=f"{spec['intent']}_secret_fixture",
              metadata={"paydesk_group": spec["group"]},
              amount_received=spec["amount"] if spec["status"] == "succeeded" else 0)
    event = dict(fixtures["event"], id=spec["id"], type=spec["type"], created=spec["created"])
    event["data"] = {"object": pi}
    body = json.dumps(event)
    t = int(time.time())
    sig = hmac.new(secret.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    return body, f"t={t},v1={sig}"


# -- playing a scenario ---------------------------------------------------------------------------

class Failed(Exception):
    pass


def play(scenario: dict, driver: Driver, stripe: LocalStripe, recorder: Recorder, components: dict) -> None:
    env = {"run": secrets.token_hex(4), "now": int(time.time())}
    marks = {"start": 0}
    for n, raw in enumerate(scenario["steps"], 1):
        step = substitute(raw, env)
        where = f"step {n} ({step.get('op') or step.get('stripe') or next(iter(step))})"
        if "op" in step:
            args = {k: v for k, v in step.items() if k not in ("op", "expect", "error", "save", "note")}
            if step["op"] == "start":
                args.update(stripe_api_base=recorder.base, components=components)
            answer = driver.ask(step["op"], **args)
            if "error" in step:
                if "error" not in answer:
                    raise Failed(f"{where}: expected an error, got {answer.get('ok')!r}")
                why = mismatch(step["error"], answer["error"], "error")
            elif "error" in answer:
                raise Failed(f"{where}: {answer['error']}")
            else:
                why = mismatch(step.get("expect"), answer["ok"]) if "expect" in step else None
            if why:
                raise Failed(f"{where}: {why}")
            result = answer.get("ok")
        elif "stripe" in step:
            method, path = step["stripe"].split(" ", 1)
            status, result = request(stripe.base, method, path, step.get("form"))
            if status >= 400:
                raise Failed(f"{where}: localstripe answered {status}: {result}")
            why = mismatch(step["expect"], result) if "expect" in step else None
            if why:
                raise Failed(f"{where}: {why}")
        elif "event" in step:
            body, signature = signed_event(step["event"], step["secret"])
            result = {"body": body, "signature": signature}
        elif "mark" in step:
            marks[step["mark"]] = len(recorder.requests)
            continue
        elif "recorded" in step:
            spec = step["recorded"]
            seen = recorder.requests[marks[spec.get("since", "start")]:]
            picked = [r for r in seen if all(r.get(k) == v for k, v in spec.get("where", {}).items())]
            why = mismatch(spec["expect"], picked, "recorded")
            if why:
                raise Failed(f"{where}: {why}")
            result = picked
        else:
            raise Failed(f"{where}: unknown step {raw}")
        for var, path in step.get("save", {}).items():
            env[var] = dig(result, path)


# Where cargo puts what it builds: `CARGO_TARGET_DIR` when set (relative to the repository), else target/.
TARGET = REPO / os.environ.get("CARGO_TARGET_DIR", "target")


def drivers(python: str) -> dict[str, list[str]]:
    return {
        "rust": [str(TARGET / "debug" / "conformance-driver")],
        "python": [python, str(REPO / "hosts" / "python" / "driver.py")],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", action="append", choices=["rust", "python"])
    parser.add_argument("-k", dest="filter", default="", help="only scenarios whose name contains this")
    parser.add_argument("--venv", default=os.environ.get("PAYDESK_TEST_VENV", str(REPO / ".venv-test")),
                        help="the venv with localstripe and wasmtime (scripts/test-env.sh)")
    parser.add_argument("--no-build", action="store_true", help="use the Rust driver as built")
    parser.add_argument("--bench", action="store_true", help="time a fresh call and a quote on every host")
    parser.add_argument("-n", type=int, default=2000, help="calls per bench figure")
    args = parser.parse_args()
    python = str(Path(args.venv) / "bin" / "python")
    if not args.no_build:
        profile = ["--release"] if args.bench else []
        subprocess.run(["cargo", "build", "-q", *profile, "-p", "paydesk-tests", "--bin", "conformance-driver"],
                       cwd=REPO, check=True)
    commands = drivers(python)
    if args.bench:
        commands["rust"][0] = str(TARGET / "release" / "conformance-driver")
    hosts = args.host or list(commands)
    scenarios = sorted(p for p in SCENARIOS.glob("*.json") if args.filter in p.stem)
    if not scenarios and not args.bench:
        print(f"no scenario in {SCENARIOS} matches {args.filter!r}", file=sys.stderr)
        return 1
    work = tempfile.mkdtemp(prefix="paydesk-conformance-")
    components = Driver("rust", commands["rust"]).ask("components", dir=work)["ok"]
    failures = 0
    try:
        for host in hosts:
            failures += bench(host, commands[host], components, python, args.n) if args.bench else \
                run_host(host, commands[host], scenarios, components, python)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


def run_host(host: str, command: list[str], scenarios: list[Path], components: dict, python: str) -> int:
    stripe = LocalStripe(python)
    recorder = Recorder(stripe.base)
    driver = Driver(host, command)
    passed = failed = 0
    try:
        for path in scenarios:
            scenario = json.loads(path.read_text())
            started = time.monotonic()
            try:
                play(scenario, driver, stripe, recorder, components)
                passed += 1
                print(f"ok    {host:<6} {path.stem} ({time.monotonic() - started:.1f} s)", flush=True)
            except Failed as e:
                failed += 1
                print(f"FAIL  {host:<6} {path.stem}: {e}", flush=True)
    finally:
        driver.stop()
        recorder.stop()
        stripe.stop()
    print(f"{host}: {passed} passed, {failed} failed", flush=True)
    return failed


def bench(host: str, command: list[str], components: dict, python: str, n: int) -> int:
    driver = Driver(host, command)
    try:
        driver.ask("start", guest="plugin", stripe_api_base="http://127.0.0.1:9", components=components)
        driver.ask("create_tenant", tenant="bench", mailbox="invoices@bench.test",
                   settings={"enabled": True, "stripe_processing_fee_percentage": "2.9"})
        for what in ("fresh", "quote"):
            driver.ask("bench", tenant="bench", what=what, n=max(n // 10, 10))  # warm up
            ok = driver.ask("bench", tenant="bench", what=what, n=n)["ok"]
            print(f"{host:<6} {what:<6} median {ok['median_ns'] / 1000:9.1f} µs   mean "
                  f"{ok['mean_ns'] / 1000:9.1f} µs   ({ok['n']} calls)", flush=True)
    finally:
        driver.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
