"""The model catalog: what the data plane routes to, and the admin operations that change it.

:class:`Catalog` is an in-memory snapshot of every enabled deployment (with its provider's decrypted key),
every fallback list and the model names. Every admin change bumps a version counter in Redis
(``<prefix>catalog:version``); each replica compares it at most every ``check_interval_s`` (500 ms) on
the request path and reloads from Postgres when it moved, so a change reaches every replica within a
second. The snapshot is also reloaded every ``max_age_s`` (60 s) in case the counter itself was lost
(Redis flushed). If Redis or Postgres is down the last good snapshot keeps serving (logged).

:class:`CatalogAdmin` is the service behind ``/admin/providers``, ``/admin/deployments`` and
``/admin/fallbacks``.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import msgspec
import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from tollgate_common.crypto import DecryptionError, Keyring, key_hint
from tollgate_common.env import Secret
from tollgate_common.patching import patched
from tollgate_router.catalog import repository as repo
from tollgate_router.catalog import schemas
from tollgate_router.catalog.errors import (
    DeploymentNotFound,
    EncryptionNotConfigured,
    FallbackNotFound,
    ProviderNotFound,
)
from tollgate_router.errors import ModelNotFound

_log = structlog.get_logger("tollgate.router.catalog")


Pool = AsyncConnectionPool[AsyncConnection[Any]]


@dataclass(frozen=True, slots=True)
class Prices:
    """Micro-USD per one million tokens."""

    input: int
    output: int
    cached_input: int
    cache_write: int


@dataclass(frozen=True, slots=True)
class Deployment:
    id: uuid.UUID
    model_name: str
    provider_kind: str
    provider_name: str
    base_url: str | None
    api_key: Secret | None  # decrypted; never logged (Secret masks itself)
    upstream_model: str
    weight: int
    prices: Prices
    rpm: int | None
    tpm: int | None
    timeout_s: float
    max_retries: int
    cache_ttl_s: int | None
    # the provider's settings overlaid by the deployment's own (e.g. azure ``api_version``)
    settings: Mapping[str, Any]
    # ``str(id)``, formatted once per catalog snapshot (the data plane sends it on every answer)
    id_text: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id_text", str(self.id))


@dataclass(frozen=True, slots=True)
class _Snapshot:
    by_model: Mapping[str, tuple[Deployment, ...]]
    fallbacks: Mapping[str, tuple[str, ...]]
    model_names: tuple[str, ...]


def version_key(prefix: str) -> str:
    return f"{prefix}catalog:version"


def provider_key_aad(provider_id: uuid.UUID) -> str:
    """Associated data binding a provider's ciphertext to its row (a copied ciphertext won't decrypt)."""
    return f"router.providers:{provider_id}"


class Catalog:
    """app.state.catalog: the data plane's view of deployments, fallbacks and model names."""

    def __init__(
        self,
        *,
        pool: Pool,
        redis: Redis,
        prefix: str,
        keyring: Keyring | None,
        check_interval_s: float = 0.5,
        max_age_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._max_age = max_age_s  # reload at least this often, even if the version key was lost
        self._redis = redis
        self._version_key = version_key(prefix)
        self._keyring = keyring
        self._interval = check_interval_s
        self._clock = clock
        self._snapshot: _Snapshot | None = None
        self._version: bytes | str | None = None
        self._next_check = 0.0
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def deployments(self, model: str) -> Sequence[Deployment]:
        """Enabled deployments of ``model``; raises :class:`ModelNotFound` if it has none."""
        snapshot = await self._fresh()
        found = snapshot.by_model.get(model)
        if not found:
            raise ModelNotFound(f"The model '{model}' does not exist.")
        return found

    async def fallbacks(self, model: str) -> Sequence[str]:
        return (await self._fresh()).fallbacks.get(model, ())

    async def model_names(self) -> Sequence[str]:
        return (await self._fresh()).model_names

    async def refresh(self) -> None:
        """Check the version now and reload if it moved (after a local admin change).

        Runs under the reload lock, so it waits out a reload already in flight (which may have read
        the catalog before the change) and then checks again: when it returns, this replica routes
        by the change.
        """
        async with self._lock:
            await self._check_and_reload()

    async def _fresh(self) -> _Snapshot:
        snapshot = self._snapshot
        # the request path never waits for another request's version check or reload
        if snapshot is not None and (self._clock() < self._next_check or self._lock.locked()):
            return snapshot
        async with self._lock:
            if self._snapshot is not None and self._clock() < self._next_check:
                return self._snapshot
            await self._check_and_reload()
            assert self._snapshot is not None
            return self._snapshot

    async def _check_and_reload(self) -> None:
        try:
            # shielded: redis-py can lose a cancellation that lands mid-command; the shield makes
            # the caller see it (the background tasks that read the catalog must stop on shutdown)
            version: bytes | str | None = await asyncio.shield(self._redis.get(self._version_key))
        except Exception as exc:  # Redis down: keep serving the snapshot we have
            if self._snapshot is None:
                version = None
            else:
                _log.warning("catalog_version_check_failed", error=type(exc).__name__)
                self._next_check = self._clock() + self._interval
                return
        stale = self._clock() - self._loaded_at >= self._max_age
        if self._snapshot is None or version != self._version or stale:
            try:
                self._snapshot = await self._load()
            except Exception as exc:
                if self._snapshot is None:
                    raise
                _log.warning("catalog_reload_failed", error=type(exc).__name__)
                self._next_check = self._clock() + self._interval
                return
            self._version = version
            self._loaded_at = self._clock()
            _log.info("catalog_loaded", models=len(self._snapshot.model_names))
        self._next_check = self._clock() + self._interval

    async def _load(self) -> _Snapshot:
        rows, fallbacks = await repo.load_snapshot(self._pool)
        by_model: dict[str, list[Deployment]] = {}
        for row in rows:
            api_key: Secret | None = None
            if row.api_key_enc:
                if self._keyring is None:
                    _log.error(
                        "catalog_provider_key_undecryptable", provider=row.provider_name, reason="no_keyring"
                    )
                else:
                    try:
                        api_key = Secret(
                            self._keyring.decrypt(
                                row.api_key_enc, associated=provider_key_aad(row.provider_id)
                            )
                        )
                    except DecryptionError:
                        _log.error(
                            "catalog_provider_key_undecryptable", provider=row.provider_name, reason="decrypt"
                        )
            settings = {**_as_dict(row.provider_settings), **_as_dict(row.settings)}
            by_model.setdefault(row.model_name, []).append(
                Deployment(
                    id=row.id,
                    model_name=row.model_name,
                    provider_kind=row.provider_kind,
                    provider_name=row.provider_name,
                    base_url=row.base_url,
                    api_key=api_key,
                    upstream_model=row.upstream_model,
                    weight=row.weight,
                    prices=Prices(
                        input=row.input_price_micro_usd_per_mtok,
                        output=row.output_price_micro_usd_per_mtok,
                        cached_input=row.cached_input_price_micro_usd_per_mtok,
                        cache_write=row.cache_write_price_micro_usd_per_mtok,
                    ),
                    rpm=row.rpm,
                    tpm=row.tpm,
                    timeout_s=float(row.timeout_s),
                    max_retries=row.max_retries,
                    cache_ttl_s=row.cache_ttl_s,
                    settings=settings,
                )
            )
        return _Snapshot(
            by_model={model: tuple(deps) for model, deps in by_model.items()},
            fallbacks={f.model_name: tuple(f.fallback_models) for f in fallbacks},
            model_names=tuple(sorted(by_model)),
        )


def _as_dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


# ------------------------------------------------------------------------------------- list prices


@dataclass(frozen=True, slots=True)
class PriceCatalog:
    source: str
    as_of: str
    prices: Mapping[str, Prices] = field(default_factory=dict)

    def lookup(self, *names: str) -> Prices | None:
        """Prices of the first name found (exact, then without a ``provider/`` prefix)."""
        for name in names:
            for candidate in (name, name.rsplit("/", 1)[-1]):
                found = self.prices.get(candidate.lower())
                if found is not None:
                    return found
        return None


@cache
def list_prices() -> PriceCatalog:
    """The bundled ``data/model_prices.json`` (public list prices, with source and date)."""
    text = resources.files("tollgate_router").joinpath("data/model_prices.json").read_text(encoding="utf-8")
    data = json.loads(text)
    prices: dict[str, Prices] = {}
    for name, entry in data["models"].items():
        price = Prices(
            input=int(entry["input"]),
            output=int(entry["output"]),
            cached_input=int(entry["cached_input"]),
            cache_write=int(entry["cache_write"]),
        )
        for alias in (name, *entry.get("aliases", ())):
            prices[alias.lower()] = price
    return PriceCatalog(source=str(data["source"]), as_of=str(data["as_of"]), prices=prices)


# ------------------------------------------------------------------------------------------ admin


class CatalogAdmin:
    """Providers, deployments and fallbacks; every change bumps the catalog version."""

    def __init__(
        self,
        *,
        pool: Pool,
        redis: Redis,
        prefix: str,
        keyring: Keyring | None,
        on_change: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._pool = pool
        self._redis = redis
        self._version_key = version_key(prefix)
        self._keyring = keyring
        self._on_change = on_change

    async def _bump(self) -> None:
        await self._redis.incr(self._version_key)
        if self._on_change is not None:
            await self._on_change()

    def _require_keyring(self) -> Keyring:
        if self._keyring is None:
            raise EncryptionNotConfigured(
                "Provider keys cannot be stored: set TOLLGATE_ROUTER_ENCRYPTION_KEYS (kid:base64key)."
            )
        return self._keyring

    def _encrypt(self, provider_id: uuid.UUID, api_key: str | None) -> tuple[str | None, str | None]:
        if not api_key:
            return None, None
        keyring = self._require_keyring()
        return keyring.encrypt(api_key, associated=provider_key_aad(provider_id)), key_hint(api_key)

    # providers
    async def create_provider(self, data: schemas.ProviderCreate) -> schemas.ProviderOut:
        provider_id = uuid.uuid4()
        enc, hint = self._encrypt(provider_id, data.api_key)
        row = await repo.provider_insert(
            self._pool,
            id=provider_id,
            name=data.name,
            kind=data.kind,
            base_url=data.base_url,
            api_key_enc=enc,
            api_key_hint=hint,
            settings=data.settings,
        )
        await self._bump()
        _log.info("provider_created", provider_id=str(row.id), kind=row.kind)
        return schemas.provider_out(row)

    async def list_providers(self) -> list[schemas.ProviderOut]:
        return [schemas.provider_out(row) for row in await repo.provider_list(self._pool)]

    async def get_provider(self, provider_id: uuid.UUID) -> schemas.ProviderOut:
        row = await repo.provider_get(self._pool, provider_id)
        if row is None:
            raise ProviderNotFound()
        return schemas.provider_out(row)

    async def update_provider(
        self, provider_id: uuid.UUID, patch: schemas.ProviderPatch
    ) -> schemas.ProviderOut:
        current = await repo.provider_get(self._pool, provider_id)
        if current is None:
            raise ProviderNotFound()
        row = await repo.provider_update(
            self._pool,
            id=provider_id,
            name=patched(patch.name, current.name),
            kind=patched(patch.kind, current.kind),
            base_url=patched(patch.base_url, current.base_url),
            settings=patched(patch.settings, current.settings),
        )
        if row is None:
            raise ProviderNotFound()
        if not isinstance(patch.api_key, msgspec.UnsetType):
            enc, hint = self._encrypt(provider_id, patch.api_key)
            row = await repo.provider_set_key(self._pool, id=provider_id, api_key_enc=enc, api_key_hint=hint)
            if row is None:
                raise ProviderNotFound()
        await self._bump()
        _log.info("provider_updated", provider_id=str(provider_id))
        return schemas.provider_out(row)

    async def rotate_provider_key(
        self, provider_id: uuid.UUID, data: schemas.ProviderKeyRotate
    ) -> schemas.ProviderOut:
        enc, hint = self._encrypt(provider_id, data.api_key)
        row = await repo.provider_set_key(self._pool, id=provider_id, api_key_enc=enc, api_key_hint=hint)
        if row is None:
            raise ProviderNotFound()
        await self._bump()
        _log.info("provider_key_rotated", provider_id=str(provider_id))
        return schemas.provider_out(row)

    async def delete_provider(self, provider_id: uuid.UUID) -> None:
        if not await repo.provider_delete(self._pool, provider_id):
            raise ProviderNotFound()
        await self._bump()
        _log.info("provider_deleted", provider_id=str(provider_id))

    async def rotate_encryption(self) -> schemas.RotationResult:
        """Re-encrypt every provider key under the keyring's primary key id (``make rotate-keys``)."""
        keyring = self._require_keyring()
        rotated = 0
        unchanged = 0
        for row in await repo.provider_list(self._pool):
            if not row.api_key_enc:
                continue
            if not keyring.needs_rotation(row.api_key_enc):
                unchanged += 1
                continue
            aad = provider_key_aad(row.id)
            new = keyring.rotate(row.api_key_enc, associated=aad)
            rotated += await repo.provider_reencrypt_key(
                self._pool, id=row.id, old_enc=row.api_key_enc, new_enc=new
            )
        if rotated:
            await self._bump()
        _log.info("provider_keys_reencrypted", rotated=rotated, unchanged=unchanged, primary=keyring.primary)
        return schemas.RotationResult(rotated=rotated, unchanged=unchanged, primary_key_id=keyring.primary)

    # deployments
    async def create_deployment(self, data: schemas.DeploymentCreate) -> schemas.DeploymentOut:
        if await repo.provider_get(self._pool, data.provider_id) is None:
            raise ProviderNotFound("The provider does not exist.")
        listed = list_prices().lookup(data.upstream_model, data.model_name) or Prices(0, 0, 0, 0)
        row = await repo.deployment_insert(
            self._pool,
            id=uuid.uuid4(),
            model_name=data.model_name,
            provider_id=data.provider_id,
            upstream_model=data.upstream_model,
            weight=data.weight,
            input_price=_price(data.input_price_micro_usd_per_mtok, listed.input),
            output_price=_price(data.output_price_micro_usd_per_mtok, listed.output),
            cached_input_price=_price(data.cached_input_price_micro_usd_per_mtok, listed.cached_input),
            cache_write_price=_price(data.cache_write_price_micro_usd_per_mtok, listed.cache_write),
            rpm=data.rpm,
            tpm=data.tpm,
            timeout_s=data.timeout_s,
            max_retries=data.max_retries,
            region=data.region,
            cache_ttl_s=data.cache_ttl_s,
            enabled=data.enabled,
            settings=data.settings,
        )
        await self._bump()
        _log.info("deployment_created", deployment_id=str(row.id), model=row.model_name)
        return schemas.deployment_out(row)

    async def list_deployments(self, model_name: str | None) -> list[schemas.DeploymentOut]:
        return [schemas.deployment_out(r) for r in await repo.deployment_list(self._pool, model_name)]

    async def get_deployment(self, deployment_id: uuid.UUID) -> schemas.DeploymentOut:
        row = await repo.deployment_get(self._pool, deployment_id)
        if row is None:
            raise DeploymentNotFound()
        return schemas.deployment_out(row)

    async def update_deployment(
        self, deployment_id: uuid.UUID, patch: schemas.DeploymentPatch
    ) -> schemas.DeploymentOut:
        cur = await repo.deployment_get(self._pool, deployment_id)
        if cur is None:
            raise DeploymentNotFound()
        provider_id = patched(patch.provider_id, cur.provider_id)
        if provider_id != cur.provider_id and await repo.provider_get(self._pool, provider_id) is None:
            raise ProviderNotFound("The provider does not exist.")
        row = await repo.deployment_update(
            self._pool,
            id=deployment_id,
            model_name=patched(patch.model_name, cur.model_name),
            provider_id=provider_id,
            upstream_model=patched(patch.upstream_model, cur.upstream_model),
            weight=patched(patch.weight, cur.weight),
            input_price=patched(patch.input_price_micro_usd_per_mtok, cur.input_price_micro_usd_per_mtok),
            output_price=patched(patch.output_price_micro_usd_per_mtok, cur.output_price_micro_usd_per_mtok),
            cached_input_price=patched(
                patch.cached_input_price_micro_usd_per_mtok, cur.cached_input_price_micro_usd_per_mtok
            ),
            cache_write_price=patched(
                patch.cache_write_price_micro_usd_per_mtok, cur.cache_write_price_micro_usd_per_mtok
            ),
            rpm=patched(patch.rpm, cur.rpm),
            tpm=patched(patch.tpm, cur.tpm),
            timeout_s=patched(patch.timeout_s, cur.timeout_s),
            max_retries=patched(patch.max_retries, cur.max_retries),
            region=patched(patch.region, cur.region),
            cache_ttl_s=patched(patch.cache_ttl_s, cur.cache_ttl_s),
            enabled=patched(patch.enabled, cur.enabled),
            settings=patched(patch.settings, cur.settings),
        )
        if row is None:
            raise DeploymentNotFound()
        await self._bump()
        _log.info("deployment_updated", deployment_id=str(deployment_id))
        return schemas.deployment_out(row)

    async def delete_deployment(self, deployment_id: uuid.UUID) -> None:
        if not await repo.deployment_delete(self._pool, deployment_id):
            raise DeploymentNotFound()
        await self._bump()
        _log.info("deployment_deleted", deployment_id=str(deployment_id))

    # fallbacks
    async def put_fallbacks(self, model_name: str, data: schemas.FallbackPut) -> schemas.FallbackOut:
        row = await repo.fallback_upsert(
            self._pool, model_name=model_name, fallback_models=data.fallback_models
        )
        await self._bump()
        _log.info("fallbacks_set", model=model_name, count=len(data.fallback_models))
        return schemas.FallbackOut(model_name=row.model_name, fallback_models=row.fallback_models)

    async def list_fallbacks(self) -> list[schemas.FallbackOut]:
        return [
            schemas.FallbackOut(model_name=r.model_name, fallback_models=r.fallback_models)
            for r in await repo.fallback_list(self._pool)
        ]

    async def get_fallbacks(self, model_name: str) -> schemas.FallbackOut:
        row = await repo.fallback_get(self._pool, model_name)
        if row is None:
            raise FallbackNotFound()
        return schemas.FallbackOut(model_name=row.model_name, fallback_models=row.fallback_models)

    async def delete_fallbacks(self, model_name: str) -> None:
        if not await repo.fallback_delete(self._pool, model_name):
            raise FallbackNotFound()
        await self._bump()
        _log.info("fallbacks_deleted", model=model_name)


def _price(given: int | None, listed: int) -> int:
    return listed if given is None else given
