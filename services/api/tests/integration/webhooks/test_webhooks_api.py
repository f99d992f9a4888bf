"""Registration API: teams manage only their own endpoints, secrets are shown once and stored
encrypted, URLs and events are validated, operators manage a team's endpoints and finance only
reads; events are idempotent and emitted by suspension and expiry; rotation signs with both secrets."""

from __future__ import annotations

import datetime
import importlib.util
import json
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tollgate_api.audit.service import Actor
from tollgate_api.jobs import service as jobs
from tollgate_api.teams import service as teams
from tollgate_api.webhooks import delivery
from tollgate_api.webhooks.events import emit_event
from tollgate_common.crypto import Keyring

EXAMPLE = Path(__file__).resolve().parents[5] / "docs" / "examples" / "verify_webhook.py"
ADMIN = {"BOOTSTRAP_ADMIN_EMAIL": "root@example.test", "BOOTSTRAP_ADMIN_PASSWORD": "a long admin password"}


def recipe() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_webhook_recipe", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def rows(world: Any, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    async with world.pool.connection() as conn:
        return list(await (await conn.execute(sql, args)).fetchall())


async def deliver_all(world: Any, now: datetime.datetime | None = None) -> list[str]:
    keyring = Keyring.from_setting(world.settings.auth.encryption_keys.get())
    async with world.pool.connection() as conn:
        due = await delivery.due_deliveries(conn, now=now)
        return [
            (await delivery.deliver(conn, keyring, world.settings.webhooks, d, now=now)).status for d in due
        ]


