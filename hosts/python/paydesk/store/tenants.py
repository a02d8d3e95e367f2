"""Tenants: their settings (JSON), the write-only Stripe secret key and webhook signing secret,
the invoice mailbox, and the seeded email templates (the guide's ids 264 and 285). Secrets come
out only as `Secret`, which never prints its value.
"""

import json
from typing import Any, Optional

from ..settings import Secret, with_defaults
from . import Database, NotFound, conflict_on_unique

TEMPLATES = (
    (264, "Stripe Payment Confirmation", "Payment received for invoice $INVOICENUMBER",
     "<p>Dear $CUSTOMERNAME,</p><p>We received $TOTAL for invoice $INVOICENUMBER ($AMOUNT and a "
     "processing fee of $FEE) by $PAYMENTMETHOD. Thank you.</p>"),
    (285, "Stripe Payment Failure", "Payment failed for invoice $INVOICENUMBER",
     "<p>Dear $CUSTOMERNAME,</p><p>Paying $TOTAL for invoice $INVOICENUMBER by $PAYMENTMETHOD "
     "failed: $FAILUREREASON</p><p>$PORTALLINK</p>"),
)


class Tenants:
    def __init__(self, db: Database):
        self.db = db

    def create(self, tenant: str, name: str, mailbox: str) -> None:
        with self.db.transaction() as c, conflict_on_unique(f"tenant {tenant} exists"):
            c.execute(
                "INSERT INTO tenants (id, name, settings, invoice_mailbox) VALUES (?, ?, ?, ?)",
                (tenant, name, json.dumps(with_defaults({})), mailbox),
            )
            c.executemany(
                "INSERT INTO email_templates (tenant_id, id, name, subject, body) VALUES (?, ?, ?, ?, ?)",
                [(tenant, *t) for t in TEMPLATES],
            )

    def _row(self, tenant: str):
        row = self.db.conn().execute("SELECT * FROM tenants WHERE id = ?", (tenant,)).fetchone()
        if row is None:
            raise NotFound(f"tenant {tenant}")
        return row

    def settings_and_key(self, tenant: str) -> tuple[dict[str, Any], Optional[Secret]]:
        """The settings and the secret key, read together (every plugin call needs both)."""
        row = self._row(tenant)
        key = row["stripe_secret_key"]
        return with_defaults(json.loads(row["settings"])), Secret(key) if key else None

    def mailbox(self, tenant: str) -> str:
        return self._row(tenant)["invoice_mailbox"]

    def save(self, tenant: str, settings: dict[str, Any], secret_key: Optional[Secret] = None) -> None:
        """Store settings, and the secret key when given, in one statement."""
        changed = self.db.conn().execute(
            "UPDATE tenants SET settings = ?, stripe_secret_key = COALESCE(?, stripe_secret_key) WHERE id = ?",
            (json.dumps(with_defaults(settings)), secret_key.expose() if secret_key else None, tenant),
        ).rowcount
        if not changed:
            raise NotFound(f"tenant {tenant}")

    def set_webhook_secret(self, tenant: str, secret: Secret) -> None:
        self.db.conn().execute(
            "UPDATE tenants SET webhook_secret = ? WHERE id = ?", (secret.expose(), tenant)
        )

    def webhook_secret(self, tenant: str) -> Optional[Secret]:
        value = self._row(tenant)["webhook_secret"]
        return Secret(value) if value else None
