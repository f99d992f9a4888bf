"""Server-side render time of every dashboard page on a given database (issue 6: under 300 ms on the
``make seed-large`` data set).

    python -m tests.browser.page_timing --database-url postgresql://…/tollgate_large [--runs 5]

Runs tollgate-api in this process against that (migrated, seeded) database and Redis
(``--redis-url``, default ``TEST_REDIS_URL`` or ``redis://127.0.0.1:6379/0``), creates a throw-away
admin operator, and requests each page through the ASGI transport (no network: the time is the
server's: routing, auth, queries, template). Prints a markdown table of median and worst times and
exits 1 when a page's median exceeds ``--budget-ms`` (300). Pages that need the router (providers)
are left out. It writes one operator row and its audit rows to the database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import time
import uuid

import httpx

from tollgate_api.app import create_app
from tollgate_api.audit.service import Actor
from tollgate_api.operators import service as operators
from tollgate_api.operators.schemas import OperatorIn
from tollgate_api.settings import ApiSettings
from tollgate_common.crypto import Keyring
from tollgate_common.env import Env

CSRF = re.compile(r'name="_csrf" value="([^"]*)"')


def _settings(database_url: str, redis_url: str) -> ApiSettings:
    return ApiSettings.from_env(
        Env(
            {
                "TOLLGATE_DATABASE_URL": database_url,
                "TOLLGATE_REDIS_URL": redis_url,
                "TOLLGATE_REDIS_PREFIX": f"timing-{uuid.uuid4().hex[:6]}:",
                "TOLLGATE_MIGRATE_ON_START": "false",
                "TOLLGATE_ROUTER_URL": "http://router.invalid",
                "TOLLGATE_ROUTER_ADMIN_TOKEN": "unused",
                "TOLLGATE_API_ENCRYPTION_KEYS": Keyring.new_key_setting("timing"),
                "TOLLGATE_LOG_LEVEL": "WARNING",
                "TOLLGATE_ACCESS_LOG": "false",
            }
        )
    )


async def _first(client: httpx.AsyncClient, url: str, pattern: str) -> str | None:
    match = re.search(pattern, (await client.get(url)).text)
    return match.group(1) if match else None


async def measure(database_url: str, redis_url: str, runs: int) -> list[tuple[str, float, float]]:
    app = create_app(_settings(database_url, redis_url))
    results: list[tuple[str, float, float]] = []
    async with app.lifespan():
        pool = app.state["pool"]
        email, password = f"timing-{uuid.uuid4().hex[:8]}@example.invalid", uuid.uuid4().hex
        await operators.create_operator(
            pool, Actor("bench:page_timing"), OperatorIn(email=email, password=password, role="admin")
        )
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            login = await client.get("/dashboard/login")
            token = CSRF.search(login.text)
            assert token
            done = await client.post(
                "/dashboard/login", data={"_csrf": token.group(1), "email": email, "password": password}
            )
            assert done.status_code == 303, done.text
            uuid_re = r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
            team = await _first(client, "/dashboard/teams", rf'href="/dashboard/teams/{uuid_re}"')
            org = await _first(
                client, "/dashboard/organizations", rf'href="/dashboard/organizations/{uuid_re}"'
            )
            job = await _first(client, "/dashboard/jobs", rf'href="/dashboard/jobs/{uuid_re}"')
            pages = [
                "/dashboard/",
                "/dashboard/organizations",
                "/dashboard/teams",
                "/dashboard/teams?status=suspended",
                "/dashboard/teams?q=a",
                "/dashboard/jobs",
                "/dashboard/jobs?status=failed",
                "/dashboard/reports?group_by=team",
                "/dashboard/reports?group_by=model_group",
                "/dashboard/reports?group_by=day",
                "/dashboard/catalog",
                "/dashboard/audit",
                "/dashboard/users",
            ]
            if team:
                pages += [f"/dashboard/teams/{team}", f"/dashboard/jobs?team_id={team}"]
            if org:
                pages.append(f"/dashboard/organizations/{org}")
            if job:
                pages.append(f"/dashboard/jobs/{job}")
            for url in pages:
                await client.get(url)  # warm caches and the pool
                times = []
                for _ in range(runs):
                    start = time.perf_counter()
                    response = await client.get(url)
                    times.append((time.perf_counter() - start) * 1000)
                    assert response.status_code == 200, (url, response.status_code)
                results.append((url, statistics.median(times), max(times)))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", default=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--budget-ms", type=float, default=300.0)
    args = parser.parse_args()
    results = asyncio.run(measure(args.database_url, args.redis_url, args.runs))
    print("| page | median ms | worst ms |\n|---|---:|---:|")
    for url, median, worst in results:
        print(f"| `{url}` | {median:.1f} | {worst:.1f} |")
    slow = [url for url, median, _ in results if median > args.budget_ms]
    if slow:
        print(f"over {args.budget_ms:.0f} ms: {', '.join(slow)}", file=sys.stderr)
    return 1 if slow else 0


if __name__ == "__main__":
    raise SystemExit(main())
