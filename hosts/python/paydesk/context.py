"""What one plugin call knows: the tenant it runs for (its settings, secret key and Stripe API
base, all held outside the sandbox) and the host's shared services. The runtime makes the call's
context current on the calling thread while the guest runs; every import reads the tenant from
there — never from an argument the guest passes.
"""

import dataclasses
import logging
import threading
from typing import Any, Optional

from .settings import Secret
from .store import Database
from .store.kv import KeyValue
from .store.outbox import Outbox
from .store.records import Records
from .store.tenants import Tenants


@dataclasses.dataclass(frozen=True)
class HttpLimits:
    """Limits of each request to Stripe (the Rust host's defaults)."""

    connect_timeout: float = 10.0
    #: The whole request, answer included.
    timeout: float = 60.0
    max_response_bytes: int = 4 << 20

    def claim_lease_seconds(self) -> int:
        """How long an autopay claim holds: twice the longest a request can take, plus a margin."""
        return int(2 * (self.timeout + self.connect_timeout) + 5)


@dataclasses.dataclass
class Services:
    """What the imports share across calls."""

    db: Database
    records: Any  # `Records`, or the embedding helpdesk's object with the same methods
    http: HttpLimits
    log: logging.Logger

    @classmethod
    def open(cls, db: Database, records: Any = None, http: Optional[HttpLimits] = None) -> "Services":
        return cls(db, records or Records(db), http or HttpLimits(), logging.getLogger("paydesk"))

    @property
    def tenants(self) -> Tenants:
        return Tenants(self.db)

    @property
    def kv(self) -> KeyValue:
        return KeyValue(self.db)

    @property
    def outbox(self) -> Outbox:
        return Outbox(self.db)


@dataclasses.dataclass
class CallContext:
    """One call's tenant and services."""

    tenant: str
    settings: dict
    secret_key: Optional[Secret]
    api_base: str
    services: Services


_current = threading.local()


def current() -> CallContext:
    """The context of the call running on this thread."""
    ctx = getattr(_current, "ctx", None)
    if ctx is None:
        raise RuntimeError("a paydesk import was called outside a plugin call")
    return ctx


def enter(ctx: Optional[CallContext]) -> None:
    _current.ctx = ctx
