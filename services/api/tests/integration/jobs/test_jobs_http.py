"""The job API's HTTP surface: create/get/list/patch, usage, credits, SaaS LiteLLM alias paths."""

from __future__ import annotations

import datetime
import uuid

import msgspec

from tests.fakes import Behavior
from tests.jobs_support import ACTOR, GROUP, job_world
from tollgate_api.teams import service as teams

MESSAGES = [{"role": "user", "content": "hello there"}]


async def test_create_get_patch_and_list_with_cursor_pagination(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team(credits_amount=100)
        ids = []
        for i in range(5):
            r = await world.client.post(
                "/api/jobs/create",
                json={"job_type": "a" if i % 2 else "b", "metadata": {"n": i}, "user_id": "u1"},
                headers=team.headers,
            )
            assert r.status_code == 201, r.text
            assert set(r.json()) >= {"job_id", "status", "created_at"}
            assert r.json()["status"] == "pending"
            ids.append(r.json()["job_id"])

        patched = await world.client.patch(
            f"/api/jobs/{ids[0]}/metadata", json={"metadata": {"extra": True}}, headers=team.headers
        )
        assert patched.status_code == 200
        assert patched.json()["metadata"] == {"n": 0, "extra": True}
        got = (await world.client.get(f"/api/jobs/{ids[0]}", headers=team.headers)).json()
        assert got["metadata"] == {"n": 0, "extra": True}
        assert got["user_id"] == "u1"
        assert got["team_id"] == str(team.team_id)

        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
            page = (await world.client.get("/api/jobs", params=params, headers=team.headers)).json()
            seen += [j["job_id"] for j in page["jobs"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == list(reversed(ids))
        only_a = (await world.client.get("/api/jobs", params={"job_type": "a"}, headers=team.headers)).json()
        assert {j["job_id"] for j in only_a["jobs"]} == {ids[1], ids[3]}
        pending = (
            await world.client.get("/api/jobs", params={"status": "PENDING"}, headers=team.headers)
        ).json()
        assert len(pending["jobs"]) == 5
        bad = await world.client.get("/api/jobs", params={"status": "nope"}, headers=team.headers)
        assert bad.status_code == 400


async def test_team_id_in_body_must_match_the_key_and_alias_paths_hide_other_teams(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team()
        other = await world.seed_team()
        ok = await world.client.post(
            "/api/jobs/create", json={"team_id": str(team.team_id)}, headers=team.headers
        )
        assert ok.status_code == 201
        wrong = await world.client.post(
            "/api/jobs/create", json={"team_id": str(other.team_id)}, headers=team.headers
        )
        assert wrong.status_code == 403
        for path in (
            f"/api/teams/{other.team_id}/jobs",
            f"/api/teams/{other.team_id}/usage?period=2026-11",
            f"/api/credits/teams/{other.team_id}/balance",
            f"/api/credits/teams/{other.team_id}/transactions",
        ):
            r = await world.client.get(path, headers=team.headers)
            assert r.status_code == 404, path
        mine = await world.client.get(
            f"/api/teams/{team.team_id}/jobs?limit=10&offset=0", headers=team.headers
        )
        assert mine.status_code == 200
        assert len(mine.json()["jobs"]) == 1


async def test_credits_balance_transactions_and_check(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team(credits_amount=10)
        await world.client.post("/api/jobs/create", json={}, headers=team.headers)
        bal = (await world.client.get("/api/credits/balance", headers=team.headers)).json()
        assert (bal["balance"], bal["held"], bal["available"]) == (10, 2, 8)
        alias = (
            await world.client.get(f"/api/credits/teams/{team.team_id}/balance", headers=team.headers)
        ).json()
        assert alias == bal
        txs = (await world.client.get("/api/credits/transactions", headers=team.headers)).json()[
            "transactions"
        ]
        assert [t["kind"] for t in txs] == ["hold", "allocation"]
        check = await world.client.post(
            f"/api/credits/teams/{team.team_id}/check?credits_needed=9", headers=team.headers
        )
        assert check.json() == {"has_credits": False, "credits_needed": 9, "available": 8}


async def test_usage_by_job_type_for_a_month(database_url: str, redis_url: str, redis_prefix: str) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team(credits_amount=100)
        for job_type, outcome in (("resume", "completed"), ("resume", "failed"), ("cover", "completed")):
            job = (
                await world.client.post("/api/jobs/create", json={"job_type": job_type}, headers=team.headers)
            ).json()
            await world.client.post(
                f"/api/jobs/{job['job_id']}/complete", json={"status": outcome}, headers=team.headers
            )
        period = datetime.datetime.now(datetime.UTC).strftime("%Y-%m")
        report = (await world.client.get(f"/api/usage?period={period}", headers=team.headers)).json()
        assert report["summary"]["total_jobs"] == 3
        assert report["summary"]["successful_jobs"] == 2
        assert report["summary"]["failed_jobs"] == 1
        assert report["summary"]["credits_used"] == 4
        assert report["job_types"]["resume"]["count"] == 2
        assert report["job_types"]["cover"]["credits_used"] == 2
        alias = await world.client.get(
            f"/api/teams/{team.team_id}/usage?period={period}", headers=team.headers
        )
        assert alias.json() == report
        empty = (await world.client.get("/api/usage?period=1999-01", headers=team.headers)).json()
        assert empty["summary"]["total_jobs"] == 0


async def test_paused_team_cannot_create_jobs_but_finishes_open_ones(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team()
        job = (await world.client.post("/api/jobs/create", json={}, headers=team.headers)).json()
        await teams.change_status(world.pool, world.app.state["revocations"], ACTOR, team.team_id, "pause")
        world.app.state["team_auth"].forget()
        refused = await world.client.post("/api/jobs/create", json={}, headers=team.headers)
        assert refused.status_code == 403
        world.fake.push(Behavior(content="still works"))
        call = await world.client.post(
            f"/api/jobs/{job['job_id']}/llm-call",
            json={"model": GROUP, "messages": MESSAGES},
            headers=team.headers,
        )
        assert call.status_code == 200
        done = await world.client.post(
            f"/api/jobs/{job['job_id']}/complete", json={"status": "completed"}, headers=team.headers
        )
        assert done.status_code == 200


async def test_create_and_call_runs_a_whole_job_in_one_request(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team(credits_amount=10)
        world.fake.push(Behavior(content="one shot"))
        r = await world.client.post(
            "/api/jobs/create-and-call",
            json={
                "team_id": str(team.team_id),
                "job_type": "oneshot",
                "model": GROUP,
                "messages": MESSAGES,
                "job_metadata": {"k": "v"},
                "purpose": "p",
            },
            headers=team.headers,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "completed"
        assert body["response"]["content"] == "one shot"
        assert body["costs"]["credit_applied"] == 2
        assert body["costs"]["credits_remaining"] == 8
        job = (await world.client.get(f"/api/jobs/{body['job_id']}", headers=team.headers)).json()
        assert job["status"] == "completed"
        assert job["metadata"] == {"k": "v"}


async def test_create_and_call_that_fails_leaves_a_failed_job_and_no_hold(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team(credits_amount=10)
        world.fake.push(Behavior(status=500))
        r = await world.client.post(
            "/api/jobs/create-and-call", json={"model": GROUP, "messages": MESSAGES}, headers=team.headers
        )
        assert r.status_code == 502
        jobs = (await world.client.get("/api/jobs", headers=team.headers)).json()["jobs"]
        assert [j["status"] for j in jobs] == ["failed"]
        bal = (await world.client.get("/api/credits/balance", headers=team.headers)).json()
        assert (bal["balance"], bal["held"]) == (10, 0)


async def test_create_and_call_stream_tells_the_job_first_and_ends_with_credits(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team(credits_amount=10)
        world.fake.push(Behavior(content="streamed one shot", n_chunks=3))
        r = await world.client.post(
            "/api/jobs/create-and-call-stream",
            json={"model": GROUP, "messages": MESSAGES},
            headers=team.headers,
        )
        events = [
            line[6:] if line[6:] == "[DONE]" else msgspec.json.decode(line[6:])
            for line in r.text.splitlines()
            if line.startswith("data: ")
        ]
        assert events[0]["type"] == "job"
        uuid.UUID(events[0]["job_id"])
        assert [e["type"] for e in events[1:-1]] == ["delta", "delta", "delta", "done", "job.completed"]
        assert events[-2]["costs"]["credit_applied"] == 2
        assert events[-2]["status"] == "completed"
        assert events[-1] == "[DONE]"


async def test_malformed_bodies_and_ids_are_problems(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team()
        r = await world.client.post(
            "/api/jobs/create",
            content=b"{not json",
            headers={**team.headers, "content-type": "application/json"},
        )
        assert r.status_code == 400
        assert r.headers["content-type"].startswith("application/problem+json")
        assert (await world.client.get("/api/jobs/not-a-uuid", headers=team.headers)).status_code == 404
        job = (await world.client.post("/api/jobs/create", json={}, headers=team.headers)).json()
        bad = await world.client.post(
            f"/api/jobs/{job['job_id']}/complete", json={"status": "done"}, headers=team.headers
        )
        assert bad.status_code == 400
        anon = await world.client.post("/api/jobs/create", json={})
        assert anon.status_code == 401
