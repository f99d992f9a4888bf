-- name: ModelGroupCreate :one
INSERT INTO api.model_groups (id, name, router_model, fallbacks, description)
VALUES (@id::uuid, @name::text, @router_model::text, @fallbacks::text[], @description::text)
RETURNING *;

-- name: ModelGroupGet :one
SELECT * FROM api.model_groups WHERE id = @id::uuid;

-- name: ModelGroupList :many
SELECT * FROM api.model_groups ORDER BY name;

-- name: ModelGroupUpdate :one
UPDATE api.model_groups SET
    name = @name::text, router_model = @router_model::text, fallbacks = @fallbacks::text[],
    description = @description::text, updated_at = now()
WHERE id = @id::uuid
RETURNING *;

-- name: ModelGroupDelete :execrows
DELETE FROM api.model_groups WHERE id = @id::uuid;

-- name: ModelGroupResolveForTeam :one
-- A model group by name, only when one of the team's access groups contains it.
SELECT m.id, m.name, m.router_model, m.fallbacks
FROM api.model_groups m
WHERE m.name = @name::text
  AND EXISTS (
      SELECT 1 FROM api.access_group_members am
      JOIN api.team_access_groups ta ON ta.access_group_id = am.access_group_id
      WHERE am.model_group_id = m.id AND ta.team_id = @team_id::uuid
  );

-- name: ModelGroupListForTeam :many
SELECT DISTINCT m.id, m.name, m.router_model, m.fallbacks
FROM api.model_groups m
JOIN api.access_group_members am ON am.model_group_id = m.id
JOIN api.team_access_groups ta ON ta.access_group_id = am.access_group_id
WHERE ta.team_id = @team_id::uuid
ORDER BY m.name;

-- name: ModelGroupTeamIds :many
-- Teams that can use a model group (their router keys change when the group does).
SELECT DISTINCT ta.team_id
FROM api.team_access_groups ta
JOIN api.access_group_members am ON am.access_group_id = ta.access_group_id
WHERE am.model_group_id = @model_group_id::uuid;

-- name: ModelGroupListForAccessGroups :many
SELECT DISTINCT m.id, m.name, m.router_model, m.fallbacks
FROM api.model_groups m
JOIN api.access_group_members am ON am.model_group_id = m.id
WHERE am.access_group_id = ANY(@access_group_ids::uuid[])
ORDER BY m.name;
