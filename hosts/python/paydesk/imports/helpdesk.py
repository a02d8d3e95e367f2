"""The `helpdesk` import: the tenant's records as the plugin sees them, through `Services.records`
(the SQLite `Records`, or the embedding helpdesk's own object with the same methods). Arguments are
handed over as plain values; the settings come from the call's context with the secret key reduced
to its `key-info`."""

from ..settings import to_wit
from ..wit import plain
from wasmtime.component import Variant

from .answer import answer


def get_settings(ctx):
    return to_wit(ctx.settings, ctx.secret_key, ctx.services.http.claim_lease_seconds())


def tenant_ref(ctx):
    return ctx.tenant


def _records(method: str):
    """The import that calls `records.<method>(tenant, *args)` with the arguments made plain."""

    def call(ctx, *args):
        f = getattr(ctx.services.records, method)
        return answer(ctx, lambda: f(ctx.tenant, *map(plain, args)))

    return call


def get_autopay_cap(ctx, customer):
    """A customer's own cap on automatic charges: this host keeps none, so `none` for a customer
    of the tenant (the tenant-wide `autopay_max_amount` setting still holds)."""
    return answer(ctx, lambda: ctx.services.records.get_customer(ctx.tenant, customer) and None)


def record_dispute(ctx, observation):
    """Disputes of payments: this host keeps none, so `denied` for a payment of the tenant (the
    plugin then leaves the event aside, saying so) and `not-found` for another tenant's."""
    payment = plain(observation)["payment_id"]
    records = ctx.services.records

    def refuse():
        records._payment(records.db.conn(), ctx.tenant, payment)
        return Variant("denied", "this helpdesk keeps no disputes of payments")

    return answer(ctx, refuse)


def list_disputes(ctx, invoice):
    """The disputes of an invoice's payments: this host keeps none, so none for an invoice of the
    tenant and `not-found` for another's."""
    return answer(ctx, lambda: ctx.services.records.get_invoice(ctx.tenant, invoice) and [])


def claim_refund(ctx, refund):
    """Refunds: this host keeps none and grants no agent "Can Refund Stripe Payments", so `denied`
    for a payment of the tenant and `not-found` for another tenant's; payments are refunded in
    Stripe's dashboard."""
    return _no_refunds(ctx, plain(refund)["payment_id"])


def record_refund(ctx, observation):
    """What Stripe says of a refund: this host keeps no refunds, so `denied` for a payment of the
    tenant (the plugin then leaves the event aside, saying so) and `not-found` for another's."""
    return _no_refunds(ctx, plain(observation)["payment_id"])


def _no_refunds(ctx, payment):
    records = ctx.services.records

    def refuse():
        records._payment(records.db.conn(), ctx.tenant, payment)
        return Variant("denied", "this helpdesk keeps no refunds of payments")

    return answer(ctx, refuse)


def list_refunds(ctx, invoice):
    """The refunds of an invoice's payments: none here, for an invoice of the tenant."""
    return answer(ctx, lambda: ctx.services.records.get_invoice(ctx.tenant, invoice) and [])


def can_refund(ctx, agent):
    """No agent of this host may refund (it keeps no refunds); `not-found` for another's agent."""
    return answer(ctx, lambda: ctx.services.records.get_agent(ctx.tenant, agent) and False)


FUNCTIONS = {
    "get-settings": get_settings,
    "tenant-ref": tenant_ref,
    "get-autopay-cap": get_autopay_cap,
    "record-dispute": record_dispute,
    "list-disputes": list_disputes,
    "claim-refund": claim_refund,
    "record-refund": record_refund,
    "list-refunds": list_refunds,
    "can-refund": can_refund,
    **{name: _records(name.replace("-", "_")) for name in (
        "get-customer", "list-customers", "set-stripe-customer-id", "set-automatic-payment-method",
        "set-stripe-sync-error", "get-user", "get-agent", "get-invoice", "list-invoices",
        "create-payments", "create-part-payment", "update-payment", "list-payments", "get-email-template", "audit",
        "find-customers", "observe-automatic-payment-method",
    )},
}
