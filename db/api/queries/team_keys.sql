-- name: TeamKeyCreate :one
INSERT INTO api.team_keys (id, team_id, name, key_hash, key_hint, expires_at, created_by)
VALUES (@id::uuid, @team_id::uuid, @name::text, @key_hash::text, @key_hint::text,
        sqlc.narg(expires_at)::timestamptz, @created_by::text)
RETURNING *;

-- name: TeamKeyGet :one
SELECT * FROM api.team_keys WHERE id = @id::uuid AND team_id = @team_id::uuid;

-- name: TeamKeyListByTeam :many
SELECT * FROM api.team_keys WHERE team_id = @team_id::uuid ORDER BY created_at, id;

-- name: TeamKeyRevoke :one
-- Revoke at `at` (now, or the end of a rotation's grace period); an earlier revocation stands.
UPDATE api.team_keys
SET revoked_at = CASE WHEN revoked_at IS NULL OR revoked_at > @at::timestamptz THEN @at::timestamptz
                      ELSE revoked_at END
WHERE id = @id::uuid AND team_id = @team_id::uuid
RETURNING *;

-- name: TeamKeySetRotated :exec
UPDATE api.team_keys SET rotated_to = @rotated_to::uuid WHERE id = @id::uuid;

-- name: TeamKeyTouch :exec
UPDATE api.team_keys SET last_used_at = now() WHERE id = @id::uuid;
