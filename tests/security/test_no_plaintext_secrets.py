"""No plaintext secret anywhere: after a whole flow through tollgate-api and the real tollgate-router
(an operator logs in, a provider is created with its key, a team is created with its key and virtual key,
a second key is issued, calls are made, upstream errors echo the provider key back), none of the team API
keys, the virtual key, the provider keys, the operator password or session token appears in

* the database (every row of every table of both schemas, as text, which renders bytea as hex),
* Redis (every key name and value under the test's prefix),
* the log output (structlog at DEBUG, access log on, captured at the file-descriptor level),
* any response body or header the flow received.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import psycopg
import pytest
import redis.asyncio as aioredis
from psycopg import sql

from tests.fakes import Behavior
from tests.jobs_support import GROUP, PROVIDER_KEY, job_world

ADMIN_EMAIL = "secrets-admin@example.test"
ADMIN_PASSWORD = "pw-" + secrets.token_urlsafe(18)
MESSAGES = [{"role": "user", "content": "Summarise this ticket"}]


def dump_database(database_url: str) -> str:
    """Every row of every table of the api and router schemas, each rendered as text."""
    parts: list[str] = []
    with psycopg.connect(database_url) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema IN ('api', 'router', 'public') AND table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table in tables:
            query = sql.SQL("SELECT t::text FROM {}.{} AS t").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            parts.extend(row[0] for row in conn.execute(query))
    assert len(parts) > 20, "the dump is suspiciously small"
    return "\n".join(parts)


async def dump_redis(redis_url: str, prefix: str) -> str:
    client = aioredis.Redis.from_url(redis_url)
    parts: list[str] = []
    try:
        async for key in client.scan_iter(match=prefix + "*", count=500):
            parts.append(key.decode(errors="replace"))
            raw_kind = await client.type(key)
            kind = raw_kind.decode() if isinstance(raw_kind, bytes) else raw_kind
            if kind == "string":
                value: Any = await client.get(key)
            elif kind == "hash":
                value = await client.hgetall(key)
            elif kind == "list":
                value = await client.lrange(key, 0, -1)
            elif kind == "set":
                value = await client.smembers(key)
            elif kind == "zset":
                value = await client.zrange(key, 0, -1, withscores=True)
            else:
                value = kind
            parts.append(repr(value))
    finally:
        await client.aclose()
    return "\n".join(parts)


def leaks(haystack: str, needles: dict[str, str]) -> list[str]:
    found = []
    for name, secret in needles.items():
        forms = {secret, secret.encode().hex()}
        if any(form in haystack for form in forms):
            found.append(name)
    return found


async def test_no_secret_in_database_redis_logs_or_responses(
    database_url: str, redis_url: str, redis_prefix: str, capfd: pytest.CaptureFixture[str]
) -> None:
    second_provider_key = "sk-second-" + secrets.token_urlsafe(24)
    responses: list[httpx.Response] = []
    async with job_world(
        database_url,
        redis_url,
        redis_prefix,
        use_real_router=True,
        BOOTSTRAP_ADMIN_EMAIL=ADMIN_EMAIL,
        BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD,
        LOG_LEVEL="DEBUG",
        ACCESS_LOG="true",
    ) as world:
        api = world.client

        async def go(method: str, path: str, **kw: Any) -> httpx.Response:
            response = await api.request(method, path, **kw)
            responses.append(response)
            return response

        wrong = await go(
            "POST", "/admin/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD + "x"}
        )
        assert wrong.status_code == 401
        login = await go("POST", "/admin/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert login.status_code == 200, login.text
        api.cookies.clear()
        session = login.json()["token"]
        operator = {"authorization": f"Bearer {session}"}
        provider = await go(
            "POST",
            "/admin/providers",
            headers=operator,
            json={
                "name": "second-provider",
                "kind": "openai",
                "base_url": world.fake.base_url,
                "api_key": second_provider_key,
            },
        )
        assert provider.status_code == 201, provider.text

        team = await world.seed_team(credits_amount=100)
        issued = await go(
            "POST", f"/admin/teams/{team.team_id}/keys", headers=operator, json={"name": "second"}
        )
        assert issued.status_code == 201, issued.text
        second_team_key = issued.json()["api_key"]

        h = team.headers
        job = (await go("POST", "/api/jobs/create", headers=h, json={"job_type": "s"})).json()
        jid = job["job_id"]
        ok = await go(
            "POST", f"/api/jobs/{jid}/llm-call", headers=h, json={"model": GROUP, "messages": MESSAGES}
        )
        assert ok.status_code == 200, ok.text
        await go(
            "POST", f"/api/jobs/{jid}/llm-call-stream", headers=h, json={"model": GROUP, "messages": MESSAGES}
        )
        # an upstream that echoes the provider key back in its error (as OpenAI does for a bad key)
        world.fake.push(Behavior(status=401, error_message=f"Incorrect API key provided: {PROVIDER_KEY}"))
        await go("POST", f"/api/jobs/{jid}/llm-call", headers=h, json={"model": GROUP, "messages": MESSAGES})
        world.fake.push(Behavior(status=500, error_message=f"upstream broke for key {PROVIDER_KEY}"))
        await go("POST", f"/api/jobs/{jid}/llm-call", headers=h, json={"model": GROUP, "messages": MESSAGES})
        await go("POST", f"/api/jobs/{jid}/complete", headers=h, json={"status": "completed"})
        # credentials in the wrong places
        await go("GET", "/api/jobs", headers={"authorization": f"Bearer {second_team_key}x"})
        await go("GET", "/api/jobs", headers={"authorization": f"Bearer {PROVIDER_KEY}"})
        await go("GET", "/admin/teams", headers=h)
        await go("GET", "/api/jobs", headers=operator)
        await go("GET", "/api/jobs", headers={"authorization": f"Bearer {team.principal.virtual_key.get()}"})
        await go("GET", "/api/jobs", headers={"authorization": f"Basic {team.api_key}"})
        await go("GET", "/api/jobs", headers={"authorization": f"Bearer {team.api_key}\x00"})
        virtual_key = team.principal.virtual_key.get()
        # the router itself, called with the virtual key and a bad one
        async with httpx.AsyncClient(base_url=world.real.url if world.real else "", timeout=10) as router:
            responses.extend(
                [
                    await router.post(
                        "/v1/chat/completions",
                        headers={"authorization": f"Bearer {key}"},
                        json={"model": "nope", "messages": MESSAGES},
                    )
                    for key in (virtual_key, virtual_key + "x")
                ]
            )

        redis_dump = await dump_redis(redis_url, redis_prefix)

    needles = {
        "team api key": team.api_key,
        "second team api key": second_team_key,
        "virtual key": virtual_key,
        "provider key": PROVIDER_KEY,
        "second provider key": second_provider_key,
        "operator password": ADMIN_PASSWORD,
        "operator session token": session,
    }
    # the scanner finds what it looks for: the answers that show a secret once do contain it
    assert leaks(login.text, needles) == ["operator session token"]
    assert leaks(issued.text, needles) == ["second team api key"]
    captured = capfd.readouterr()
    logs = captured.out + captured.err
    assert "job_finished" in logs or "llm_call" in logs or len(logs) > 200, "no log output was captured"
    assert not leaks(dump_database(database_url), needles), "plaintext secret in the database"
    assert not leaks(redis_dump, needles), "plaintext secret in Redis"
    assert not leaks(logs, needles), "plaintext secret in the logs"
    shown_once = {id(login), id(issued)}  # the login answer carries the session; an issued key is shown once
    for response in responses:
        if id(response) in shown_once:
            continue
        text = response.text + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        found = leaks(text, needles)
        assert not found, f"{response.request.method} {response.request.url.path}: {found} in the response"
