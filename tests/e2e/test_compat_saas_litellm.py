"""COMPAT.md: a SaaS LiteLLM client switches to Tollgate by changing the base URL and the key.

Drives whole jobs with exactly SaaS LiteLLM's request bodies and reads exactly its response fields,
through tollgate-api in front of the real tollgate-router (loopback HTTP) and a fake OpenAI provider.
"""

from __future__ import annotations

import datetime
from typing import Any

import msgspec

from tests.fakes import Behavior
from tests.jobs_support import GROUP, job_world

MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the capital of France?"},
]


def sse_data(text: str) -> list[Any]:
    out: list[Any] = []
    for line in text.splitlines():
        if line.startswith("data: "):
            payload = line[len("data: ") :]
            out.append(payload if payload == "[DONE]" else msgspec.json.decode(payload))
    return out


async def test_a_saas_litellm_client_runs_a_whole_job_unchanged(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix, use_real_router=True) as world:
        team = await world.seed_team(credits_amount=50)
        team_id = str(team.team_id)
        api = world.client
        headers = {"Authorization": f"Bearer {team.api_key}"}

        # POST /api/jobs/create {team_id, user_id, job_type, metadata} -> {job_id, status, created_at}
        created = await api.post(
            "/api/jobs/create",
            json={"team_id": team_id, "user_id": "user-7", "job_type": "chat_example", "metadata": {"ex": 1}},
            headers=headers,
        )
        assert created.status_code in (200, 201), created.text
        job_id = created.json()["job_id"]
        assert created.json()["status"].lower() == "pending"
        datetime.datetime.fromisoformat(created.json()["created_at"])

        # POST /api/jobs/{job_id}/llm-call with every request field SaaS LiteLLM accepts
        world.fake.push(Behavior(content="Paris.", prompt_tokens=20, completion_tokens=2))
        call = await api.post(
            f"/api/jobs/{job_id}/llm-call",
            json={
                "model": GROUP,
                "messages": MESSAGES,
                "purpose": "example_query",
                "temperature": 0.7,
                "max_tokens": 100,
                "response_format": {"type": "text"},
                "top_p": 1.0,
                "frequency_penalty": 0.0,
                "presence_penalty": 0.0,
                "stop": ["\n\n"],
                "call_metadata": {"step": "first"},
            },
            headers=headers,
        )
        assert call.status_code == 200, call.text
        body = call.json()
        call_id = body["call_id"]
        assert body["response"]["content"] == "Paris."
        assert body["response"]["finish_reason"] == "stop"
        assert isinstance(body["metadata"]["latency_ms"], int)
        assert body["metadata"]["model"] == GROUP
        assert "tokens_used" not in body["metadata"]  # this team's plan does not show tokens
        upstream = world.fake.requests[-1].json
        assert upstream["max_tokens"] == 100
        assert upstream["temperature"] == 0.7

        # POST /api/jobs/{job_id}/llm-call-stream: data: lines and the [DONE] sentinel
        world.fake.push(Behavior(content="Lyon is second.", n_chunks=3))
        stream = await api.post(
            f"/api/jobs/{job_id}/llm-call-stream",
            json={"model": GROUP, "messages": MESSAGES, "purpose": "stream_query"},
            headers=headers,
        )
        assert stream.status_code == 200
        chunks = sse_data(stream.text)
        assert chunks[-1] == "[DONE]"
        assert "".join(c.get("content", "") for c in chunks[:-1] if c["type"] == "delta") == "Lyon is second."
        assert chunks[-2]["type"] == "done"
        assert chunks[-2]["call_id"]
        assert chunks[-2]["finish_reason"] == "stop"

        # PATCH /api/jobs/{job_id}/metadata {metadata} -> {job_id, metadata, updated_at}
        patched = await api.patch(
            f"/api/jobs/{job_id}/metadata", json={"metadata": {"ex": 2}}, headers=headers
        )
        assert patched.json()["job_id"] == job_id
        assert patched.json()["metadata"] == {"ex": 2, "step": "first"}
        assert patched.json()["updated_at"]

        # POST /api/jobs/{job_id}/complete {status, metadata, error_message}
        done = await api.post(
            f"/api/jobs/{job_id}/complete",
            json={"status": "completed", "metadata": {"result": "ok"}, "error_message": None},
            headers=headers,
        )
        assert done.status_code == 200, done.text
        result = done.json()
        assert result["job_id"] == job_id
        assert result["status"] == "completed"
        datetime.datetime.fromisoformat(result["completed_at"])
        costs = result["costs"]
        assert (costs["total_calls"], costs["successful_calls"], costs["failed_calls"]) == (2, 2, 0)
        assert isinstance(costs["avg_latency_ms"], int)
        assert costs["credit_applied"] == 2
        assert costs["credits_remaining"] == 48
        assert "total_cost_usd" not in costs
        assert "total_tokens" not in costs
        [first, second] = result["calls"]
        assert first["call_id"] == call_id
        assert (first["purpose"], first["model_group"], first["error"]) == ("example_query", GROUP, None)
        assert isinstance(first["latency_ms"], int)
        assert "tokens" not in first
        assert second["purpose"] == "stream_query"
        # exactly once: a repeat returns the same result
        assert (
            await api.post(f"/api/jobs/{job_id}/complete", json={"status": "completed"}, headers=headers)
        ).json() == result

        # GET /api/jobs/{job_id}
        job = (await api.get(f"/api/jobs/{job_id}", headers=headers)).json()
        for name in (
            "job_id", "team_id", "user_id", "job_type", "status", "created_at", "started_at",
            "completed_at", "metadata", "error_message", "credit_applied", "model_groups_used",
        ):  # fmt: skip
            assert name in job, name
        assert job["team_id"] == team_id
        assert job["model_groups_used"] == [GROUP]
        assert job["metadata"]["result"] == "ok"

        # The team-scoped read paths
        period = datetime.datetime.now(datetime.UTC).strftime("%Y-%m")
        usage = (
            await api.get(f"/api/teams/{team_id}/usage", params={"period": period}, headers=headers)
        ).json()
        assert usage["summary"]["total_jobs"] == 1
        assert usage["summary"]["successful_jobs"] == 1
        assert usage["summary"]["failed_jobs"] == 0
        assert usage["job_types"]["chat_example"]["count"] == 1
        recent = (
            await api.get(
                f"/api/teams/{team_id}/jobs",
                params={"limit": 10, "offset": 0, "status": "completed"},
                headers=headers,
            )
        ).json()
        assert [j["job_id"] for j in recent["jobs"]] == [job_id]
        balance = (await api.get(f"/api/credits/teams/{team_id}/balance", headers=headers)).json()
        assert (balance["balance"], balance["held"], balance["available"]) == (48, 0, 48)
        txs = (
            await api.get(f"/api/credits/teams/{team_id}/transactions", params={"limit": 10}, headers=headers)
        ).json()
        assert {t["kind"] for t in txs["transactions"]} >= {"allocation", "hold", "capture"}
        check = await api.post(
            f"/api/credits/teams/{team_id}/check", params={"credits_needed": 5}, headers=headers
        )
        assert check.json()["has_credits"] is True


