"""Hand-written hostile inputs against both services, over real loopback HTTP. Extends the route walks in
``test_api_malformed_bodies.py`` / ``test_router_malformed_bodies.py`` with what they do not send:

* bodies over the limit (with and without a Content-Length) → 413 problem;
* deeply nested JSON, invalid UTF-8 inside a JSON string, wrong content types;
* negative, enormous and non-finite numbers; unknown fields;
* SQL and format-string injection and NUL bytes in every string field (stored verbatim or refused
  with a 4xx, never a 500), header values that try to smuggle headers;
* an SSE client that never reads and then goes away: the server neither hangs nor leaks, the call is
  recorded and the job's hold is settled when it completes.

Every answer must be below 500 and carry no stack trace.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import psycopg

from tests.fakes import Behavior, FakeOpenAI
from tests.jobs_support import GROUP, ROUTER_MODEL, job_world, real_router
from tollgate_api.credits import service as credits
from tollgate_common.crypto import Keyring
from tollgate_common.env import Env
from tollgate_router.app import create_app as create_router
from tollgate_router.settings import RouterSettings

MESSAGES = [{"role": "user", "content": "hello"}]
INJECTIONS = [
    "'; DROP TABLE api.jobs; --",
    '" OR 1=1 --',
    "%s %(x)s {0} $1 \\x00",
    "a\x00b",
    "\r\nSet-Cookie: owned=1",
    "<script>alert(1)</script>",
    "🦜" * 50,
]
NUMBERS: list[Any] = [-1, -(2**63), 2**63, 10**30, 1e308, -0.0, 0.5]


def deep(depth: int) -> bytes:
    return b'{"metadata": {"k": ' + b"[" * depth + b"]" * depth + b"}}"


def problem_or_ok(response: httpx.Response) -> str | None:
    """None when the answer is acceptable for hostile input (2xx/4xx, no trace), else why not."""
    if response.status_code >= 500:
        return f"{response.status_code} {response.text[:200]}"
    if "Traceback" in response.text or 'File "/' in response.text:
        return "stack trace in body"
    if response.status_code >= 400 and not response.headers.get("content-type", "").startswith(
        ("application/problem+json", "application/json")
    ):
        return f"error without a problem body: {response.headers.get('content-type')} {response.text[:100]}"
    return None


async def test_api_refuses_or_stores_hostile_inputs_without_a_5xx(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(
        database_url, redis_url, redis_prefix, serve=True, API_MAX_BODY_BYTES="65536"
    ) as world:
        team = await world.seed_team(credits_amount=1_000)
        api, h = world.client, team.headers
        job_id = (await api.post("/api/jobs/create", json={}, headers=h)).json()["job_id"]
        failures: list[str] = []

        async def send(label: str, method: str, path: str, **kw: Any) -> httpx.Response:
            response = await api.request(method, path, headers={**h, **kw.pop("headers", {})}, **kw)
            why = problem_or_ok(response)
            if why:
                failures.append(f"{label}: {method} {path}: {why}")
            return response

        # over the limit, announced and chunked
        big = b'{"metadata": {"x": "' + b"a" * 100_000 + b'"}}'
        r = await send(
            "huge", "POST", "/api/jobs/create", content=big, headers={"content-type": "application/json"}
        )
        if r.status_code != 413:
            failures.append(f"huge body with Content-Length: {r.status_code}, not 413")

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(20):
                yield b"a" * 10_000

        r = await send(
            "chunked",
            "POST",
            "/api/jobs/create",
            content=chunks(),
            headers={"content-type": "application/json"},
        )
        if r.status_code != 413:
            failures.append(f"huge chunked body: {r.status_code}, not 413")

        for depth in (64, 5_000, 30_000):
            await send(
                f"deep {depth}",
                "POST",
                "/api/jobs/create",
                content=deep(depth),
                headers={"content-type": "application/json"},
            )
        raw_utf8 = b'{"job_type": "\xff\xfe\xfd", "metadata": {"\xc3\x28": 1}}'
        r = await send(
            "bad utf-8",
            "POST",
            "/api/jobs/create",
            content=raw_utf8,
            headers={"content-type": "application/json"},
        )
        if r.status_code not in (400, 422):
            failures.append(f"invalid UTF-8 in a string: {r.status_code}")
        for content_type in (
            "application/xml",
            "multipart/form-data; boundary=x",
            "text/plain",
            "application/x-www-form-urlencoded",
        ):
            await send(
                content_type,
                "POST",
                "/api/jobs/create",
                content=b"<job/>",
                headers={"content-type": content_type},
            )
            await send(
                content_type,
                "POST",
                f"/api/jobs/{job_id}/llm-call",
                content=b"a=b",
                headers={"content-type": content_type},
            )
        for number in NUMBERS:
            await send(f"max_credits={number}", "POST", "/api/jobs/create", json={"max_credits": number})
            await send(
                f"numbers={number}",
                "POST",
                f"/api/jobs/{job_id}/llm-call",
                json={
                    "model": GROUP,
                    "messages": MESSAGES,
                    "max_tokens": number,
                    "temperature": number,
                    "n": number,
                },
            )
            await send(f"limit={number}", "GET", "/api/jobs", params={"limit": str(number)})
            await send(
                f"credits_needed={number}",
                "POST",
                f"/api/credits/teams/{team.team_id}/check",
                params={"credits_needed": str(number)},
            )
        for literal in (b"NaN", b"Infinity", b"-Infinity", b"1e999", b"123456789012345678901234567890"):
            await send(
                f"literal {literal!r}",
                "POST",
                "/api/jobs/create",
                content=b'{"max_credits": ' + literal + b"}",
                headers={"content-type": "application/json"},
            )
        await send(
            "unknown fields",
            "POST",
            "/api/jobs/create",
            json={"surprise": {"a": [1, 2]}, "__proto__": {"x": 1}},
        )

        for text in INJECTIONS:
            created = await send(
                f"inject {text!r}",
                "POST",
                "/api/jobs/create",
                json={
                    "job_type": text,
                    "user_id": text,
                    "idempotency_key": text[:40] + str(time.monotonic()),
                    "metadata": {text: text},
                },
            )
            if created.status_code in (200, 201):
                got = await send("read back", "GET", f"/api/jobs/{created.json()['job_id']}")
                if got.json().get("job_type") != text or got.json().get("metadata") != {text: text}:
                    failures.append(f"inject {text!r}: not stored verbatim: {got.text[:200]}")
            await send(
                f"inject call {text!r}",
                "POST",
                f"/api/jobs/{job_id}/llm-call",
                json={"model": text, "messages": [{"role": "user", "content": text}]},
            )
            await send(
                f"inject call {text!r}",
                "POST",
                f"/api/jobs/{job_id}/llm-call",
                json={"model": GROUP, "messages": [{"role": text, "content": text}]},
            )
            await send(
                f"inject patch {text!r}",
                "PATCH",
                f"/api/jobs/{job_id}/metadata",
                json={"metadata": {text: text}},
            )
            if "\r" not in text:  # the loopback harness (aiohttp) itself 404s a path with CR/LF
                await send(f"inject path {text!r}", "GET", f"/api/jobs/{quote(text, safe='')}")
            await send(
                f"inject query {text!r}",
                "GET",
                "/api/jobs",
                params={"status": text, "cursor": text, "created_before": text},
            )
            await send(f"inject usage {text!r}", "GET", "/api/usage", params={"period": text})
        smuggle = await send(
            "header smuggling",
            "GET",
            "/api/jobs",
            headers={"x-request-id": "abc Set-Cookie: owned=1 " + "x" * 5000},
        )
        if (
            "owned" in smuggle.headers.get("set-cookie", "")
            or len(smuggle.headers.get("x-request-id", "")) > 200
        ):
            failures.append(f"request id reflected unbounded: {smuggle.headers.get('x-request-id', '')[:80]}")
        async with world.pool.connection() as conn:
            cur = await conn.execute("SELECT count(*) FROM api.jobs")
            row = await cur.fetchone()
        assert row is not None
        assert row[0] >= 1, "the jobs table lost its rows"
        assert not failures, "\n".join(failures)


async def test_router_refuses_hostile_inputs_without_a_5xx(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    with FakeOpenAI() as fake:
        async with real_router(database_url, redis_url, redis_prefix, fake) as router:
            admin = {"authorization": f"Bearer {router.admin_token}"}
            async with httpx.AsyncClient(base_url=router.url, timeout=30) as client:
                key = await client.post(
                    "/admin/keys",
                    json={"owner_ref": "team:hostile", "allowed_models": [ROUTER_MODEL]},
                    headers=admin,
                )
                assert key.status_code == 201, key.text
                vk = {"authorization": f"Bearer {key.json()['key']}"}
                failures: list[str] = []

                async def send(
                    label: str, method: str, path: str, auth: dict[str, str], **kw: Any
                ) -> httpx.Response:
                    response = await client.request(
                        method, path, headers={**auth, **kw.pop("headers", {})}, **kw
                    )
                    why = problem_or_ok(response)
                    if why:
                        failures.append(f"{label}: {method} {path}: {why}")
                    return response

                chat = "/v1/chat/completions"
                for depth in (64, 5_000, 30_000):
                    body = (
                        b'{"model": "x", "messages": [{"role": "user", "content": '
                        + b"[" * depth
                        + b"]" * depth
                        + b"}]}"
                    )
                    await send(
                        f"deep {depth}",
                        "POST",
                        chat,
                        vk,
                        content=body,
                        headers={"content-type": "application/json"},
                    )
                    await send(
                        f"deep admin {depth}",
                        "POST",
                        "/admin/keys",
                        admin,
                        content=deep(depth),
                        headers={"content-type": "application/json"},
                    )
                bad = b'{"model": "\xff\xfe", "messages": [{"role": "user", "content": "\xc3\x28"}]}'
                await send(
                    "bad utf-8", "POST", chat, vk, content=bad, headers={"content-type": "application/json"}
                )
                for content_type in ("application/xml", "text/plain", "multipart/form-data; boundary=x"):
                    await send(
                        content_type,
                        "POST",
                        chat,
                        vk,
                        content=b"<x/>",
                        headers={"content-type": content_type},
                    )
                for number in NUMBERS:
                    fake.push(Behavior(content="ok"))
                    await send(
                        f"numbers={number}",
                        "POST",
                        chat,
                        vk,
                        json={
                            "model": ROUTER_MODEL,
                            "messages": MESSAGES,
                            "max_tokens": number,
                            "temperature": number,
                            "n": number,
                        },
                    )
                    await send(
                        f"rpm={number}",
                        "POST",
                        "/admin/keys",
                        admin,
                        json={"owner_ref": "t", "rpm": number, "budget_micro_usd": number},
                    )
                for text in INJECTIONS:
                    fake.push(Behavior(content="ok"))
                    await send(
                        f"inject {text!r}",
                        "POST",
                        chat,
                        vk,
                        json={"model": text, "messages": [{"role": "user", "content": text}], "user": text},
                    )
                    await send(
                        f"inject role {text!r}",
                        "POST",
                        chat,
                        vk,
                        json={"model": ROUTER_MODEL, "messages": [{"role": text, "content": text}]},
                    )
                    made = await send(
                        f"inject key {text!r}",
                        "POST",
                        "/admin/keys",
                        admin,
                        json={"owner_ref": text, "allowed_models": [text]},
                    )
                    if made.status_code == 201 and made.json().get("owner_ref") != text:
                        failures.append(f"inject {text!r}: owner_ref not stored verbatim")
                    await send(
                        f"inject query {text!r}", "GET", "/admin/keys", admin, params={"owner_ref": text}
                    )
                    await send(
                        f"inject auth {text!r}",
                        "POST",
                        chat,
                        {
                            "authorization": f"Bearer {text}".encode("ascii", "replace")
                            .decode()
                            .replace("\r\n", " ")
                            .replace("\x00", "")
                        },
                        json={"model": ROUTER_MODEL, "messages": MESSAGES},
                    )
                assert not failures, "\n".join(failures)


async def test_an_sse_client_that_never_reads_then_leaves_is_recorded_and_settled(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix, serve=True) as world:
        team = await world.seed_team(credits_amount=100)
        assert world.base_url is not None
        job_id = (await world.client.post("/api/jobs/create", json={}, headers=team.headers)).json()["job_id"]
        world.fake.push(Behavior(content="x" * 4_000, n_chunks=200, chunk_delay_s=0.005))
        host, port = world.base_url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        body = json.dumps({"model": GROUP, "messages": MESSAGES}).encode()
        writer.write(
            f"POST /api/jobs/{job_id}/llm-call-stream HTTP/1.1\r\nhost: x\r\n"
            f"authorization: Bearer {team.api_key}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        await asyncio.sleep(0.5)  # never read a byte
        writer.close()
        del reader

        started = time.monotonic()
        recorded = 0
        while time.monotonic() - started < 10:
            async with world.pool.connection() as conn:
                cur = await conn.execute("SELECT count(*) FROM api.llm_calls WHERE job_id = %s", (job_id,))
                row = await cur.fetchone()
            recorded = row[0] if row else 0
            if recorded:
                break
            await asyncio.sleep(0.1)
        assert recorded == 1, "the abandoned stream's call was not recorded"

        done = await world.client.post(
            f"/api/jobs/{job_id}/complete", json={"status": "completed"}, headers=team.headers
        )
        assert done.status_code == 200, done.text
        balance = await credits.balance(world.pool, team.team_id)
        assert balance.held == 0
        assert (await credits.verify_team(world.pool, team.team_id)).ok
        # and the server still answers
        again = await world.client.get(f"/api/jobs/{job_id}", headers=team.headers)
        assert again.status_code == 200


async def test_router_answers_413_for_a_body_over_its_limit(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    # In process: the loopback harness (aiohttp) has a 1 MB cap of its own below the router's 4 MB.
    settings = RouterSettings.from_env(
        Env(
            {
                "TOLLGATE_DATABASE_URL": database_url,
                "TOLLGATE_REDIS_URL": redis_url,
                "TOLLGATE_REDIS_PREFIX": redis_prefix,
                "TOLLGATE_MIGRATE_ON_START": "false",
                "TOLLGATE_ROUTER_ADMIN_TOKEN": "t",
                "TOLLGATE_ROUTER_ENCRYPTION_KEYS": Keyring.new_key_setting(),
                "TOLLGATE_ROUTER_MAX_BODY_BYTES": "65536",
                "TOLLGATE_LOG_FORMAT": "json",
                "TOLLGATE_ACCESS_LOG": "false",
            }
        )
    )
    app = create_router(settings)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://r") as client:
        big = json.dumps({"model": "m", "messages": [{"role": "user", "content": "a" * 100_000}]})
        for path, auth in (("/v1/chat/completions", "Bearer tgv_x"), ("/admin/keys", "Bearer t")):
            response = await client.post(
                path, content=big, headers={"authorization": auth, "content-type": "application/json"}
            )
            assert response.status_code == 413, (path, response.status_code, response.text[:200])
            assert problem_or_ok(response) is None


async def test_a_router_sse_client_that_never_reads_then_leaves_is_logged_and_the_router_carries_on(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    with FakeOpenAI() as fake:
        async with real_router(database_url, redis_url, redis_prefix, fake) as router:
            admin = {"authorization": f"Bearer {router.admin_token}"}
            async with httpx.AsyncClient(base_url=router.url, timeout=30) as client:
                key = await client.post(
                    "/admin/keys",
                    json={"owner_ref": "team:sse", "allowed_models": [ROUTER_MODEL]},
                    headers=admin,
                )
                assert key.status_code == 201, key.text
                raw_key, key_id = key.json()["key"], key.json()["id"]
                fake.push(Behavior(content="y" * 4_000, n_chunks=200, chunk_delay_s=0.005))
                host, port = router.url.removeprefix("http://").split(":")
                reader, writer = await asyncio.open_connection(host, int(port))
                body = json.dumps({"model": ROUTER_MODEL, "messages": MESSAGES, "stream": True}).encode()
                writer.write(
                    b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                    + f"authorization: Bearer {raw_key}\r\ncontent-length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
                await asyncio.sleep(0.5)  # never read a byte
                writer.close()
                del reader

                logged = 0
                started = time.monotonic()
                while time.monotonic() - started < 10 and not logged:
                    await asyncio.sleep(0.2)
                    async with await psycopg.AsyncConnection.connect(database_url) as conn:
                        cur = await conn.execute(
                            "SELECT count(*) FROM router.spend_log WHERE key_id = %s", (key_id,)
                        )
                        row = await cur.fetchone()
                    logged = row[0] if row else 0
                assert logged == 1, "the abandoned stream was not written to the spend log"
                fake.push(Behavior(content="still here"))
                again = await client.post(
                    "/v1/chat/completions",
                    json={"model": ROUTER_MODEL, "messages": MESSAGES},
                    headers={"authorization": f"Bearer {raw_key}"},
                )
                assert again.status_code == 200, again.text
