"""The Python host's conformance driver (`conformance/PROTOCOL.md`): JSON requests on stdin, one
answer per line on stdout, each op done through `paydesk.Paydesk` as a Python helpdesk would."""

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from paydesk import Limits, Paydesk, PluginError, SandboxError, SignatureError  # noqa: E402
from paydesk.settings import Secret  # noqa: E402
from paydesk.store import RecordError  # noqa: E402
from paydesk.wit import plain  # noqa: E402


class Driver:
    def __init__(self):
        self.host: Paydesk | None = None
        self.dir = tempfile.TemporaryDirectory(prefix="paydesk-py-driver-")
        self.starts = 0

    def start(self, r):
        if self.host:
            self.host.runtime.close()
        limits = r.get("limits") or {}
        self.starts += 1
        self.host = Paydesk(
            Path(self.dir.name) / f"host-{self.starts}.db",
            r["components"][r["guest"]],
            stripe_api_base=r["stripe_api_base"],
            limits=Limits(
                memory_bytes=limits.get("memory_bytes", Limits.memory_bytes),
                fuel=limits.get("fuel", Limits.fuel),
                deadline=limits.get("deadline_ms", Limits.deadline * 1000) / 1000,
            ),
            cache_dir=Path(tempfile.gettempdir()) / "paydesk-py-component-cache",
        )
        return {"host": "python", "contract": self.host.runtime.version}

    def create_tenant(self, r):
        h = self.host
        h.create_tenant(r["tenant"], r["tenant"], r["mailbox"])
        key = Secret(r["secret_key"]) if r.get("secret_key") else None
        h.services.tenants.save(r["tenant"], r.get("settings") or {}, key)
        if r.get("webhook_secret"):
            h.services.tenants.set_webhook_secret(r["tenant"], Secret(r["webhook_secret"]))
        return {}

    def save_settings(self, r):
        self.host.save_settings(r["tenant"], r["settings"], r.get("secret_key"))
        return {}

    def create_customer(self, r):
        return {"id": self.host.records.create_customer(r["tenant"], r["name"], r.get("accounts_email"),
                                                        r.get("accounts_cc_email"))}

    def create_user(self, r):
        return {"id": self.host.records.create_user(r["tenant"], r["customer_id"], r["name"], r["email"],
                                                    r["invoice_access_level"])}

    def create_agent(self, r):
        return {"id": self.host.records.create_agent(r["tenant"], r["name"], r["email"],
                                                     r["can_receive_manual_stripe_payments"], r["is_admin"])}

    def create_invoice(self, r):
        return {"id": self.host.records.create_invoice(
            r["tenant"], r["number"], r["customer_id"], r["currency"], r["issue_date"], r["due_date"],
            [tuple(l) for l in r["lines"]], r.get("user_id"), 1 if r.get("recurring") else None)}

    def get_invoice(self, r):
        inv = plain(self.host.records.get_invoice(r["tenant"], r["id"]))
        payments = plain(self.host.records.list_payments(r["tenant"], {"invoice": r["id"]}))
        keep = ("id", "status", "intent_id", "group_id", "amount", "fee", "attempt", "last_event_id")
        return {**{k: inv[k] for k in ("id", "number", "status", "currency", "amount_due", "lines")},
                "payments": [{k: p[k] for k in keep} for p in payments]}

    def get_customer(self, r):
        c = plain(self.host.records.get_customer(r["tenant"], r["id"]))
        return {k: c[k] for k in ("id", "name", "stripe_customer_id", "stripe_payment_method_id",
                                  "stripe_payment_method_name")}

    def outbox(self, r):
        return [{k: m[k] for k in ("from", "to", "cc", "subject")}
                for m in self.host.services.outbox.queued(r["tenant"])]

    def test_connection(self, r):
        return self.host.test_connection(r["tenant"], r.get("candidate_key"))

    def generate_mappings(self, r):
        return self.host.generate_mappings(r["tenant"])

    def add_mapping(self, r):
        return self.host.add_mapping(r["tenant"], r["customer_id"], r["stripe_customer_id"])

    def list_payment_methods(self, r):
        return self.host.list_payment_methods(r["tenant"], r["customer_id"])

    def set_automatic_payment_method(self, r):
        return self.host.set_automatic_payment_method(r["tenant"], r["customer_id"], r["payment_method_id"])

    def customer_saved(self, r):
        return self.host.customer_saved(r["tenant"], r["customer_id"])

    def quote(self, r):
        return self.host.quote(r["tenant"], r["items"], r["method_type"])

    def start_payment(self, r):
        return self.host.start_payment(r["tenant"], {k: r.get(k) for k in
                                                     ("invoices", "pay_with", "initiator", "return_url")})

    def webhook(self, r):
        outcome = self.host.webhook(r["tenant"], r["body"].encode(), r["signature"])
        return {"outcome": outcome, "detail": None} if isinstance(outcome, str) else \
            {"outcome": next(iter(outcome)), "detail": next(iter(outcome.values()))}

    def autopay_plan(self, r):
        return self.host.autopay_plan(r["tenant"], r["date"])

    def autopay_charge(self, r):
        return self.host.autopay_charge(r["tenant"], r["invoice_id"], r["date"])

    def render(self, r):
        return self.host.render_variables(r["tenant"], r["customer_id"], r["text"])

    def bench(self, r):
        h, tenant = self.host, r["tenant"]
        item = {"invoice_id": 1, "invoice_number": "INV-1", "currency": "usd", "amount_due": 12345}
        body = (lambda invoke: None) if r["what"] == "fresh" else \
            (lambda invoke: invoke("payments", "quote", [item], "card"))
        times = []
        for _ in range(r["n"]):
            started = time.perf_counter_ns()
            h.runtime.call(h.context(tenant), body)
            times.append(time.perf_counter_ns() - started)
        return {"n": r["n"], "median_ns": int(statistics.median(times)), "mean_ns": int(statistics.mean(times))}


def error(kind, message, fields=None):
    return {"kind": kind, "message": message, "fields": fields or []}


def main():
    driver = Driver()
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        op = getattr(driver, request.get("op", ""), None)
        try:
            if op is None or request["op"].startswith("_"):
                answer = {"error": error("bad-request", f"unknown op {request.get('op')!r}")}
            else:
                answer = {"ok": op(request)}
        except PluginError as e:
            answer = {"error": error(e.kind, str(e), e.error["field_errors"])}
        except SandboxError as e:
            answer = {"error": error(e.kind, str(e))}
        except SignatureError as e:
            answer = {"error": error("invalid-signature", str(e))}
        except RecordError as e:
            answer = {"error": error(e.case, str(e))}
        print(json.dumps({"seq": request.get("seq"), **answer}), flush=True)


if __name__ == "__main__":
    main()
