"""Tenant isolation across the team surface and the router cache.

* Team A's key gets 404 on every ``/api`` route that names one of team B's resources (jobs, calls,
  webhook endpoints and deliveries, team-id alias paths). The route table is walked, so routes added
  later are covered; bodies are valid so a 404 is the ownership check, not a validation error. Afterwards
  B's job, metadata, calls, webhooks and credits are exactly as B left them.
* The same prompt from two teams never shares a router cache entry: with caching on, B's first call is a
  miss that reaches the provider even though A just asked the same thing; A's repeat is a hit.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import httpx

from tests.fakes import Behavior
from tests.jobs_support import GROUP, job_world
from tollgate_api.credits import service as credits

MESSAGES = [{"role": "user", "content": "The same prompt, word for word, from two tenants"}]
# A valid body for every body-taking route (the job API ignores unknown fields; webhooks do not).
BODY: dict[str, Any] = {"model": GROUP, "messages": MESSAGES, "status": "completed", "metadata": {"x": 1}}
HOOK = {"url": "https://hooks.example.test/b", "events": ["job.completed"]}
# Query parameters some read routes require (the others ignore them).
QUERY = {"period": "2026-11", "credits_needed": "1"}


def body_for(path: str, method: str) -> dict[str, Any] | None:
    if method not in {"POST", "PATCH", "PUT"}:
        return None
    if path.startswith("/api/webhooks"):
        if path.endswith("rotate-secret"):
            return {"grace_s": 0}
        return {"enabled": False, "url": "https://hooks.example.test/a"} if method == "PATCH" else None
    return BODY


def api_routes(app: Any) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for route in app.routes:
        if not route.path.startswith("/api") or "{" not in route.path:
            continue
        found.extend((route.path, m) for m in sorted(getattr(route, "methods", set()) - {"OPTIONS", "HEAD"}))
    return found


def concrete(path: str, ids: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        return ids.get(match.group(1), str(uuid.uuid4()))

    return re.sub(r"\{(\w+)(?::\w+)?\}", value, path)


async def test_team_a_gets_404_on_every_route_naming_team_b_resources(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        a = await world.seed_team(credits_amount=50)
        b = await world.seed_team(credits_amount=50)
        api = world.client
        job = (
            await api.post("/api/jobs/create", json={"metadata": {"owner": "b"}}, headers=b.headers)
        ).json()
        call = await api.post(f"/api/jobs/{job['job_id']}/llm-call", json=BODY, headers=b.headers)
        assert call.status_code == 200, call.text
        ids = {"job_id": job["job_id"], "team_id": str(b.team_id), "call_id": call.json().get("call_id", "")}
        hook = await api.post("/api/webhooks", json=HOOK, headers=b.headers)
        assert hook.status_code == 201, hook.text
        if hook.status_code == 201:
            ids["webhook_id"] = hook.json()["id"]
            await api.post(f"/api/webhooks/{ids['webhook_id']}/test", headers=b.headers)
            deliveries = await api.get(f"/api/webhooks/{ids['webhook_id']}/deliveries", headers=b.headers)
            listed = deliveries.json() if deliveries.status_code == 200 else []
            items = listed.get("deliveries", listed.get("items", [])) if isinstance(listed, dict) else listed
            if items:
                ids["delivery_id"] = items[0]["id"]
        before = await credits.balance(world.pool, b.team_id)
        routes = api_routes(world.app)
        assert len(routes) >= 10, routes

        failures = []
        for path, method in routes:
            response = await api.request(
                method, concrete(path, ids), json=body_for(path, method), params=QUERY, headers=a.headers
            )
            if response.status_code != 404:
                failures.append(f"{method} {path}: {response.status_code} {response.text[:160]}")
        assert not failures, "team A reached team B's resources:\n" + "\n".join(failures)

        mine = await api.get(f"/api/jobs/{job['job_id']}", headers=b.headers)
        assert mine.status_code == 200
        assert mine.json()["status"] in ("pending", "in_progress")
        assert mine.json()["metadata"] == {"owner": "b"}
        listed = (await api.get("/api/jobs", headers=a.headers)).json()
        assert job["job_id"] not in str(listed)
        assert await credits.balance(world.pool, b.team_id) == before
        if "webhook_id" in ids:
            still = await api.get(f"/api/webhooks/{ids['webhook_id']}", headers=b.headers)
            assert still.status_code == 200
            assert still.json().get("url") == HOOK["url"], still.text
            assert still.json()["enabled"] is True
        async with world.pool.connection() as conn:
            cur = await conn.execute("SELECT count(*) FROM api.llm_calls WHERE job_id = %s", (job["job_id"],))
            row = await cur.fetchone()
        assert row is not None
        assert row[0] == 1


async def cache_hits(world: Any, job_id: str) -> list[bool]:
    async with world.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT cache_hit FROM api.llm_calls WHERE job_id = %s ORDER BY created_at", (job_id,)
        )
        return [row[0] for row in await cur.fetchall()]


async def test_the_same_prompt_from_two_teams_never_shares_a_cache_entry(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix, use_real_router=True) as world:
        assert world.real is not None
        async with httpx.AsyncClient(
            base_url=world.real.url, headers={"authorization": f"Bearer {world.real.admin_token}"}
        ) as router:
            cached = await router.patch(
                f"/admin/deployments/{world.real.deployment_id}", json={"cache_ttl_s": 300}
            )
            assert cached.status_code == 200, cached.text
        await asyncio.sleep(0.7)  # the router's catalog sees admin changes within 500 ms
        a = await world.seed_team(credits_amount=50)
        b = await world.seed_team(credits_amount=50)
        api = world.client
        jobs = {}
        for name, team in (("a", a), ("b", b)):
            created = await api.post("/api/jobs/create", json={}, headers=team.headers)
            jobs[name] = created.json()["job_id"]

        async def ask(name: str, team: Any, upstream: str | None) -> str:
            if upstream is not None:  # what the provider answers, when the call is expected to reach it
                world.fake.push(Behavior(content=upstream))
            r = await api.post(
                f"/api/jobs/{jobs[name]}/llm-call",
                json={"model": GROUP, "messages": MESSAGES, "temperature": 0},
                headers=team.headers,
            )
            assert r.status_code == 200, r.text
            return str(r.json())

        first_a = await ask("a", a, "answer for team a")
        served_before = len(world.fake.requests)
        again_a = await ask("a", a, None)
        assert len(world.fake.requests) == served_before, "A's repeat reached the provider"
        first_b = await ask("b", b, "answer for team b")

        assert await cache_hits(world, jobs["a"]) == [False, True], (
            "the cache is not on: the test proves nothing"
        )
        assert "answer for team a" in again_a, "A's repeat was not served from A's cache entry"
        assert await cache_hits(world, jobs["b"]) == [False], "B was served from A's cache entry"
        assert "answer for team b" in first_b
        assert "answer for team a" not in first_b
        assert "answer for team a" in first_a
