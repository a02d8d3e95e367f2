"""The `storage` import: the plugin's key/value state, scoped to the calling tenant, with versions
for compare-and-swap. Keys are 1–512 bytes, values at most 64 KiB; a bad size is an `invalid`
value — except for `get`, whose `result<option<entry>, host-error>` wasmtime-py cannot lower as an
error (see README: "What the contract costs"), so a bad key there traps the call instead. `lookup`
(contract 0.2) answers the same in a `lookup-result` record, so its errors are values again.
"""

from ..store import Invalid, RecordError
from ..wit import record
from .answer import answer

MAX_KEY = 512
MAX_VALUE = 64 << 10


class GuestAbuse(Exception):
    """The guest asked for something no correct plugin asks for; the call traps."""


def _check(key: str, value: bytes | None = None) -> None:
    size = len(key.encode())
    if not 0 < size <= MAX_KEY:
        raise Invalid(f"storage keys are 1-{MAX_KEY} bytes (got {size})")
    if value is not None and len(value) > MAX_VALUE:
        raise Invalid(f"storage values are at most {MAX_VALUE} bytes (got {len(value)})")


def _entry(row: tuple):
    key, value, version, updated_at = row
    return record(key=key, value=bytes(value), version=version, updated_at=updated_at)


def get(ctx, key: str):
    try:
        _check(key)
    except RecordError as e:
        raise GuestAbuse(str(e)) from None
    row = ctx.services.kv.get(ctx.tenant, key)
    return _entry(row) if row else None


def lookup(ctx, key: str):
    def run():
        _check(key)
        row = ctx.services.kv.get(ctx.tenant, key)
        return record(entry=_entry(row) if row else None)

    return answer(ctx, run)


def _checked(ctx, key: str, value, op):
    def run():
        _check(key, value)
        return op()

    return answer(ctx, run)


def put_new(ctx, key: str, value: bytes):
    return _checked(ctx, key, value, lambda: ctx.services.kv.put_new(ctx.tenant, key, value))


def compare_and_swap(ctx, key: str, expected_version: int, value: bytes):
    return _checked(ctx, key, value,
                    lambda: ctx.services.kv.compare_and_swap(ctx.tenant, key, expected_version, value))


def delete(ctx, key: str, expected_version):
    return _checked(ctx, key, None, lambda: ctx.services.kv.delete(ctx.tenant, key, expected_version))


def list_prefix(ctx, prefix: str, start_after, limit: int):
    kv = ctx.services.kv
    return answer(ctx, lambda: [_entry(r) for r in kv.list_prefix(ctx.tenant, prefix, start_after, limit)])


FUNCTIONS = {
    "get": get,
    "put-new": put_new,
    "compare-and-swap": compare_and_swap,
    "delete": delete,
    "list-prefix": list_prefix,
    "lookup": lookup,
}
