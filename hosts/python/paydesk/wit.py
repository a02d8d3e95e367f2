"""Python values of the contract's types, as wasmtime's component API shapes them.

wasmtime-py hands a record over as a `Record` whose attributes are the WIT field names (kebab-case:
`getattr(r, "invoice-id")`), an enum as its case name (`"awaiting-payment"`), `list<u8>` as `bytes`,
and a variant, option or result as a `Variant(tag, payload)` *only when its cases' Python types
overlap*; otherwise as the bare payload (`option<string>` is a `str` or `None`). This module
converts between those and plain dicts with snake_case keys, which the rest of the host uses.
It owns no state and does no I/O.
"""

from typing import Any

from wasmtime.component import (ListType, OptionType, Record, RecordType, ResultType, TupleType, Variant,
                                 VariantType)


def record(**fields: Any) -> Record:
    """A WIT record from snake_case keyword arguments."""
    r = Record()
    for name, value in fields.items():
        setattr(r, name.replace("_", "-"), value)
    return r


def plain(value: Any) -> Any:
    """A WIT value as plain Python: records become dicts with snake_case keys, a variant case
    without payload its name, one with a payload `{name: payload}`; lists and tuples stay."""
    if isinstance(value, Record):
        return {k.replace("-", "_"): plain(v) for k, v in vars(value).items()}
    if isinstance(value, Variant):
        return value.tag if value.payload is None else {value.tag: plain(value.payload)}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    return value


def variant(value: Any) -> Variant:
    """A tagged variant from its plain form (`"autopay"` or `{"agent": 3}`)."""
    if isinstance(value, str):
        return Variant(value)
    ((tag, payload),) = value.items()
    return Variant(tag, payload)


def split_result(result_type: Any, value: Any) -> tuple[bool, Any]:
    """(ok, payload) of an export's `result<T, plugin-error>`. wasmtime-py tags it only when `T`
    is a record too; otherwise an error is the one value that is a `Record`."""
    if isinstance(result_type.ok, RecordType):
        return value.tag == "ok", value.payload
    return not isinstance(value, Record), value


def lower(value: Any, ty: Any) -> Any:
    """`value` in plain form (as `plain` returns it) as wasmtime-py lowers a value of WIT type
    `ty`. Relies on wasmtime-py's own rule for when a variant is tagged (`_tagged`)."""
    if isinstance(ty, RecordType):
        r = Record()
        for name, field in ty.fields:
            setattr(r, name, lower(value[name.replace("-", "_")], field))
        return r
    if isinstance(ty, ListType):
        return value if isinstance(value, bytes) else [lower(v, ty.element) for v in value]
    if isinstance(ty, TupleType):
        return tuple(lower(v, t) for v, t in zip(value, ty.elements))
    if isinstance(ty, OptionType):
        return None if value is None else lower(value, ty.payload)
    if isinstance(ty, VariantType):
        tag, payload = (value, None) if isinstance(value, str) else next(iter(value.items()))
        case = dict(ty.cases)[tag]
        lowered = None if case is None else lower(payload, case)
        return Variant(tag, lowered) if ty._tagged() else lowered
    return value


def lift_result(ty: Any, value: Any) -> tuple[bool, Any]:
    """(ok, plain payload) of an export's answer; an answer that is not a `result` is ok."""
    if not isinstance(ty, ResultType):
        return True, plain(value)
    ok, payload = split_result(ty, value)
    return ok, plain(payload)
