"""Seed the demo through the public admin APIs, idempotently (every run finds before it creates).

Router (service token): provider ``mock`` (kind ``mock``) and deployment ``mock-chat`` with prices.
Api (operator login): pricing plan ``Demo per-job`` (``per_job``), organization ``Demo Org``, model
group ``chat-fast`` → ``mock-chat``, access group ``Demo models`` holding it, team ``Demo Team`` on
that plan with the access group granted and 1,000 credits (one allocation, fixed idempotency key),
and the team's API key — remembered in ``demo.env`` because the api shows a key only once (a new
one is issued when the remembered key no longer works).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx

from tollgate_api.devstack.banner import DEMO_MODEL_GROUP
from tollgate_api.devstack.state import read_demo, write_demo

DEMO_ORG: Final = "Demo Org"
DEMO_TEAM: Final = "Demo Team"
DEMO_PLAN: Final = "Demo per-job"
DEMO_ACCESS_GROUP: Final = "Demo models"
DEMO_PROVIDER: Final = "mock"
DEMO_ROUTER_MODEL: Final = "mock-chat"
DEMO_CREDITS: Final = 1_000
DEMO_CREDITS_PER_JOB: Final = 10
DEMO_ALLOCATION_KEY: Final = "tollgate-dev-demo-initial-allocation"
# micro-USD per million tokens: $0.50 in, $1.50 out, $0.25 cached in (non-zero so margins show).
DEMO_PRICES: Final = {
    "input_price_micro_usd_per_mtok": 500_000,
    "output_price_micro_usd_per_mtok": 1_500_000,
    "cached_input_price_micro_usd_per_mtok": 250_000,
}


class SeedError(Exception):
    """The demo could not be seeded; the message says which step and what the server answered."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class SeedTarget:
    api_url: str
    router_url: str
    router_admin_token: str
    admin_email: str
    admin_password: str

    @classmethod
    def from_secrets(cls, api_url: str, router_url: str, secrets: Mapping[str, str]) -> SeedTarget:
        return cls(
            api_url=api_url,
            router_url=router_url,
            router_admin_token=secrets["TOLLGATE_ROUTER_ADMIN_TOKEN"],
            admin_email=secrets["TOLLGATE_BOOTSTRAP_ADMIN_EMAIL"],
            admin_password=secrets["TOLLGATE_BOOTSTRAP_ADMIN_PASSWORD"],
        )


@dataclass(frozen=True, slots=True)
class Demo:
    organization_id: str
    team_id: str
    team_key: str
    model_group: str = DEMO_MODEL_GROUP


def _items(body: Any) -> list[dict[str, Any]]:
    """A list endpoint's rows, whether it answers a bare list or ``{"items"|"data": [...]}``."""
    if isinstance(body, list):
        return [row for row in body if isinstance(row, dict)]
    if isinstance(body, dict):
        for key in ("items", "data", "results"):
            rows = body.get(key)
            if isinstance(rows, list):
                return [row for row in rows if isinstance(row, dict)]
    return []


class _Admin:
    """A JSON client that turns any unexpected answer into a :class:`SeedError` naming the step."""

    def __init__(self, client: httpx.Client, base_url: str, token: str) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self.token = token

    def call(self, method: str, path: str, *, json: Any = None, ok: tuple[int, ...] = (200, 201)) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = self._client.request(method, self._base + path, json=json, headers=headers)
        except httpx.ConnectError as exc:
            raise SeedError(f"cannot connect to {self._base} (is the stack running?)") from exc
        except httpx.HTTPError as exc:
            raise SeedError(f"{method} {self._base}{path}: {exc.__class__.__name__}") from exc
        if response.status_code not in ok:
            detail = response.text[:300].replace("\n", " ")
            raise SeedError(
                f"{method} {path} answered {response.status_code}: {detail}", status=response.status_code
            )
        return response.json() if response.content else None

    def find(self, path: str, *, name: str, field: str = "name") -> dict[str, Any] | None:
        for row in _items(self.call("GET", path)):
            if row.get(field) == name:
                return row
        return None

    def ensure(self, path: str, body: dict[str, Any], *, field: str = "name") -> dict[str, Any]:
        found = self.find(path, name=body[field], field=field)
        if found is not None:
            return found
        created = self.call("POST", path, json=body)
        if not isinstance(created, dict):
            raise SeedError(f"POST {path} answered no object")
        return created


def _id(row: Mapping[str, Any], what: str) -> str:
    value = row.get("id")
    if not isinstance(value, str):
        raise SeedError(f"{what} has no id in the answer")
    return value


def seed_router(client: httpx.Client, target: SeedTarget) -> None:
    router = _Admin(client, target.router_url, target.router_admin_token)
    provider = router.ensure(
        "/admin/providers",
        {"name": DEMO_PROVIDER, "kind": "mock", "settings": {}},
    )
    router.ensure(
        "/admin/deployments",
        {
            "model_name": DEMO_ROUTER_MODEL,
            "provider_id": _id(provider, "provider"),
            "upstream_model": "mock-1",
            **DEMO_PRICES,
        },
        field="model_name",
    )


