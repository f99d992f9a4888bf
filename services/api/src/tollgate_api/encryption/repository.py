"""The encryption domain's door to generated SQL: encrypted columns, read and compare-and-set."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg import AsyncConnection

from tollgate_api.db import encryption as q
from tollgate_common.db import checked

TeamVirtualKey = q.EncryptedTeamVirtualKeyListRow
WebhookSecret = q.EncryptedWebhookSecretListRow


async def team_virtual_keys(conn: AsyncConnection[Any]) -> list[TeamVirtualKey]:
    return await checked(q.encrypted_team_virtual_key_list(conn))


async def replace_team_virtual_key(
    conn: AsyncConnection[Any], *, team_id: uuid.UUID, old: str, new: str
) -> int:
    return await checked(q.encrypted_team_virtual_key_replace(conn, id=team_id, old_value=old, new_value=new))


async def webhook_secrets(conn: AsyncConnection[Any]) -> list[WebhookSecret]:
    return await checked(q.encrypted_webhook_secret_list(conn))


async def replace_webhook_secret(
    conn: AsyncConnection[Any],
    *,
    endpoint_id: uuid.UUID,
    old: str,
    new: str,
    old_previous: str | None,
    new_previous: str | None,
) -> int:
    return await checked(
        q.encrypted_webhook_secret_replace(
            conn,
            id=endpoint_id,
            old_secret=old,
            new_secret=new,
            old_previous=old_previous,
            new_previous=new_previous,
        )
    )
