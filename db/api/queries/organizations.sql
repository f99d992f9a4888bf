-- name: OrganizationCreate :one
INSERT INTO api.organizations (id, name, status, metadata)
VALUES (@id::uuid, @name::text, @status::api.organization_status, @metadata::jsonb)
RETURNING *;

-- name: OrganizationGet :one
SELECT * FROM api.organizations WHERE id = @id::uuid;

-- name: OrganizationList :many
SELECT * FROM api.organizations ORDER BY created_at, id LIMIT @lim::int;

-- name: OrganizationUpdate :one
UPDATE api.organizations SET
    name = coalesce(sqlc.narg(name)::text, name),
    status = coalesce(sqlc.narg(status)::api.organization_status, status),
    metadata = coalesce(sqlc.narg(metadata)::jsonb, metadata),
    updated_at = now()
WHERE id = @id::uuid
RETURNING *;
