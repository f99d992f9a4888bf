"""Team API keys: ``tg_live_`` + 256 random bits, stored as SHA-256, several per team.

Revoking sets ``revoked_at`` (now); rotating issues a new key and sets the old one's ``revoked_at``
to now + grace, so it keeps working for the grace period and stops by itself. Both bump the
revocation counter after commit so every replica drops its auth cache (see ``auth.revocation``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from tollgate_api.audit import service as audit
from tollgate_api.audit.service import Actor
from tollgate_api.auth.revocation import Revocations
from tollgate_api.auth.team import TEAM_KEY_PREFIX
from tollgate_api.errors import BadRequest, NotFound, TeamNotFound
from tollgate_api.keys import repository
from tollgate_api.keys.schemas import KeyIssued, KeyOut
from tollgate_api.modelgroups import repository as teams_lookup
from tollgate_common.crypto import generate_key, hash_key, key_hint
from tollgate_common.db import connection, transaction


def _out(row: repository.TeamKey, now: datetime | None = None) -> KeyOut:
    now = now or datetime.now(UTC)
    active = (row.revoked_at is None or row.revoked_at > now) and (
        row.expires_at is None or row.expires_at > now
    )
    data = msgspec.structs.asdict(row)
    data.pop("key_hash")
    return KeyOut(**data, active=active)


async def issue_in(
    conn: AsyncConnection[Any],
    *,
    team_id: uuid.UUID,
    name: str,
    expires_at: datetime | None,
    created_by: str,
) -> KeyIssued:
    """Issue a key inside the caller's transaction; the plaintext is in the result, once."""
    if expires_at is not None and expires_at.tzinfo is None:
        raise BadRequest("expires_at must carry a timezone")
    key = generate_key(TEAM_KEY_PREFIX)
    row = await repository.create(
        conn,
        team_id=team_id,
        name=name,
        key_hash=hash_key(key),
        key_hint=key_hint(key),
        expires_at=expires_at,
        created_by=created_by,
    )
    return KeyIssued(**msgspec.structs.asdict(_out(row)), api_key=key)


async def _require_team(conn: AsyncConnection[Any], team_id: uuid.UUID) -> None:
    if await teams_lookup.team_get(conn, team_id) is None:
        raise TeamNotFound()


async def issue_key(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    actor: Actor,
    team_id: uuid.UUID,
    *,
    name: str,
    expires_at: datetime | None,
) -> KeyIssued:
    async with transaction(pool) as conn:
        await _require_team(conn, team_id)
        issued = await issue_in(
            conn, team_id=team_id, name=name, expires_at=expires_at, created_by=actor.name
        )
        await audit.record(conn, actor, "team_key.issue", target_type="team", target_id=team_id, after=issued)
    return issued


async def list_keys(pool: AsyncConnectionPool[AsyncConnection[Any]], team_id: uuid.UUID) -> list[KeyOut]:
    async with connection(pool) as conn:
        await _require_team(conn, team_id)
        rows = await repository.list_by_team(conn, team_id)
    now = datetime.now(UTC)
    return [_out(r, now) for r in rows]


async def revoke_key(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    revocations: Revocations,
    actor: Actor,
    team_id: uuid.UUID,
    key_id: uuid.UUID,
) -> KeyOut:
    async with transaction(pool) as conn:
        before = await repository.get(conn, team_id=team_id, key_id=key_id)
        if before is None:
            raise NotFound("Key not found.")
        row = await repository.revoke(conn, team_id=team_id, key_id=key_id, at=datetime.now(UTC))
        assert row is not None
        out = _out(row)
        await audit.record(
            conn,
            actor,
            "team_key.revoke",
            target_type="team_key",
            target_id=key_id,
            before=_out(before),
            after=out,
        )
    await revocations.bump()
    return out


async def rotate_key(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    revocations: Revocations,
    actor: Actor,
    team_id: uuid.UUID,
    key_id: uuid.UUID,
    *,
    grace_s: int,
    name: str | None,
) -> KeyIssued:
    """A new key replacing ``key_id``; the old one works for ``grace_s`` more seconds."""
    async with transaction(pool) as conn:
        old = await repository.get(conn, team_id=team_id, key_id=key_id)
        if old is None:
            raise NotFound("Key not found.")
        now = datetime.now(UTC)
        if old.revoked_at is not None and old.revoked_at <= now:
            raise BadRequest("The key is already revoked.")
        issued = await issue_in(
            conn, team_id=team_id, name=name or old.name, expires_at=old.expires_at, created_by=actor.name
        )
        revoked = await repository.revoke(
            conn, team_id=team_id, key_id=key_id, at=now + timedelta(seconds=grace_s)
        )
        await repository.set_rotated(conn, key_id=key_id, rotated_to=issued.id)
        assert revoked is not None
        await audit.record(
            conn,
            actor,
            "team_key.rotate",
            target_type="team_key",
            target_id=key_id,
            before=_out(old),
            after={"new_key": issued, "grace_s": grace_s},
        )
    await revocations.bump()
    return issued
