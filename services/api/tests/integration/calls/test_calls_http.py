"""LLM calls over HTTP: the router stand-in in front of FakeOpenAI, real Postgres, real Redis."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import msgspec

from tests.fakes import Behavior, ToolCall
from tests.fakes.router_standin import DEPLOYMENT, MODEL
from tests.jobs_support import GROUP, ROUTER_MODEL, JobWorld, SeededTeam, job_world
from tollgate_api.calls import repository as calls_repo
from tollgate_api.credits import service as credits
from tollgate_api.plans.schemas import PlanIn

MESSAGES = [{"role": "user", "content": "Summarise the quarterly report in one line please"}]


async def create_job(world: JobWorld, team: SeededTeam, **body: Any) -> str:
    r = await world.client.post("/api/jobs/create", json=body, headers=team.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["job_id"])


async def calls_of(world: JobWorld, job_id: str) -> list[calls_repo.LlmCall]:
    async with world.pool.connection() as conn:
        return await calls_repo.list_for_job(conn, uuid.UUID(job_id))


def sse_events(text: str) -> list[Any]:
    events: list[Any] = []
    for line in text.splitlines():
        if line.startswith("data: "):
            payload = line[6:]
            events.append(payload if payload == "[DONE]" else msgspec.json.decode(payload))
    return events


async def test_llm_call_answers_with_content_and_records_the_call_first(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team()
        job_id = await create_job(world, team, job_type="summary")
        world.fake.push(Behavior(content="The quarter went well.", prompt_tokens=12, completion_tokens=6))

        r = await world.client.post(
            f"/api/jobs/{job_id}/llm-call",
            json={"model": GROUP, "messages": MESSAGES, "purpose": "summary", "temperature": 0.2},
            headers={**team.headers, "x-request-id": "req-abc-123"},
        )

        assert r.status_code == 200, r.text
        body = r.json()
        assert body["response"] == {"content": "The quarter went well.", "finish_reason": "stop"}
        assert body["metadata"]["model"] == GROUP
        assert "tokens_used" not in body["metadata"]
        sent = world.router.calls[-1]
        assert sent["body"]["model"] == ROUTER_MODEL
        assert sent["body"]["temperature"] == 0.2
        assert sent["x_request_id"] == "req-abc-123"
        [call] = await calls_of(world, job_id)
        assert str(call.id) == body["call_id"]
        assert (call.status, call.model_group, call.purpose) == ("succeeded", GROUP, "summary")
        assert (call.resolved_model, call.deployment) == (MODEL, DEPLOYMENT)
        assert (call.prompt_tokens, call.completion_tokens) == (12, 6)
        assert call.cost_micro_usd == world.router.cost({"prompt_tokens": 12, "completion_tokens": 6}) > 0
        assert call.router_request_id == sent["request_id"]
        assert call.prompt is None
        assert call.response_text is None
        job = (await world.client.get(f"/api/jobs/{job_id}", headers=team.headers)).json()
        assert job["status"] == "in_progress"
        assert job["model_groups_used"] == [GROUP]


async def test_tokens_are_shown_only_to_teams_with_show_tokens(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team(show_tokens=True, store_prompts=True)
        job_id = await create_job(world, team)
        world.fake.push(Behavior(content="ok", prompt_tokens=10, completion_tokens=3))
        r = await world.client.post(
            f"/api/jobs/{job_id}/llm-call", json={"model": GROUP, "messages": MESSAGES}, headers=team.headers
        )
        assert r.json()["metadata"]["tokens_used"] == 13
        [call] = await calls_of(world, job_id)
        assert call.prompt == MESSAGES
        assert call.response_text == "ok"
        assert call.retain_until is not None
        done = await world.client.post(
            f"/api/jobs/{job_id}/complete", json={"status": "completed"}, headers=team.headers
        )
        assert done.json()["costs"]["total_tokens"] == 13
        assert done.json()["calls"][0]["tokens"] == 13


async def test_router_rate_limit_becomes_429_with_retry_after_and_is_recorded(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team()
        job_id = await create_job(world, team)
        world.fake.push(Behavior(status=429))
        r = await world.client.post(
            f"/api/jobs/{job_id}/llm-call", json={"model": GROUP, "messages": MESSAGES}, headers=team.headers
        )
        assert r.status_code == 429
        assert r.headers["retry-after"] == "2"
        assert r.headers["content-type"].startswith("application/problem+json")
        assert MODEL not in r.text
        assert "openai" not in r.text.lower()
        [call] = await calls_of(world, job_id)
        assert (call.status, call.error_kind) == ("failed", "rate_limited")


async def test_router_failure_becomes_502_that_names_nothing(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team()
        job_id = await create_job(world, team)
        world.fake.push(Behavior(status=500))
        r = await world.client.post(
            f"/api/jobs/{job_id}/llm-call", json={"model": GROUP, "messages": MESSAGES}, headers=team.headers
        )
        assert r.status_code == 502
        assert r.json()["type"].endswith("/ai-service-failed")
        assert r.json()["detail"] == "The AI service failed; retry."
        done = await world.client.post(
            f"/api/jobs/{job_id}/complete", json={"status": "completed"}, headers=team.headers
        )
        costs = done.json()["costs"]
        assert (costs["total_calls"], costs["successful_calls"], costs["failed_calls"]) == (1, 0, 1)
        assert done.json()["calls"][0]["error"] == "The AI service failed; retry."


async def test_unknown_model_group_and_foreign_job_reveal_nothing(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team()
        other = await world.seed_team()
        job_id = await create_job(world, team)
        unknown = await world.client.post(
            f"/api/jobs/{job_id}/llm-call",
            json={"model": "gpt-4o", "messages": MESSAGES},
            headers=team.headers,
        )
        assert unknown.status_code == 404
        foreign = await world.client.post(
            f"/api/jobs/{job_id}/llm-call", json={"model": GROUP, "messages": MESSAGES}, headers=other.headers
        )
        assert foreign.status_code == 404
        assert foreign.json()["type"].endswith("/job-not-found")
        assert world.router.calls == []


async def test_calls_on_a_finished_job_are_refused(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team()
        job_id = await create_job(world, team)
        await world.client.post(
            f"/api/jobs/{job_id}/complete", json={"status": "completed"}, headers=team.headers
        )
        r = await world.client.post(
            f"/api/jobs/{job_id}/llm-call", json={"model": GROUP, "messages": MESSAGES}, headers=team.headers
        )
        assert r.status_code == 409
        assert r.json()["type"].endswith("/job-not-open")
        assert world.router.calls == []


async def test_consumption_job_is_refused_once_it_used_its_hold(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    plan = PlanIn(
        name="tokens",
        kind="consumption_tokens",
        usd_micro_per_credit=1_000,
        tokens_per_credit=10,
        min_credits_per_job=1,
        default_hold_credits=3,
        max_hold_credits=50,
    )
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team(credits_amount=100, plan=plan)
        job_id = await create_job(world, team)
        world.fake.push(Behavior(content="x", prompt_tokens=25, completion_tokens=10))
        first = await world.client.post(
            f"/api/jobs/{job_id}/llm-call", json={"model": GROUP, "messages": MESSAGES}, headers=team.headers
        )
        assert first.status_code == 200
        second = await world.client.post(
            f"/api/jobs/{job_id}/llm-call", json={"model": GROUP, "messages": MESSAGES}, headers=team.headers
        )
        assert second.status_code == 402
        assert second.json()["type"].endswith("/credit-limit-reached")
        done = await world.client.post(
            f"/api/jobs/{job_id}/complete", json={"status": "completed"}, headers=team.headers
        )
        assert done.json()["costs"]["credit_applied"] == 3  # 4 by tokens, capped at the hold
        bal = await credits.balance(world.pool, team.team_id)
        assert (bal.balance, bal.held) == (97, 0)


async def test_stream_forwards_deltas_then_done_then_sentinel_and_records_usage(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team()
        job_id = await create_job(world, team)
        world.fake.push(
            Behavior(content="Streaming answer here", n_chunks=4, prompt_tokens=9, completion_tokens=5)
        )
        r = await world.client.post(
            f"/api/jobs/{job_id}/llm-call-stream",
            json={"model": GROUP, "messages": MESSAGES},
            headers=team.headers,
        )
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r.text)
        deltas = [e for e in events if isinstance(e, dict) and e["type"] == "delta"]
        assert "".join(d["content"] for d in deltas) == "Streaming answer here"
        assert len(deltas) == 4
        done = events[-2]
        assert done["type"] == "done"
        assert done["finish_reason"] == "stop"
        assert events[-1] == "[DONE]"
        assert world.router.calls[-1]["body"]["stream_options"] == {"include_usage": True}
        [call] = await calls_of(world, job_id)
        assert str(call.id) == done["call_id"]
        assert call.streamed
        assert (call.prompt_tokens, call.completion_tokens) == (9, 5)
        assert call.cost_micro_usd == world.router.cost({"prompt_tokens": 9, "completion_tokens": 5})


async def test_stream_error_before_first_byte_is_a_problem_response(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team()
        job_id = await create_job(world, team)
        world.fake.push(Behavior(status=503))
        r = await world.client.post(
            f"/api/jobs/{job_id}/llm-call-stream",
            json={"model": GROUP, "messages": MESSAGES},
            headers=team.headers,
        )
        assert r.status_code == 502
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_stream_broken_mid_way_ends_with_an_error_event(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team()
        job_id = await create_job(world, team)
        world.fake.push(Behavior(content="abcdefghij", n_chunks=5, truncate_after_chunks=3))
        r = await world.client.post(
            f"/api/jobs/{job_id}/llm-call-stream",
            json={"model": GROUP, "messages": MESSAGES},
            headers=team.headers,
        )
        events = sse_events(r.text)
        assert events[-2]["type"] == "error"
        assert events[-2]["error"]["status"] == 502
        assert events[-1] == "[DONE]"
        [call] = await calls_of(world, job_id)
        assert call.status == "failed"
        assert call.streamed


async def test_a_call_that_ends_after_the_job_completed_is_recorded_but_not_answered(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team()
        job_id = await create_job(world, team)
        world.fake.push(Behavior(content="too late", delay_s=0.5))
        slow = asyncio.create_task(
            world.client.post(
                f"/api/jobs/{job_id}/llm-call",
                json={"model": GROUP, "messages": MESSAGES},
                headers=team.headers,
            )
        )
        await asyncio.sleep(0.2)
        done = await world.client.post(
            f"/api/jobs/{job_id}/complete", json={"status": "completed"}, headers=team.headers
        )
        assert done.status_code == 200
        late = await slow
        assert late.status_code == 409
        assert "too late" not in late.text
        [call] = await calls_of(world, job_id)
        assert call.status == "succeeded"  # paid upstream, so recorded for cost and margin


async def test_tool_calls_come_back_in_openai_shape_json_and_stream(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    tools = [{"type": "function", "function": {"name": "route_ticket", "parameters": {"type": "object"}}}]
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team()
        job_id = await create_job(world, team)
        world.fake.push(
            Behavior(tool_call=ToolCall(name="route_ticket", arguments={"queue": "billing"}, id="call_1"))
        )
        r = await world.client.post(
            f"/api/jobs/{job_id}/llm-call",
            json={"model": GROUP, "messages": MESSAGES, "tools": tools, "tool_choice": "auto"},
            headers=team.headers,
        )
        assert r.status_code == 200, r.text
        body = r.json()["response"]
        assert body["finish_reason"] == "tool_calls"
        assert body["tool_calls"] == [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "route_ticket", "arguments": '{"queue":"billing"}'},
            }
        ]
        world.fake.push(
            Behavior(tool_call=ToolCall(name="route_ticket", arguments={"queue": "billing"}, id="call_2"))
        )
        s = await world.client.post(
            f"/api/jobs/{job_id}/llm-call-stream",
            json={"model": GROUP, "messages": MESSAGES, "tools": tools},
            headers=team.headers,
        )
        pieces = [e for e in sse_events(s.text) if isinstance(e, dict) and e["type"] == "tool_call"]
        assert pieces
        assert pieces[0]["id"] == "call_2"
        assert pieces[0]["name"] == "route_ticket"
        assert "".join(p["arguments"] or "" for p in pieces) == '{"queue":"billing"}'
        assert sse_events(s.text)[-2]["finish_reason"] == "tool_calls"
