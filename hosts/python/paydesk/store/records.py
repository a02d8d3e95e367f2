"""The helpdesk records the plugin works on, in SQLite: customers, portal users, agents, invoices
with lines, payment records, email templates and the audit trail. Methods are named after the
`helpdesk` import's functions, take plain values (dicts with snake_case keys) and return WIT
records, so a helpdesk with records of its own (an ORM) can hand its own object with the same
methods to `Paydesk(records=…)`. A payment update and its effect on the invoice (the fee line,
paid) happen in one transaction, under the record's version, exactly once.
"""

from typing import Any, Optional

from ..settings import METHOD_TYPES
from ..wit import record, variant
from . import Conflict, Database, NotFound, conflict_on_unique, now

MAX_PAGE = 1000

CUSTOMER_COLUMNS = ("id, name, accounts_email, accounts_cc_email, stripe_customer_id, "
                    "stripe_payment_method_id, stripe_payment_method_name, stripe_sync_error")


def _customer(row) -> Any:
    return record(**dict(row))


def _money(amount: int, currency: str) -> Any:
    return record(amount=amount, currency=currency)


def _method_type(name: str) -> Any:
    """A stored type (its WIT case name, `sepa-debit`) as the WIT variant; `other` for the rest."""
    return variant(name) if name.replace("-", "_") in METHOD_TYPES else variant({"other": name})


def _payment(r) -> Any:
    initiator = variant(r["initiator_kind"] if r["initiator_id"] is None
                        else {r["initiator_kind"]: r["initiator_id"]})
    return record(
        id=r["id"], invoice_id=r["invoice_id"], group_id=r["group_id"], intent_id=r["intent_id"],
        status=r["status"], method=r["method"],
        method_type=None if r["method_type"] is None else _method_type(r["method_type"]),
        amount=_money(r["amount"], r["currency"]), fee=_money(r["fee"], r["currency"]),
        initiator=initiator, attempt=r["attempt"], failure_reason=r["failure_reason"],
        failure_code=r["failure_code"], last_event_id=r["last_event_id"],
        webhook_received_at=r["webhook_received_at"], observed_at=r["observed_at"],
        created_at=r["created_at"], updated_at=r["updated_at"], version=r["version"],
    )


def _one(row, what: str):
    if row is None:
        raise NotFound(what)
    return row


