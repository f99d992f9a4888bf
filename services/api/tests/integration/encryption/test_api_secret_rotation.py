"""`tollgate keys rotate-api-keys`: every secret the api stores moves under the new primary key id,
stays readable, and a second run changes nothing."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from tollgate_api.auth.keyring import virtual_key_aad
from tollgate_api.cli import main as cli_main
from tollgate_api.encryption.service import rotate_encryption
from tollgate_api.webhooks.signing import secret_aad
from tollgate_common.crypto import Keyring
from tollgate_common.db import connection

from ..conftest import ENCRYPTION_KEYS


async def secrets_of(pool: Any) -> tuple[dict[uuid.UUID, str], dict[uuid.UUID, tuple[str, str | None]]]:
    async with connection(pool) as conn:
        teams = await (await conn.execute("SELECT id, virtual_key_encrypted FROM api.teams")).fetchall()
        hooks = await (
            await conn.execute(
                "SELECT id, secret_encrypted, previous_secret_encrypted FROM api.webhook_endpoints"
            )
        ).fetchall()
    return {t[0]: t[1] for t in teams}, {h[0]: (h[1], h[2]) for h in hooks}


async def add_endpoint(pool: Any, old: Keyring, team_id: str) -> uuid.UUID:
    endpoint_id = uuid.uuid4()
    async with connection(pool) as conn:
        await conn.execute(
            "INSERT INTO api.webhook_endpoints (id, team_id, url, events, secret_encrypted, secret_hint,"
            " previous_secret_encrypted, created_by) VALUES (%s, %s, 'https://hooks.example.com/x',"
            " '{job.completed}', %s, 'abcd', %s, 'test')",
            (
                endpoint_id,
                team_id,
                old.encrypt("whsec_current", associated=secret_aad(endpoint_id)),
                old.encrypt("whsec_previous", associated=secret_aad(endpoint_id)),
            ),
        )
    return endpoint_id


async def test_rotation_moves_every_secret_to_the_new_primary(pool: Any, tenancy: Any) -> None:
    old = Keyring.from_setting(ENCRYPTION_KEYS)
    team = await tenancy.team()
    endpoint_id = await add_endpoint(pool, old, team["id"])
    before_teams, _ = await secrets_of(pool)
    plaintext = {
        tid: old.decrypt(token, associated=virtual_key_aad(tid)) for tid, token in before_teams.items()
    }

    new_entry = Keyring.new_key_setting("t2")
    both = Keyring.from_setting(f"{new_entry},{ENCRYPTION_KEYS}")
    async with connection(pool) as conn:
        result = await rotate_encryption(conn, both)
        again = await rotate_encryption(conn, both)
    assert (result.rotated, result.primary_key_id) == (len(before_teams) + 1, "t2")
    assert (again.rotated, again.unchanged) == (0, len(before_teams) + 1)

    only_new = Keyring.from_setting(new_entry)  # the old key can now be dropped from the setting
    teams, hooks = await secrets_of(pool)
    for tid, token in teams.items():
        assert only_new.key_id_of(token) == "t2"
        assert only_new.decrypt(token, associated=virtual_key_aad(tid)) == plaintext[tid]
    current, previous = hooks[endpoint_id]
    assert previous is not None
    assert only_new.decrypt(current, associated=secret_aad(endpoint_id)) == "whsec_current"
    assert only_new.decrypt(previous, associated=secret_aad(endpoint_id)) == "whsec_previous"


async def test_the_command_rotates_with_the_configured_keyring(
    pool: Any, tenancy: Any, api_settings: Any, monkeypatch: Any, capsys: Any
) -> None:
    await tenancy.team()
    new_entry = Keyring.new_key_setting("t9")
    monkeypatch.setenv("TOLLGATE_DATABASE_URL", api_settings.database.url)
    monkeypatch.setenv("TOLLGATE_API_ENCRYPTION_KEYS", f"{new_entry},{ENCRYPTION_KEYS}")
    assert await asyncio.to_thread(cli_main, ["keys", "rotate-api-keys"]) == 0
    assert '"primary_key_id":"t9"' in capsys.readouterr().out.replace(" ", "")
    teams, _ = await secrets_of(pool)
    assert {Keyring.from_setting(new_entry).key_id_of(t) for t in teams.values()} == {"t9"}


def test_the_command_refuses_without_a_keyring(monkeypatch: Any, capsys: Any) -> None:
    monkeypatch.setenv("TOLLGATE_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.delenv("TOLLGATE_API_ENCRYPTION_KEYS", raising=False)
    assert cli_main(["keys", "rotate-api-keys"]) == 2
    assert "TOLLGATE_API_ENCRYPTION_KEYS" in capsys.readouterr().err
