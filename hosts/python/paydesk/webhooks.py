"""Verifying Stripe's `Stripe-Signature` header in the host, before the plugin sees an event:
HMAC-SHA256 of `"{t}.{body}"` with the endpoint's signing secret, any of several `v1` entries, a
timestamp within 300 seconds of now, compared in constant time (`hmac.compare_digest`)."""

import hashlib
import hmac
import time
from typing import Optional

TOLERANCE_SECONDS = 300


class SignatureError(Exception):
    """Why a signature was refused (nothing was applied)."""


def verify(header: Optional[str], body: bytes, secret: bytes, now: Optional[int] = None) -> None:
    if not header:
        raise SignatureError("no Stripe-Signature header")
    timestamp, signatures = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamp = int(value) if value.lstrip("-").isdigit() else None
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError("the Stripe-Signature header has no timestamp or no v1 signature")
    if abs((int(time.time()) if now is None else now) - timestamp) > TOLERANCE_SECONDS:
        raise SignatureError(f"the signature's timestamp is more than {TOLERANCE_SECONDS} s from now")
    expected = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    matched = False
    for sig in signatures:  # every candidate is compared
        matched |= hmac.compare_digest(expected, sig)
    if not matched:
        raise SignatureError("no v1 signature matches")
