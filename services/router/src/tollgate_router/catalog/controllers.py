"""HTTP for /admin/providers, /admin/deployments and /admin/fallbacks (guarded by the admin token)."""

from __future__ import annotations

import uuid

from litestar import Controller, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from tollgate_router.catalog import schemas
from tollgate_router.catalog.service import CatalogAdmin


class ProviderController(Controller):
    path = "/providers"
    tags = ["admin: providers"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/")
    async def create(
        self, data: JSONBody[schemas.ProviderCreate], catalog_admin: NamedDependency[CatalogAdmin]
    ) -> schemas.ProviderOut:
        return await catalog_admin.create_provider(data)

    @get("/")
    async def list_all(self, catalog_admin: NamedDependency[CatalogAdmin]) -> list[schemas.ProviderOut]:
        return await catalog_admin.list_providers()

    @post("/rotate-encryption", status_code=200)
    async def rotate_encryption(self, catalog_admin: NamedDependency[CatalogAdmin]) -> schemas.RotationResult:
        return await catalog_admin.rotate_encryption()

    @get("/{provider_id:uuid}")
    async def show(
        self, provider_id: FromPath[uuid.UUID], catalog_admin: NamedDependency[CatalogAdmin]
    ) -> schemas.ProviderOut:
        return await catalog_admin.get_provider(provider_id)

    @patch("/{provider_id:uuid}")
    async def update(
        self,
        provider_id: FromPath[uuid.UUID],
        data: JSONBody[schemas.ProviderPatch],
        catalog_admin: NamedDependency[CatalogAdmin],
    ) -> schemas.ProviderOut:
        return await catalog_admin.update_provider(provider_id, data)

    @post("/{provider_id:uuid}/rotate-key", status_code=200)
    async def rotate_key(
        self,
        provider_id: FromPath[uuid.UUID],
        data: JSONBody[schemas.ProviderKeyRotate],
        catalog_admin: NamedDependency[CatalogAdmin],
    ) -> schemas.ProviderOut:
        return await catalog_admin.rotate_provider_key(provider_id, data)

    @delete("/{provider_id:uuid}")
    async def remove(
        self, provider_id: FromPath[uuid.UUID], catalog_admin: NamedDependency[CatalogAdmin]
    ) -> None:
        await catalog_admin.delete_provider(provider_id)


class DeploymentController(Controller):
    path = "/deployments"
    tags = ["admin: deployments"]  # noqa: RUF012

    @post("/")
    async def create(
        self, data: JSONBody[schemas.DeploymentCreate], catalog_admin: NamedDependency[CatalogAdmin]
    ) -> schemas.DeploymentOut:
        return await catalog_admin.create_deployment(data)

    @get("/")
    async def list_all(
        self, catalog_admin: NamedDependency[CatalogAdmin], model_name: FromQuery[str | None] = None
    ) -> list[schemas.DeploymentOut]:
        return await catalog_admin.list_deployments(model_name)

    @get("/{deployment_id:uuid}")
    async def show(
        self, deployment_id: FromPath[uuid.UUID], catalog_admin: NamedDependency[CatalogAdmin]
    ) -> schemas.DeploymentOut:
        return await catalog_admin.get_deployment(deployment_id)

    @patch("/{deployment_id:uuid}")
    async def update(
        self,
        deployment_id: FromPath[uuid.UUID],
        data: JSONBody[schemas.DeploymentPatch],
        catalog_admin: NamedDependency[CatalogAdmin],
    ) -> schemas.DeploymentOut:
        return await catalog_admin.update_deployment(deployment_id, data)

    @delete("/{deployment_id:uuid}")
    async def remove(
        self, deployment_id: FromPath[uuid.UUID], catalog_admin: NamedDependency[CatalogAdmin]
    ) -> None:
        await catalog_admin.delete_deployment(deployment_id)


class FallbackController(Controller):
    """Model names may contain ``/`` (``openai/gpt-4o``), hence the ``path`` parameter."""

    path = "/fallbacks"
    tags = ["admin: fallbacks"]  # noqa: RUF012

    @get("/")
    async def list_all(self, catalog_admin: NamedDependency[CatalogAdmin]) -> list[schemas.FallbackOut]:
        return await catalog_admin.list_fallbacks()

    @put("/{model_name:path}")
    async def set_fallbacks(
        self,
        model_name: FromPath[str],
        data: JSONBody[schemas.FallbackPut],
        catalog_admin: NamedDependency[CatalogAdmin],
    ) -> schemas.FallbackOut:
        return await catalog_admin.put_fallbacks(model_name.lstrip("/"), data)

    @get("/{model_name:path}")
    async def show(
        self, model_name: FromPath[str], catalog_admin: NamedDependency[CatalogAdmin]
    ) -> schemas.FallbackOut:
        return await catalog_admin.get_fallbacks(model_name.lstrip("/"))

    @delete("/{model_name:path}")
    async def remove(self, model_name: FromPath[str], catalog_admin: NamedDependency[CatalogAdmin]) -> None:
        await catalog_admin.delete_fallbacks(model_name.lstrip("/"))
