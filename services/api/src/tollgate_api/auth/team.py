"""Team API key authentication for ``/api``: the key decides the team.

``Authorization: Bearer tg_live_…`` → SHA-256 → one query (key, team, plan) → :class:`TeamPrincipal`,
cached in process for at most ``settings.auth.auth_cache_ttl_s`` and dropped whenever the revocation
counter moves (:mod:`tollgate_api.auth.revocation`), so a revoked key, an expired one, or a
suspended team is refused on every replica within a second. Keys rotated with a grace period carry
their cut-off time and are refused past it without any broadcast.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import structlog
from litestar import Request
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from tollgate_api.auth.keyring import require_keyring, virtual_key_aad
from tollgate_api.auth.repository import TeamAuthRow, team_auth_by_key_hash, touch_key
from tollgate_api.auth.revocation import Revocations
from tollgate_api.errors import TeamNotActive, Unauthorized
from tollgate_api.plans.pricing import Plan
from tollgate_common.crypto import Keyring, hash_key
from tollgate_common.db import connection
from tollgate_common.env import Secret

TEAM_KEY_PREFIX: Final = "tg_live_"
STATE_KEY: Final = "team_auth"
_CACHE_MAX: Final = 50_000
_READ_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
# ``team_keys.last_used_at`` is written at most this often per key and process (off the request path).
TOUCH_INTERVAL_S: Final = 60.0
_log = structlog.get_logger("tollgate.auth")


@dataclass(frozen=True, slots=True)
class TeamPrincipal:
    team_id: uuid.UUID
    organization_id: uuid.UUID
    key_id: uuid.UUID
    status: str
    show_tokens: bool
    plan: Plan
    virtual_key: Secret
    job_ttl_s: int
    store_prompts: bool
    retention_days: int = 30


@dataclass(frozen=True, slots=True)
class _Entry:
    fresh_until: float
    principal: TeamPrincipal | None
    valid_until: datetime | None


def _principal(row: TeamAuthRow, keyring: Keyring) -> TeamPrincipal:
    plan = Plan(
        id=row.plan_id,
        name=row.plan_name,
        kind=row.plan_kind,
        credits_per_job=row.credits_per_job,
        per_job_type={str(k): int(v) for k, v in (row.per_job_type or {}).items()},
        credits_per_usd=row.credits_per_usd,
        markup_bps=row.markup_bps,
        tokens_per_credit=row.tokens_per_credit,
        min_credits_per_job=row.min_credits_per_job,
        usd_micro_per_credit=row.usd_micro_per_credit,
        failed_job_policy=row.failed_job_policy,
        default_hold_credits=row.default_hold_credits,
        max_hold_credits=row.max_hold_credits,
    )
    return TeamPrincipal(
        team_id=row.team_id,
        organization_id=row.organization_id,
        key_id=row.key_id,
        # A disabled organization suspends all of its teams.
        status="suspended" if row.organization_status == "disabled" else row.status,
        show_tokens=row.show_tokens,
        plan=plan,
        virtual_key=Secret(
            keyring.decrypt(row.virtual_key_encrypted, associated=virtual_key_aad(row.team_id))
        ),
        job_ttl_s=row.job_ttl_s,
        store_prompts=row.store_prompts,
        retention_days=row.retention_days,
    )


class TeamAuthenticator:
    """Per-process cache of key hash → principal, with revocation honoured via :class:`Revocations`."""

    def __init__(
        self,
        pool: AsyncConnectionPool[AsyncConnection[Any]],
        revocations: Revocations,
        keyring: Keyring | None,
        *,
        ttl_s: float,
    ) -> None:
        self._pool = pool
        self._revocations = revocations
        self._keyring = keyring
        self._ttl = max(0.0, ttl_s)
        self._cache: dict[str, _Entry] = {}
        self._touched: dict[uuid.UUID, float] = {}
        self._touching: set[asyncio.Task[None]] = set()

    @property
    def revocations(self) -> Revocations:
        return self._revocations

    def forget(self) -> None:
        self._cache.clear()

    async def authenticate(self, key: str) -> TeamPrincipal:
        """The principal for ``key``; :class:`Unauthorized` when unknown, revoked or expired."""
        if not key.startswith(TEAM_KEY_PREFIX) or len(key) > 200:
            raise Unauthorized("Invalid API key.")
        if await self._revocations.changed():
            self._cache.clear()
        digest = hash_key(key)
        now = time.monotonic()
        entry = self._cache.get(digest)
        if entry is None or entry.fresh_until <= now:
            entry = await self._load(digest, now)
        if entry.principal is None:
            raise Unauthorized("Invalid API key.")
        if entry.valid_until is not None and entry.valid_until <= datetime.now(UTC):
            raise Unauthorized("Invalid API key.")
        self._touch(entry.principal.key_id, now)
        return entry.principal

    def _touch(self, key_id: uuid.UUID, now: float) -> None:
        """Schedule a ``last_used_at`` write when this process has not written one for a while."""
        last = self._touched.get(key_id)
        if last is not None and now - last < TOUCH_INTERVAL_S:
            return
        if len(self._touched) >= _CACHE_MAX:
            self._touched.clear()
        self._touched[key_id] = now
        task = asyncio.ensure_future(self._write_touch(key_id))
        self._touching.add(task)
        task.add_done_callback(self._touching.discard)

    async def _write_touch(self, key_id: uuid.UUID) -> None:
        try:
            async with connection(self._pool) as conn:
                await touch_key(conn, key_id)
        except Exception as exc:  # best effort: a missed timestamp must never fail a request
            _log.warning("key_touch_failed", key_id=str(key_id), error=type(exc).__name__)

    async def drain_touches(self) -> None:
        """Wait for pending ``last_used_at`` writes (shutdown and tests)."""
        while self._touching:
            await asyncio.gather(*list(self._touching), return_exceptions=True)

    async def _load(self, digest: str, now: float) -> _Entry:
        async with connection(self._pool) as conn:
            row = await team_auth_by_key_hash(conn, digest)
        principal: TeamPrincipal | None = None
        valid_until: datetime | None = None
        if row is not None:
            principal = _principal(row, require_keyring(self._keyring))
            cutoffs = [t for t in (row.key_expires_at, row.key_revoked_at) if t is not None]
            valid_until = min(cutoffs) if cutoffs else None
        entry = _Entry(fresh_until=now + self._ttl, principal=principal, valid_until=valid_until)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[digest] = entry
        return entry


def bearer_token(request: Request[Any, Any, Any]) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def provide_team(request: Request[Any, Any, Any]) -> TeamPrincipal:
    """Litestar dependency for ``/api``: the authenticated team, or 401 / 403 problems.

    ``suspended`` teams may only read (GET); ``paused`` teams pass here and the job API refuses new
    jobs by looking at ``status``.
    """
    key = bearer_token(request)
    if key is None:
        raise Unauthorized("Missing API key.", headers={"WWW-Authenticate": "Bearer"})
    authenticator: TeamAuthenticator = request.app.state[STATE_KEY]
    principal = await authenticator.authenticate(key)
    structlog.contextvars.bind_contextvars(team_id=str(principal.team_id))
    if principal.status == "suspended" and request.method not in _READ_METHODS:
        raise TeamNotActive("The team is suspended.")
    return principal
