"""The `http` import: requests to the tenant's Stripe API base and nowhere else, over the standard
library (`http.client`, `urllib.parse`). The URL is the base plus a checked `/v1/…` path; the host
adds the secret key and `Stripe-Version`, follows no redirect, bounds the connection and the whole
request by timeouts and the answer by a size cap, keeps Stripe's `Request-Id`, and takes a webhook
endpoint's signing secret out of the answer before the guest sees it. The secret key is read here
only, where the header is built.
"""

import email.utils
import http.client
import json
import re
import ssl
import time
import urllib.parse

from wasmtime.component import Variant

from ..settings import Secret
from ..wit import record

STRIPE_VERSION = "2023-08-16"
USER_AGENT = "paydesk-python/0.1"

_PATH = re.compile(r"/v1/[A-Za-z0-9_\-./]*")


def check_path(path: str) -> str | None:
    """Why `path` may not be asked for, or None: `/v1/` then letters, digits, `_ - . /`, no `..`
    or `//`, at most 512 bytes."""
    if len(path) <= 512 and _PATH.fullmatch(path) and ".." not in path and "//" not in path:
        return None
    return (f"`{path[:80]}` is not a Stripe API path (the plugin may only call /v1/… on the "
            "tenant's Stripe API base)")


def _connect(base: urllib.parse.SplitResult, timeout: float) -> http.client.HTTPConnection:
    if base.scheme == "https":
        return http.client.HTTPSConnection(base.hostname, base.port, timeout=timeout,
                                           context=ssl.create_default_context())
    if base.scheme == "http":
        return http.client.HTTPConnection(base.hostname, base.port, timeout=timeout)
    raise ValueError(f"the Stripe API base must be http(s), not {base.scheme}")


def _read_capped(sock, response: http.client.HTTPResponse, cap: int, deadline: float) -> bytes:
    chunks, size = [], 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the answer took longer than the request timeout")
        sock.settimeout(remaining)
        chunk = response.read1(64 << 10)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > cap:
            raise OverflowError(f"Stripe's answer was larger than {cap} bytes")
        chunks.append(chunk)


def send(ctx, req):
    answer, _date = _send(ctx, req)
    return answer


def send_dated(ctx, req):
    """`send` with Stripe's `Date` header in Unix seconds (contract 0.2): Stripe's clock."""
    answer, date = _send(ctx, req)
    if isinstance(answer, Variant):
        return answer
    return record(response=answer, date=date)


def _stripe_date(value: str | None) -> int | None:
    if not value:
        return None
    try:
        at = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if at.tzinfo is None:
        return None
    return int(at.timestamp())


def _send(ctx, req):
    denied = check_path(req.path)
    if denied:
        return Variant("denied", denied), None
    key: Secret | None = ctx.secret_key
    if key is None:
        return Variant("denied", "the Stripe integration has no secret key; save one on the setup page"), None
    limits = ctx.services.http
    base = urllib.parse.urlsplit(ctx.api_base.rstrip("/"))
    target = base.path + req.path + (f"?{urllib.parse.urlencode(req.query)}" if req.query else "")
    headers = {"Authorization": f"Bearer {key.expose()}", "Stripe-Version": STRIPE_VERSION,
               "User-Agent": USER_AGENT}
    idempotency_key = getattr(req, "idempotency-key")
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    body = None
    if req.method == "post":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        body = urllib.parse.urlencode(req.form)
    deadline = time.monotonic() + limits.timeout
    conn = _connect(base, limits.connect_timeout)
    try:
        try:
            conn.connect()
        except OSError as e:  # refused, unresolvable, connect timeout: surely not sent
            return Variant("not-sent", f"could not connect to Stripe: {e}"), None
        sock = conn.sock
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            conn.request(req.method.upper(), target, body=body, headers=headers)
            response = conn.getresponse()
            text = _read_capped(sock, response, limits.max_response_bytes, deadline).decode("utf-8", "replace")
        except (OSError, http.client.HTTPException, TimeoutError, OverflowError) as e:
            return Variant("outcome-unknown", f"no answer from Stripe: {e}"), None
    finally:
        conn.close()
    retry_after = response.getheader("Retry-After")
    ctx.services.log.debug("stripe request %s %s: %s", req.method, req.path, response.status,
                           extra={"tenant": ctx.tenant})
    return record(
        status=response.status,
        request_id=response.getheader("Request-Id"),
        retry_after=int(retry_after) if retry_after and retry_after.strip().isdigit() else None,
        body=_take_signing_secret(ctx, req, response.status, text),
    ), _stripe_date(response.getheader("Date"))


def _take_signing_secret(ctx, req, status: int, body: str) -> str:
    """A webhook endpoint Stripe just created carries its signing secret: keep it in the host and
    give the guest a masked copy."""
    if req.method != "post" or not req.path.startswith("/v1/webhook_endpoints") or not 200 <= status < 300:
        return body
    try:
        answer = json.loads(body)
    except ValueError:
        return body
    secret = answer.get("secret") if isinstance(answer, dict) else None
    if not isinstance(secret, str):
        return body
    ctx.services.tenants.set_webhook_secret(ctx.tenant, Secret(secret))
    answer["secret"] = Secret(secret).masked()
    return json.dumps(answer)


FUNCTIONS = {"send": send, "send-dated": send_dated}
