-- name: VirtualKeyInsert :one
INSERT INTO router.virtual_keys (
    id, key_hash, key_prefix, owner_ref, allowed_models, rpm, tpm, budget_micro_usd, budget_period,
    expires_at, metadata, log_prompts
) VALUES (
    @id::uuid, @key_hash::text, @key_prefix::text, @owner_ref::text, sqlc.narg(allowed_models)::text[],
    sqlc.narg(rpm)::int4, sqlc.narg(tpm)::int4, sqlc.narg(budget_micro_usd)::int8,
    @budget_period::router.budget_period, sqlc.narg(expires_at)::timestamptz, @metadata::jsonb,
    @log_prompts::boolean
)
RETURNING *;

-- name: VirtualKeyGet :one
SELECT * FROM router.virtual_keys WHERE id = @id::uuid AND deleted_at IS NULL;

-- name: VirtualKeyGetByHash :one
-- The data plane's lookup; the caller checks blocked/expiry (deleted keys never match).
SELECT * FROM router.virtual_keys WHERE key_hash = @key_hash::text AND deleted_at IS NULL;

-- name: VirtualKeyListByOwner :many
SELECT * FROM router.virtual_keys
WHERE deleted_at IS NULL
  AND (sqlc.narg(owner_ref)::text IS NULL OR owner_ref = sqlc.narg(owner_ref)::text)
ORDER BY created_at, id
LIMIT @lim::int4;

-- name: VirtualKeyUpdate :one
-- Replace every editable column (the service merges a PATCH onto the current row first).
UPDATE router.virtual_keys
SET owner_ref = @owner_ref::text, allowed_models = sqlc.narg(allowed_models)::text[],
    rpm = sqlc.narg(rpm)::int4, tpm = sqlc.narg(tpm)::int4,
    budget_micro_usd = sqlc.narg(budget_micro_usd)::int8, budget_period = @budget_period::router.budget_period,
    expires_at = sqlc.narg(expires_at)::timestamptz, metadata = @metadata::jsonb,
    log_prompts = @log_prompts::boolean, updated_at = now()
WHERE id = @id::uuid AND deleted_at IS NULL
RETURNING *;

-- name: VirtualKeySetBlocked :one
UPDATE router.virtual_keys SET blocked = @blocked::boolean, updated_at = now()
WHERE id = @id::uuid AND deleted_at IS NULL
RETURNING *;

-- name: VirtualKeySetHash :one
UPDATE router.virtual_keys
SET key_hash = @key_hash::text, key_prefix = @key_prefix::text, updated_at = now()
WHERE id = @id::uuid AND deleted_at IS NULL
RETURNING *;

-- name: VirtualKeySoftDelete :execrows
UPDATE router.virtual_keys SET deleted_at = now(), updated_at = now()
WHERE id = @id::uuid AND deleted_at IS NULL;

-- name: VirtualKeyListWithBudget :many
SELECT * FROM router.virtual_keys WHERE deleted_at IS NULL AND budget_micro_usd IS NOT NULL ORDER BY id;
