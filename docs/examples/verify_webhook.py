"""Verify a Tollgate webhook delivery (standard library only).

Pass the raw request body (bytes, exactly as received: do not parse and re-serialize it), the
``Tollgate-Signature`` header and your endpoint's signing secret (``whsec_...``). Returns the parsed
event, or raises ``WebhookVerificationError``. Then dedupe on ``event["id"]`` (the same value as the
``Tollgate-Event-Id`` header): deliveries are at-least-once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

TOLERANCE_S = 300  # refuse deliveries signed more than 5 minutes from now (replays)


class WebhookVerificationError(Exception):
    pass


def verify_webhook(
    body: bytes,
    signature_header: str,
    secret: str,
    *,
    tolerance_s: int = TOLERANCE_S,
    now: float | None = None,
) -> dict[str, Any]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in signature_header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookVerificationError("malformed Tollgate-Signature header")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise WebhookVerificationError("timestamp outside the tolerance")
    signed = f"{timestamp}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    # During a secret rotation there are two v1 entries: one matching is enough.
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise WebhookVerificationError("signature does not match")
    event: dict[str, Any] = json.loads(body)
    return event
