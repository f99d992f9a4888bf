"""Teams never see a model, provider, token count or cost: not in a body, header, error or stream.

Drives every /api route (successes and failures, JSON and SSE) through tollgate-api in front of the
real tollgate-router and a fake provider, records every response, and scans them for the fixtures'
router model, upstream model, provider name and key, deployment and provider ids, and cost/token
field names.
"""

from __future__ import annotations

import datetime
import uuid

import httpx

from tests.fakes import Behavior
from tests.jobs_support import (
    GROUP,
    PROVIDER_KEY,
    PROVIDER_NAME,
    ROUTER_MODEL,
    UPSTREAM_MODEL,
    job_world,
)
from tollgate_api.plans.schemas import PlanIn

MESSAGES = [{"role": "user", "content": "Classify this support ticket about billing"}]

FORBIDDEN_FIELDS = (
    "cost_micro_usd",
    "cost_usd",
    "total_cost",
    "price_usd",
    "usd_micro",
    "margin",
    "markup",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "tokens_used",
    "total_tokens",
    "x-tollgate-",
    "deployment",
    "virtual_key",
    "router_model",
    "resolved_model",
    "provider",
)


def transcript(response: httpx.Response) -> str:
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    line = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    return f"{line}\n{headers}\n{response.text}"


async def test_no_api_response_names_a_model_provider_token_count_or_cost(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix, use_real_router=True) as world:
        assert world.real is not None
        plan = PlanIn(
            name="usd",
            kind="consumption_usd",
            usd_micro_per_credit=1_000,
            credits_per_usd=1_000,
            markup_bps=5_000,
            min_credits_per_job=1,
            default_hold_credits=5,
            max_hold_credits=100,
            failed_job_policy="provider_cost",
        )
        team = await world.seed_team(credits_amount=500, plan=plan)
        h = team.headers
        api = world.client
        seen: list[httpx.Response] = []

        async def go(method: str, path: str, **kw: object) -> httpx.Response:
            r = await api.request(method, path, headers=h, **kw)  # type: ignore[arg-type]
            seen.append(r)
            return r

        period = datetime.datetime.now(datetime.UTC).strftime("%Y-%m")
        job = (await go("POST", "/api/jobs/create", json={"job_type": "triage", "metadata": {"t": 1}})).json()
        jid = job["job_id"]
        world.fake.push(Behavior(content="billing", prompt_tokens=40, completion_tokens=2))
        ok = await go("POST", f"/api/jobs/{jid}/llm-call", json={"model": GROUP, "messages": MESSAGES})
        assert ok.status_code == 200
        world.fake.push(Behavior(content="billing again", n_chunks=3))
        await go("POST", f"/api/jobs/{jid}/llm-call-stream", json={"model": GROUP, "messages": MESSAGES})
        world.fake.push(Behavior(status=429, error_message=f"Rate limit reached for {UPSTREAM_MODEL}"))
        await go("POST", f"/api/jobs/{jid}/llm-call", json={"model": GROUP, "messages": MESSAGES})
        world.fake.push(Behavior(status=500, error_message=f"{UPSTREAM_MODEL} crashed"))
        await go("POST", f"/api/jobs/{jid}/llm-call", json={"model": GROUP, "messages": MESSAGES})
        world.fake.push(Behavior(status=400, error_message=f"context too long for {UPSTREAM_MODEL}"))
        await go("POST", f"/api/jobs/{jid}/llm-call", json={"model": GROUP, "messages": MESSAGES})
        world.fake.push(Behavior(content="abcdefgh", n_chunks=4, error_after_chunks=2))
        await go("POST", f"/api/jobs/{jid}/llm-call-stream", json={"model": GROUP, "messages": MESSAGES})
        await go("POST", f"/api/jobs/{jid}/llm-call", json={"model": ROUTER_MODEL, "messages": MESSAGES})
        await go("POST", f"/api/jobs/{jid}/llm-call", json={"model": UPSTREAM_MODEL, "messages": MESSAGES})
        await go("PATCH", f"/api/jobs/{jid}/metadata", json={"metadata": {"u": 2}})
        await go("GET", f"/api/jobs/{jid}")
        await go("GET", "/api/jobs")
        await go("POST", f"/api/jobs/{jid}/complete", json={"status": "completed"})
        await go("POST", f"/api/jobs/{jid}/complete", json={"status": "completed"})
        await go("POST", f"/api/jobs/{jid}/complete", json={"status": "failed"})
        await go("POST", f"/api/jobs/{jid}/llm-call", json={"model": GROUP, "messages": MESSAGES})
        await go("GET", f"/api/jobs/{uuid.uuid4()}")
        failed = (await go("POST", "/api/jobs/create", json={"job_type": "triage"})).json()
        world.fake.push(Behavior(content="partial", prompt_tokens=30, completion_tokens=3))
        await go(
            "POST", f"/api/jobs/{failed['job_id']}/llm-call", json={"model": GROUP, "messages": MESSAGES}
        )
        await go(
            "POST", f"/api/jobs/{failed['job_id']}/complete", json={"status": "failed", "error_message": "x"}
        )
        world.fake.push(Behavior(content="one shot"))
        await go("POST", "/api/jobs/create-and-call", json={"model": GROUP, "messages": MESSAGES})
        world.fake.push(Behavior(content="one shot stream", n_chunks=2))
        await go("POST", "/api/jobs/create-and-call-stream", json={"model": GROUP, "messages": MESSAGES})
        world.fake.push(Behavior(status=503))
        await go("POST", "/api/jobs/create-and-call", json={"model": GROUP, "messages": MESSAGES})
        await go("GET", f"/api/usage?period={period}")
        await go("GET", f"/api/teams/{team.team_id}/usage?period={period}")
        await go("GET", f"/api/teams/{team.team_id}/jobs")
        await go("GET", "/api/credits/balance")
        await go("GET", "/api/credits/transactions")
        await go("GET", f"/api/credits/teams/{team.team_id}/balance")
        await go("GET", f"/api/credits/teams/{team.team_id}/transactions")
        await go("POST", f"/api/credits/teams/{team.team_id}/check?credits_needed=3")
        await go("POST", "/api/jobs/create", json={"max_credits": 10_000})

        statuses = {r.status_code for r in seen}
        assert {200, 201, 402, 404, 409} <= statuses, statuses
        assert statuses & {429, 502, 503}, statuses
        secrets = (
            ROUTER_MODEL,
            UPSTREAM_MODEL,
            PROVIDER_NAME,
            PROVIDER_KEY,
            world.real.deployment_id,
            world.real.provider_id,
            team.principal.virtual_key.get(),
            "openai",
            "gpt-",
        )
        for response in seen:
            text = transcript(response)
            lowered = text.lower()
            for secret in secrets:
                assert secret.lower() not in lowered, f"{secret!r} leaked in\n{text}"
            for name in FORBIDDEN_FIELDS:
                assert name not in lowered, f"{name!r} leaked in\n{text}"
        # ... while the operator side did record the internals of those calls.
        async with world.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT resolved_model, deployment, cost_micro_usd FROM api.llm_calls"
                " WHERE job_id = %s AND status = 'succeeded' ORDER BY created_at LIMIT 1",
                (uuid.UUID(jid),),
            )
            row = await cur.fetchone()
        assert row is not None
        assert row[0] is not None
        assert row[1] is not None
        assert row[2] > 0
