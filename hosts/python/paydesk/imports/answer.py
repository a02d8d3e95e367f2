"""Turning a store's outcome into what an import returns: the value, or the WIT `host-error`
case as a value. A database failure is `unavailable` for the plugin; its details stay in the log."""

import sqlite3
from typing import Any, Callable

from wasmtime.component import Variant

from ..store import RecordError


def answer(ctx, op: Callable[[], Any]) -> Any:
    try:
        return op()
    except RecordError as e:
        return Variant(e.case, str(e))
    except sqlite3.Error as e:
        ctx.services.log.error("database error in a plugin call: %s", e, extra={"tenant": ctx.tenant})
        return Variant("unavailable", "the helpdesk database is unavailable; try again")
