"""The Python host's imports through their functions, without a guest: each is scoped to the
call's tenant, refuses what the contract refuses as a value, and keeps its invariants in the
database. Run: `python -m unittest discover -s hosts/python/tests` (with the test venv's python)."""

import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wasmtime.component import Variant  # noqa: E402

from paydesk.context import CallContext, Services  # noqa: E402
from paydesk.imports import email, helpdesk, http, storage  # noqa: E402
from paydesk.settings import Secret, with_defaults  # noqa: E402
from paydesk.store import Conflict, Database  # noqa: E402
from paydesk.webhooks import SignatureError, verify  # noqa: E402
from paydesk.wit import record  # noqa: E402


class Host(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.services = Services.open(Database(Path(self.dir.name) / "t.db"))
        for t in ("a", "b"):
            self.services.tenants.create(t, t, f"invoices@{t}.test")

    def tearDown(self):
        self.dir.cleanup()

    def ctx(self, tenant, key="sk_test_abcdef4242"):
        return CallContext(tenant, with_defaults({}), Secret(key) if key else None, "http://127.0.0.1:9",
                           self.services)


class HttpTest(Host):
    def test_only_stripe_api_paths_are_allowed(self):
        self.assertIsNone(http.check_path("/v1/customers/cus_123"))
        self.assertIsNone(http.check_path("/v1/payment_intents/pi_1/confirm"))
        for bad in ("https://evil.example/v1/x", "//evil.example/v1/x", "/v1/../admin", "/v2/customers",
                    "/v1/customers?x=1", "/v1/customers#x", "/v1/cus tomers", "@evil.example/v1/"):
            self.assertIsNotNone(http.check_path(bad), bad)

    def request(self, path):
        return record(method="get", path=path, query=[], form=[], idempotency_key=None)

    def test_a_bad_path_or_a_missing_key_is_denied_before_anything_is_sent(self):
        denied = http.send(self.ctx("a"), self.request("//evil.example/v1/x"))
        self.assertEqual(denied.tag, "denied")
        self.assertNotIn("sk_test", denied.payload)
        no_key = http.send(self.ctx("a", key=None), self.request("/v1/customers"))
        self.assertEqual(no_key.tag, "denied")

    def test_an_unreachable_stripe_is_not_sent(self):
        # Port 9 (discard) on loopback: nothing listens, the connection is refused.
        self.assertEqual(http.send(self.ctx("a"), self.request("/v1/customers")).tag, "not-sent")
        self.assertEqual(http.send_dated(self.ctx("a"), self.request("/v1/customers")).tag, "not-sent")

    def test_stripe_dates_are_read_as_unix_seconds(self):
        self.assertEqual(http._stripe_date("Wed, 02 Dec 2026 17:05:09 GMT"), 1_796_231_109)
        self.assertIsNone(http._stripe_date("yesterday"))
        self.assertIsNone(http._stripe_date(None))


class StorageTest(Host):
    def test_keys_are_per_tenant_and_versions_decide_compare_and_swap(self):
        a, b = self.ctx("a"), self.ctx("b")
        self.assertEqual(storage.put_new(a, "claim/1", b"a's"), 1)
        self.assertEqual(storage.put_new(a, "claim/1", b"again"), Variant("conflict", "key `claim/1` exists"))
        self.assertIsNone(storage.get(b, "claim/1"))
        self.assertEqual(storage.list_prefix(b, "", None, 10), [])
        self.assertFalse(storage.delete(b, "claim/1", None))
        self.assertEqual(storage.compare_and_swap(a, "claim/1", 1, b"v2"), 2)
        self.assertEqual(storage.compare_and_swap(a, "claim/1", 1, b"v3").tag, "conflict")
        self.assertEqual(storage.get(a, "claim/1").value, b"v2")

    def test_oversized_values_are_invalid_values(self):
        self.assertEqual(storage.put_new(self.ctx("a"), "k", b"x" * ((64 << 10) + 1)).tag, "invalid")
        with self.assertRaises(storage.GuestAbuse):
            storage.get(self.ctx("a"), "k" * 513)

    def test_lookup_answers_a_bad_key_as_a_value_and_wraps_what_it_found(self):
        a = self.ctx("a")
        self.assertEqual(storage.lookup(a, "k" * 513).tag, "invalid")
        self.assertIsNone(storage.lookup(a, "claim/9").entry)
        storage.put_new(a, "claim/9", b"v")
        self.assertEqual(storage.lookup(a, "claim/9").entry.value, b"v")
        self.assertIsNone(storage.lookup(self.ctx("b"), "claim/9").entry)


class EmailTest(Host):
    def message(self, to, dedup):
        return record(to=to, cc=[], subject="s", html="<p>h</p>", text="t", dedup_key=dedup)

    def test_a_dedup_key_queues_once_from_the_tenants_mailbox(self):
        a = self.ctx("a")
        self.assertTrue(email.send(a, self.message(["x@y.test"], "pay/1")))
        self.assertFalse(email.send(a, self.message(["x@y.test"], "pay/1")))
        self.assertTrue(email.send(self.ctx("b"), self.message(["x@y.test"], "pay/1")))
        self.assertEqual([m["from"] for m in self.services.outbox.queued("a")], ["invoices@a.test"])
        self.assertEqual(email.send(a, self.message(["not an address"], None)).tag, "invalid")


class HelpdeskTest(Host):
    def setUp(self):
        super().setUp()
        r = self.services.records
        self.customer = r.create_customer("a", "Globex")
        self.invoice = r.create_invoice("a", "INV-1", self.customer, "usd", "2026-11-01", "2026-11-30",
                                        [("Work", 1000)])
        new = {"invoice_id": self.invoice, "group_id": "g1", "intent_id": "pi_1", "status": "processing",
               "method": None, "method_type": "card", "amount": {"amount": 1000, "currency": "usd"},
               "fee": {"amount": 29, "currency": "usd"}, "initiator": "autopay", "attempt": 1}
        (self.payment,) = r.create_payments("a", [new])

    def update(self, version):
        return {"status": "succeeded", "intent_id": None, "method": None, "method_type": None,
                "failure_reason": None, "failure_code": None, "event_id": "evt_1", "webhook_payload": "{}",
                "observed_at": 100, "settle_with_fee_line": "Processing fee (2.9%)"}, version

    def test_another_tenants_records_are_not_found_even_by_id(self):
        b = self.ctx("b")
        self.assertEqual(helpdesk.FUNCTIONS["get-customer"](b, self.customer).tag, "not-found")
        self.assertEqual(helpdesk.FUNCTIONS["set-stripe-customer-id"](b, self.customer, "cus_x").tag, "not-found")
        self.assertEqual(helpdesk.FUNCTIONS["list-payments"](b, Variant("invoice", self.invoice)), [])

    def test_this_host_keeps_no_customer_caps_and_scopes_the_question_to_the_tenant(self):
        self.assertIsNone(helpdesk.FUNCTIONS["get-autopay-cap"](self.ctx("a"), self.customer))
        self.assertEqual(helpdesk.FUNCTIONS["get-autopay-cap"](self.ctx("b"), self.customer).tag, "not-found")

    def test_this_host_keeps_no_disputes_and_scopes_the_question_to_the_tenant(self):
        observation = {"id": "dp_1", "payment_id": self.payment.id, "charge_id": "ch_1", "intent_id": "pi_1",
                       "status": "lost", "reason": "fraudulent", "amount": {"amount": 1029, "currency": "usd"},
                       "evidence_due_by": None, "opened_at": 1, "observed_at": 2, "event_id": "evt_d"}
        self.assertEqual(helpdesk.FUNCTIONS["record-dispute"](self.ctx("a"), observation).tag, "denied")
        self.assertEqual(helpdesk.FUNCTIONS["record-dispute"](self.ctx("b"), observation).tag, "not-found")
        self.assertEqual(helpdesk.FUNCTIONS["list-disputes"](self.ctx("a"), self.invoice), [])
        self.assertEqual(helpdesk.FUNCTIONS["list-disputes"](self.ctx("b"), self.invoice).tag, "not-found")

    def test_this_host_keeps_no_refunds_grants_none_and_scopes_the_question_to_the_tenant(self):
        money = {"amount": 1000, "currency": "usd"}
        claim = {"payment_id": self.payment.id, "amount": money,
                 "fee_part": {"amount": 0, "currency": "usd"}, "agent_id": 1}
        observation = {"refund_id": "re_1", "record_id": None, "payment_id": self.payment.id,
                       "intent_id": "pi_1", "status": "succeeded", "amount": money,
                       "failure_reason": None, "observed_at": 2}
        for name, arg in (("claim-refund", claim), ("record-refund", observation)):
            self.assertEqual(helpdesk.FUNCTIONS[name](self.ctx("a"), arg).tag, "denied")
            self.assertEqual(helpdesk.FUNCTIONS[name](self.ctx("b"), arg).tag, "not-found")
        self.assertEqual(helpdesk.FUNCTIONS["list-refunds"](self.ctx("a"), self.invoice), [])
        self.assertEqual(helpdesk.FUNCTIONS["list-refunds"](self.ctx("b"), self.invoice).tag, "not-found")

    def test_customers_are_found_by_stripe_ids_within_the_tenant(self):
        r = self.services.records
        r.set_stripe_customer_id("a", self.customer, "cus_1")
        r.set_automatic_payment_method("a", self.customer, ("pm_1", "Visa ending 4242"))
        find = helpdesk.FUNCTIONS["find-customers"]
        self.assertEqual([c.id for c in find(self.ctx("a"), Variant("stripe-customer", "cus_1"))], [self.customer])
        self.assertEqual([c.id for c in find(self.ctx("a"), Variant("automatic-payment-method", "pm_1"))],
                         [self.customer])
        self.assertEqual(find(self.ctx("a"), Variant("automatic-payment-method", "pm_2")), [])
        self.assertEqual(find(self.ctx("b"), Variant("stripe-customer", "cus_1")), [])

    def test_an_older_observation_of_the_method_changes_nothing(self):
        observe = helpdesk.FUNCTIONS["observe-automatic-payment-method"]
        a = self.ctx("a")
        self.assertTrue(observe(a, self.customer, ("pm_2", "Visa ending 1111"), 200, None))
        self.assertFalse(observe(a, self.customer, ("pm_1", "Visa ending 4242"), 100, None))
        self.assertFalse(observe(a, self.customer, None, 300, "pm_1"))
        self.assertEqual(getattr(self.services.records.get_customer("a", self.customer), "stripe-payment-method-id"), "pm_2")
        self.assertTrue(observe(a, self.customer, None, 300, "pm_2"))
        self.assertIsNone(getattr(self.services.records.get_customer("a", self.customer), "stripe-payment-method-id"))
        self.assertEqual(observe(self.ctx("b"), self.customer, None, 400, None).tag, "not-found")

    def test_success_adds_the_fee_line_and_pays_the_invoice_once_under_the_version(self):
        r = self.services.records
        update, version = self.update(self.payment.version)
        r.update_payment("a", self.payment.id, version, update)
        with self.assertRaises(Conflict):
            r.update_payment("a", self.payment.id, version, update)
        invoice = r.get_invoice("a", self.invoice)
        self.assertEqual(invoice.status, "paid")
        self.assertEqual([l.amount for l in invoice.lines], [1000, 29])
        self.assertEqual(getattr(invoice, "amount-due"), 0)


class WebhookSignatureTest(unittest.TestCase):
    def test_matches_stripes_documented_scheme(self):
        # The Rust host's test vector (host/src/webhook_signature.rs's test module).
        sig = "35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        verify(f"t=1700000000,v1={'ab' * 32},v1={sig}", b"{}", b"whsec_test", now=1_700_000_100)
        for header, now in ((f"t=1700000000,v1={sig}", 1_700_000_301), (f"t=1700000000,v1={'0' * 64}", 1_700_000_000),
                            ("v1=00", 1_700_000_000), (None, 1_700_000_000)):
            with self.assertRaises(SignatureError):
                verify(header, b"{}", b"whsec_test", now=now)


if __name__ == "__main__":
    unittest.main()
