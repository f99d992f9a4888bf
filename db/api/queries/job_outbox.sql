-- name: JobOutboxInsert :exec
INSERT INTO api.job_outbox (job_id, event, payload)
VALUES (@job_id::uuid, @event::text, @payload::jsonb)
ON CONFLICT (job_id, event) DO NOTHING;

-- name: JobOutboxMarkDone :execrows
UPDATE api.job_outbox
SET processed_at = coalesce(processed_at, now()), attempts = attempts + 1
WHERE job_id = @job_id::uuid AND event = @event::text;

-- name: JobOutboxGet :one
SELECT * FROM api.job_outbox WHERE job_id = @job_id::uuid AND event = @event::text;

-- name: JobOutboxListPending :many
SELECT * FROM api.job_outbox
WHERE processed_at IS NULL AND created_at <= @older_than::timestamptz
ORDER BY created_at
LIMIT @lim::int;
