-- name: JobInsert :one
-- Insert a new job; a repeated idempotency key inserts nothing (no row returned).
INSERT INTO api.jobs (
    id, team_id, user_id, job_type, metadata, idempotency_key, plan, hold_credits, max_credits, expires_at
) VALUES (
    @id::uuid, @team_id::uuid, sqlc.narg(user_id)::text, sqlc.narg(job_type)::text, @metadata::jsonb,
    sqlc.narg(idempotency_key)::text, @plan::jsonb, @hold_credits::bigint, sqlc.narg(max_credits)::bigint,
    @expires_at::timestamptz
)
ON CONFLICT (team_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING *;

-- name: JobGetByIdempotencyKey :one
SELECT * FROM api.jobs
WHERE team_id = @team_id::uuid AND idempotency_key = @idempotency_key::text;

-- name: JobGet :one
SELECT * FROM api.jobs WHERE id = @id::uuid;

-- name: JobGetForTeam :one
SELECT * FROM api.jobs WHERE id = @id::uuid AND team_id = @team_id::uuid;

-- name: JobGetForUpdate :one
-- Lock the job row for its one finishing transition.
SELECT * FROM api.jobs WHERE id = @id::uuid AND team_id = @team_id::uuid FOR UPDATE;

-- name: JobLockShared :one
-- Taken by a call's recording transaction: waits for a finishing transition (FOR UPDATE) in flight.
SELECT status FROM api.jobs WHERE id = @id::uuid FOR SHARE;

-- name: JobStartCall :one
-- Before a call: still open? Mark it in progress and remember the model group and call metadata.
UPDATE api.jobs
SET status = 'in_progress',
    started_at = coalesce(started_at, now()),
    model_groups_used = CASE
        WHEN @model_group::text = ANY(model_groups_used) THEN model_groups_used
        ELSE array_append(model_groups_used, @model_group::text)
    END,
    metadata = metadata || @metadata_patch::jsonb,
    updated_at = now()
WHERE id = @id::uuid AND team_id = @team_id::uuid AND status IN ('pending', 'in_progress')
RETURNING *;

-- name: JobFinish :execrows
UPDATE api.jobs
SET status = @status::api.job_status,
    completed_at = @completed_at::timestamptz,
    credit_applied = @credit_applied::bigint,
    error_message = sqlc.narg(error_message)::text,
    metadata = metadata || @metadata_patch::jsonb,
    result = sqlc.narg(result)::jsonb,
    updated_at = now()
WHERE id = @id::uuid AND status IN ('pending', 'in_progress');

-- name: JobMetadataMerge :one
UPDATE api.jobs
SET metadata = metadata || @metadata_patch::jsonb, updated_at = now()
WHERE id = @id::uuid AND team_id = @team_id::uuid
RETURNING id, metadata, updated_at;

-- name: JobListByTeam :many
-- Newest first, keyset-paginated by (created_at, id).
SELECT * FROM api.jobs
WHERE team_id = @team_id::uuid
  AND (sqlc.narg(status)::api.job_status IS NULL OR status = sqlc.narg(status)::api.job_status)
  AND (sqlc.narg(job_type)::text IS NULL OR job_type = sqlc.narg(job_type)::text)
  AND (sqlc.narg(created_after)::timestamptz IS NULL OR created_at >= sqlc.narg(created_after)::timestamptz)
  AND (sqlc.narg(created_before)::timestamptz IS NULL OR created_at < sqlc.narg(created_before)::timestamptz)
  AND (
    sqlc.narg(cursor_created_at)::timestamptz IS NULL
    OR (created_at, id) < (sqlc.narg(cursor_created_at)::timestamptz, sqlc.narg(cursor_id)::uuid)
  )
ORDER BY created_at DESC, id DESC
LIMIT @lim::int OFFSET @off::int;

-- name: JobListAll :many
-- The operator view: every team, newest first, keyset-paginated.
SELECT j.*, c.cost_micro_usd AS cost_micro_usd, c.price_usd_micro AS price_usd_micro,
       c.margin_usd_micro AS margin_usd_micro
FROM api.jobs j
LEFT JOIN api.job_costs c ON c.job_id = j.id
WHERE (sqlc.narg(team_id)::uuid IS NULL OR j.team_id = sqlc.narg(team_id)::uuid)
  AND (sqlc.narg(status)::api.job_status IS NULL OR j.status = sqlc.narg(status)::api.job_status)
  AND (sqlc.narg(job_type)::text IS NULL OR j.job_type = sqlc.narg(job_type)::text)
  AND (sqlc.narg(created_after)::timestamptz IS NULL OR j.created_at >= sqlc.narg(created_after)::timestamptz)
  AND (sqlc.narg(created_before)::timestamptz IS NULL OR j.created_at < sqlc.narg(created_before)::timestamptz)
  AND (
    sqlc.narg(cursor_created_at)::timestamptz IS NULL
    OR (j.created_at, j.id) < (sqlc.narg(cursor_created_at)::timestamptz, sqlc.narg(cursor_id)::uuid)
  )
ORDER BY j.created_at DESC, j.id DESC
LIMIT @lim::int;

-- name: JobListDueForExpiry :many
-- Open jobs past their TTL; SKIP LOCKED lets several sweepers and completes run side by side.
SELECT * FROM api.jobs
WHERE status IN ('pending', 'in_progress') AND expires_at <= @now::timestamptz
ORDER BY expires_at
LIMIT @lim::int
FOR UPDATE SKIP LOCKED;

-- name: JobUsageByType :many
-- A team's jobs created in [period_start, period_end) by job type, with the credits they used.
SELECT coalesce(job_type, '') AS job_type,
       count(*)::bigint AS total_jobs,
       count(*) FILTER (WHERE status = 'completed')::bigint AS successful_jobs,
       count(*) FILTER (WHERE status = 'failed')::bigint AS failed_jobs,
       count(*) FILTER (WHERE status = 'expired')::bigint AS expired_jobs,
       count(*) FILTER (WHERE status IN ('pending', 'in_progress'))::bigint AS open_jobs,
       coalesce(sum(credit_applied), 0)::bigint AS credits_used
FROM api.jobs
WHERE team_id = @team_id::uuid
  AND created_at >= @period_start::timestamptz AND created_at < @period_end::timestamptz
GROUP BY coalesce(job_type, '')
ORDER BY 1;
