"""Virtual keys: authentication on the data plane (:class:`KeyAuth`) and their administration
(:class:`KeyAdmin`).

Keys are ``tgv_`` + 256 random bits (URL-safe), stored only as SHA-256 hex (tollgate_common.crypto).

Auth cache and revocation: each replica caches hash → key for ``cache_ttl_s`` (default 30 s). Every
admin change to a key (update, block, unblock, regenerate, delete) increments ``<prefix>keys:version`` in
Redis; each replica compares that counter at most every ``check_interval_s`` (500 ms) on the request path
and drops its whole cache when it moved, so a revoked key stops on every replica within a second. Expiry
is checked on every request against the cached ``expires_at``. If Redis cannot be read, the cache is
dropped as well (every request then asks Postgres, the source of truth) — revocation is never skipped.
"""

from __future__ import annotations

import asyncio
import datetime
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from tollgate_common.crypto import generate_key, hash_key
from tollgate_common.patching import patched
from tollgate_router.db import models
from tollgate_router.errors import InvalidKey, KeyBlocked, ModelNotAllowed
from tollgate_router.keys import repository as repo
from tollgate_router.keys import schemas
from tollgate_router.keys.errors import KeyNotFound

if TYPE_CHECKING:
    from tollgate_router.limits.service import Limiter

_log = structlog.get_logger("tollgate.router.keys")

Pool = AsyncConnectionPool[AsyncConnection[Any]]

KEY_PREFIX = "tgv_"
_SHOWN_PREFIX_LEN = len(KEY_PREFIX) + 8
_MAX_KEY_LEN = 256


@dataclass(frozen=True, slots=True)
class AuthedKey:
    id: uuid.UUID
    owner_ref: str
    allowed_models: frozenset[str] | None
    rpm: int | None
    tpm: int | None
    budget_micro_usd: int | None
    budget_period: str
    log_prompts: bool


@dataclass(frozen=True, slots=True)
class _Entry:
    key: AuthedKey | None  # None: no such key (negative cache)
    blocked: bool
    expires_at: datetime.datetime | None
    fetched_at: float


def version_key(prefix: str) -> str:
    return f"{prefix}keys:version"


def authed_key(row: models.VirtualKey) -> AuthedKey:
    return AuthedKey(
        id=row.id,
        owner_ref=row.owner_ref,
        allowed_models=None if row.allowed_models is None else frozenset(row.allowed_models),
        rpm=row.rpm,
        tpm=row.tpm,
        budget_micro_usd=row.budget_micro_usd,
        budget_period=row.budget_period,
        log_prompts=row.log_prompts,
    )


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class KeyAuth:
    """app.state.key_auth: virtual-key authentication with a revocable in-process cache."""

    def __init__(
        self,
        *,
        pool: Pool,
        redis: Redis,
        prefix: str,
        cache_ttl_s: float = 30.0,
        negative_ttl_s: float = 5.0,
        check_interval_s: float = 0.5,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime.datetime] = _utcnow,
    ) -> None:
        self._pool = pool
        self._redis = redis
        self._version_key = version_key(prefix)
        self._ttl = cache_ttl_s
        self._negative_ttl = negative_ttl_s
        self._interval = check_interval_s
        self._max = max_entries
        self._clock = clock
        self._now = now
        self._cache: dict[str, _Entry] = {}
        self._inflight: dict[str, asyncio.Future[_Entry]] = {}
        self._version: bytes | str | None = None
        self._generation = 0  # bumped whenever the cache is dropped
        self._next_check = 0.0

    async def authenticate(self, raw_key: str) -> AuthedKey:
        """The key behind ``raw_key``; raises InvalidKey (unknown, expired, deleted) or KeyBlocked."""
        if not raw_key.startswith(KEY_PREFIX) or len(raw_key) > _MAX_KEY_LEN:
            raise InvalidKey("The API key is not valid.")
        now = self._clock()
        if now >= self._next_check:
            await self._check_revocations(now)
        digest = hash_key(raw_key)
        entry = self._cache.get(digest)
        if entry is None or now - entry.fetched_at > (self._ttl if entry.key else self._negative_ttl):
            entry = await self._load(digest)
        if entry.key is None:
            raise InvalidKey("The API key is not valid.")
        if entry.expires_at is not None and self._now() >= entry.expires_at:
            raise InvalidKey("The API key has expired.")
        if entry.blocked:
            raise KeyBlocked("The API key is blocked.")
        return entry.key

    def check_model(self, key: AuthedKey, model: str) -> None:
        if key.allowed_models is not None and model not in key.allowed_models:
            raise ModelNotAllowed(f"This key may not use the model '{model}'.")

    def allows(self, key: AuthedKey, model: str) -> bool:
        return key.allowed_models is None or model in key.allowed_models

    def forget_all(self) -> None:
        self._cache.clear()
        self._generation += 1

    async def _check_revocations(self, now: float) -> None:
        # Claim the check first so concurrent requests don't all ask Redis.
        self._next_check = now + self._interval
        try:
            # shielded: redis-py can lose a cancellation that lands mid-command (see catalog)
            version = await asyncio.shield(self._redis.get(self._version_key))
        except Exception as exc:
            _log.warning("key_revocation_check_failed", error=type(exc).__name__)
            self.forget_all()
            self._next_check = now  # check again on the next request
            return
        if version != self._version:
            if self._cache:
                _log.info("key_cache_invalidated", entries=len(self._cache))
            self.forget_all()
            self._version = version

    async def _load(self, digest: str) -> _Entry:
        pending = self._inflight.get(digest)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[_Entry] = asyncio.get_running_loop().create_future()
        self._inflight[digest] = future
        generation = self._generation
        try:
            row = await repo.key_get_by_hash(self._pool, digest)
            entry = _Entry(
                key=None if row is None else authed_key(row),
                blocked=bool(row and row.blocked),
                expires_at=row.expires_at if row else None,
                fetched_at=self._clock(),
            )
            # A revocation seen while we read may predate our row: use it for this call only.
            if generation == self._generation:
                if len(self._cache) >= self._max:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[digest] = entry
            future.set_result(entry)
            return entry
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters get it, nobody warns
            raise
        finally:
            del self._inflight[digest]


