"""The catalog's only door to Postgres: generated queries, driver errors mapped to domain errors."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from tollgate_common.db import connection, transaction
from tollgate_router.db import deployments as q_dep
from tollgate_router.db import fallbacks as q_fb
from tollgate_router.db import models
from tollgate_router.db import providers as q_prov
from tollgate_router.db.deployments import DeploymentListEnabledWithProviderRow

Pool = AsyncConnectionPool[AsyncConnection[Any]]
SnapshotRow = DeploymentListEnabledWithProviderRow


async def load_snapshot(pool: Pool) -> tuple[list[SnapshotRow], list[models.Fallback]]:
    """Deployments and fallbacks read in one transaction (a consistent snapshot)."""
    async with transaction(pool) as conn:
        rows = await q_dep.deployment_list_enabled_with_provider(conn)
        fallbacks = await q_fb.fallback_list(conn)
    return rows, fallbacks


async def provider_insert(
    pool: Pool,
    *,
    id: uuid.UUID,
    name: str,
    kind: models.ProviderKind,
    base_url: str | None,
    api_key_enc: str | None,
    api_key_hint: str | None,
    settings: dict[str, Any],
) -> models.Provider:
    async with connection(pool) as conn:
        row = await q_prov.provider_insert(
            conn,
            id=id,
            name=name,
            kind=kind,
            base_url=base_url,
            api_key_enc=api_key_enc,
            api_key_hint=api_key_hint,
            settings=settings,
        )
    assert row is not None  # INSERT ... RETURNING always returns the row
    return row


async def provider_get(pool: Pool, provider_id: uuid.UUID) -> models.Provider | None:
    async with connection(pool) as conn:
        return await q_prov.provider_get(conn, id=provider_id)


async def provider_list(pool: Pool) -> list[models.Provider]:
    async with connection(pool) as conn:
        return await q_prov.provider_list(conn)


async def provider_update(
    pool: Pool,
    *,
    id: uuid.UUID,
    name: str,
    kind: models.ProviderKind,
    base_url: str | None,
    settings: Any,
) -> models.Provider | None:
    async with connection(pool) as conn:
        return await q_prov.provider_update(
            conn, id=id, name=name, kind=kind, base_url=base_url, settings=settings
        )


async def provider_set_key(
    pool: Pool, *, id: uuid.UUID, api_key_enc: str | None, api_key_hint: str | None
) -> models.Provider | None:
    async with connection(pool) as conn:
        return await q_prov.provider_set_key(conn, id=id, api_key_enc=api_key_enc, api_key_hint=api_key_hint)


async def provider_reencrypt_key(pool: Pool, *, id: uuid.UUID, old_enc: str, new_enc: str) -> int:
    async with connection(pool) as conn:
        return await q_prov.provider_reencrypt_key(conn, id=id, old_enc=old_enc, new_enc=new_enc)


async def provider_delete(pool: Pool, provider_id: uuid.UUID) -> int:
    async with connection(pool) as conn:
        return await q_prov.provider_delete(conn, id=provider_id)


async def deployment_insert(pool: Pool, **fields: Any) -> models.Deployment:
    async with connection(pool) as conn:
        row = await q_dep.deployment_insert(conn, **fields)
    assert row is not None
    return row


async def deployment_get(pool: Pool, deployment_id: uuid.UUID) -> models.Deployment | None:
    async with connection(pool) as conn:
        return await q_dep.deployment_get(conn, id=deployment_id)


async def deployment_list(pool: Pool, model_name: str | None) -> list[models.Deployment]:
    async with connection(pool) as conn:
        return await q_dep.deployment_list(conn, model_name=model_name)


async def deployment_update(pool: Pool, **fields: Any) -> models.Deployment | None:
    async with connection(pool) as conn:
        return await q_dep.deployment_update(conn, **fields)


async def deployment_delete(pool: Pool, deployment_id: uuid.UUID) -> int:
    async with connection(pool) as conn:
        return await q_dep.deployment_delete(conn, id=deployment_id)


async def fallback_upsert(pool: Pool, *, model_name: str, fallback_models: list[str]) -> models.Fallback:
    async with connection(pool) as conn:
        row = await q_fb.fallback_upsert(conn, model_name=model_name, fallback_models=fallback_models)
    assert row is not None
    return row


async def fallback_get(pool: Pool, model_name: str) -> models.Fallback | None:
    async with connection(pool) as conn:
        return await q_fb.fallback_get(conn, model_name=model_name)


async def fallback_list(pool: Pool) -> list[models.Fallback]:
    async with connection(pool) as conn:
        return await q_fb.fallback_list(conn)


async def fallback_delete(pool: Pool, model_name: str) -> int:
    async with connection(pool) as conn:
        return await q_fb.fallback_delete(conn, model_name=model_name)
