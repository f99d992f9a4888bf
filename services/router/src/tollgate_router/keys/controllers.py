"""HTTP for /admin/keys (guarded by the admin token). The secret key is in the body of create and
regenerate only."""

from __future__ import annotations

import uuid

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from tollgate_router.keys import schemas
from tollgate_router.keys.service import KeyAdmin


class KeyController(Controller):
    path = "/keys"
    tags = ["admin: keys"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/")
    async def create(
        self, data: JSONBody[schemas.KeyCreate], key_admin: NamedDependency[KeyAdmin]
    ) -> schemas.KeyCreated:
        return await key_admin.create(data)

    @get("/")
    async def list_all(
        self, key_admin: NamedDependency[KeyAdmin], owner_ref: FromQuery[str | None] = None
    ) -> list[schemas.KeyOut]:
        return await key_admin.list_keys(owner_ref=owner_ref)

    @get("/budgets", summary="Every key with a budget: budget, period and spend in the current period")
    async def budgets(self, key_admin: NamedDependency[KeyAdmin]) -> list[schemas.KeyBudget]:
        return await key_admin.budgets()

    @get("/{key_id:uuid}")
    async def show(
        self, key_id: FromPath[uuid.UUID], key_admin: NamedDependency[KeyAdmin]
    ) -> schemas.KeyInfo:
        return await key_admin.info(key_id)

    @patch("/{key_id:uuid}")
    async def update(
        self,
        key_id: FromPath[uuid.UUID],
        data: JSONBody[schemas.KeyPatch],
        key_admin: NamedDependency[KeyAdmin],
    ) -> schemas.KeyOut:
        return await key_admin.update(key_id, data)

    @delete("/{key_id:uuid}")
    async def remove(self, key_id: FromPath[uuid.UUID], key_admin: NamedDependency[KeyAdmin]) -> None:
        await key_admin.delete(key_id)

    @post("/{key_id:uuid}/block", status_code=200)
    async def block(
        self, key_id: FromPath[uuid.UUID], key_admin: NamedDependency[KeyAdmin]
    ) -> schemas.KeyOut:
        return await key_admin.set_blocked(key_id, blocked=True)

    @post("/{key_id:uuid}/unblock", status_code=200)
    async def unblock(
        self, key_id: FromPath[uuid.UUID], key_admin: NamedDependency[KeyAdmin]
    ) -> schemas.KeyOut:
        return await key_admin.set_blocked(key_id, blocked=False)

    @post("/{key_id:uuid}/regenerate", status_code=200)
    async def regenerate(
        self, key_id: FromPath[uuid.UUID], key_admin: NamedDependency[KeyAdmin]
    ) -> schemas.KeyCreated:
        return await key_admin.regenerate(key_id)