class Records:
    def __init__(self, db: Database):
        self.db = db

    # -- what the helpdesk itself does (not imports) ------------------------------------------

    def create_customer(self, tenant: str, name: str, accounts_email: Optional[str] = None,
                        accounts_cc_email: Optional[str] = None) -> int:
        return self.db.conn().execute(
            "INSERT INTO customers (tenant_id, name, accounts_email, accounts_cc_email) VALUES (?, ?, ?, ?)",
            (tenant, name, accounts_email, accounts_cc_email),
        ).lastrowid

    def create_user(self, tenant: str, customer_id: int, name: str, email: str,
                    invoice_access_level: str) -> int:
        self.get_customer(tenant, customer_id)
        with conflict_on_unique(f"a user with email {email} exists"):
            return self.db.conn().execute(
                "INSERT INTO users (tenant_id, customer_id, name, email, invoice_access_level) VALUES (?, ?, ?, ?, ?)",
                (tenant, customer_id, name, email, invoice_access_level),
            ).lastrowid

    def create_agent(self, tenant: str, name: str, email: str,
                     can_receive_manual_stripe_payments: bool, is_admin: bool) -> int:
        with conflict_on_unique(f"an agent with email {email} exists"):
            return self.db.conn().execute(
                "INSERT INTO agents (tenant_id, name, email, can_receive_manual_stripe_payments, is_admin) "
                "VALUES (?, ?, ?, ?, ?)",
                (tenant, name, email, can_receive_manual_stripe_payments, is_admin),
            ).lastrowid

    def create_invoice(self, tenant: str, number: str, customer_id: int, currency: str,
                       issue_date: str, due_date: str, lines: list[tuple[str, int]],
                       user_id: Optional[int] = None, recurring_invoice_id: Optional[int] = None) -> int:
        self.get_customer(tenant, customer_id)
        with self.db.transaction() as c, conflict_on_unique(f"invoice number {number} exists"):
            invoice = c.execute(
                "INSERT INTO invoices (tenant_id, number, customer_id, user_id, currency, issue_date, "
                "due_date, recurring_invoice_id, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'awaiting-payment')",
                (tenant, number, customer_id, user_id, currency.lower(), issue_date, due_date,
                 recurring_invoice_id),
            ).lastrowid
            c.executemany(
                "INSERT INTO invoice_lines (tenant_id, invoice_id, description, amount) VALUES (?, ?, ?, ?)",
                [(tenant, invoice, d, a) for d, a in lines],
            )
        return invoice

    # -- the helpdesk import -----------------------------------------------------------------

    def get_customer(self, tenant: str, id: int) -> Any:
        return _customer(_one(self.db.conn().execute(
            f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE tenant_id = ? AND id = ?", (tenant, id)
        ).fetchone(), f"customer {id}"))

    def list_customers(self, tenant: str, after_id: Optional[int], limit: int) -> list:
        rows = self.db.conn().execute(
            f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?",
            (tenant, after_id or 0, min(limit, MAX_PAGE)),
        ).fetchall()
        return [_customer(r) for r in rows]

    def _update_customer(self, tenant: str, id: int, sql: str, args: tuple) -> None:
        if not self.db.conn().execute(
            f"UPDATE customers SET {sql} WHERE tenant_id = ? AND id = ?", args + (tenant, id)
        ).rowcount:
            raise NotFound(f"customer {id}")

    def set_stripe_customer_id(self, tenant: str, id: int, stripe_customer_id: Optional[str]) -> None:
        with conflict_on_unique(f"Stripe customer {stripe_customer_id} is already mapped to another customer"):
            self._update_customer(tenant, id, "stripe_customer_id = ?", (stripe_customer_id,))

    def set_automatic_payment_method(self, tenant: str, id: int, method: Optional[tuple[str, str]]) -> None:
        pm_id, name = method if method else (None, None)
        self._update_customer(tenant, id, "stripe_payment_method_id = ?, stripe_payment_method_name = ?",
                              (pm_id, name))

    def find_customers(self, tenant: str, lookup: Any) -> list:
        """`lookup` is `{"stripe-customer": id}` or `{"automatic-payment-method": id}`; at most 100."""
        ((case, value),) = lookup.items()
        column = {"stripe-customer": "stripe_customer_id",
                  "automatic-payment-method": "stripe_payment_method_id"}[case]
        rows = self.db.conn().execute(
            f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE tenant_id = ? AND {column} = ? ORDER BY id LIMIT 100",
            (tenant, value),
        ).fetchall()
        return [_customer(r) for r in rows]

    def observe_automatic_payment_method(self, tenant: str, id: int, method: Optional[tuple[str, str]],
                                         observed_at: int, only_if: Optional[str]) -> bool:
        """Set the method as Stripe showed it at `observed_at`, unless a later observation is
        recorded or (with `only_if`) the method is no longer that one; decided in one transaction."""
        pm_id, name = method if method else (None, None)
        with self.db.transaction() as c:
            row = _one(c.execute("SELECT stripe_payment_method_id FROM customers WHERE tenant_id = ? AND id = ?",
                                 (tenant, id)).fetchone(), f"customer {id}")
            seen = c.execute("SELECT observed_at FROM customer_method_observed WHERE tenant_id = ? AND customer_id = ?",
                             (tenant, id)).fetchone()
            if (seen is not None and seen["observed_at"] > observed_at) or (
                    only_if is not None and row["stripe_payment_method_id"] != only_if):
                return False
            c.execute("UPDATE customers SET stripe_payment_method_id = ?, stripe_payment_method_name = ? "
                      "WHERE tenant_id = ? AND id = ?", (pm_id, name, tenant, id))
            c.execute("INSERT INTO customer_method_observed (tenant_id, customer_id, observed_at) VALUES (?, ?, ?) "
                      "ON CONFLICT (tenant_id, customer_id) DO UPDATE SET observed_at = excluded.observed_at",
                      (tenant, id, observed_at))
        return True

    def set_stripe_sync_error(self, tenant: str, id: int, error: Optional[str]) -> None:
        self._update_customer(tenant, id, "stripe_sync_error = ?", (error,))

    def get_user(self, tenant: str, id: int) -> Any:
        return record(**dict(_one(self.db.conn().execute(
            "SELECT id, customer_id, name, email, invoice_access_level FROM users WHERE tenant_id = ? AND id = ?",
            (tenant, id),
        ).fetchone(), f"user {id}")))

    def get_agent(self, tenant: str, id: int) -> Any:
        row = _one(self.db.conn().execute(
            "SELECT id, name, email, can_receive_manual_stripe_payments, is_admin FROM agents "
            "WHERE tenant_id = ? AND id = ?", (tenant, id),
        ).fetchone(), f"agent {id}")
        return record(id=row["id"], name=row["name"], email=row["email"],
                      can_receive_manual_stripe_payments=bool(row["can_receive_manual_stripe_payments"]),
                      is_admin=bool(row["is_admin"]))

    def get_invoice(self, tenant: str, id: int, conn=None) -> Any:
        conn = conn or self.db.conn()
        inv = _one(conn.execute(
            "SELECT id, number, customer_id, user_id, currency, issue_date, due_date, "
            "recurring_invoice_id, status FROM invoices WHERE tenant_id = ? AND id = ?", (tenant, id),
        ).fetchone(), f"invoice {id}")
        lines = conn.execute(
            "SELECT description, amount, is_processing_fee FROM invoice_lines "
            "WHERE tenant_id = ? AND invoice_id = ? ORDER BY id", (tenant, id),
        ).fetchall()
        paid = conn.execute(
            "SELECT COALESCE(SUM(amount + fee), 0) FROM invoice_payments "
            "WHERE tenant_id = ? AND invoice_id = ? AND status = 'succeeded'", (tenant, id),
        ).fetchone()[0]
        return record(
            **dict(inv),
            lines=[record(description=l["description"], amount=l["amount"],
                          is_processing_fee=bool(l["is_processing_fee"])) for l in lines],
            amount_due=sum(l["amount"] for l in lines) - paid,
        )

    def list_invoices(self, tenant: str, f: dict) -> list:
        sql, args = "SELECT id FROM invoices WHERE tenant_id = ?", [tenant]
        for column, op, value in (("customer_id", "=", f["customer_id"]), ("status", "=", f["status"]),
                                  ("due_date", "<=", f["due_on_or_before"])):
            if value is not None:
                sql += f" AND {column} {op} ?"
                args.append(value)
        if f["recurring_only"]:
            sql += " AND recurring_invoice_id IS NOT NULL"
        sql += " AND id > ? ORDER BY id LIMIT ?"
        args += [f["after_id"] or 0, min(f["limit"], MAX_PAGE)]
        conn = self.db.conn()
        return [self.get_invoice(tenant, r[0], conn) for r in conn.execute(sql, args).fetchall()]

    def create_payments(self, tenant: str, payments: list[dict]) -> list:
        """All or none."""
        created = []
        with self.db.transaction() as c:
            for p in payments:
                self.get_invoice(tenant, p["invoice_id"], c)
                created.append(self._insert_payment(c, tenant, p))
        return created

    def _insert_payment(self, c, tenant: str, p: dict) -> Any:
        initiator = p["initiator"]
        kind, who = (initiator, None) if isinstance(initiator, str) else next(iter(initiator.items()))
        at = now()
        pid = c.execute(
            "INSERT INTO invoice_payments (tenant_id, invoice_id, group_id, intent_id, status, method, "
            "method_type, amount, fee, currency, initiator_kind, initiator_id, attempt, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (tenant, p["invoice_id"], p["group_id"], p["intent_id"], p["status"], p["method"],
             p["method_type"], p["amount"]["amount"], p["fee"]["amount"], p["amount"]["currency"],
             kind, who, p["attempt"], at, at),
        ).lastrowid
        return self._payment(c, tenant, pid)

    def create_part_payment(self, tenant: str, payment: dict, amount_due: int) -> Any:
        """The record of a payment of part (or all) of one invoice, written only while the invoice
        awaits payment with `amount_due` still due in the record's currency and the record takes
        more than zero and at most that; one transaction with the open-record index."""
        with self.db.transaction() as c:
            invoice = self.get_invoice(tenant, payment["invoice_id"], c)
            due, amount = getattr(invoice, "amount-due"), payment["amount"]["amount"]
            if invoice.status != "awaiting-payment" or due != amount_due \
                    or invoice.currency != payment["amount"]["currency"]:
                raise Conflict(f"invoice {invoice.number} now has {due} {invoice.currency} due, "
                               f"not the {amount_due} this payment was priced for; price it again")
            if not 0 < amount <= amount_due:
                raise Conflict(f"a payment of invoice {invoice.number} takes more than zero and at most "
                               f"the {amount_due} due, not {amount}")
            return self._insert_payment(c, tenant, payment)

    def _payment(self, conn, tenant: str, id: int) -> Any:
        return _payment(_one(conn.execute(
            "SELECT * FROM invoice_payments WHERE tenant_id = ? AND id = ?", (tenant, id)
        ).fetchone(), f"payment {id}"))

    def update_payment(self, tenant: str, id: int, expected_version: int, u: dict) -> Any:
        """Apply `u` if the record is still at `expected_version`; on first success add the fee line
        and mark the invoice paid once nothing is due — all in one transaction."""
        with self.db.transaction() as c:
            current = self._payment(c, tenant, id)
            if getattr(current, "version") != expected_version:
                raise Conflict(f"payment {id} is at version {current.version}, not {expected_version}")
            at = now()
            c.execute(
                "UPDATE invoice_payments SET status = ?, intent_id = COALESCE(?, intent_id), "
                "method = COALESCE(?, method), method_type = COALESCE(?, method_type), failure_reason = ?, "
                "failure_code = ?, last_event_id = COALESCE(?, last_event_id), "
                "webhook_payload = COALESCE(?, webhook_payload), "
                "webhook_received_at = CASE WHEN ? IS NULL THEN webhook_received_at ELSE ? END, "
                "observed_at = ?, updated_at = ?, version = version + 1 "
                "WHERE tenant_id = ? AND id = ? AND version = ?",
                (u["status"], u["intent_id"], u["method"], u["method_type"], u["failure_reason"],
                 u["failure_code"], u["event_id"], u["webhook_payload"], u["webhook_payload"], at,
                 u["observed_at"], at, tenant, id, expected_version),
            )
            updated = self._payment(c, tenant, id)
            if u["status"] == "succeeded" and u["settle_with_fee_line"] is not None \
                    and current.status != "succeeded":
                self._settle(c, tenant, updated, u["settle_with_fee_line"])
        return updated

    def _settle(self, c, tenant: str, payment: Any, fee_line: str) -> None:
        invoice_id = getattr(payment, "invoice-id")
        if payment.fee.amount != 0:
            c.execute(
                "INSERT INTO invoice_lines (tenant_id, invoice_id, description, amount, is_processing_fee, payment_id) "
                "VALUES (?, ?, ?, ?, 1, ?)", (tenant, invoice_id, fee_line, payment.fee.amount, payment.id),
            )
        if getattr(self.get_invoice(tenant, invoice_id, c), "amount-due") <= 0:
            c.execute("UPDATE invoices SET status = 'paid' WHERE tenant_id = ? AND id = ?", (tenant, invoice_id))

    def list_payments(self, tenant: str, f: Any) -> list:
        base = "SELECT * FROM invoice_payments WHERE tenant_id = ?"
        ((kind, value),) = f.items()
        conn = self.db.conn()
        if kind == "stale":
            statuses, before = value
            rows = [r for s in statuses for r in conn.execute(
                base + " AND status = ? AND updated_at < ? ORDER BY id LIMIT 1000", (tenant, s, before)
            ).fetchall()]
        else:
            column = {"invoice": "invoice_id", "group": "group_id", "intent": "intent_id"}[kind]
            rows = conn.execute(base + f" AND {column} = ? ORDER BY id", (tenant, value)).fetchall()
        return [_payment(r) for r in rows]

    def get_email_template(self, tenant: str, id: int) -> Any:
        return record(**dict(_one(self.db.conn().execute(
            "SELECT id, name, subject, body FROM email_templates WHERE tenant_id = ? AND id = ?", (tenant, id)
        ).fetchone(), f"email template {id}")))

    def audit(self, tenant: str, entries: list[dict]) -> None:
        at = now()
        with self.db.transaction() as c:
            c.executemany(
                "INSERT INTO audit_log (tenant_id, at, invoice_id, action, reason, amount, currency) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(tenant, at, e["invoice_id"], e["action"], e["reason"],
                  e["amount"]["amount"] if e["amount"] else None,
                  e["amount"]["currency"] if e["amount"] else None) for e in entries],
            )
