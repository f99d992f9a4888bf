"""The only caller of the generated SQL for ``api.jobs`` and ``api.job_outbox``.

Every function takes the caller's connection (so the service decides transaction boundaries) and
returns generated row Structs; driver errors are mapped by ``tollgate_common.db.transaction`` /
``connection`` (river's ``interpretError``).
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from psycopg import AsyncConnection

from tollgate_api.db import job_outbox as outbox_sql
from tollgate_api.db import jobs as sql
from tollgate_api.db.models import Job, JobOutbox, JobStatus

Conn = AsyncConnection[Any]
JobListAllRow = sql.JobListAllRow
JobUsageByTypeRow = sql.JobUsageByTypeRow
MetadataRow = sql.JobMetadataMergeRow

__all__ = ["Job", "JobListAllRow", "JobStatus", "JobUsageByTypeRow", "MetadataRow"]

FINISHED_EVENT = "job.finished"


async def insert(
    conn: Conn,
    *,
    id: uuid.UUID,
    team_id: uuid.UUID,
    user_id: str | None,
    job_type: str | None,
    metadata: dict[str, Any],
    idempotency_key: str | None,
    plan: dict[str, Any],
    hold_credits: int,
    max_credits: int | None,
    expires_at: datetime.datetime,
) -> Job | None:
    """The new job, or None when the team already has a job with this idempotency key."""
    return await sql.job_insert(
        conn,
        id=id,
        team_id=team_id,
        user_id=user_id,
        job_type=job_type,
        metadata=metadata,
        idempotency_key=idempotency_key,
        plan=plan,
        hold_credits=hold_credits,
        max_credits=max_credits,
        expires_at=expires_at,
    )


async def get_by_idempotency_key(conn: Conn, *, team_id: uuid.UUID, key: str) -> Job | None:
    return await sql.job_get_by_idempotency_key(conn, team_id=team_id, idempotency_key=key)


async def get(conn: Conn, job_id: uuid.UUID) -> Job | None:
    return await sql.job_get(conn, id=job_id)


async def get_for_team(conn: Conn, *, job_id: uuid.UUID, team_id: uuid.UUID) -> Job | None:
    return await sql.job_get_for_team(conn, id=job_id, team_id=team_id)


async def lock_for_finish(conn: Conn, *, job_id: uuid.UUID, team_id: uuid.UUID) -> Job | None:
    return await sql.job_get_for_update(conn, id=job_id, team_id=team_id)


async def lock_shared_status(conn: Conn, job_id: uuid.UUID) -> JobStatus | None:
    row = await sql.job_lock_shared(conn, id=job_id)
    return None if row is None else row.status


async def start_call(
    conn: Conn, *, job_id: uuid.UUID, team_id: uuid.UUID, model_group: str, metadata_patch: dict[str, Any]
) -> Job | None:
    """Mark the job in progress for a call; None when it is not open (or not the team's)."""
    return await sql.job_start_call(
        conn, id=job_id, team_id=team_id, model_group=model_group, metadata_patch=metadata_patch
    )


async def finish(
    conn: Conn,
    *,
    job_id: uuid.UUID,
    status: JobStatus,
    completed_at: datetime.datetime,
    credit_applied: int,
    error_message: str | None,
    metadata_patch: dict[str, Any],
    result: Any | None,
) -> bool:
    rows = await sql.job_finish(
        conn,
        id=job_id,
        status=status,
        completed_at=completed_at,
        credit_applied=credit_applied,
        error_message=error_message,
        metadata_patch=metadata_patch,
        result=result,
    )
    return rows == 1


async def merge_metadata(
    conn: Conn, *, job_id: uuid.UUID, team_id: uuid.UUID, patch: dict[str, Any]
) -> MetadataRow | None:
    return await sql.job_metadata_merge(conn, id=job_id, team_id=team_id, metadata_patch=patch)


async def list_for_team(
    conn: Conn,
    *,
    team_id: uuid.UUID,
    status: JobStatus | None,
    job_type: str | None,
    created_after: datetime.datetime | None,
    created_before: datetime.datetime | None,
    cursor: tuple[datetime.datetime, uuid.UUID] | None,
    limit: int,
    offset: int = 0,
) -> list[Job]:
    return await sql.job_list_by_team(
        conn,
        team_id=team_id,
        status=status,
        job_type=job_type,
        created_after=created_after,
        created_before=created_before,
        cursor_created_at=cursor[0] if cursor else None,
        cursor_id=cursor[1] if cursor else None,
        lim=limit,
        off=offset,
    )


async def list_all(
    conn: Conn,
    *,
    team_id: uuid.UUID | None,
    status: JobStatus | None,
    cursor: tuple[datetime.datetime, uuid.UUID] | None,
    limit: int,
    job_type: str | None = None,
    created_after: datetime.datetime | None = None,
    created_before: datetime.datetime | None = None,
) -> list[JobListAllRow]:
    return await sql.job_list_all(
        conn,
        team_id=team_id,
        status=status,
        job_type=job_type,
        created_after=created_after,
        created_before=created_before,
        cursor_created_at=cursor[0] if cursor else None,
        cursor_id=cursor[1] if cursor else None,
        lim=limit,
    )


async def lock_due_for_expiry(conn: Conn, *, now: datetime.datetime, limit: int) -> list[Job]:
    return await sql.job_list_due_for_expiry(conn, now=now, lim=limit)


async def usage_by_type(
    conn: Conn, *, team_id: uuid.UUID, start: datetime.datetime, end: datetime.datetime
) -> list[JobUsageByTypeRow]:
    return await sql.job_usage_by_type(conn, team_id=team_id, period_start=start, period_end=end)


# ------------------------------------------------------------------------------------------ outbox


async def outbox_add_finished(conn: Conn, *, job_id: uuid.UUID, payload: dict[str, Any]) -> None:
    await outbox_sql.job_outbox_insert(conn, job_id=job_id, event=FINISHED_EVENT, payload=payload)


async def outbox_mark_finished_done(conn: Conn, job_id: uuid.UUID) -> int:
    return await outbox_sql.job_outbox_mark_done(conn, job_id=job_id, event=FINISHED_EVENT)


async def outbox_get_finished(conn: Conn, job_id: uuid.UUID) -> JobOutbox | None:
    return await outbox_sql.job_outbox_get(conn, job_id=job_id, event=FINISHED_EVENT)


async def outbox_pending(conn: Conn, *, older_than: datetime.datetime, limit: int) -> list[uuid.UUID]:
    rows = await outbox_sql.job_outbox_list_pending(conn, older_than=older_than, lim=limit)
    return [row.job_id for row in rows]