def _login(client: httpx.Client, target: SeedTarget) -> _Admin:
    anonymous = _Admin(client, target.api_url, "")
    try:
        body = anonymous.call(
            "POST",
            "/admin/auth/login",
            json={"email": target.admin_email, "password": target.admin_password},
        )
    except SeedError as exc:
        if exc.status not in (401, 403):
            raise
        raise SeedError(
            f"{exc} — the bootstrap operator is created once, with the credentials of the first run; "
            "use those (TOLLGATE_BOOTSTRAP_ADMIN_EMAIL/_PASSWORD) or start over with a fresh database"
        ) from exc
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str):
        raise SeedError("POST /admin/auth/login answered no token")
    return _Admin(client, target.api_url, token)


def _team_key_works(client: httpx.Client, target: SeedTarget, key: str) -> bool:
    try:
        response = client.get(
            f"{target.api_url}/api/credits/balance", headers={"Authorization": f"Bearer {key}"}
        )
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def _ensure_access_group(api: _Admin) -> str:
    body = {
        "name": DEMO_ACCESS_GROUP,
        "model_groups": [DEMO_MODEL_GROUP],
        "description": "Models of the demo",
    }
    group = api.ensure("/admin/access-groups", body)
    group_id = _id(group, "access group")
    members = group.get("model_groups")
    if isinstance(members, list) and DEMO_MODEL_GROUP not in members:
        body["model_groups"] = [*members, DEMO_MODEL_GROUP]
        api.call("PUT", f"/admin/access-groups/{group_id}", json=body)
    return group_id


def seed_api(client: httpx.Client, target: SeedTarget, *, demo_file: Path) -> Demo:
    api = _login(client, target)
    plan = api.ensure(
        "/admin/pricing-plans",
        {
            "name": DEMO_PLAN,
            "kind": "per_job",
            "credits_per_job": DEMO_CREDITS_PER_JOB,
            "usd_micro_per_credit": 10_000,
        },
    )
    org_id = _id(api.ensure("/admin/organizations", {"name": DEMO_ORG}), "organization")
    api.ensure(
        "/admin/model-groups",
        {"name": DEMO_MODEL_GROUP, "router_model": DEMO_ROUTER_MODEL, "description": "Demo: mock provider"},
    )
    group_id = _ensure_access_group(api)

    stored = read_demo(demo_file)
    key: str | None = None
    team = api.find(f"/admin/teams?organization_id={org_id}", name=DEMO_TEAM)
    if team is None:
        team = api.call(
            "POST",
            "/admin/teams",
            json={
                "organization_id": org_id,
                "name": DEMO_TEAM,
                "pricing_plan_id": _id(plan, "plan"),
                "access_groups": [group_id],
                "key_name": "demo",
            },
        )
        if not isinstance(team, dict) or not isinstance(team.get("api_key"), str):
            raise SeedError("POST /admin/teams answered no api_key")
        key = team["api_key"]
    team_id = _id(team, "team")
    granted = {
        row.get("access_group_id") for row in _items(api.call("GET", f"/admin/teams/{team_id}/access-groups"))
    }
    if group_id not in granted:
        api.call("POST", f"/admin/teams/{team_id}/access-groups", json={"access_group_id": group_id})
    api.call(
        "POST",
        f"/admin/teams/{team_id}/credits",
        json={
            "amount": DEMO_CREDITS,
            "kind": "allocation",
            "reason": "demo allocation",
            "idempotency_key": DEMO_ALLOCATION_KEY,
        },
    )
    if key is None:
        remembered = stored.get("TOLLGATE_DEMO_TEAM_KEY", "")
        if (
            remembered
            and stored.get("TOLLGATE_DEMO_TEAM_ID") == team_id
            and _team_key_works(client, target, remembered)
        ):
            key = remembered
        else:
            issued = api.call("POST", f"/admin/teams/{team_id}/keys", json={"name": "demo"})
            new_key = issued.get("api_key") if isinstance(issued, dict) else None
            if not isinstance(new_key, str):
                raise SeedError(f"POST /admin/teams/{team_id}/keys answered no api_key")
            key = new_key
    write_demo(
        demo_file,
        {
            "TOLLGATE_DEMO_ORGANIZATION_ID": org_id,
            "TOLLGATE_DEMO_TEAM_ID": team_id,
            "TOLLGATE_DEMO_TEAM_KEY": key,
            "TOLLGATE_DEMO_MODEL_GROUP": DEMO_MODEL_GROUP,
        },
    )
    return Demo(organization_id=org_id, team_id=team_id, team_key=key)


def seed_demo(
    target: SeedTarget, *, demo_file: Path, timeout_s: float = 15.0, client: httpx.Client | None = None
) -> Demo:
    """Seed (or find) the whole demo; safe to run any number of times."""
    if client is not None:
        seed_router(client, target)
        return seed_api(client, target, demo_file=demo_file)
    with httpx.Client(timeout=httpx.Timeout(timeout_s)) as owned:
        seed_router(owned, target)
        return seed_api(owned, target, demo_file=demo_file)
