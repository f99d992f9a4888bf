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

-- name: OrganizationPage :many
-- The dashboard's list: one page by (name, id) keyset, optional name filter (ILIKE pattern).
SELECT * FROM api.organizations
WHERE (sqlc.narg(name_like)::text IS NULL OR name ILIKE sqlc.narg(name_like)::text)
  AND (sqlc.narg(after_name)::text IS NULL
       OR (name, id) > (sqlc.narg(after_name)::text, sqlc.narg(after_id)::uuid))
ORDER BY name, id
LIMIT @lim::int;
