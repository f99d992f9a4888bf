"""/admin/jobs: operators see cost, price, margin and every call's internals; teams cannot get there."""

from __future__ import annotations

from tests.fakes import Behavior
from tests.fakes.router_standin import DEPLOYMENT, MODEL
from tests.jobs_support import GROUP, job_world
from tollgate_api.usage import service as usage

ADMIN = {"BOOTSTRAP_ADMIN_EMAIL": "ops@example.com", "BOOTSTRAP_ADMIN_PASSWORD": "correct horse battery"}


async def test_admin_job_view_shows_cost_price_margin_and_calls(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix, **ADMIN) as world:
        team = await world.seed_team()
        job = (
            await world.client.post("/api/jobs/create", json={"job_type": "x"}, headers=team.headers)
        ).json()
        world.fake.push(Behavior(content="hi", prompt_tokens=100, completion_tokens=50))
        await world.client.post(
            f"/api/jobs/{job['job_id']}/llm-call",
            json={"model": GROUP, "messages": [{"role": "user", "content": "hi"}]},
            headers=team.headers,
        )
        await world.client.post(
            f"/api/jobs/{job['job_id']}/complete", json={"status": "completed"}, headers=team.headers
        )

        login = await world.client.post(
            "/admin/auth/login", json={"email": "ops@example.com", "password": "correct horse battery"}
        )
        assert login.status_code == 200, login.text
        admin = {"authorization": f"Bearer {login.json()['token']}"}
        cost = world.router.cost({"prompt_tokens": 100, "completion_tokens": 50})

        live = (await world.client.get(f"/admin/jobs/{job['job_id']}", headers=admin)).json()
        assert live["costs"]["aggregated"] is False
        assert live["costs"]["cost_micro_usd"] == cost
        assert live["costs"]["price_credits"] == 2
        assert live["costs"]["price_usd_micro"] == 20_000
        assert live["costs"]["margin_usd_micro"] == 20_000 - cost
        [call] = live["calls"]
        assert (call["resolved_model"], call["deployment"]) == (MODEL, DEPLOYMENT)
        assert (call["prompt_tokens"], call["completion_tokens"], call["cost_micro_usd"]) == (100, 50, cost)

        async with world.pool.connection() as conn:
            assert await usage.aggregate_job(conn, world.enqueued.job_ids[0])
        stored = (await world.client.get(f"/admin/jobs/{job['job_id']}", headers=admin)).json()
        assert stored["costs"]["aggregated"] is True
        assert stored["costs"]["margin_usd_micro"] == live["costs"]["margin_usd_micro"]
        listing = (
            await world.client.get("/admin/jobs", params={"team_id": str(team.team_id)}, headers=admin)
        ).json()
        assert [j["job_id"] for j in listing["jobs"]] == [job["job_id"]]
        assert listing["jobs"][0]["margin_usd_micro"] == 20_000 - cost

        world.client.cookies.clear()  # the login set the dashboard's session cookie
        assert (await world.client.get("/admin/jobs")).status_code == 401
        assert (await world.client.get("/admin/jobs", headers=team.headers)).status_code == 401
