-- name: OperatorCreate :one
INSERT INTO api.operators (id, email, password_hash, role)
VALUES (@id::uuid, @email::text, @password_hash::text, @role::api.operator_role)
RETURNING *;

-- name: OperatorGet :one
SELECT * FROM api.operators WHERE id = @id::uuid;

-- name: OperatorGetByEmail :one
SELECT * FROM api.operators WHERE lower(email) = lower(@email::text);

-- name: OperatorList :many
SELECT * FROM api.operators ORDER BY created_at, id;

-- name: OperatorCount :one
SELECT count(*) AS n FROM api.operators;

-- name: OperatorDisable :one
UPDATE api.operators SET disabled_at = coalesce(disabled_at, now()), updated_at = now()
WHERE id = @id::uuid
RETURNING *;

-- name: OperatorSetPasswordHash :exec
UPDATE api.operators SET password_hash = @password_hash::text, updated_at = now() WHERE id = @id::uuid;

-- name: OperatorBootstrapLock :exec
-- Serialises the first-operator bootstrap across replicas (released at commit).
SELECT pg_advisory_xact_lock(@lock_key::bigint);
