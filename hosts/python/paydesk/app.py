"""`Paydesk`: what a Python helpdesk embeds. It owns the runtime and the services, builds each
call's tenant context (settings and secret key from the database, the Stripe API base), and offers
one method per plugin operation, taking and returning plain values (dicts with the WIT field names
in snake_case, enum cases as strings, a variant case as `"tag"` or `{"tag": payload}`). Saving
settings, webhooks and template variables mix host work and plugin calls and are spelled out here.
"""

import html
import time
import zoneinfo
from pathlib import Path
from typing import Any, Optional

from .context import CallContext, HttpLimits, Services
from .runtime import Limits, Runtime
from .settings import Secret, key_info, to_wit, with_defaults
from .store import Database
from .webhooks import verify
from .wit import plain

DEFAULT_STRIPE_API_BASE = "https://api.stripe.com"


class PluginError(Exception):
    """The plugin answered with an error value: `kind`, `message`, `field_errors`, `stripe`."""

    def __init__(self, error: dict):
        super().__init__(error["message"])
        self.error = error
        self.kind = error["kind"]


class Paydesk:
    def __init__(self, db_path: str | Path, component: str | Path | bytes,
                 stripe_api_base: str = DEFAULT_STRIPE_API_BASE, limits: Limits = Limits(),
                 http: HttpLimits = HttpLimits(), cache_dir: Optional[str | Path] = None,
                 records: Any = None):
        wasm = component if isinstance(component, bytes) else Path(component).read_bytes()
        self.runtime = Runtime(wasm, limits, Path(cache_dir) if cache_dir else None)
        self.services = Services.open(Database(db_path), records, http)
        self.stripe_api_base = stripe_api_base.rstrip("/")

    @property
    def records(self) -> Any:
        return self.services.records

    def create_tenant(self, tenant: str, name: str, mailbox: str) -> None:
        self.services.tenants.create(tenant, name, mailbox)

    def context(self, tenant: str, candidate_key: Optional[Secret] = None) -> CallContext:
        settings, key = self.services.tenants.settings_and_key(tenant)
        return CallContext(tenant, settings, candidate_key or key, self.stripe_api_base, self.services)

    def call(self, tenant: str, export: str, *args: Any, candidate_key: Optional[Secret] = None) -> Any:
        """Call `export` (`"payments.quote"`) in a fresh sandbox for `tenant`; its ok value, or
        `PluginError`. `candidate_key` replaces the stored key for this call (checking it first)."""
        return self._call(self.context(tenant, candidate_key), export, *args)

    def _call(self, ctx: CallContext, export: str, *args: Any) -> Any:
        interface, _, function = export.partition(".")
        ok, value = self.runtime.call(ctx, lambda invoke: invoke(interface, function, *args))
        if not ok:
            raise PluginError(value)
        return value

    # -- settings ----------------------------------------------------------------------------

    def save_settings(self, tenant: str, settings: dict, secret_key: Optional[str] = None) -> None:
        """Validate (every field, by the plugin), try a new secret key against Stripe, then store
        settings and key together — or nothing, raising `PluginError` (`invalid-input` with
        `field_errors`)."""
        stored, stored_key = self.services.tenants.settings_and_key(tenant)
        settings = with_defaults(settings)
        # Set by "Save and Create/Update Webhooks in Stripe", never by a form.
        for field in ("enablehalostripewebhooks", "stripe_webhook_endpoint_id"):
            settings[field] = stored[field]
        new_key = Secret(secret_key) if secret_key else None
        key = new_key or stored_key
        errors = []
        try:
            zoneinfo.ZoneInfo(settings["time_zone"])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            errors.append({"field": "time_zone",
                           "message": f"`{settings['time_zone']}` is not an IANA time zone (e.g. Europe/London)"})
        ctx = CallContext(tenant, settings, key, self.stripe_api_base, self.services)
        candidate = to_wit(settings, key, self.services.http.claim_lease_seconds())
        try:
            self._call(ctx, "admin.validate-settings", plain(candidate))
        except PluginError as e:
            if not e.error["field_errors"]:
                raise
            errors += e.error["field_errors"]
        if errors:
            raise _invalid(errors)
        if new_key is not None:
            try:
                self._call(ctx, "admin.test-connection")
            except PluginError as e:
                if e.error["stripe"] is None:
                    raise
                masked = key_info(new_key).masked
                raise _invalid([{"field": "stripe_secret_key",
                                 "message": f"Stripe refused the key {masked}: {e.error['message']}"}]) from None
        self.services.tenants.save(tenant, settings, new_key)

    # -- Stripe's side -----------------------------------------------------------------------

    def webhook(self, tenant: str, body: bytes, signature: Optional[str]) -> Any:
        """A Stripe event posted to the tenant's endpoint: the signature is checked with the
        tenant's signing secret (`SignatureError`), then the plugin applies it."""
        secret = self.services.tenants.webhook_secret(tenant)
        if secret is None:
            raise PluginError({"kind": "not-configured", "message": "no webhook endpoint for this tenant",
                               "field_errors": [], "stripe": None})
        verify(signature, body, secret.expose().encode())
        return self.call(tenant, "events.webhook-received",
                         {"body": body.decode("utf-8"), "received_at": int(time.time())})

    def ensure_webhooks(self, tenant: str, url: str) -> Any:
        """"Save and Create/Update Webhooks in Stripe": the endpoint's signing secret is kept by
        the `http` import; the endpoint is recorded in the settings."""
        endpoint = self.call(tenant, "admin.ensure-webhook-endpoint", url)
        settings, _ = self.services.tenants.settings_and_key(tenant)
        settings.update(enablehalostripewebhooks=True, stripe_webhook_endpoint_id=endpoint["id"])
        self.services.tenants.save(tenant, settings)
        return endpoint

    # -- templates ---------------------------------------------------------------------------

    def render_variables(self, tenant: str, customer: int, text: str, as_html: bool = False) -> str:
        """`text` with every plugin variable (`$-PAYMENTMETHOD`, …) replaced for `customer`."""

        def render(invoke):
            out = text
            for name in invoke("templates", "variables")[1]:
                if name in out:
                    ok, value = invoke("templates", "render-variable", name, customer)
                    if not ok:
                        raise PluginError(value)
                    if value is not None:
                        out = out.replace(name, html.escape(value) if as_html else value)
            return out

        return self.runtime.call(self.context(tenant), render)

    # -- one line per export -----------------------------------------------------------------

    def test_connection(self, tenant: str, candidate_key: Optional[str] = None) -> dict:
        return self.call(tenant, "admin.test-connection",
                         candidate_key=Secret(candidate_key) if candidate_key else None)

    def generate_mappings(self, tenant: str) -> dict:
        return self.call(tenant, "admin.generate-mappings")

    def add_mapping(self, tenant: str, customer: int, stripe_customer_id: str) -> None:
        self.call(tenant, "admin.add-mapping", customer, stripe_customer_id)

    def list_payment_methods(self, tenant: str, customer: int) -> list:
        return self.call(tenant, "admin.list-payment-methods", customer)

    def set_automatic_payment_method(self, tenant: str, customer: int, pm: Optional[str]) -> Optional[str]:
        return self.call(tenant, "payments.set-automatic-payment-method", customer, pm)

    def quote(self, tenant: str, items: list[dict], method_type: str) -> dict:
        return self.call(tenant, "payments.quote", items, method_type)

    def quote_invoices(self, tenant: str, invoices: list[int], method_type: str, initiator: Any) -> dict:
        return self.call(tenant, "payments.quote-invoices", invoices, method_type, initiator)

    def start_payment(self, tenant: str, request: dict) -> dict:
        return self.call(tenant, "payments.start-payment", {"return_url": None, **request})

    def refresh_payment(self, tenant: str, intent: str) -> list:
        return self.call(tenant, "payments.refresh-payment", intent)

    def customer_saved(self, tenant: str, customer: int) -> Any:
        return self.call(tenant, "events.customer-saved", customer)

    def invoice_created(self, tenant: str, invoice: int) -> Any:
        return self.call(tenant, "events.invoice-created", invoice)

    def autopay_plan(self, tenant: str, date: str) -> list:
        return self.call(tenant, "events.autopay-plan", date)

    def autopay_charge(self, tenant: str, invoice: int, date: str) -> dict:
        return self.call(tenant, "events.autopay-charge", invoice, date)

    def reconcile(self, tenant: str, now: int) -> dict:
        return self.call(tenant, "events.reconcile", now)


def _invalid(errors: list) -> PluginError:
    return PluginError({"kind": "invalid-input",
                        "message": "the settings were not saved: "
                                   + "; ".join(f"{e['field']}: {e['message']}" for e in errors),
                        "field_errors": errors, "stripe": None})
