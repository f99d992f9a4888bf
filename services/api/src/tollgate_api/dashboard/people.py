"""The audit log (every role reads it) and operator users and roles (admin only, the same
``require_roles("admin")`` guard as ``/admin/users``)."""

from __future__ import annotations

import uuid
from typing import Any, Final

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery

from tollgate_api.audit import service as audit
from tollgate_api.auth.deps import pool_of
from tollgate_api.auth.guards import actor_of, require_roles
from tollgate_api.dashboard import web
from tollgate_api.errors import BadRequest
from tollgate_api.operators import service as operators
from tollgate_api.operators.schemas import OperatorIn

AUDIT_PAGE: Final = 50
_ROLES: Final = ("admin", "operator", "finance")


class AuditPages(Controller):
    path = web.PREFIX + "/audit"

    @get("/")
    async def list_page(
        self,
        request: Request[Any, Any, Any],
        target_type: FromQuery[str | None] = None,
        target_id: FromQuery[str | None] = None,
        before_id: FromQuery[int | None] = None,
    ) -> Response[Any]:
        entries = await audit.list_entries(
            pool_of(request),
            target_type=target_type or None,
            target_id=target_id or None,
            before_id=before_id,
            limit=AUDIT_PAGE + 1,
        )
        page = entries[:AUDIT_PAGE]
        return web.page(
            request,
            "audit.html",
            entries=page,
            next_before=page[-1].id if len(entries) > AUDIT_PAGE else None,
            filters={"target_type": target_type or "", "target_id": target_id or ""},
            as_json=lambda value: msgspec.json.encode(value).decode() if value is not None else "",
        )


class UsersPages(Controller):
    path = web.PREFIX + "/users"
    guards = [require_roles("admin")]  # noqa: RUF012

    @get("/")
    async def list_page(
        self, request: Request[Any, Any, Any], done: FromQuery[str | None] = None
    ) -> Response[Any]:
        return web.page(
            request,
            "users.html",
            users=await operators.list_operators(pool_of(request)),
            roles=_ROLES,
            flash={"created": "Operator created.", "disabled": "Operator disabled."}.get(done or ""),
        )

    @post("/")
    async def create(self, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        role = web.text(form, "role")
        if role not in _ROLES:
            raise BadRequest("Unknown role.")
        try:
            data = msgspec.convert(
                {
                    "email": web.text(form, "email", max_len=254),
                    "password": web.text(form, "password", max_len=1024),
                    "role": role,
                },
                OperatorIn,
            )
        except msgspec.ValidationError as exc:
            raise BadRequest(f"Invalid operator: {exc}") from None
        await operators.create_operator(pool_of(request), actor_of(request), data)
        return web.see_other(f"{web.PREFIX}/users?done=created")

    @post("/{operator_id:uuid}/disable")
    async def disable(
        self, request: Request[Any, Any, Any], operator_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        await operators.disable_operator(pool_of(request), actor_of(request), operator_id)
        return web.see_other(f"{web.PREFIX}/users?done=disabled")
