"""Keys and secrets: generation, hashing for lookup, constant-time checks, AES-GCM at rest.

* API keys and virtual keys: 256 random bits, URL-safe, with a readable prefix
  (``tg_live_…`` team keys, ``tgv_…`` virtual keys). Stored only as SHA-256 hex: a key has enough
  entropy that a fast hash is the right tool (no salt or KDF needed, lookups stay O(1)).
* Provider keys and other recoverable secrets: AES-256-GCM under a key-encryption key (KEK) named
  by a key id, so KEKs can rotate: ``v1:<kid>:<nonce b64>:<ciphertext b64>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32


def generate_key(prefix: str) -> str:
    """A new secret key: ``prefix`` + 43 URL-safe characters (256 bits)."""
    return prefix + secrets.token_urlsafe(KEY_BYTES)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def key_hint(key: str) -> str:
    """What may be shown of a secret: its last four characters."""
    return key[-4:] if len(key) >= 8 else ""


class DecryptionError(ValueError):
    """Ciphertext is malformed, tampered with, or under an unknown key id."""


class Keyring:
    """AES-256-GCM with rotating key-encryption keys.

    ``keys`` maps key id → 32-byte key; ``primary`` is the id used to encrypt. Old ids stay
    to decrypt until every value is re-encrypted (see ``rotate``).
    """

    def __init__(self, keys: Mapping[str, bytes], primary: str) -> None:
        if primary not in keys:
            raise ValueError("primary key id is not in the keyring")
        for kid, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"key {kid!r} must be 32 bytes")
            if ":" in kid:
                raise ValueError("key ids may not contain ':'")
        self._keys = {kid: AESGCM(key) for kid, key in keys.items()}
        self.primary = primary

    @classmethod
    def from_setting(cls, value: str) -> Keyring:
        """Parse ``kid1:base64key1,kid2:base64key2`` — the first entry is primary."""
        keys: dict[str, bytes] = {}
        primary = ""
        for part in (p.strip() for p in value.split(",") if p.strip()):
            kid, _, b64 = part.partition(":")
            keys[kid] = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
            primary = primary or kid
        if not keys:
            raise ValueError("empty keyring")
        return cls(keys, primary)

    @staticmethod
    def new_key_setting(kid: str = "k1") -> str:
        return f"{kid}:{base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip('=')}"

    def encrypt(self, plaintext: str, *, associated: str = "") -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._keys[self.primary].encrypt(nonce, plaintext.encode("utf-8"), associated.encode())
        return ":".join(
            ("v1", self.primary, base64.b64encode(nonce).decode(), base64.b64encode(sealed).decode())
        )

    def decrypt(self, token: str, *, associated: str = "") -> str:
        try:
            version, kid, nonce_b64, sealed_b64 = token.split(":")
            if version != "v1" or kid not in self._keys:
                raise DecryptionError("unknown key id or version")
            plain = self._keys[kid].decrypt(
                base64.b64decode(nonce_b64), base64.b64decode(sealed_b64), associated.encode()
            )
        except DecryptionError:
            raise
        except Exception as exc:
            raise DecryptionError("ciphertext does not verify") from exc
        return plain.decode("utf-8")

    def key_id_of(self, token: str) -> str:
        return token.split(":", 2)[1]

    def needs_rotation(self, token: str) -> bool:
        return self.key_id_of(token) != self.primary

    def rotate(self, token: str, *, associated: str = "") -> str:
        return self.encrypt(self.decrypt(token, associated=associated), associated=associated)
