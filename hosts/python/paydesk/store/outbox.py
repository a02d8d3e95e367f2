"""The email outbox: messages queued from the tenant's invoice mailbox, at most one per dedup key
and tenant (a unique key, so two processes queue it once). Delivery (SMTP) is the embedding
helpdesk's; `queued` hands it the messages.
"""

import json
from typing import Optional

from . import Database, now


class Outbox:
    def __init__(self, db: Database):
        self.db = db

    def enqueue(self, tenant: str, sender: str, to: list[str], cc: list[str], subject: str,
                html: str, text: str, dedup_key: Optional[str]) -> bool:
        """Queue a message; False when its dedup key was used before (nothing queued)."""
        return self.db.conn().execute(
            "INSERT INTO email_outbox (tenant_id, dedup_key, from_addr, to_addrs, cc_addrs, subject, html, text, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, dedup_key) DO NOTHING",
            (tenant, dedup_key, sender, json.dumps(to), json.dumps(cc), subject, html, text, now()),
        ).rowcount == 1

    def queued(self, tenant: str) -> list[dict]:
        rows = self.db.conn().execute(
            "SELECT from_addr, to_addrs, cc_addrs, subject, html, text FROM email_outbox "
            "WHERE tenant_id = ? ORDER BY id", (tenant,)
        ).fetchall()
        return [
            {"from": r["from_addr"], "to": json.loads(r["to_addrs"]), "cc": json.loads(r["cc_addrs"]),
             "subject": r["subject"], "html": r["html"], "text": r["text"]}
            for r in rows
        ]
