"""The `email` import: a message from the tenant's invoice mailbox into the outbox. At most 50
recipients, 512 KiB of body, every address shaped like one; a dedup key the tenant used before
queues nothing (and answers false)."""

from ..store import Invalid
from .answer import answer

MAX_RECIPIENTS = 50
MAX_BODY = 512 << 10


def _looks_like_address(a: str) -> bool:
    local, at, domain = a.strip().partition("@")
    return len(a) <= 254 and bool(at) and bool(local) and "." in domain and not any(c.isspace() for c in a.strip())


def _enqueue(ctx, m):
    to, cc = list(m.to), list(m.cc)
    if not to:
        raise Invalid("a message needs a recipient")
    if len(to) + len(cc) > MAX_RECIPIENTS:
        raise Invalid(f"at most {MAX_RECIPIENTS} recipients per message")
    bad = next((a for a in to + cc if not _looks_like_address(a)), None)
    if bad is not None:
        raise Invalid(f"`{bad}` is not an email address")
    if len(m.html.encode()) + len(m.text.encode()) > MAX_BODY:
        raise Invalid(f"bodies are at most {MAX_BODY} bytes")
    mailbox = ctx.services.tenants.mailbox(ctx.tenant)
    return ctx.services.outbox.enqueue(ctx.tenant, mailbox, to, cc, m.subject, m.html, m.text,
                                       getattr(m, "dedup-key"))


def send(ctx, message):
    return answer(ctx, lambda: _enqueue(ctx, message))


FUNCTIONS = {"send": send}
