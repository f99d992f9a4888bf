-- name: AccessGroupCreate :one
INSERT INTO api.access_groups (id, name, description)
VALUES (@id::uuid, @name::text, @description::text)
RETURNING *;

-- name: AccessGroupGet :one
SELECT * FROM api.access_groups WHERE id = @id::uuid;

-- name: AccessGroupList :many
SELECT * FROM api.access_groups ORDER BY name;

-- name: AccessGroupUpdate :one
UPDATE api.access_groups SET name = @name::text, description = @description::text, updated_at = now()
WHERE id = @id::uuid
RETURNING *;

-- name: AccessGroupDelete :execrows
DELETE FROM api.access_groups WHERE id = @id::uuid;

-- name: AccessGroupMembersClear :exec
DELETE FROM api.access_group_members WHERE access_group_id = @access_group_id::uuid;

-- name: AccessGroupMemberAdd :exec
INSERT INTO api.access_group_members (access_group_id, model_group_id)
VALUES (@access_group_id::uuid, @model_group_id::uuid)
ON CONFLICT DO NOTHING;

-- name: AccessGroupMemberList :many
SELECT m.name
FROM api.access_group_members am JOIN api.model_groups m ON m.id = am.model_group_id
WHERE am.access_group_id = @access_group_id::uuid
ORDER BY m.name;

-- name: AccessGroupTeamIds :many
SELECT team_id FROM api.team_access_groups WHERE access_group_id = @access_group_id::uuid;

-- name: TeamAccessGroupGrant :execrows
INSERT INTO api.team_access_groups (team_id, access_group_id)
VALUES (@team_id::uuid, @access_group_id::uuid)
ON CONFLICT DO NOTHING;

-- name: TeamAccessGroupRevoke :execrows
DELETE FROM api.team_access_groups WHERE team_id = @team_id::uuid AND access_group_id = @access_group_id::uuid;

-- name: TeamAccessGroupList :many
SELECT g.id, g.name, ta.granted_at
FROM api.team_access_groups ta JOIN api.access_groups g ON g.id = ta.access_group_id
WHERE ta.team_id = @team_id::uuid
ORDER BY g.name;
