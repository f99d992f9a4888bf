"""A credential opens only its own surface. The anonymous and wrong-role walks exist per service
(``test_auth_admin_routes.py``, ``test_admin_auth.py``); this walks every route of both services with the
*other* credentials of the system:

* tollgate-api ``/admin``: a team API key, the team's router virtual key, the router admin token → 401;
* tollgate-api ``/api``: an operator session token, the virtual key, the router admin token → 401;
* tollgate-router ``/admin``: a virtual key, a team API key, an operator session token → 401;
* tollgate-router ``/v1``: the router admin token, a team API key, an operator session token → 401.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from tests.jobs_support import job_world

ADMIN_EMAIL = "lanes-admin@example.test"
ADMIN_PASSWORD = "a long enough password for lanes"
PUBLIC = {("/admin/auth/login", "POST")}


def routes(app: Any, prefix: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for route in app.routes:
        if route.path.startswith(prefix):
            methods = sorted(getattr(route, "methods", set()) - {"OPTIONS", "HEAD"})
            found.extend((route.path, m) for m in methods if (route.path, m) not in PUBLIC)
    return found


# Required query parameters of some read routes (validated before the credential is looked at).
QUERY = {"period": "2026-11", "credits_needed": "1"}


def concrete(path: str) -> str:
    path = re.sub(r"\{[^}:]+:int\}", "1", path)
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)


async def refused_by(
    client: httpx.AsyncClient, walk: list[tuple[str, str]], tokens: dict[str, str]
) -> list[str]:
    wrong = []
    for path, method in walk:
        for name, token in tokens.items():
            body: dict[str, Any] | None = {} if method in {"POST", "PUT", "PATCH"} else None
            response = await client.request(
                method, concrete(path), json=body, params=QUERY, headers={"authorization": f"Bearer {token}"}
            )
            if response.status_code != 401:
                wrong.append(f"{method} {path} with {name}: {response.status_code}")
    return wrong


async def test_every_credential_is_refused_outside_its_own_surface(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(
        database_url,
        redis_url,
        redis_prefix,
        use_real_router=True,
        BOOTSTRAP_ADMIN_EMAIL=ADMIN_EMAIL,
        BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD,
    ) as world:
        assert world.real is not None
        team = await world.seed_team(credits_amount=10)
        api = world.client
        login = await api.post("/admin/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert login.status_code == 200, login.text
        api.cookies.clear()
        session = login.json()["token"]
        virtual_key = team.principal.virtual_key.get()
        router_admin = world.real.admin_token
        # the credentials work where they belong (else the walk below proves nothing)
        assert (await api.get("/api/jobs", headers=team.headers)).status_code == 200
        assert (
            await api.get("/admin/teams", headers={"authorization": f"Bearer {session}"})
        ).status_code == 200

        api_admin = routes(world.app, "/admin")
        api_team = routes(world.app, "/api")
        assert len(api_admin) > 40
        assert len(api_team) > 10
        wrong = await refused_by(
            api,
            api_admin,
            {"team key": team.api_key, "virtual key": virtual_key, "router admin": router_admin},
        )
        wrong += await refused_by(
            api,
            api_team,
            {"operator session": session, "virtual key": virtual_key, "router admin": router_admin},
        )
        async with httpx.AsyncClient(base_url=world.real.url, timeout=10) as router:
            schema = (await router.get("/schema/openapi.json")).json()
            router_walk = [
                (path, method.upper())
                for path, item in schema["paths"].items()
                for method in item
                if path.startswith(("/admin", "/v1"))
            ]
            assert len(router_walk) > 15
            ok = await router.get("/admin/keys", headers={"authorization": f"Bearer {router_admin}"})
            assert ok.status_code == 200
            wrong += await refused_by(
                router,
                [r for r in router_walk if r[0].startswith("/admin")],
                {"virtual key": virtual_key, "team key": team.api_key, "operator session": session},
            )
            wrong += await refused_by(
                router,
                [r for r in router_walk if r[0].startswith("/v1")],
                {"router admin": router_admin, "team key": team.api_key, "operator session": session},
            )
        assert not wrong, "\n".join(wrong)
