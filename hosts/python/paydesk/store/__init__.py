"""The Python host's SQLite database (standard library `sqlite3`): a file in WAL mode with one
connection per thread, the schema applied at open, and the tenant-scoped stores the imports use —
tenants with their write-only secrets (`tenants`), the plugin's versioned key/value storage (`kv`),
the email outbox (`outbox`) and the helpdesk records (`records`). Every statement filters on the
tenant id; every rule that must hold with several processes on one file is a unique key, a version
checked inside the UPDATE, or an immediate transaction — never a lock in this process.
"""

import contextlib
import sqlite3
import threading
import time
from pathlib import Path
from typing import Iterator


class RecordError(Exception):
    """A failure the plugin sees as a `host-error` value; `case` is its WIT case name."""

    case = "unavailable"


class NotFound(RecordError):
    case = "not-found"


class Conflict(RecordError):
    case = "conflict"


class Invalid(RecordError):
    case = "invalid"


def now() -> int:
    """Now, as Unix seconds."""
    return int(time.time())


class Database:
    """One SQLite file; a connection per thread, opened on first use."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._local = threading.local()
        # `executescript` commits by itself; every statement of the schema is idempotent.
        self.conn().executescript((Path(__file__).parent / "schema.sql").read_text())

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An immediate (write-locked) transaction: committed on success, rolled back on error."""
        conn = self.conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def conflict_on_unique(what: str):
    """A context turning a unique-key violation into `Conflict(what)`."""

    @contextlib.contextmanager
    def guard() -> Iterator[None]:
        try:
            yield
        except sqlite3.IntegrityError as e:
            if "UNIQUE" in str(e):
                raise Conflict(what) from None
            raise

    return guard()
