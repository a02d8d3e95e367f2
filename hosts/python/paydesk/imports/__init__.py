"""The contract's imports, one module per WIT interface. Each module's `FUNCTIONS` maps a WIT
function name to `f(ctx, *args)`, with arguments and result as wasmtime-py shapes them
(`paydesk.wit`); an added function in a new minor of the contract is one more entry. `link`
defines them all in a component linker, each bound to the calling thread's call context.

An import returns the WIT `result`'s error as a value (`Variant(case, message)`); raising traps the
guest, which is for host bugs and guest abuse only.
"""

from typing import Any, Callable

from wasmtime.component import Linker

from ..context import current
from . import email, helpdesk, http, log, storage

PACKAGE = "paydesk:stripe"

INTERFACES: dict[str, dict[str, Callable[..., Any]]] = {
    "types": {},
    "http": http.FUNCTIONS,
    "storage": storage.FUNCTIONS,
    "email": email.FUNCTIONS,
    "log": log.FUNCTIONS,
    "helpdesk": helpdesk.FUNCTIONS,
}


def _bound(f: Callable[..., Any]) -> Callable[..., Any]:
    return lambda _store, *args: f(current(), *args)


def link(linker: Linker, version: str) -> None:
    """Define every import of `paydesk:stripe@version` in `linker`."""
    with linker.root() as root:
        for interface, functions in INTERFACES.items():
            with root.add_instance(f"{PACKAGE}/{interface}@{version}") as instance:
                for name, f in functions.items():
                    instance.add_func(name, _bound(f))