async def login(client: Any, email: str, password: str) -> dict[str, str]:
    response = await client.post("/admin/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    client.cookies.clear()
    return {"authorization": f"Bearer {response.json()['token']}"}


async def test_teams_see_only_their_own_endpoints_and_the_secret_once(open_hooks: Any) -> None:
    async with open_hooks() as hooks:
        world, client = hooks.world, hooks.client
        team_a, team_b = await world.seed_team(), await world.seed_team()
        created = await hooks.register(team_a, "https://hooks.example.com/a", ["job.completed", "job.failed"])
        assert created["secret"].startswith("whsec_")
        assert created["secret_hint"] == created["secret"][-4:]
        assert created["events"] == ["job.completed", "job.failed"]
        path = f"/api/webhooks/{created['id']}"

        got = (await client.get(path, headers=team_a.headers)).json()
        assert "secret" not in got
        assert got["url"] == "https://hooks.example.com/a"
        [(stored,)] = await rows(world, "SELECT secret_encrypted FROM api.webhook_endpoints")
        assert created["secret"] not in stored
        assert stored.startswith("v1:")

        # team B: another team's endpoint does not exist, whatever the method
        assert (await client.get("/api/webhooks", headers=team_b.headers)).json() == []
        for method, url, body in [
            ("GET", path, None),
            ("PATCH", path, {"enabled": False}),
            ("DELETE", path, None),
            ("POST", f"{path}/rotate-secret", {}),
            ("POST", f"{path}/test", None),
            ("GET", f"{path}/deliveries", None),
        ]:
            response = await client.request(method, url, json=body, headers=team_b.headers)
            assert response.status_code == 404, f"{method} {url}: {response.status_code}"
            assert response.json()["type"].endswith("webhook-not-found")
        assert (await client.get(path, headers=team_a.headers)).json()["enabled"] is True

        # team A changes and deletes its own
        patched = await client.patch(
            path, json={"events": ["job.failed"], "enabled": False}, headers=team_a.headers
        )
        assert patched.status_code == 200, patched.text
        assert (patched.json()["events"], patched.json()["enabled"]) == (["job.failed"], False)
        assert (await client.delete(path, headers=team_a.headers)).status_code == 204
        assert (await client.get(path, headers=team_a.headers)).status_code == 404
        assert (await client.get("/api/webhooks", headers=team_a.headers)).json() == []


async def test_urls_events_and_the_endpoint_limit_are_validated(open_hooks: Any) -> None:
    async with open_hooks(WEBHOOKS_ALLOW_HTTP="false", WEBHOOKS_MAX_ENDPOINTS="2") as hooks:
        team = await hooks.world.seed_team()
        bad = [
            ("http://hooks.example.com/x", "invalid-webhook-url"),
            ("ftp://hooks.example.com/x", "invalid-webhook-url"),
            ("javascript:alert(1)", "invalid-webhook-url"),
            ("https://127.0.0.1/x", "invalid-webhook-url"),
            ("https://localhost:8443/x", "invalid-webhook-url"),
            ("https://10.1.2.3/x", "invalid-webhook-url"),
            ("https://[::1]/x", "invalid-webhook-url"),
            ("https://user:pw@hooks.example.com/x", "invalid-webhook-url"),
            ("https://hooks.example.com:99999/x", "invalid-webhook-url"),
        ]
        for url, slug in bad:
            response = await hooks.client.post(
                "/api/webhooks", json={"url": url, "events": ["job.completed"]}, headers=team.headers
            )
            assert response.status_code == 400, f"{url}: {response.status_code}"
            assert response.json()["type"].endswith(slug), url
        unknown = await hooks.client.post(
            "/api/webhooks",
            json={"url": "https://hooks.example.com/x", "events": ["job.exploded"]},
            headers=team.headers,
        )
        assert unknown.status_code == 400
        assert "job.exploded" in unknown.json()["detail"]
        empty = await hooks.client.post(
            "/api/webhooks", json={"url": "https://hooks.example.com/x", "events": []}, headers=team.headers
        )
        assert empty.status_code == 400

        await hooks.register(team, "https://hooks.example.com/1", ["job.completed"])
        await hooks.register(team, "https://hooks.example.com/2", ["credits.low"])
        third = await hooks.client.post(
            "/api/webhooks",
            json={"url": "https://hooks.example.com/3", "events": ["job.completed"]},
            headers=team.headers,
        )
        assert third.status_code == 409
        assert third.json()["type"].endswith("webhook-limit-reached")


async def test_operators_manage_a_teams_webhooks_and_finance_only_reads(open_hooks: Any) -> None:
    async with open_hooks(**ADMIN) as hooks:
        client = hooks.client
        team = await hooks.world.seed_team()
        admin = await login(client, ADMIN["BOOTSTRAP_ADMIN_EMAIL"], ADMIN["BOOTSTRAP_ADMIN_PASSWORD"])
        made = await client.post(
            "/admin/users",
            json={"email": "fin@example.test", "password": "long enough password", "role": "finance"},
            headers=admin,
        )
        assert made.status_code == 201, made.text
        finance = await login(client, "fin@example.test", "long enough password")
        base = f"/admin/teams/{team.team_id}/webhooks"

        created = await client.post(
            base, json={"url": "https://hooks.example.com/ops", "events": ["team.suspended"]}, headers=admin
        )
        assert created.status_code == 201, created.text
        endpoint = created.json()
        assert endpoint["secret"].startswith("whsec_")
        assert endpoint["created_by"] != f"team-key:{team.principal.key_id}"
        # the team sees what operators registered for it
        mine = (await client.get("/api/webhooks", headers=team.headers)).json()
        assert [e["id"] for e in mine] == [endpoint["id"]]

        # finance reads, never mutates
        assert (await client.get(base, headers=finance)).status_code == 200
        assert (await client.get(f"{base}/{endpoint['id']}/deliveries", headers=finance)).status_code == 200
        for method, url, body in [
            ("POST", base, {"url": "https://hooks.example.com/f", "events": ["job.completed"]}),
            ("PATCH", f"{base}/{endpoint['id']}", {"enabled": False}),
            ("DELETE", f"{base}/{endpoint['id']}", None),
            ("POST", f"{base}/{endpoint['id']}/rotate-secret", {}),
            ("POST", f"{base}/{endpoint['id']}/test", None),
        ]:
            response = await client.request(method, url, json=body, headers=finance)
            assert response.status_code == 403, f"finance could {method} {url}"

        # an endpoint id under another team is "not found"; an unknown team too
        other = await hooks.world.seed_team()
        wrong = await client.get(f"/admin/teams/{other.team_id}/webhooks/{endpoint['id']}", headers=admin)
        assert wrong.status_code == 404
        nobody = await client.post(
            f"/admin/teams/{uuid.uuid4()}/webhooks",
            json={"url": "https://hooks.example.com/x", "events": ["job.completed"]},
            headers=admin,
        )
        assert nobody.status_code == 404
        # operator changes are audited
        audit = await rows(hooks.world, "SELECT action FROM api.audit_log WHERE target_type = 'webhook'")
        assert ("webhook.create",) in audit


async def test_events_are_idempotent_on_their_dedupe_key(open_hooks: Any) -> None:
    async with open_hooks() as hooks:
        world = hooks.world
        team = await world.seed_team()
        await hooks.register(team, "https://hooks.example.com/a", ["credits.low"])
        await hooks.register(team, "https://hooks.example.com/b", ["credits.low", "job.completed"])
        await hooks.register(team, "https://hooks.example.com/c", ["job.completed"])
        for key in ("low:2026-11-23", "low:2026-11-23", "low:2026-11-24"):
            async with world.pool.connection() as conn, conn.transaction():
                await emit_event(
                    conn, team_id=team.team_id, event="credits.low", payload={"available": 5}, dedupe_key=key
                )
        events = await rows(world, "SELECT dedupe_key FROM api.webhook_events ORDER BY dedupe_key")
        assert events == [("low:2026-11-23",), ("low:2026-11-24",)]
        # one delivery per event x subscribed endpoint (a and b, not c)
        [(deliveries,)] = await rows(world, "SELECT count(*) FROM api.webhook_deliveries")
        assert deliveries == 4
        # rolled back with the caller's transaction: nothing written
        async with world.pool.connection() as conn:
            transaction = conn.transaction()
            await transaction.__aenter__()
            await emit_event(conn, team_id=team.team_id, event="credits.low", payload={}, dedupe_key="rb")
            await transaction.__aexit__(RuntimeError, RuntimeError(), None)
        assert len(await rows(world, "SELECT 1 FROM api.webhook_events")) == 2
        with pytest.raises(ValueError, match="unknown webhook event"):
            async with world.pool.connection() as conn:
                await emit_event(conn, team_id=team.team_id, event="job.exploded", payload={}, dedupe_key="x")  # type: ignore[arg-type]


async def test_suspension_and_expiry_emit_events_and_disabled_endpoints_get_none(
    open_hooks: Any, receiver: Any
) -> None:
    async with open_hooks() as hooks:
        world = hooks.world
        team = await world.seed_team()
        await hooks.register(team, receiver.url, ["team.suspended", "job.failed"])
        muted = await hooks.register(team, receiver.url + "/muted", ["team.suspended", "job.failed"])
        patched = await hooks.client.patch(
            f"/api/webhooks/{muted['id']}", json={"enabled": False}, headers=team.headers
        )
        assert patched.status_code == 200

        created = await hooks.client.post("/api/jobs/create", json={}, headers=team.headers)
        job_id = created.json()["job_id"]
        later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
        assert await jobs.expire_due_jobs(world.pool, later) == 1
        await teams.change_status(
            world.pool, world.app.state["revocations"], Actor("test"), team.team_id, "suspend"
        )

        assert await deliver_all(world, later) == ["succeeded", "succeeded"]
        assert [r.path for r in receiver.received] == ["/hooks", "/hooks"]
        by_type = {r.headers["tollgate-event-type"]: r for r in receiver.received}
        job_event = json.loads(by_type["job.failed"].body)
        assert job_event["data"]["job_id"] == job_id
        assert (job_event["data"]["status"], job_event["data"]["reason"]) == ("expired", "expired")
        suspended = json.loads(by_type["team.suspended"].body)
        assert suspended["data"] == {
            "team_id": str(team.team_id),
            "status": "suspended",
            "previous_status": "active",
        }


async def test_rotation_signs_with_both_secrets_during_the_grace_period(
    open_hooks: Any, receiver: Any
) -> None:
    async with open_hooks() as hooks:
        team = await hooks.world.seed_team()
        endpoint = await hooks.register(team, receiver.url, ["job.completed"])
        path = f"/api/webhooks/{endpoint['id']}"
        rotated = await hooks.client.post(
            f"{path}/rotate-secret", json={"grace_s": 3600}, headers=team.headers
        )
        assert rotated.status_code == 200, rotated.text
        new_secret = rotated.json()["secret"]
        assert new_secret != endpoint["secret"]
        assert rotated.json()["previous_secret_valid_until"] is not None

        sent = await hooks.client.post(f"{path}/test", headers=team.headers)
        assert sent.status_code == 202
        assert await deliver_all(hooks.world) == ["succeeded"]
        example = recipe()
        verify = example.verify_webhook
        first = receiver.received[-1]
        assert first.headers["tollgate-signature"].count("v1=") == 2
        for secret in (endpoint["secret"], new_secret):
            assert verify(first.body, first.headers["tollgate-signature"], secret)["type"] == "webhook.test"

        # rotate again without grace: only the newest secret signs
        again = await hooks.client.post(f"{path}/rotate-secret", json={"grace_s": 0}, headers=team.headers)
        newest = again.json()["secret"]
        await hooks.client.post(f"{path}/test", headers=team.headers)
        assert await deliver_all(hooks.world) == ["succeeded"]
        last = receiver.received[-1]
        assert last.headers["tollgate-signature"].count("v1=") == 1
        assert verify(last.body, last.headers["tollgate-signature"], newest)
        with pytest.raises(example.WebhookVerificationError):
            verify(last.body, last.headers["tollgate-signature"], new_secret)
