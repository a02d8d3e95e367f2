"""The plugin's key/value storage, scoped to a tenant, with a version per value for
compare-and-swap: the version is checked in the UPDATE's own WHERE clause, and a create-only put is
the primary key refusing a second row.
"""

from typing import Optional

from . import Conflict, Database, NotFound, conflict_on_unique, now

COLUMNS = "key, value, version, updated_at"


class KeyValue:
    def __init__(self, db: Database):
        self.db = db

    def get(self, tenant: str, key: str) -> Optional[tuple]:
        row = self.db.conn().execute(
            f"SELECT {COLUMNS} FROM plugin_kv WHERE tenant_id = ? AND key = ?", (tenant, key)
        ).fetchone()
        return tuple(row) if row else None

    def put_new(self, tenant: str, key: str, value: bytes) -> int:
        with conflict_on_unique(f"key `{key}` exists"):
            self.db.conn().execute(
                "INSERT INTO plugin_kv (tenant_id, key, value, version, updated_at) VALUES (?, ?, ?, 1, ?)",
                (tenant, key, value, now()),
            )
        return 1

    def compare_and_swap(self, tenant: str, key: str, expected: int, value: bytes) -> int:
        conn = self.db.conn()
        changed = conn.execute(
            "UPDATE plugin_kv SET value = ?, version = version + 1, updated_at = ? "
            "WHERE tenant_id = ? AND key = ? AND version = ?",
            (value, now(), tenant, key, expected),
        ).rowcount
        if changed:
            return expected + 1
        if self.get(tenant, key) is None:
            raise NotFound(f"key `{key}`")
        raise Conflict(f"key `{key}` is no longer at version {expected}")

    def delete(self, tenant: str, key: str, expected: Optional[int]) -> bool:
        sql = "DELETE FROM plugin_kv WHERE tenant_id = ? AND key = ?"
        args: tuple = (tenant, key)
        if expected is not None:
            sql, args = sql + " AND version = ?", args + (expected,)
        return self.db.conn().execute(sql, args).rowcount == 1

    def list_prefix(self, tenant: str, prefix: str, start_after: Optional[str], limit: int) -> list[tuple]:
        # A range and substr, not LIKE: keys may hold % and _.
        rows = self.db.conn().execute(
            f"SELECT {COLUMNS} FROM plugin_kv WHERE tenant_id = ? AND key >= ? "
            "AND substr(key, 1, length(?)) = ? AND key > ? ORDER BY key LIMIT ?",
            (tenant, prefix, prefix, prefix, start_after or "", min(limit, 1000)),
        ).fetchall()
        return [tuple(r) for r in rows]