async def test_create_and_call_with_saas_litellm_fields(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix, use_real_router=True) as world:
        team = await world.seed_team(credits_amount=10)
        world.fake.push(Behavior(content="Bonjour."))
        r = await world.client.post(
            "/api/jobs/create-and-call",
            json={
                "team_id": str(team.team_id),
                "job_type": "greeting",
                "model": GROUP,
                "messages": MESSAGES,
                "user_id": "u-1",
                "job_metadata": {"source": "compat"},
                "purpose": "greet",
                "temperature": 0.7,
            },
            headers={"Authorization": f"Bearer {team.api_key}"},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        for name in ("job_id", "status", "response", "metadata", "costs", "completed_at"):
            assert name in body, name
        assert body["status"] == "completed"
        assert body["response"]["content"] == "Bonjour."
        assert body["metadata"]["model"] == GROUP
        assert body["costs"]["credit_applied"] == 2
        assert "total_cost_usd" not in body["costs"]

        world.fake.push(Behavior(content="Salut.", n_chunks=2))
        s = await world.client.post(
            "/api/jobs/create-and-call-stream",
            json={"team_id": str(team.team_id), "job_type": "greeting", "model": GROUP, "messages": MESSAGES},
            headers={"Authorization": f"Bearer {team.api_key}"},
        )
        events = sse_data(s.text)
        assert events[0]["type"] == "job"
        assert events[0]["job_id"]
        assert events[-2]["type"] == "job.completed"
        assert events[-2]["costs"]["credits_remaining"] == 6
        assert events[-1] == "[DONE]"
