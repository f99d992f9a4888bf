"""``/admin/auth``, ``/admin/tokens`` and ``/admin/users`` (HTTP only)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.openapi.spec import Example
from litestar.params import Body, FromPath

from tollgate_api.auth.deps import login_throttle_of, pool_of, settings_of
from tollgate_api.auth.guards import (
    SESSION_COOKIE,
    actor_of,
    bearer_or_cookie,
    client_ip,
    current_operator,
    require_roles,
)
from tollgate_api.operators import service
from tollgate_api.operators.schemas import (
    LoginIn,
    LoginOut,
    MeOut,
    OperatorIn,
    OperatorOut,
    TokenIn,
    TokenIssued,
    TokenOut,
)

LoginBody = Annotated[
    LoginIn,
    Body(
        examples=[
            Example(
                summary="Log in",
                value={"email": "ops@example.com", "password": "correct horse battery staple"},
            )
        ]
    ),
]
TokenBody = Annotated[
    TokenIn,
    Body(
        examples=[
            Example(
                summary="An automation token for CI",
                value={"name": "ci-deploy", "expires_at": "2027-01-01T00:00:00Z"},
            )
        ]
    ),
]
OperatorBody = Annotated[
    OperatorIn,
    Body(
        examples=[
            Example(
                summary="A finance user",
                value={
                    "email": "finance@example.com",
                    "password": "a long passphrase",
                    "role": "finance",
                },
            )
        ]
    ),
]


class AuthController(Controller):
    path = "/admin/auth"
    tags = ["admin: auth"]  # noqa: RUF012

    @post("/login", opt={"public": True}, status_code=200, summary="Log in; returns a bearer token")
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: LoginBody,
    ) -> Response[LoginOut]:
        ttl_s = settings_of(request).auth.session_ttl_s
        token, expires_at = await service.login(
            pool_of(request),
            login_throttle_of(request),
            email=data.email,
            password=data.password,
            ttl_s=ttl_s,
            ip=client_ip(request),
        )
        cookie = Cookie(
            key=SESSION_COOKIE,
            value=token,
            max_age=ttl_s,
            httponly=True,
            samesite="strict",
            path="/",
            secure=request.url.scheme == "https",
        )
        return Response(LoginOut(token=token, expires_at=expires_at), cookies=[cookie])

    @post("/logout", opt={"self_service": True}, status_code=204, summary="Revoke the current session token")
    async def logout(self, request: Request[Any, Any, Any]) -> Response[None]:
        token = bearer_or_cookie(request)
        if token:
            await service.logout(pool_of(request), actor_of(request), token)
        return Response(
            None, status_code=204, cookies=[Cookie(key=SESSION_COOKIE, value="", max_age=0, path="/")]
        )

    @get("/me", summary="The authenticated operator")
    async def me(self, request: Request[Any, Any, Any]) -> MeOut:
        principal = current_operator(request)
        return MeOut(id=principal.operator_id, email=principal.email, role=principal.role)


class TokensController(Controller):
    path = "/admin/tokens"
    tags = ["admin: auth"]  # noqa: RUF012

    @post("/", opt={"self_service": True}, summary="Issue a long-lived automation token (shown once)")
    async def issue(
        self,
        request: Request[Any, Any, Any],
        data: TokenBody,
    ) -> TokenIssued:
        return await service.issue_token(
            pool_of(request),
            current_operator(request),
            actor_of(request),
            name=data.name,
            expires_at=data.expires_at,
        )

    @get("/", summary="Your automation tokens")
    async def list_tokens(self, request: Request[Any, Any, Any]) -> list[TokenOut]:
        return await service.list_tokens(pool_of(request), current_operator(request))

    @post(
        "/{token_id:uuid}/revoke",
        opt={"self_service": True},
        status_code=204,
        summary="Revoke one of your automation tokens",
    )
    async def revoke(self, request: Request[Any, Any, Any], token_id: FromPath[uuid.UUID]) -> None:
        await service.revoke_token(pool_of(request), current_operator(request), actor_of(request), token_id)


class UsersController(Controller):
    path = "/admin/users"
    tags = ["admin: users"]  # noqa: RUF012
    guards = [require_roles("admin")]  # noqa: RUF012

    @get("/", summary="List operators")
    async def list_users(self, request: Request[Any, Any, Any]) -> list[OperatorOut]:
        return await service.list_operators(pool_of(request))

    @post("/", summary="Create an operator with a role")
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: OperatorBody,
    ) -> OperatorOut:
        return await service.create_operator(pool_of(request), actor_of(request), data)

    @post("/{operator_id:uuid}/disable", status_code=200, summary="Disable an operator and revoke its tokens")
    async def disable(self, request: Request[Any, Any, Any], operator_id: FromPath[uuid.UUID]) -> OperatorOut:
        return await service.disable_operator(pool_of(request), actor_of(request), operator_id)
