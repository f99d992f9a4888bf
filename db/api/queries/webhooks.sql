-- ------------------------------------------------------------------------------------------ endpoints

-- name: WebhookEndpointCreate :one
INSERT INTO api.webhook_endpoints (id, team_id, url, events, secret_encrypted, secret_hint, description,
                                   enabled, created_by)
VALUES (@id::uuid, @team_id::uuid, @url::text, @events::text[], @secret_encrypted::text, @secret_hint::text,
        @description::text, @enabled::boolean, @created_by::text)
RETURNING *;

-- name: WebhookEndpointCountByTeam :one
SELECT count(*)::int AS n FROM api.webhook_endpoints WHERE team_id = @team_id::uuid;

-- name: WebhookEndpointGet :one
SELECT * FROM api.webhook_endpoints WHERE id = @id::uuid AND team_id = @team_id::uuid;

-- name: WebhookEndpointGetById :one
SELECT * FROM api.webhook_endpoints WHERE id = @id::uuid;

-- name: WebhookEndpointListByTeam :many
SELECT * FROM api.webhook_endpoints WHERE team_id = @team_id::uuid ORDER BY created_at, id;

-- name: WebhookEndpointUpdate :one
UPDATE api.webhook_endpoints SET
    url = @url::text,
    events = @events::text[],
    description = @description::text,
    enabled = @enabled::boolean,
    updated_at = now()
WHERE id = @id::uuid AND team_id = @team_id::uuid
RETURNING *;

-- name: WebhookEndpointRotateSecret :one
-- The new secret signs from now on; the current one keeps signing too until previous_expires_at.
UPDATE api.webhook_endpoints SET
    previous_secret_encrypted = CASE WHEN @previous_expires_at::timestamptz > now() THEN secret_encrypted END,
    previous_secret_expires_at = CASE WHEN @previous_expires_at::timestamptz > now()
                                      THEN @previous_expires_at::timestamptz END,
    secret_encrypted = @secret_encrypted::text,
    secret_hint = @secret_hint::text,
    updated_at = now()
WHERE id = @id::uuid AND team_id = @team_id::uuid
RETURNING *;

-- name: WebhookEndpointDelete :execrows
DELETE FROM api.webhook_endpoints WHERE id = @id::uuid AND team_id = @team_id::uuid;

-- ------------------------------------------------------------------------------------------ events

-- name: WebhookEventInsert :one
-- Idempotent on (team_id, type, dedupe_key): no row when the event was already written.
INSERT INTO api.webhook_events (id, team_id, type, dedupe_key, payload)
VALUES (@id::uuid, @team_id::uuid, @type::text, @dedupe_key::text, @payload::jsonb)
ON CONFLICT (team_id, type, dedupe_key) DO NOTHING
RETURNING *;

-- name: WebhookEventGet :one
SELECT * FROM api.webhook_events WHERE id = @id::uuid;

-- ------------------------------------------------------------------------------------------ deliveries

-- name: WebhookDeliveriesCreateForEvent :execrows
-- One pending delivery per enabled endpoint of the team subscribed to the event's type.
INSERT INTO api.webhook_deliveries (id, event_id, endpoint_id, team_id)
SELECT gen_random_uuid(), @event_id::uuid, e.id, e.team_id
FROM api.webhook_endpoints e
WHERE e.team_id = @team_id::uuid AND e.enabled AND @type::text = ANY (e.events)
ON CONFLICT (event_id, endpoint_id) DO NOTHING;

-- name: WebhookDeliveryCreate :one
INSERT INTO api.webhook_deliveries (id, event_id, endpoint_id, team_id)
VALUES (@id::uuid, @event_id::uuid, @endpoint_id::uuid, @team_id::uuid)
RETURNING *;

-- name: WebhookDeliveryGet :one
SELECT * FROM api.webhook_deliveries WHERE id = @id::uuid;

-- name: WebhookDeliveryClaim :one
-- One attempt in flight per delivery: due, not claimed (or its claim lapsed, e.g. a killed worker).
UPDATE api.webhook_deliveries
SET claimed_until = @claimed_until::timestamptz, updated_at = now()
WHERE id = @id::uuid
  AND status IN ('pending', 'failed')
  AND next_attempt_at <= @now::timestamptz
  AND (claimed_until IS NULL OR claimed_until <= @now::timestamptz)
RETURNING *;

-- name: WebhookDeliveryRecord :execrows
-- The outcome of the claimed attempt: succeeded, dead, or failed with the next attempt scheduled.
UPDATE api.webhook_deliveries SET
    status = @status::api.webhook_delivery_status,
    attempts = attempts + 1,
    next_attempt_at = @next_attempt_at::timestamptz,
    claimed_until = NULL,
    last_status_code = sqlc.narg(last_status_code)::int,
    last_error = sqlc.narg(last_error)::text,
    finished_at = CASE WHEN @status::api.webhook_delivery_status IN ('succeeded', 'dead') THEN now() END,
    updated_at = now()
WHERE id = @id::uuid;

-- name: WebhookDeliveryListDue :many
-- The sweep: due deliveries nobody is attempting; SKIP LOCKED so concurrent sweeps split the work.
SELECT id FROM api.webhook_deliveries
WHERE status IN ('pending', 'failed')
  AND next_attempt_at <= @now::timestamptz
  AND (claimed_until IS NULL OR claimed_until <= @now::timestamptz)
ORDER BY next_attempt_at
LIMIT @lim::int
FOR UPDATE SKIP LOCKED;

-- name: WebhookDeliveryListByEndpoint :many
SELECT d.id, d.event_id, ev.type AS event_type, d.endpoint_id, d.status, d.attempts, d.next_attempt_at,
       d.last_status_code, d.last_error, d.created_at, d.finished_at
FROM api.webhook_deliveries d
JOIN api.webhook_events ev ON ev.id = d.event_id
WHERE d.endpoint_id = @endpoint_id::uuid AND d.team_id = @team_id::uuid
  AND (sqlc.narg(status)::api.webhook_delivery_status IS NULL
       OR d.status = sqlc.narg(status)::api.webhook_delivery_status)
ORDER BY d.created_at DESC, d.id
LIMIT @lim::int;

-- name: WebhookDeliveryGetForTeam :one
SELECT d.id, d.event_id, ev.type AS event_type, d.endpoint_id, d.status, d.attempts, d.next_attempt_at,
       d.last_status_code, d.last_error, d.created_at, d.finished_at
FROM api.webhook_deliveries d
JOIN api.webhook_events ev ON ev.id = d.event_id
WHERE d.id = @id::uuid AND d.endpoint_id = @endpoint_id::uuid AND d.team_id = @team_id::uuid;

-- ------------------------------------------------------------------------------------------ attempts

-- name: WebhookAttemptInsert :exec
INSERT INTO api.webhook_attempts (delivery_id, attempted_at, status_code, duration_ms, error)
VALUES (@delivery_id::uuid, @attempted_at::timestamptz, sqlc.narg(status_code)::int, @duration_ms::int,
        sqlc.narg(error)::text);

-- name: WebhookAttemptListByDelivery :many
SELECT * FROM api.webhook_attempts WHERE delivery_id = @delivery_id::uuid ORDER BY id;

-- ------------------------------------------------------------------------------------------ teams

-- name: WebhookTeamLock :one
-- The team exists; its row is locked so concurrent creates cannot pass the endpoint limit together.
SELECT id FROM api.teams WHERE id = @team_id::uuid FOR NO KEY UPDATE;
