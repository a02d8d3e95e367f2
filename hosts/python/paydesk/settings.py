"""A tenant's integration settings as this host stores them (a JSON object whose keys are the
helpdesk API names, with the same defaults as the Rust host's `TenantSettings`), the secret wrapper
that never prints its value, and the conversion to the WIT `settings` (named values) the plugin
reads, in which the secret key is only its `key-info`. Validation is the plugin's (`admin.validate-settings`).
"""

from typing import Any, Optional

from wasmtime.component import Variant

from .wit import record

DEFAULTS: dict[str, Any] = {
    "enabled": False,
    "stripe_public_key": None,
    "stripe_currency": "usd",
    "sync_customers_to_stripe": False,
    "stripepaymentmethodoptions": ["card"],
    "enableautostripepayment": False,
    "stripetakepaymentonduedate": True,
    "halointegrator_stripe": False,
    "stripemanualpaymentmethodoptions": [],
    "stripe_processing_fee_percentage": "0",
    "stripe_fee_rules": [],
    "stripe_fee_cap": None,
    "show_auto_payment_on_portal": "hide",
    "stripe_customer_portal_enabled": False,
    "stripe_send_recipient_email": False,
    "use_stripe_receipt_emails": False,
    "stripe_refund_processing_fee": True,
    "stripenotificationemail": None,
    "enablehalostripewebhooks": False,
    "stripe_webhook_endpoint_id": None,
    "time_zone": "UTC",
    "autopay_max_attempts": 3,
    "autopay_retry_interval_days": 1,
    "autopay_max_amount": None,
    "reconcile_after_minutes": 60,
    "portal_base_url": None,
}

METHOD_TYPES = ("card", "us_bank_account", "acss_debit", "sepa_debit", "bacs_debit", "au_becs_debit", "link")


def with_defaults(settings: dict[str, Any]) -> dict[str, Any]:
    """`settings` over the defaults; unknown keys are refused, as a typo would silently do nothing."""
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(unknown)}")
    return {**DEFAULTS, **settings}


class Secret:
    """A secret string: `repr` and `str` print `***`; `expose()` is for the one place that sends it."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def expose(self) -> str:
        return self._value

    def masked(self) -> str:
        """The prefix up to the mode and the last four characters (`sk_test_…4242`)."""
        s = self._value
        prefix = next(
            (p for p in ("sk_test_", "sk_live_", "rk_test_", "rk_live_", "pk_test_", "pk_live_", "whsec_")
             if s.startswith(p)),
            "",
        )
        return f"{prefix}…" if len(s) <= len(prefix) + 4 else f"{prefix}…{s[-4:]}"

    def __repr__(self) -> str:
        return "***"

    __str__ = __repr__


def key_info(key: Secret) -> Any:
    """What a key's prefix says, without the key."""
    k = key.expose()
    kind = {"sk_": "secret", "rk_": "restricted", "pk_": "publishable"}.get(k[:3], "unrecognised")
    mode = {"_test_": "test", "_live_": "live"}.get(k[2:8], "unknown")
    return record(kind=kind, mode=mode, masked=key.masked())


def method_type(name: str) -> Any:
    """The WIT `payment-method-type` of a Stripe type name: its case, or `other` with the name."""
    return Variant(name.replace("_", "-")) if name in METHOD_TYPES else Variant("other", name)


def to_wit(s: dict[str, Any], secret_key: Optional[Secret], claim_lease_seconds: int) -> Any:
    """The named `settings` the plugin reads (`types.settings`: names, types and defaults as the
    contract documents them); optional settings that are not set are left out."""
    types = lambda names: Variant("method-types", [method_type(n) for n in names])  # noqa: E731
    rules = [
        record(method_type=method_type(r["method_type"]), percent=r["percent"], cap=r.get("cap"))
        for r in s["stripe_fee_rules"]
    ]
    values: list[tuple[str, Any]] = [
        ("enabled", Variant("flag", s["enabled"])),
        ("stripe_currency", Variant("text", s["stripe_currency"])),
        ("sync_customers_to_stripe", Variant("flag", s["sync_customers_to_stripe"])),
        ("stripepaymentmethodoptions", types(s["stripepaymentmethodoptions"])),
        ("enableautostripepayment", Variant("flag", s["enableautostripepayment"])),
        ("stripetakepaymentonduedate",
         Variant("text", "due-date" if s["stripetakepaymentonduedate"] else "invoice-creation")),
        ("halointegrator_stripe", Variant("flag", s["halointegrator_stripe"])),
        ("stripemanualpaymentmethodoptions", types(s["stripemanualpaymentmethodoptions"])),
        ("stripe_processing_fee_percentage", Variant("percent", s["stripe_processing_fee_percentage"])),
        ("stripe_fee_rules", Variant("fee-rules", rules)),
        ("show_auto_payment_on_portal", Variant("text", s["show_auto_payment_on_portal"])),
        ("stripe_customer_portal_enabled", Variant("flag", s["stripe_customer_portal_enabled"])),
        ("stripe_send_recipient_email", Variant("flag", s["stripe_send_recipient_email"])),
        ("use_stripe_receipt_emails", Variant("flag", s["use_stripe_receipt_emails"])),
        ("stripe_refund_processing_fee", Variant("flag", s["stripe_refund_processing_fee"])),
        ("enablehalostripewebhooks", Variant("flag", s["enablehalostripewebhooks"])),
        ("time_zone", Variant("text", s["time_zone"])),
        ("autopay_max_attempts", Variant("number", s["autopay_max_attempts"])),
        ("autopay_retry_interval_days", Variant("number", s["autopay_retry_interval_days"])),
        ("reconcile_after_minutes", Variant("number", s["reconcile_after_minutes"])),
        ("autopay_claim_lease_seconds", Variant("number", claim_lease_seconds)),
    ]
    optional = [
        ("stripe_public_key", "text", s["stripe_public_key"]),
        ("stripe_secret_key", "key", key_info(secret_key) if secret_key else None),
        ("stripe_fee_cap", "number", s["stripe_fee_cap"]),
        ("autopay_max_amount", "number", s["autopay_max_amount"]),
        ("stripenotificationemail", "text", s["stripenotificationemail"]),
        ("stripe_webhook_endpoint_id", "text", s["stripe_webhook_endpoint_id"]),
        ("portal_base_url", "text", s["portal_base_url"]),
    ]
    values += [(name, Variant(case, value)) for name, case, value in optional if value is not None]
    return [record(name=name, value=value) for name, value in values]
