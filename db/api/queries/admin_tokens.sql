-- name: AdminTokenCreate :one
INSERT INTO api.admin_tokens (id, operator_id, kind, name, token_hash, token_hint, expires_at)
VALUES (@id::uuid, @operator_id::uuid, @kind::api.admin_token_kind, @name::text, @token_hash::text,
        @token_hint::text, sqlc.narg(expires_at)::timestamptz)
RETURNING *;

-- name: AdminTokenAuth :one
SELECT t.id AS token_id, t.kind, t.expires_at, t.revoked_at,
       o.id AS operator_id, o.email, o.role, o.disabled_at
FROM api.admin_tokens t JOIN api.operators o ON o.id = t.operator_id
WHERE t.token_hash = @token_hash::text;

-- name: AdminTokenRevoke :execrows
UPDATE api.admin_tokens SET revoked_at = now()
WHERE id = @id::uuid AND revoked_at IS NULL;

-- name: AdminTokenRevokeByHash :execrows
UPDATE api.admin_tokens SET revoked_at = now()
WHERE token_hash = @token_hash::text AND revoked_at IS NULL;

-- name: AdminTokenRevokeByOperator :execrows
UPDATE api.admin_tokens SET revoked_at = now()
WHERE operator_id = @operator_id::uuid AND revoked_at IS NULL;

-- name: AdminTokenListByOperator :many
SELECT id, kind, name, token_hint, expires_at, revoked_at, created_at
FROM api.admin_tokens
WHERE operator_id = @operator_id::uuid AND kind = 'automation'
ORDER BY created_at;
