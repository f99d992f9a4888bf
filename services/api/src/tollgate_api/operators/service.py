"""Operators: argon2id passwords, login sessions and automation tokens (both opaque bearer tokens,
stored as SHA-256), users managed by admins, and the first admin created at start-up.

The bootstrap runs under a transaction-scoped advisory lock, so replicas starting together create
at most one operator, and only when none exists (never through an open setup endpoint).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import anyio.to_thread
import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from tollgate_api.audit import service as audit
from tollgate_api.audit.service import Actor
from tollgate_api.auth.throttle import LoginThrottle
from tollgate_api.errors import BadRequest, InvalidCredentials, NotFound, Unauthorized
from tollgate_api.operators import repository
from tollgate_api.operators.schemas import OperatorIn, OperatorOut, Role, TokenIssued, TokenOut
from tollgate_common.crypto import generate_key, hash_key, key_hint
from tollgate_common.db import connection, transaction

_log = structlog.get_logger("tollgate.operators")

SESSION_PREFIX: Final = "tgs_"
AUTOMATION_PREFIX: Final = "tga_"
_BOOTSTRAP_LOCK: Final = int.from_bytes(
    hashlib.sha256(b"tollgate-bootstrap-admin").digest()[:8], "big", signed=True
)
_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
_DUMMY_HASH: Final = _hasher.hash("tollgate-timing-equaliser")


@dataclass(frozen=True, slots=True)
class OperatorPrincipal:
    operator_id: uuid.UUID
    email: str
    role: Role
    token_id: uuid.UUID
    token_kind: str

    @property
    def actor_name(self) -> str:
        return f"operator:{self.email}" if self.token_kind == "session" else f"token:{self.token_id}"


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password)


async def _verify(password_hash: str, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(check)


def _operator_out(row: repository.Operator) -> OperatorOut:
    return OperatorOut(
        id=row.id, email=row.email, role=row.role, disabled_at=row.disabled_at, created_at=row.created_at
    )


async def bootstrap_admin(
    pool: AsyncConnectionPool[AsyncConnection[Any]], *, email: str | None, password: str
) -> bool:
    """Create the first admin when no operator exists; True when one was created."""
    if not email or not password:
        return False
    async with connection(pool) as conn:
        if await repository.count(conn) > 0:  # the common case: no hashing, no lock
            return False
    password_hash = await hash_password(password)
    async with transaction(pool) as conn:
        await repository.bootstrap_lock(conn, _BOOTSTRAP_LOCK)
        if await repository.count(conn) > 0:
            return False
        row = await repository.create(conn, email=email, password_hash=password_hash, role="admin")
        await audit.record(
            conn,
            Actor("system:bootstrap"),
            "operator.bootstrap",
            target_type="operator",
            target_id=row.id,
            after=_operator_out(row),
        )
    _log.info("bootstrap_admin_created", operator_id=str(row.id))
    return True


async def login(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    throttle: LoginThrottle,
    *,
    email: str,
    password: str,
    ttl_s: int,
    ip: str | None,
) -> tuple[str, datetime]:
    """A session token for valid credentials; the same 401 for unknown email and wrong password."""
    await throttle.check(email, ip)
    async with connection(pool) as conn:
        row = await repository.get_by_email(conn, email)
    ok = await _verify(row.password_hash if row else _DUMMY_HASH, password)
    if row is None or not ok or row.disabled_at is not None:
        await throttle.failed(email, ip)
        _log.info("operator_login_refused")
        raise InvalidCredentials()
    await throttle.succeeded(email, ip)
    token = generate_key(SESSION_PREFIX)
    expires_at = datetime.now(UTC) + timedelta(seconds=ttl_s)
    async with transaction(pool) as conn:
        await repository.token_create(
            conn,
            operator_id=row.id,
            kind="session",
            name="login",
            token_hash=hash_key(token),
            token_hint=key_hint(token),
            expires_at=expires_at,
        )
        await audit.record(
            conn,
            Actor(f"operator:{row.email}", ip),
            "operator.login",
            target_type="operator",
            target_id=row.id,
        )
    return token, expires_at


async def logout(pool: AsyncConnectionPool[AsyncConnection[Any]], actor: Actor, token: str) -> None:
    async with transaction(pool) as conn:
        if await repository.token_revoke_by_hash(conn, hash_key(token)):
            await audit.record(conn, actor, "operator.logout", target_type="operator", target_id=None)


async def authenticate(pool: AsyncConnectionPool[AsyncConnection[Any]], token: str) -> OperatorPrincipal:
    """The operator behind a session or automation token; :class:`Unauthorized` otherwise."""
    if not token.startswith((SESSION_PREFIX, AUTOMATION_PREFIX)) or len(token) > 200:
        raise Unauthorized("Invalid token.")
    async with connection(pool) as conn:
        row = await repository.token_auth(conn, hash_key(token))
    now = datetime.now(UTC)
    if (
        row is None
        or row.revoked_at is not None
        or row.disabled_at is not None
        or (row.expires_at is not None and row.expires_at <= now)
    ):
        raise Unauthorized("Invalid or expired token.")
    return OperatorPrincipal(
        operator_id=row.operator_id,
        email=row.email,
        role=row.role,
        token_id=row.token_id,
        token_kind=row.kind,
    )


async def issue_token(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    principal: OperatorPrincipal,
    actor: Actor,
    *,
    name: str,
    expires_at: datetime | None,
) -> TokenIssued:
    if expires_at is not None and expires_at.tzinfo is None:
        raise BadRequest("expires_at must carry a timezone")
    token = generate_key(AUTOMATION_PREFIX)
    async with transaction(pool) as conn:
        row = await repository.token_create(
            conn,
            operator_id=principal.operator_id,
            kind="automation",
            name=name,
            token_hash=hash_key(token),
            token_hint=key_hint(token),
            expires_at=expires_at,
        )
        issued = TokenIssued(
            id=row.id,
            name=row.name,
            token=token,
            token_hint=row.token_hint,
            expires_at=row.expires_at,
            created_at=row.created_at,
        )
        await audit.record(
            conn, actor, "admin_token.issue", target_type="admin_token", target_id=row.id, after=issued
        )
    return issued


async def list_tokens(
    pool: AsyncConnectionPool[AsyncConnection[Any]], principal: OperatorPrincipal
) -> list[TokenOut]:
    async with connection(pool) as conn:
        rows = await repository.token_list(conn, principal.operator_id)
    return [
        TokenOut(
            id=r.id,
            name=r.name,
            token_hint=r.token_hint,
            expires_at=r.expires_at,
            revoked_at=r.revoked_at,
            created_at=r.created_at,
        )
        for r in rows
    ]


async def revoke_token(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    principal: OperatorPrincipal,
    actor: Actor,
    token_id: uuid.UUID,
) -> None:
    async with transaction(pool) as conn:
        mine = {r.id for r in await repository.token_list(conn, principal.operator_id)}
        if token_id not in mine or not await repository.token_revoke(conn, token_id):
            raise NotFound("Token not found.")
        await audit.record(conn, actor, "admin_token.revoke", target_type="admin_token", target_id=token_id)


async def create_operator(
    pool: AsyncConnectionPool[AsyncConnection[Any]], actor: Actor, data: OperatorIn
) -> OperatorOut:
    password_hash = await hash_password(data.password)
    async with transaction(pool) as conn:
        row = await repository.create(conn, email=data.email, password_hash=password_hash, role=data.role)
        out = _operator_out(row)
        await audit.record(
            conn, actor, "operator.create", target_type="operator", target_id=row.id, after=out
        )
    return out


async def list_operators(pool: AsyncConnectionPool[AsyncConnection[Any]]) -> list[OperatorOut]:
    async with connection(pool) as conn:
        return [_operator_out(r) for r in await repository.list_all(conn)]


async def disable_operator(
    pool: AsyncConnectionPool[AsyncConnection[Any]], actor: Actor, operator_id: uuid.UUID
) -> OperatorOut:
    async with transaction(pool) as conn:
        before = await repository.get(conn, operator_id)
        if before is None:
            raise NotFound("Operator not found.")
        row = await repository.disable(conn, operator_id)
        assert row is not None
        await repository.token_revoke_by_operator(conn, operator_id)
        out = _operator_out(row)
        await audit.record(
            conn,
            actor,
            "operator.disable",
            target_type="operator",
            target_id=operator_id,
            before=_operator_out(before),
            after=out,
        )
    return out


async def change_password(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    principal: OperatorPrincipal,
    actor: Actor,
    *,
    current: str,
    new: str,
) -> None:
    """Change one's own password after checking the current one; other sessions and tokens stay."""
    if len(new) < 12 or len(new) > 1024:
        raise BadRequest("The new password must be 12 to 1024 characters long.")
    async with connection(pool) as conn:
        row = await repository.get(conn, principal.operator_id)
    if row is None or not await _verify(row.password_hash, current):
        raise InvalidCredentials("The current password is wrong.")
    password_hash = await hash_password(new)
    async with transaction(pool) as conn:
        await repository.set_password_hash(conn, principal.operator_id, password_hash)
        await audit.record(
            conn, actor, "operator.password_change", target_type="operator", target_id=principal.operator_id
        )
