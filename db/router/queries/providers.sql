-- name: ProviderInsert :one
INSERT INTO router.providers (id, name, kind, base_url, api_key_enc, api_key_hint, settings)
VALUES (
    @id::uuid, @name::text, @kind::router.provider_kind, sqlc.narg(base_url)::text,
    sqlc.narg(api_key_enc)::text, sqlc.narg(api_key_hint)::text, @settings::jsonb
)
RETURNING *;

-- name: ProviderGet :one
SELECT * FROM router.providers WHERE id = @id::uuid;

-- name: ProviderList :many
SELECT * FROM router.providers ORDER BY name;

-- name: ProviderUpdate :one
-- Replace every editable column (the service merges a PATCH onto the current row first).
UPDATE router.providers
SET name = @name::text, kind = @kind::router.provider_kind, base_url = sqlc.narg(base_url)::text,
    settings = @settings::jsonb, updated_at = now()
WHERE id = @id::uuid
RETURNING *;

-- name: ProviderSetKey :one
UPDATE router.providers
SET api_key_enc = sqlc.narg(api_key_enc)::text, api_key_hint = sqlc.narg(api_key_hint)::text,
    updated_at = now()
WHERE id = @id::uuid
RETURNING *;

-- name: ProviderReencryptKey :execrows
-- Swap the ciphertext only if nobody changed it meanwhile (rotation runs beside admin writes).
UPDATE router.providers
SET api_key_enc = @new_enc::text
WHERE id = @id::uuid AND api_key_enc = @old_enc::text;

-- name: ProviderDelete :execrows
DELETE FROM router.providers WHERE id = @id::uuid;
