"""Re-encrypt every secret the api stores under the keyring's primary key id.

Rotation of ``TOLLGATE_API_ENCRYPTION_KEYS``: put a new ``kid:key`` first (it becomes the primary and
encrypts from then on), keep the old entry after it (it still decrypts), run
``tollgate keys rotate-api-keys`` (this function), then drop the old entry. Each row is replaced with
a compare-and-set, so a concurrent change (a rotated webhook secret, say) wins and is not clobbered;
running it again finishes whatever a concurrent change skipped. Safe to run any number of times.
"""

from __future__ import annotations

from typing import Any

import msgspec
import structlog
from psycopg import AsyncConnection

from tollgate_api.auth.keyring import virtual_key_aad
from tollgate_api.encryption import repository as repo
from tollgate_api.webhooks.signing import secret_aad
from tollgate_common.crypto import Keyring

_log = structlog.get_logger("tollgate.encryption")


class RotationResult(msgspec.Struct):
    rotated: int
    unchanged: int
    primary_key_id: str


def _rotated(keyring: Keyring, token: str | None, aad: str) -> str | None:
    if token is None:
        return None
    return keyring.rotate(token, associated=aad) if keyring.needs_rotation(token) else token


async def rotate_encryption(conn: AsyncConnection[Any], keyring: Keyring) -> RotationResult:
    """Re-encrypt team virtual keys and webhook secrets not yet under the primary key id."""
    rotated = unchanged = 0
    for team in await repo.team_virtual_keys(conn):
        if not keyring.needs_rotation(team.virtual_key_encrypted):
            unchanged += 1
            continue
        new = keyring.rotate(team.virtual_key_encrypted, associated=virtual_key_aad(team.id))
        rotated += await repo.replace_team_virtual_key(
            conn, team_id=team.id, old=team.virtual_key_encrypted, new=new
        )
    for endpoint in await repo.webhook_secrets(conn):
        aad = secret_aad(endpoint.id)
        new_secret = _rotated(keyring, endpoint.secret_encrypted, aad)
        new_previous = _rotated(keyring, endpoint.previous_secret_encrypted, aad)
        if new_secret == endpoint.secret_encrypted and new_previous == endpoint.previous_secret_encrypted:
            unchanged += 1
            continue
        assert new_secret is not None
        rotated += await repo.replace_webhook_secret(
            conn,
            endpoint_id=endpoint.id,
            old=endpoint.secret_encrypted,
            new=new_secret,
            old_previous=endpoint.previous_secret_encrypted,
            new_previous=new_previous,
        )
    _log.info("api_secrets_reencrypted", rotated=rotated, unchanged=unchanged, primary=keyring.primary)
    return RotationResult(rotated=rotated, unchanged=unchanged, primary_key_id=keyring.primary)
