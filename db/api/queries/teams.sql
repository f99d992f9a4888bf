-- name: TeamCreate :one
INSERT INTO api.teams (
    id, organization_id, name, status, pricing_plan_id, rpm, tpm, overdraft_limit, job_ttl_s,
    show_tokens, store_prompts, retention_days, virtual_key_encrypted, router_key_id, metadata
) VALUES (
    @id::uuid, @organization_id::uuid, @name::text, 'active', @pricing_plan_id::uuid, sqlc.narg(rpm)::int,
    sqlc.narg(tpm)::int, @overdraft_limit::bigint, @job_ttl_s::int, @show_tokens::boolean,
    @store_prompts::boolean, @retention_days::int, @virtual_key_encrypted::text,
    sqlc.narg(router_key_id)::text, @metadata::jsonb
)
RETURNING *;

-- name: TeamGet :one
SELECT * FROM api.teams WHERE id = @id::uuid;

-- name: TeamGetForUpdate :one
-- NO KEY UPDATE: concurrent ledger and job inserts (FK KEY SHARE on the team) are not blocked.
SELECT * FROM api.teams WHERE id = @id::uuid FOR NO KEY UPDATE;

-- name: TeamList :many
SELECT * FROM api.teams
WHERE (sqlc.narg(organization_id)::uuid IS NULL OR organization_id = sqlc.narg(organization_id)::uuid)
ORDER BY created_at, id
LIMIT @lim::int;

-- name: TeamUpdate :one
UPDATE api.teams SET
    name = @name::text,
    pricing_plan_id = @pricing_plan_id::uuid,
    rpm = sqlc.narg(rpm)::int,
    tpm = sqlc.narg(tpm)::int,
    overdraft_limit = @overdraft_limit::bigint,
    job_ttl_s = @job_ttl_s::int,
    show_tokens = @show_tokens::boolean,
    store_prompts = @store_prompts::boolean,
    retention_days = @retention_days::int,
    metadata = @metadata::jsonb,
    updated_at = now()
WHERE id = @id::uuid
RETURNING *;

-- name: TeamSetStatus :one
UPDATE api.teams SET status = @status::api.team_status, updated_at = now()
WHERE id = @id::uuid
RETURNING *;

-- name: TeamSetRouterKey :exec
UPDATE api.teams SET virtual_key_encrypted = @virtual_key_encrypted::text,
    router_key_id = sqlc.narg(router_key_id)::text, updated_at = now()
WHERE id = @id::uuid;

-- name: TeamAuthByKeyHash :one
-- Everything a request authenticated by a team key needs, in one round trip.
SELECT k.id AS key_id, k.expires_at AS key_expires_at, k.revoked_at AS key_revoked_at,
       t.id AS team_id, t.organization_id, t.status, t.show_tokens, t.job_ttl_s, t.store_prompts,
       t.retention_days, t.virtual_key_encrypted, o.status AS organization_status,
       p.id AS plan_id, p.name AS plan_name, p.kind AS plan_kind, p.credits_per_job, p.per_job_type,
       p.credits_per_usd, p.markup_bps, p.tokens_per_credit, p.min_credits_per_job,
       p.usd_micro_per_credit, p.failed_job_policy, p.default_hold_credits, p.max_hold_credits
FROM api.team_keys k
JOIN api.teams t ON t.id = k.team_id
JOIN api.pricing_plans p ON p.id = t.pricing_plan_id
JOIN api.organizations o ON o.id = t.organization_id
WHERE k.key_hash = @key_hash::text;

-- name: TeamPage :many
-- The dashboard's team list: one page by (name, id) keyset, with the credit balance; filters optional.
SELECT t.id, t.organization_id, t.name, t.status, t.pricing_plan_id, t.created_at,
       b.balance, b.held, b.overdraft_limit, (b.balance - b.held) AS available
FROM api.teams t
JOIN api.team_balances b ON b.team_id = t.id
WHERE (sqlc.narg(organization_id)::uuid IS NULL OR t.organization_id = sqlc.narg(organization_id)::uuid)
  AND (sqlc.narg(status)::api.team_status IS NULL OR t.status = sqlc.narg(status)::api.team_status)
  AND (sqlc.narg(name_like)::text IS NULL OR t.name ILIKE sqlc.narg(name_like)::text)
  AND (sqlc.narg(after_name)::text IS NULL
       OR (t.name, t.id) > (sqlc.narg(after_name)::text, sqlc.narg(after_id)::uuid))
ORDER BY t.name, t.id
LIMIT @lim::int;

-- name: TeamNearExhaustion :many
-- Active teams with the least available credits (available = balance - held), fewest first.
SELECT t.id, t.organization_id, t.name, t.status, b.balance, b.held, (b.balance - b.held) AS available
FROM api.teams t
JOIN api.team_balances b ON b.team_id = t.id
WHERE t.status = 'active' AND b.balance - b.held <= @threshold::bigint
ORDER BY b.balance - b.held, t.id
LIMIT @lim::int;

-- name: TeamNames :many
SELECT id, name FROM api.teams WHERE id = ANY(@ids::uuid[]);