class KeyAdmin:
    """The service behind /admin/keys; every change to an existing key is broadcast as a revocation."""

    def __init__(
        self,
        *,
        pool: Pool,
        redis: Redis,
        prefix: str,
        limiter: Limiter,
        logged_spend: Callable[[AuthedKey], Awaitable[int]] | None = None,
    ) -> None:
        self._pool = pool
        self._redis = redis
        self._version_key = version_key(prefix)
        self._limiter = limiter
        # current-period spend of keys without a budget (no Redis counter): read from the spend log
        self.logged_spend = logged_spend

    async def _broadcast(self) -> None:
        await self._redis.incr(self._version_key)

    async def create(self, data: schemas.KeyCreate) -> schemas.KeyCreated:
        raw = generate_key(KEY_PREFIX)
        row = await repo.key_insert(
            self._pool,
            id=uuid.uuid4(),
            key_hash=hash_key(raw),
            key_prefix=raw[:_SHOWN_PREFIX_LEN],
            owner_ref=data.owner_ref,
            allowed_models=data.allowed_models,
            rpm=data.rpm,
            tpm=data.tpm,
            budget_micro_usd=data.budget_micro_usd,
            budget_period=data.budget_period,
            expires_at=data.expires_at,
            metadata=data.metadata,
            log_prompts=data.log_prompts,
        )
        _log.info("virtual_key_created", key_id=str(row.id), owner_ref=row.owner_ref)
        return schemas.key_created(row, raw)

    async def list_keys(self, *, owner_ref: str | None, limit: int = 1000) -> list[schemas.KeyOut]:
        return [schemas.key_out(r) for r in await repo.key_list(self._pool, owner_ref=owner_ref, limit=limit)]

    async def info(self, key_id: uuid.UUID) -> schemas.KeyInfo:
        row = await self._get(key_id)
        key = authed_key(row)
        start, spend = await self._limiter.current_spend(key)
        if key.budget_micro_usd is None and self.logged_spend is not None:
            spend = await self.logged_spend(key)
        return schemas.key_info(row, period_start=start, spend=spend)

    async def update(self, key_id: uuid.UUID, patch: schemas.KeyPatch) -> schemas.KeyOut:
        cur = await self._get(key_id)
        row = await repo.key_update(
            self._pool,
            id=key_id,
            owner_ref=patched(patch.owner_ref, cur.owner_ref),
            allowed_models=patched(patch.allowed_models, cur.allowed_models),
            rpm=patched(patch.rpm, cur.rpm),
            tpm=patched(patch.tpm, cur.tpm),
            budget_micro_usd=patched(patch.budget_micro_usd, cur.budget_micro_usd),
            budget_period=patched(patch.budget_period, cur.budget_period),
            expires_at=patched(patch.expires_at, cur.expires_at),
            metadata=patched(patch.metadata, cur.metadata),
            log_prompts=patched(patch.log_prompts, cur.log_prompts),
        )
        if row is None:
            raise KeyNotFound()
        await self._broadcast()
        _log.info("virtual_key_updated", key_id=str(key_id))
        return schemas.key_out(row)

    async def set_blocked(self, key_id: uuid.UUID, *, blocked: bool) -> schemas.KeyOut:
        row = await repo.key_set_blocked(self._pool, key_id, blocked=blocked)
        if row is None:
            raise KeyNotFound()
        await self._broadcast()
        _log.info("virtual_key_blocked" if blocked else "virtual_key_unblocked", key_id=str(key_id))
        return schemas.key_out(row)

    async def regenerate(self, key_id: uuid.UUID) -> schemas.KeyCreated:
        raw = generate_key(KEY_PREFIX)
        row = await repo.key_set_hash(
            self._pool, key_id, key_hash=hash_key(raw), key_prefix=raw[:_SHOWN_PREFIX_LEN]
        )
        if row is None:
            raise KeyNotFound()
        await self._broadcast()
        _log.info("virtual_key_regenerated", key_id=str(key_id))
        return schemas.key_created(row, raw)

    async def delete(self, key_id: uuid.UUID) -> None:
        if not await repo.key_soft_delete(self._pool, key_id):
            raise KeyNotFound()
        await self._broadcast()
        _log.info("virtual_key_deleted", key_id=str(key_id))

    async def with_budget(self) -> list[AuthedKey]:
        return [authed_key(r) for r in await repo.key_list_with_budget(self._pool)]

    async def budgets(self) -> list[schemas.KeyBudget]:
        """Every live key with a budget and its current-period spend (the Redis counter that admits
        calls), in one answer: the api's budget alerts read this instead of one key at a time."""
        out = []
        for key in await self.with_budget():
            assert key.budget_micro_usd is not None  # the query selects keys with a budget only
            start, spend = await self._limiter.current_spend(key)
            out.append(
                schemas.KeyBudget(
                    key_id=key.id,
                    owner_ref=key.owner_ref,
                    budget_micro_usd=key.budget_micro_usd,
                    budget_period=key.budget_period,
                    period_start=start,
                    period_spend_micro_usd=spend,
                )
            )
        return out

    async def _get(self, key_id: uuid.UUID) -> models.VirtualKey:
        row = await repo.key_get(self._pool, key_id)
        if row is None:
            raise KeyNotFound()
        return row
