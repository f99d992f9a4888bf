"""Webhook secrets and signatures.

A delivery carries ``Tollgate-Signature: t=<unix>,v1=<hex>`` where
``hex = HMAC-SHA256(secret, f"{t}.{body}")`` over the exact body bytes sent. While a rotated-out
secret is still in its grace period, a second ``v1=`` entry signed with it follows the first, so a
receiver holding either secret verifies. Receivers: docs/examples/verify_webhook.py.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Final

from tollgate_common.crypto import generate_key

SECRET_PREFIX: Final = "whsec_"
SIGNATURE_HEADER: Final = "Tollgate-Signature"
EVENT_ID_HEADER: Final = "Tollgate-Event-Id"
EVENT_TYPE_HEADER: Final = "Tollgate-Event-Type"
TIMESTAMP_HEADER: Final = "Tollgate-Timestamp"


def new_secret() -> str:
    return generate_key(SECRET_PREFIX)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    """``t=<unix>,v1=<hex>[,v1=<hex>]``: one ``v1`` per secret, current secret first."""
    return ",".join([f"t={timestamp}", *(f"v1={signature(s, timestamp, body)}" for s in secrets)])


def secret_aad(endpoint_id: object) -> str:
    """Associated data binding an encrypted secret to its endpoint (a copied ciphertext won't decrypt)."""
    return f"webhook:{endpoint_id}:secret"
